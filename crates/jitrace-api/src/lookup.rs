//! Scanning a code: the printed Digital Link itself (`GET /01/{gtin}/21/{serial}`, HTML or
//! JSON), `GET /v1/verdict` and `POST /v1/scans`.

use crate::{
    ApiError, Shared, consumer,
    scans::device_pseudonym,
    verdict::{Scanner, parse_scanned, scanner_point, verdict},
};
use axum::{
    Json,
    body::Bytes,
    extract::{Query, State, rejection::BytesRejection, rejection::QueryRejection},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::{ErrorBody, ScanRequest, Verdict, VerdictKind};
use jitrace_types::OrgId;
use jitrace_types::tx::{CodeId, SignedCode};

/// Where the scanner is, in decimal degrees (optional).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct Location {
    /// Latitude, decimal degrees.
    lat: Option<f64>,
    /// Longitude, decimal degrees.
    lon: Option<f64>,
}

/// `GET /v1/verdict`'s query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct VerdictQuery {
    /// The scanned GS1 Digital Link, URL-encoded.
    uri: String,
    /// Latitude, decimal degrees.
    lat: Option<f64>,
    /// Longitude, decimal degrees.
    lon: Option<f64>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

/// The printed code itself: the consumer page, or with `Accept: application/json` the
/// verdict.
#[utoipa::path(
    get, path = "/01/{gtin}/21/{serial}", tag = "codes",
    params(
        ("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14 with its check digit"),
        ("serial" = String, Path, description = "Serial (AI 21), as printed"),
        ("8030" = Option<String>, Query, description = "The brand's signature: 86 characters of unpadded base64url"),
        Location,
    ),
    responses(
        (status = 200, description = "The verdict (JSON with `Accept: application/json`, else the consumer page)",
            content(
                (Verdict = "application/json"),
                (String = "text/html"),
            )),
        (status = 400, description = "`bad_code`: not a product code (bad link, check digit or signature encoding), or `bad_request`: a bad position", body = ErrorBody),
    )
)]
pub(crate) async fn digital_link(
    State(api): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    location: Result<Query<Location>, QueryRejection>,
) -> Response {
    let json = wants_json(&headers);
    let link = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    let result = async {
        let Query(Location { lat, lon }) =
            location.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        let point = scanner_point(lat, lon)?;
        let code = parse_scanned(&link)?;
        verdict(
            &api,
            &code,
            Scanner {
                point,
                device: None,
            },
        )
        .await
    }
    .await;
    match (result, json) {
        (Ok(verdict), true) => Json(verdict).into_response(),
        (Err(e), true) => e.into_response(),
        (Ok(verdict), false) => {
            let lang = consumer::Lang::from_headers(&headers);
            consumer::page(StatusCode::OK, &consumer::render(&verdict, lang))
        }
        (Err(e), false) => {
            if matches!(e, ApiError::Internal(_)) {
                tracing::error!(detail = %e, "consumer page failed");
            }
            let lang = consumer::Lang::from_headers(&headers);
            consumer::page(e.status(), &consumer::render_error(&e, lang))
        }
    }
}

/// The verdict on a scanned code, without recording a scan.
#[utoipa::path(
    get, path = "/v1/verdict", tag = "codes",
    params(VerdictQuery),
    responses(
        (status = 200, description = "The verdict", body = Verdict),
        (status = 400, description = "`bad_code`: not a product code (bad link, check digit or signature encoding), or `bad_request`", body = ErrorBody),
    )
)]
pub(crate) async fn verdict_query(
    State(api): State<Shared>,
    query: Result<Query<VerdictQuery>, QueryRejection>,
) -> Result<Json<Verdict>, ApiError> {
    let Query(VerdictQuery { uri, lat, lon }) =
        query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let point = scanner_point(lat, lon)?;
    let code = parse_scanned(&uri)?;
    Ok(Json(
        verdict(
            &api,
            &code,
            Scanner {
                point,
                device: None,
            },
        )
        .await?,
    ))
}

/// Longest device pseudonym accepted.
const MAX_DEVICE_LEN: usize = 200;

/// Records a consumer scan (coarse cell and a hash of the device pseudonym only) and answers
/// its verdict. The scan is queued and sent to the ledger in batches; `scan_queued` tells
/// whether it was (not without a position, a signature, or for a code the ledger would refuse).
#[utoipa::path(
    post, path = "/v1/scans", tag = "codes",
    request_body(content = ScanRequest, description = "The scanned link, optional position and a device pseudonym"),
    responses(
        (status = 200, description = "The verdict; `scan_queued` says whether the scan will be recorded", body = Verdict),
        (status = 400, description = "`bad_code` or `bad_request`", body = ErrorBody),
        (status = 503, description = "`scans_disabled`: this node records no scans", body = ErrorBody),
    )
)]
pub(crate) async fn record_scan(
    State(api): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Verdict>, ApiError> {
    let Some(gateway) = api.scan_gateway.clone() else {
        return Err(ApiError::ScansDisabled);
    };
    let body = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let Json(request) = Json::<ScanRequest>::from_bytes(&body)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let device = request.device.trim();
    if device.is_empty() || device.chars().count() > MAX_DEVICE_LEN {
        return Err(ApiError::BadRequest(format!(
            "device must be 1 to {MAX_DEVICE_LEN} characters"
        )));
    }
    let point = scanner_point(request.lat, request.lon)?;
    let code = parse_scanned(&request.uri)?;
    let mut answer = verdict(
        &api,
        &code,
        Scanner {
            point,
            device: Some(device_pseudonym(&api.chain_id, device)),
        },
    )
    .await?;
    let queued = match (point, &code.signature, code.serial_number()) {
        (Some(point), Some(signature), Some(serial)) => {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let signed = SignedCode {
                code: CodeId {
                    gtin: code.gtin,
                    serial,
                },
                signature: signature.clone(),
            };
            gateway.record(signed, point, device, now_ms).await?
        }
        _ => false,
    };
    answer.scan_queued = Some(queued);
    if matches!(answer.verdict, VerdictKind::Counterfeit)
        && let Some(brand) = answer
            .brand
            .as_ref()
            .and_then(|b| OrgId::new(b.id.clone()).ok())
    {
        let reasons: Vec<&str> = answer.reasons.iter().map(|r| r.code.as_str()).collect();
        // The consumer gets the verdict even if the alert cannot be stored.
        if let Err(e) = crate::alerts::counterfeit_scan(
            &api.alerts,
            &brand,
            code.gtin.as_str(),
            code.serial_number().unwrap_or(0),
            point,
            queued,
            &reasons.join(","),
        ) {
            tracing::error!(error = %e, "could not store a counterfeit-scan alert");
        }
    }
    Ok(Json(answer))
}
