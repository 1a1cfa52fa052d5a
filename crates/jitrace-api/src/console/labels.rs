//! Label files from the console: `GET /console/api/labels/{gtin}/{lot}` (or `{lot}.csv`)
//! answers the batch's codes as CSV (`gtin,serial,lot,uri`, as `jitrace codes issue` writes),
//! and `{lot}.pdf?layout=a4|roll` as a label PDF drawn by `jitrace_labels` (A4 sheets of 3 × 8
//! or one roll label a page, with the product's name in an embedded system font when Helvetica
//! cannot show it, as `jitrace codes issue` finds one). Each URI is signed (AI 8030) with the
//! code-signing key sealed for the user and opened at sign-in
//! (`jitrace_console::Console::seal_code_key`). Only for a batch of the user's organisation whose
//! code key is that key, and at most [`MAX_LABELS`] codes in a CSV and [`MAX_PDF_LABELS`] in a
//! PDF (`?offset=&limit=` take a part of the batch, as the printable label sheet does a page at
//! a time). Signing and drawing run on the blocking pool.

use super::{host, loopback_host, session};
use crate::{ApiError, Shared, source::read_record};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jitrace_labels::{LabelName, LabelText, SYSTEM_FONTS, Sheet};
use jitrace_ledger::state::{Batch, Product, StateKey};
use jitrace_types::{
    Gtin, SecretKey,
    code::{code_uri, sign_code},
};
use std::fmt::Write as _;

/// Most codes one console label file holds (the console's batch cap too).
pub const MAX_LABELS: u64 = 100_000;

/// Most labels in one console PDF (about 420 A4 pages: some 14 MB on A4 sheets, 22 MB on roll
/// labels, held in memory while it is answered): a bigger batch is downloaded in parts
/// (`offset`, `limit`).
pub const MAX_PDF_LABELS: u64 = 10_000;

/// Threads that draw one PDF: a request must not take every core from the node.
const PDF_THREADS: usize = 2;

impl From<jitrace_labels::Error> for ApiError {
    fn from(e: jitrace_labels::Error) -> Self {
        match e {
            // The URI is too long for a QR symbol: the Host the request named is too long.
            jitrace_labels::Error::Qr { .. } => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(format!("labels: {other}")),
        }
    }
}

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
    /// PDFs: `a4` (default) or `roll`.
    layout: Option<String>,
}

/// What a label file holds: a part of a batch the user may sign.
struct LabelPart {
    gtin: Gtin,
    batch: Batch,
    key: std::sync::Arc<SecretKey>,
    first: u64,
    count: u64,
    resolver: String,
}

impl LabelPart {
    /// The part's `(serial, signed URI)`s.
    fn codes(&self, chain_id: &str) -> Vec<(u64, String)> {
        (self.first..self.first + self.count)
            .map(|serial| {
                let text = serial.to_string();
                let signature = sign_code(&self.key, chain_id, &self.gtin, &text);
                let uri = code_uri(&self.resolver, &self.gtin, &text, &signature);
                (serial, uri)
            })
            .collect()
    }

    /// `{gtin}-{lot}` with the lot's characters safe in a file name.
    fn file_stem(&self) -> String {
        format!(
            "{}-{}",
            self.gtin,
            self.batch
                .lot
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
        )
    }
}

/// Reads the batch and checks the user may sign its labels: their organisation's batch, whose
/// code key is the one sealed for them; then cuts the part asked for, at most `cap` codes.
async fn label_part(
    api: &Shared,
    headers: &HeaderMap,
    gtin: &str,
    lot: &str,
    part: &Part,
    cap: u64,
) -> Result<LabelPart, ApiError> {
    let session = session(api, headers).await?;
    let gtin = Gtin::parse(gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let batch = read_record::<Batch>(api.state.as_ref(), StateKey::Batch(gtin, lot.to_string()))
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
    if count > cap {
        return Err(ApiError::BadRequest(format!(
            "the console writes label files of up to {cap} codes; ask for a part \
             (offset, limit) or print batch {lot} with `jitrace codes issue`"
        )));
    }
    let host = host(headers).to_string();
    let resolver = if loopback_host(&host) {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    };
    Ok(LabelPart {
        gtin,
        first: batch.first_serial + skip,
        batch,
        key,
        count,
        resolver,
    })
}

async fn labels(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path((gtin, lot)): Path<(String, String)>,
    part: Result<Query<Part>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(part) = part.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    if let Some(lot) = lot.strip_suffix(".pdf") {
        return labels_pdf(api, headers, gtin, lot, part).await;
    }
    let lot = lot.strip_suffix(".csv").unwrap_or(&lot);
    let labels = label_part(&api, &headers, &gtin, lot, &part, MAX_LABELS).await?;
    let chain_id = api.chain_id.clone();
    let name = format!("{}.csv", labels.file_stem());
    let csv = tokio::task::spawn_blocking(move || {
        let lot_csv = csv_field(&labels.batch.lot);
        let mut out = String::with_capacity(labels.count as usize * 160 + 20);
        out.push_str("gtin,serial,lot,uri\n");
        for (serial, uri) in labels.codes(&chain_id) {
            let _ = writeln!(out, "{},{serial},{lot_csv},{uri}", labels.gtin);
        }
        out
    })
    .await
    .map_err(|e| ApiError::Internal(format!("label task failed: {e}")))?;
    Ok(attachment(csv, "text/csv; charset=utf-8", &name))
}

/// `GET /console/api/labels/{gtin}/{lot}.pdf?layout=a4|roll&offset=&limit=`: the part's labels
/// as a PDF, at most [`MAX_PDF_LABELS`].
async fn labels_pdf(
    api: Shared,
    headers: HeaderMap,
    gtin: String,
    lot: &str,
    part: Part,
) -> Result<Response, ApiError> {
    let sheet = match part.layout.as_deref().unwrap_or("a4") {
        "a4" => Sheet::A4,
        "roll" => Sheet::Roll,
        other => {
            return Err(ApiError::BadRequest(format!(
                "layout is a4 or roll, not {other:?}"
            )));
        }
    };
    let labels = label_part(&api, &headers, &gtin, lot, &part, MAX_PDF_LABELS).await?;
    let product = read_record::<Product>(api.state.as_ref(), StateKey::Product(labels.gtin))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product {}", labels.gtin)))?;
    let chain_id = api.chain_id.clone();
    let name = format!(
        "{}-{}-{}-{}.pdf",
        labels.file_stem(),
        if sheet == Sheet::A4 { "a4" } else { "roll" },
        labels.first,
        labels.first + labels.count.saturating_sub(1)
    );
    let pdf = tokio::task::spawn_blocking(move || {
        let name = LabelName::choose(&product.info.name, None, SYSTEM_FONTS)?;
        if let Some(note) = &name.note {
            tracing::info!(product = %labels.gtin, ?note, "a label PDF leaves characters of the product name out");
        }
        let text = LabelText {
            name: Some(name).filter(|n| !n.text.is_empty()),
            gtin: labels.gtin.to_string(),
            lot: Some(labels.batch.lot.clone()),
        };
        let codes = labels.codes(&chain_id);
        jitrace_labels::pdf_bytes(&codes, &text, sheet, PDF_THREADS)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("label task failed: {e}")))??;
    Ok(attachment(pdf.0, "application/pdf", &name))
}

/// `body` as a download named `name`, never cached.
fn attachment(body: impl IntoResponse, content_type: &'static str, name: &str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
