//! CSV import of employees under Konfiguration → Stammdaten: upload, a preview that writes
//! nothing, and a confirm step that writes the whole file in one transaction or nothing.
//!
//! The file travels from the preview to the confirm step in a hidden field, so the server keeps
//! no state between the two requests. The confirm step parses and matches the file again.

mod apply;
mod plan;
mod upload;
mod view;

use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mep24web_employee_import::{FileError, MAX_ROWS, ParsedImport};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::error::Result;
use mep24web_platform::i18n;
use mep24web_platform::rights::{Allowed, Right, need};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};
use serde::Deserialize;

use self::plan::{Plan, Snapshot};

const UPLOAD_PATH: &str = "/admin/stammdaten/import";
const CONFIRM_PATH: &str = "/admin/stammdaten/import/bestaetigen";

/// Returns the routes of the import, each with a body limit that fits its form.
pub fn routes() -> RouteTable {
    let edit = Access::Right(Right::EditMasterData);
    RouteTable::new()
        .get_post(
            UPLOAD_PATH,
            get(upload_form)
                .post(preview)
                .layer(DefaultBodyLimit::max(upload::UPLOAD_BODY_BYTES)),
            edit,
        )
        .post(
            CONFIRM_PATH,
            post(confirm).layer(DefaultBodyLimit::max(upload::CONFIRM_BODY_BYTES)),
            edit,
        )
}

async fn upload_form(Allowed { auth, .. }: Allowed<need::EditMasterData>) -> Result<Response> {
    render_upload(&auth, StatusCode::OK, None)
}

async fn preview(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let locale = i18n::current_locale();
    let upload = match multipart {
        Ok(multipart) => upload::read(multipart).await,
        Err(_) => Err(upload::UploadError::Malformed),
    };
    let upload = match upload {
        Ok(upload) => upload,
        Err(error) => {
            let status = match error {
                upload::UploadError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            tracing::info!(
                tenant_id = %auth.tenant.id,
                code = error.code(),
                "employee import upload rejected"
            );
            let key = format!("import.file_error.{}", error.code());
            return render_upload(&auth, status, Some(view::limit_message(locale, &key)));
        }
    };
    let parsed = match mep24web_employee_import::parse(&upload.bytes) {
        Ok(parsed) => parsed,
        Err(error) => return render_file_error(&auth, &error),
    };
    let snapshot = load_snapshot(&state, &auth).await?;
    let plan = Plan::build_within(&parsed, &snapshot, &reach);
    let file = FileShown {
        name: &upload.file_name,
        bytes: &upload.bytes,
        parsed: &parsed,
    };
    render_preview(&auth, &file, &plan, &snapshot, StatusCode::OK, None)
}

/// Hidden fields of the confirm form.
#[derive(Debug, Default, Deserialize)]
struct ConfirmForm {
    /// The file, URL-safe base64.
    #[serde(default)]
    datei: String,
    #[serde(default)]
    dateiname: String,
    /// SHA-256 hex digest of the file.
    #[serde(default)]
    pruefsumme: String,
    /// [`Plan::fingerprint`] of the preview the planner confirmed.
    #[serde(default)]
    plan: String,
}

/// Writes the confirmed file and its audit event in one transaction, unless the data changed
/// since the preview.
async fn confirm(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    client: ClientIp,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response> {
    let Ok(Form(form)) = form else {
        return Err(Error::BadRequest("errors.bad_form"));
    };
    let locale = i18n::current_locale();
    // See `upload::decode` for why an altered field cannot reach another tenant's data.
    let Some(bytes) = upload::decode(&form.datei, &form.pruefsumme) else {
        let message = i18n::text(locale, "import.file_error.transfer");
        return render_upload(&auth, StatusCode::UNPROCESSABLE_ENTITY, Some(message));
    };
    let parsed = match mep24web_employee_import::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(error) => return render_file_error(&auth, &error),
    };
    let file = FileShown {
        name: &form.dateiname,
        bytes: &bytes,
        parsed: &parsed,
    };

    let txn = db::begin_tenant(&state.db, auth.tenant.id).await?;
    // A second confirm of the same file (a double click, a second tab) waits here and then
    // plans against the rows the first one wrote, so its fingerprint no longer matches and it
    // writes nothing. New branches are created once for the same reason.
    db::lock_tenant(&txn, auth.tenant.id).await?;
    let scope = Scoped::new(&txn, auth.tenant.id);
    let snapshot = Snapshot::load(&scope).await?;
    let plan = Plan::build_within(&parsed, &snapshot, &reach);
    if !plan.is_valid() {
        return render_preview(
            &auth,
            &file,
            &plan,
            &snapshot,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        );
    }
    if plan.fingerprint() != form.plan.trim() {
        let alert = i18n::text(locale, "import.plan_changed");
        return render_preview(
            &auth,
            &file,
            &plan,
            &snapshot,
            StatusCode::CONFLICT,
            Some(alert),
        );
    }
    let applied = match apply::apply(&scope, &plan).await {
        Ok(applied) => applied,
        Err(error) if db::is_unique_violation(&error) => {
            // Another import or edit added one of the personnel numbers after this plan was
            // made. The transaction is rolled back, and a new preview shows the current state.
            txn.rollback().await?;
            tracing::info!(
                tenant_id = %auth.tenant.id,
                "employee import collided with a concurrent change"
            );
            let snapshot = load_snapshot(&state, &auth).await?;
            let plan = Plan::build_within(&parsed, &snapshot, &reach);
            let alert = i18n::text(locale, "import.plan_changed");
            return render_preview(
                &auth,
                &file,
                &plan,
                &snapshot,
                StatusCode::CONFLICT,
                Some(alert),
            );
        }
        Err(error) => return Err(error.into()),
    };
    // The digest ties the event to the exact file, whose name and rows stay out of the log.
    let details = serde_json::json!({
        "created": applied.created,
        "updated": applied.updated,
        "new_units": plan.new_units.len(),
        "file_sha256": upload::digest(&bytes),
    });
    let action = AuditAction::ImportCommitted;
    let target = AuditTarget::import();
    audit::record_by(&txn, &auth.account, action, target, client.0, details).await?;
    txn.commit().await?;

    tracing::info!(
        tenant_id = %auth.tenant.id,
        account_id = auth.account.id,
        created = applied.created,
        updated = applied.updated,
        new_units = plan.new_units.len(),
        "employee import written"
    );
    let target = format!(
        "/admin/stammdaten?importiert={}&aktualisiert={}",
        applied.created, applied.updated
    );
    Ok(Redirect::to(&target).into_response())
}

/// Reads the tenant's tree and employees in a transaction of their own, outside any write.
async fn load_snapshot(state: &AppState, auth: &Authenticated) -> Result<Snapshot> {
    let txn = db::begin_tenant(&state.db, auth.tenant.id).await?;
    let snapshot = Snapshot::load(&Scoped::new(&txn, auth.tenant.id)).await?;
    txn.commit().await?;
    Ok(snapshot)
}

/// The uploaded file as the preview shows and carries it.
struct FileShown<'a> {
    name: &'a str,
    bytes: &'a [u8],
    parsed: &'a ParsedImport,
}

fn render_upload(
    auth: &Authenticated,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response> {
    let locale = i18n::current_locale();
    let base = base_context(&auth.tenant, Some(auth), "stammdaten");
    let context = minijinja::context! {
        file_error => error,
        columns => view::column_help(locale),
        max_mb => view::max_megabytes(),
        max_rows => i18n::format_integer(locale, MAX_ROWS),
        upload_path => UPLOAD_PATH,
        ..base
    };
    Ok((
        status,
        templates::page("admin/import/upload.html", context)?,
    )
        .into_response())
}

fn render_file_error(auth: &Authenticated, error: &FileError) -> Result<Response> {
    tracing::info!(
        tenant_id = %auth.tenant.id,
        code = error.code(),
        "employee import file rejected"
    );
    let status = match error {
        FileError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let message = view::file_error_message(i18n::current_locale(), error);
    render_upload(auth, status, Some(message))
}

fn render_preview(
    auth: &Authenticated,
    file: &FileShown<'_>,
    plan: &Plan,
    snapshot: &Snapshot,
    status: StatusCode,
    alert: Option<String>,
) -> Result<Response> {
    let base = base_context(&auth.tenant, Some(auth), "stammdaten");
    let valid = plan.is_valid();
    let context = minijinja::context! {
        preview => view::preview(file.parsed, plan, snapshot),
        file_name => file.name,
        digest => upload::digest(file.bytes),
        // A file with problems is not carried on: it can only be fixed and uploaded again.
        encoded_file => valid.then(|| upload::encode(file.bytes)),
        fingerprint => plan.fingerprint(),
        can_import => valid,
        alert => alert,
        upload_path => UPLOAD_PATH,
        confirm_path => CONFIRM_PATH,
        ..base
    };
    Ok((
        status,
        templates::page("admin/import/preview.html", context)?,
    )
        .into_response())
}
