//! The OpenAPI 3.1 document of the app API, written by hand as JSON.
//!
//! A unit test in `lib.rs` checks that every operation of the router appears here and that
//! nothing else does, so the document cannot drift from the routes unnoticed.

use mep24web_platform::sessions::APP_TOKEN_DAYS;
use mep24web_platform::urls::PublicUrls;
use serde_json::{Value, json};

/// Every error code the API returns, in the order the document lists them.
pub const ERROR_CODES: [&str; 10] = [
    "login_failed",
    "rate_limited",
    "second_factor_required",
    "second_factor_setup_required",
    "token_missing",
    "token_invalid",
    "bad_request",
    "not_found",
    "method_not_allowed",
    "internal",
];

/// Builds the document. The server URL is the apex of this installation plus the API prefix.
pub fn document(urls: &PublicUrls) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "MEP24web app API",
            "version": "1",
            "description": concat!(
                "JSON API for the MEP24Team app. The app logs in with customer number, username ",
                "and password and receives a bearer token bound to that company and account. ",
                "Every error has the same shape: a stable `code` and a German and an English message."
            ),
        },
        "servers": [{ "url": format!("{}/api/app/v1", urls.apex_url()) }],
        "paths": {
            "/login": { "post": login_operation() },
            "/me": { "get": me_operation() },
            "/logout": { "post": logout_operation() },
            "/openapi.json": { "get": openapi_operation() },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": format!(
                        "The token from POST /login, valid for {APP_TOKEN_DAYS} days unless the \
                         account logs out, is deactivated, leaves the company (exit date passed) \
                         or the company's access is suspended."
                    ),
                },
            },
            "schemas": schemas(),
            "responses": responses(),
        },
    })
}

fn login_operation() -> Value {
    json!({
        "operationId": "login",
        "summary": "Log in and receive an app token",
        "description": concat!(
            "An unknown customer number, a suspended company, an unknown username, a wrong ",
            "password, a locked, deactivated or departed account all return the same 401 ",
            "`login_failed` body. The company's lockout rule counts failed attempts. Too many ",
            "attempts per client address or per company within a minute return 429 ",
            "`rate_limited` before the password is checked. A planner with two-factor login ",
            "must also send `totp_code`: without it a correct password returns 401 ",
            "`second_factor_required`, and a wrong code returns `login_failed` and counts towards ",
            "the lockout. A planner whose company requires two-factor login but who has not set ",
            "it up gets 403 `second_factor_setup_required`, because the setup needs the browser."
        ),
        "security": [],
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoginRequest" } } },
        },
        "responses": {
            "200": {
                "description": "Logged in.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoginResponse" } } },
            },
            "400": { "$ref": "#/components/responses/BadRequest" },
            "401": {
                "description": "Login failed (`login_failed`), or the second factor is missing (`second_factor_required`).",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            },
            "403": {
                "description": "Two-factor login must be set up in the browser first (`second_factor_setup_required`).",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            },
            "429": {
                "description": "Too many login attempts (`rate_limited`).",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait before the next attempt.",
                        "schema": { "type": "integer" },
                    },
                },
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            },
            "500": { "$ref": "#/components/responses/Internal" },
        },
    })
}

fn me_operation() -> Value {
    json!({
        "operationId": "me",
        "summary": "Return the account behind the token",
        "security": [{ "bearerAuth": [] }],
        "responses": {
            "200": {
                "description": "The signed-in account.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Me" } } },
            },
            "401": { "$ref": "#/components/responses/Unauthorized" },
            "500": { "$ref": "#/components/responses/Internal" },
        },
    })
}

fn logout_operation() -> Value {
    json!({
        "operationId": "logout",
        "summary": "Revoke the token",
        "security": [{ "bearerAuth": [] }],
        "responses": {
            "204": { "description": "The token is revoked." },
            "401": { "$ref": "#/components/responses/Unauthorized" },
            "500": { "$ref": "#/components/responses/Internal" },
        },
    })
}

fn openapi_operation() -> Value {
    json!({
        "operationId": "openapi",
        "summary": "Return this document",
        "security": [],
        "responses": {
            "200": { "description": "The OpenAPI document.", "content": { "application/json": {} } },
        },
    })
}

fn schemas() -> Value {
    json!({
        "LoginRequest": {
            "type": "object",
            "required": ["customer_number", "username", "password"],
            "properties": {
                "customer_number": {
                    "description": "The company's customer number, shown top right under the user's name in the portal and main program.",
                    "oneOf": [
                        { "type": "integer", "minimum": 1, "maximum": 999_999_999 },
                        { "type": "string", "pattern": "^[0-9 ]{1,40}$" },
                    ],
                    "examples": [10001],
                },
                "username": { "type": "string" },
                "password": { "type": "string", "format": "password" },
                "totp_code": {
                    "type": "string",
                    "description": "For planners with two-factor login: the 6-digit code of the authenticator app (spaces allowed) or a recovery code such as K7QM-2XHD-9RTA-WNPE. Others leave it out.",
                    "format": "password",
                },
            },
        },
        "LoginResponse": {
            "type": "object",
            "required": ["token", "token_type", "expires_at", "account_kind", "display_name", "tenant_name", "customer_number", "must_change_password"],
            "properties": {
                "token": { "type": "string", "description": "Send as `Authorization: Bearer <token>`." },
                "token_type": { "const": "Bearer" },
                "expires_at": { "type": "string", "format": "date-time" },
                "account_kind": { "$ref": "#/components/schemas/AccountKind" },
                "display_name": { "type": "string" },
                "tenant_name": { "type": "string" },
                "customer_number": { "type": "integer" },
                "must_change_password": {
                    "type": "boolean",
                    "description": "True when the account must set a new password in the portal or main program first.",
                },
            },
        },
        "Me": {
            "type": "object",
            "required": ["account_kind", "username", "display_name", "tenant_name", "customer_number", "must_change_password", "employee"],
            "properties": {
                "account_kind": { "$ref": "#/components/schemas/AccountKind" },
                "username": { "type": "string" },
                "display_name": { "type": "string" },
                "tenant_name": { "type": "string" },
                "customer_number": { "type": "integer" },
                "must_change_password": { "type": "boolean" },
                "employee": {
                    "description": "The employee record of an employee login; null for planners.",
                    "oneOf": [{ "$ref": "#/components/schemas/Employee" }, { "type": "null" }],
                },
            },
        },
        "Employee": {
            "type": "object",
            "required": ["personnel_number", "first_name", "last_name"],
            "properties": {
                "personnel_number": { "type": "string" },
                "first_name": { "type": "string" },
                "last_name": { "type": "string" },
            },
        },
        "AccountKind": { "type": "string", "enum": ["employee", "planner"] },
        "Error": {
            "type": "object",
            "required": ["code", "message_de", "message_en"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": ERROR_CODES,
                    "description": concat!(
                        "login_failed: customer number, username or password wrong, or no access (401). ",
                        "rate_limited: too many login attempts from this address or for this company; ",
                        "wait the seconds given in the Retry-After header (429). ",
                        "second_factor_required: the password is correct, and the account also needs ",
                        "totp_code; ask for the code and send the login again (401). ",
                        "second_factor_setup_required: the company requires two-factor login; set it up ",
                        "in the browser at the access link first (403). ",
                        "token_missing: no bearer token sent (401). ",
                        "token_invalid: token unknown, expired or revoked; log in again (401). ",
                        "bad_request: body is not JSON of the documented shape (400). ",
                        "not_found: no such API path (404). ",
                        "method_not_allowed: the path exists with another method (405). ",
                        "internal: server error; try again later (500)."
                    ),
                },
                "message_de": { "type": "string", "description": "German text for the user." },
                "message_en": { "type": "string", "description": "English text for the user." },
            },
        },
    })
}

fn responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    };
    json!({
        "BadRequest": error("Malformed request (`bad_request`)."),
        "Unauthorized": error("Token missing (`token_missing`) or invalid (`token_invalid`)."),
        "Internal": error("Server error (`internal`)."),
    })
}
