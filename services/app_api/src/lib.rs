//! The JSON API of the MEP24Team app, served on the apex host under `/api/app/v1`.
//!
//! The app logs in with customer number, username and password and then sends the bearer token
//! it received with every call. Every response, errors included, is JSON, and the OpenAPI
//! document at `/openapi.json` describes the operations.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use mep24web_platform::AppState;
use mep24web_platform::routes::{Access, RouteTable};

pub mod auth;
pub mod error;
pub mod handlers;
pub mod openapi;
pub mod scope;
mod second_factor;

/// One route of the API: a method on a path relative to the API prefix.
struct Operation {
    method: Method,
    path: &'static str,
    access: Access,
    route: MethodRouter<AppState>,
}

/// Lists every operation. The router and the OpenAPI tests are both built from this list.
fn operations() -> Vec<Operation> {
    vec![
        operation(
            Method::POST,
            "/login",
            Access::Public,
            on(MethodFilter::POST, handlers::login),
        ),
        operation(
            Method::GET,
            "/me",
            Access::AppToken,
            on(MethodFilter::GET, handlers::me),
        ),
        operation(
            Method::POST,
            "/logout",
            Access::AppToken,
            on(MethodFilter::POST, handlers::logout),
        ),
        operation(
            Method::GET,
            "/openapi.json",
            Access::Public,
            on(MethodFilter::GET, handlers::openapi_document),
        ),
    ]
}

fn operation(
    method: Method,
    path: &'static str,
    access: Access,
    route: MethodRouter<AppState>,
) -> Operation {
    Operation {
        method,
        path,
        access,
        route,
    }
}

/// Returns the method and path of every operation, for tests that compare them with the
/// OpenAPI document.
pub fn operation_list() -> Vec<(Method, &'static str)> {
    operations()
        .into_iter()
        .map(|operation| (operation.method, operation.path))
        .collect()
}

/// Returns the API operations with the access each requires, paths relative to the API
/// prefix.
pub fn routes() -> RouteTable {
    operations()
        .into_iter()
        .fold(RouteTable::new(), |table, operation| {
            table.route(
                operation.path,
                operation.route,
                &[(operation.method, operation.access)],
            )
        })
}

/// Returns the API routes, which the gateway nests under `/api/app/v1`. Unknown paths return
/// 404 and known paths called with another method return 405, both as JSON errors.
pub fn router() -> Router<AppState> {
    // Set after the routes, because it applies to the routes that exist at this point.
    routes()
        .into_router()
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .fallback(handlers::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mep24web_platform::urls::PublicUrls;

    fn document() -> serde_json::Value {
        openapi::document(&PublicUrls {
            scheme: "https".to_owned(),
            base_domain: "mep24web.de".to_owned(),
            port: None,
        })
    }

    #[test]
    fn openapi_lists_every_route() {
        let document = document();
        for (method, path) in operation_list() {
            let method = method.as_str().to_ascii_lowercase();
            assert!(
                document["paths"][path][&method].is_object(),
                "{method} {path} is missing from the OpenAPI document"
            );
        }
    }

    #[test]
    fn openapi_lists_only_routes() {
        let document = document();
        let routes = operation_list();
        let Some(paths) = document["paths"].as_object() else {
            panic!("paths is not an object");
        };
        for (path, item) in paths {
            let Some(methods) = item.as_object() else {
                panic!("{path} is not an object");
            };
            for method in methods.keys() {
                assert!(
                    routes
                        .iter()
                        .any(|(m, p)| p == path && m.as_str().eq_ignore_ascii_case(method)),
                    "{method} {path} is documented but has no route"
                );
            }
        }
    }

    #[test]
    fn openapi_names_server_and_version() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(
            document["servers"][0]["url"],
            "https://mep24web.de/api/app/v1"
        );
        assert_eq!(
            document["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(openapi::ERROR_CODES.len())
        );
    }
}
