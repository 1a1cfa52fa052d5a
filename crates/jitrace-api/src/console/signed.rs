//! The brand and channel screens' reads of the signed API: the node signs the request on the
//! user's behalf with the key opened at sign-in, and answers it with the `/v1` handler itself.
//!
//! `GET /console/api/signed/{path}` answers `GET /v1/{path}` (alerts, their event stream,
//! analytics, a code's history, traces, recalls); `POST /console/api/signed/media` answers
//! `POST /v1/media`. Who may read what is decided by those handlers, from the latest state,
//! exactly as for any signed request: this module adds no rule of its own, only the session
//! (and for the upload, the CSRF checks of every console write).
//!
//! `GET /console/api/channels` lists the channels the user's organisation authorised, with
//! every grant, a page of organisations at a time (the ledger's `channel_authorisations`).

use super::{Rows, limit, now_ms, session, write_session};
use crate::{ApiError, Shared, verdict::Reads};
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, Request, Uri, header},
    response::Response,
    routing::{get, post},
};
use jitrace_ledger::{
    read,
    state::{OrgIndex, PAGE_LEN, StateKey},
};
use jitrace_types::keys;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use tower::ServiceExt as _;

/// Largest photo or video the console uploads (the API itself takes up to 100 MiB).
pub const MAX_CONSOLE_UPLOAD_BYTES: usize = 20 << 20;

/// The `/v1` paths (after `/v1/`) a console session may read signed.
const READABLE: &[&str] = &[
    "alerts",
    "alerts/stream",
    "analytics/scans",
    "analytics/channels",
    "codes/",
    "trace/back/",
    "trace/forward",
    "recalls/",
    "gate/log/",
];

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console/api/signed/{*path}", get(signed_get))
        .route(
            "/console/api/media",
            post(signed_upload).layer(DefaultBodyLimit::max(MAX_CONSOLE_UPLOAD_BYTES)),
        )
        .route("/console/api/channels", get(channels))
}

/// The documented API's routes, built once; each request gets the node's state.
static V1: LazyLock<Router<Shared>> = LazyLock::new(|| crate::documented_api().0);

fn readable(path: &str) -> bool {
    READABLE
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
        && !path.contains("..")
}

/// Answers `method path` with the `/v1` handler, signed with the session's key.
async fn answer_signed(
    api: Shared,
    key: &jitrace_types::SecretKey,
    method: &str,
    path_and_query: &str,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let authorization = keys::authorization_header(key, method, path_and_query, now_ms(), &body);
    let mut request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(header::AUTHORIZATION, authorization);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Body::from(body))
        .map_err(|e| ApiError::Internal(format!("building the signed request: {e}")))?;
    let response = V1.clone().with_state(api).oneshot(request).await;
    Ok(response.unwrap_or_else(|never| match never {}))
}

/// `GET /console/api/signed/{path}?…`: `GET /v1/{path}?…` signed by the user's key.
async fn signed_get(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(path): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let session = session(&api, &headers).await?;
    if !readable(&path) {
        return Err(ApiError::NotFound(format!(
            "/v1/{path} is not read through the console"
        )));
    }
    let path_and_query = match uri.query() {
        Some(q) => format!("/v1/{path}?{q}"),
        None => format!("/v1/{path}"),
    };
    let mut pass = HeaderMap::new();
    if let Some(accept) = headers.get(header::ACCEPT) {
        pass.insert(header::ACCEPT, accept.clone());
    }
    answer_signed(
        api,
        &session.key,
        "GET",
        &path_and_query,
        pass,
        Default::default(),
    )
    .await
}

/// `POST /console/api/media`: `POST /v1/media` (a product photo or video) signed by the user's
/// key; a console write, so CSRF-checked.
async fn signed_upload(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = write_session(&api, &headers).await?;
    let mut pass = HeaderMap::new();
    if let Some(mime) = headers.get(header::CONTENT_TYPE) {
        pass.insert(header::CONTENT_TYPE, mime.clone());
    }
    answer_signed(api, &session.key, "POST", "/v1/media", pass, body).await
}

#[derive(Deserialize)]
struct ChannelQuery {
    /// Channel organisations to skip, in order of their first grant.
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// One grant of a channel.
#[derive(Serialize)]
struct GrantRow {
    grant: u32,
    role: &'static str,
    products: Vec<String>,
    territory: Vec<String>,
    geofence: Option<(i32, i32, u32)>,
    valid_from: u64,
    valid_until: u64,
    granted_time_ms: u64,
    in_force: bool,
    revoked: Option<String>,
}

#[derive(Serialize)]
struct ChannelRow {
    channel: String,
    name: Option<String>,
    grants: Vec<GrantRow>,
}

/// `GET /console/api/channels?offset=&limit=`: the channel organisations the user's
/// organisation authorised, in order of their first grant, with all their grants; `total`
/// counts the organisations. Reads only the rows of the page (at most 100).
async fn channels(
    State(api): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ChannelQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Rows<ChannelRow>>, ApiError> {
    let session = session(&api, &headers).await?;
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let brand = session.user.org.clone();
    let now_s = api.tip.borrow().map_or(0, |t| t.time_ms / 1000);
    let mut reads = Reads::new(api.state.as_ref());
    let total = reads.run(|r| read::channel_count(r, &brand)).await?;
    let rows_wanted = limit(query.limit);
    let mut ids = Vec::with_capacity(rows_wanted);
    let mut at = query.offset as u64;
    while ids.len() < rows_wanted && at < total {
        let page = u32::try_from(at / PAGE_LEN)
            .map_err(|_| ApiError::BadRequest("offset is too large".into()))?;
        let index = reads
            .record::<OrgIndex>(StateKey::BrandChannels(brand.clone(), page))
            .await?
            .unwrap_or_default();
        let from = (at % PAGE_LEN) as usize;
        let take = index.0.iter().skip(from).take(rows_wanted - ids.len());
        let before = ids.len();
        ids.extend(take.cloned());
        if ids.len() == before {
            break;
        }
        at += (ids.len() - before) as u64;
    }
    let mut grants = Vec::with_capacity(ids.len());
    for channel in &ids {
        if let Some(g) = reads
            .run(|r| read::channel_grants(r, &brand, channel))
            .await?
        {
            grants.push(g);
        }
    }
    let names = reads.orgs(grants.iter().map(|g| g.channel.clone())).await?;
    let rows = grants
        .iter()
        .map(|g| ChannelRow {
            channel: g.channel.to_string(),
            name: names.get(&g.channel).map(|o| o.name.clone()),
            grants: g
                .grants
                .iter()
                .map(|grant| GrantRow {
                    grant: grant.id,
                    role: grant.role.as_str(),
                    products: grant.products.iter().map(|p| p.to_string()).collect(),
                    territory: grant.territory.clone(),
                    geofence: grant
                        .geofence
                        .map(|f| (f.centre.lat_micro, f.centre.lon_micro, f.radius_m)),
                    valid_from: grant.valid_from,
                    valid_until: grant.valid_until,
                    granted_time_ms: grant.granted_at.time_ms,
                    in_force: grant.in_force(now_s),
                    revoked: grant.revoked.as_ref().map(|r| r.reason.clone()),
                })
                .collect(),
        })
        .collect();
    Ok(Json(Rows {
        rows,
        total: usize::try_from(total).unwrap_or(usize::MAX),
        offset: query.offset,
        limit: rows_wanted,
    }))
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn only_the_listed_reads_pass() {
        for ok in [
            "alerts",
            "alerts/stream",
            "analytics/scans",
            "codes/09506000134352/1/events",
            "recalls/jade-valley/0",
        ] {
            assert!(readable(ok), "{ok}");
        }
        for no in ["tx", "orgs", "codes/../tx", "alertsx", "media"] {
            assert!(!readable(no), "{no}");
        }
    }
}
