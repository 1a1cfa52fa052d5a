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
    axum::Router::new().route("/console/api/labels/{gtin}/{lot}", get(labels))
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
