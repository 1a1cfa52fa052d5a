//! Label files from the console: `GET /console/api/labels/{gtin}/{lot}` answers the batch's
//! codes as CSV (`gtin,serial,lot,uri`, as `jitrace codes issue` writes), each URI signed (AI
//! 8030) with the code-signing key sealed for the user and opened at sign-in
//! (`jitrace_console::Console::seal_code_key`). Only for a batch of the user's organisation whose
//! code key is that key, and at most [`MAX_LABELS`] codes in one file (`?offset=&limit=` take a
//! part of the batch, as the printable label sheet does a page at a time).

use super::{host, loopback_host, session};
use crate::{ApiError, Shared, source::read_record};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jitrace_ledger::state::{Batch, StateKey};
use jitrace_types::{Gtin, code::sign_code};
use std::fmt::Write as _;

/// Most codes one console label file holds (the console's batch cap too).
pub const MAX_LABELS: u64 = 100_000;

pub(super) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/console/api/labels/{gtin}/{lot}", get(labels))
        .route("/console/api/code-key", axum::routing::post(new_code_key))
}

#[derive(serde::Deserialize)]
struct NewCodeKey {
    /// The user's password: the new key is sealed under it.
    password: String,
}

/// `POST /console/api/code-key`: a new code-signing key for the user's organisation, sealed for
/// the user (a console admin of an organisation that issues codes) under their password and
/// opened in their sessions; answers its public key, which the page then registers on the
/// ledger (`register_code_key`) before batches can name it.
async fn new_code_key(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let session = super::write_session(&api, &headers).await?;
    let NewCodeKey { password } = super::parse_json(&body)?;
    let org = super::org_of(&api, &session).await?;
    let issues_codes = org.is_some_and(|o| o.roles.iter().any(|r| r.issues_codes()));
    if session.user.role != jitrace_console::ConsoleRole::Admin || !issues_codes {
        return Err(ApiError::Forbidden(
            "only console admins of an organisation that issues codes make code-signing keys"
                .into(),
        ));
    }
    let console = super::console(&api)?.clone();
    let name = session.user.name.clone();
    let key = jitrace_types::SecretKey::generate();
    let public = key.public_key();
    tokio::task::spawn_blocking(move || {
        console.seal_code_key(&name, &password, &key, super::now_ms())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("sealing task failed: {e}")))??;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(serde_json::json!({ "code_key": public.to_hex() })),
    ))
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[derive(serde::Deserialize)]
struct Part {
    /// Codes to skip from the batch's first serial.
    #[serde(default)]
    offset: u64,
    /// Most codes (default: the rest of the batch).
    limit: Option<u64>,
}

async fn labels(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path((gtin, lot)): Path<(String, String)>,
    part: Result<Query<Part>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(part) = part.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let session = session(&api, &headers).await?;
    let gtin = Gtin::parse(&gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let lot = lot.strip_suffix(".csv").unwrap_or(&lot).to_string();
    let batch = read_record::<Batch>(api.state.as_ref(), StateKey::Batch(gtin, lot.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{gtin} has no batch {lot}")))?;
    if batch.org != session.user.org {
        return Err(ApiError::Forbidden(format!(
            "batch {lot} is {}'s, not your organisation's",
            batch.org
        )));
    }
    let key = session
        .code_key
        .clone()
        .filter(|k| k.public_key() == batch.code_key)
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "the code-signing key of batch {lot} ({}) is not sealed for you; print its \
                 labels with `jitrace codes issue`",
                batch.code_key
            ))
        })?;
    let skip = part.offset.min(batch.count);
    let count = part.limit.unwrap_or(u64::MAX).min(batch.count - skip);
    if count > MAX_LABELS {
        return Err(ApiError::BadRequest(format!(
            "the console writes label files of up to {MAX_LABELS} codes; ask for a part \
             (offset, limit) or print batch {lot} with `jitrace codes issue`"
        )));
    }
    let first = batch.first_serial + skip;
    let host = host(&headers).to_string();
    let resolver = if loopback_host(&host) {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    };
    let chain_id = api.chain_id.clone();
    let csv = tokio::task::spawn_blocking(move || {
        let lot_csv = csv_field(&batch.lot);
        let mut out = String::with_capacity(count as usize * 160 + 20);
        out.push_str("gtin,serial,lot,uri\n");
        for serial in first..first + count {
            let text = serial.to_string();
            let signature = sign_code(&key, &chain_id, &gtin, &text);
            let _ = writeln!(
                out,
                "{gtin},{text},{lot_csv},{resolver}/01/{gtin}/21/{text}?8030={signature}"
            );
        }
        out
    })
    .await
    .map_err(|e| ApiError::Internal(format!("label task failed: {e}")))?;
    let mut response = csv.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{gtin}-{}.csv\"",
        lot.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
    )) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
