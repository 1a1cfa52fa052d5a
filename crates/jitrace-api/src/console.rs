//! The console's HTTP side: the page at `/` (sign-in for visitors, the console for users),
//! sign-in and sessions under `/console/api/session`, the signing endpoint, and the reads the
//! platform screens page, sort and filter on the server.
//!
//! Users, passwords, sessions and sealed keys are `jitrace_console`'s; this module adds what
//! HTTP needs:
//! - the session cookie `jitrace_session`: `HttpOnly; SameSite=Strict; Path=/`, and `Secure`
//!   unless the request came to a loopback host (`127.0.0.1`, `localhost`, `[::1]`): a browser
//!   does not send a Secure cookie back over plain http to 127.0.0.1, and a node serving others
//!   sits behind TLS, where the cookie is Secure;
//! - on every state-changing request, an `Origin` naming this host and the session's CSRF token
//!   in `X-CSRF-Token` (a synchronizer token: the page holds it in memory, from the sign-in
//!   answer or `GET /console/api/session`);
//! - role checks: [`jitrace_console::policy::may_send`] per payload kind, platform screens for
//!   members of an organisation with the `platform` role.
//!
//! **Architecture invariant:** console signing goes through normal admission. `POST
//! /console/api/tx` takes the transaction body the page built (`web/js/tx.js`), checks the
//! signer is the user's key and the kind is the user's to send, signs it with the key opened
//! at sign-in, and hands the signed bytes to [`crate::admission`] like `POST /v1/tx`.

use crate::{
    ApiError, ApiState, Shared, admission, assets,
    endpoints::read_store,
    pages::escape_html,
    source::read_record,
    views::{block_view, executed_tx_view, licence_view, pending_tx_view, status_view},
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use commonware_codec::DecodeExt as _;
use jitrace_chain::Block;
use jitrace_client::dto::{LicenceView, TxStatus};
use jitrace_console::{ActiveSession, Console, ConsoleRole, NewUser, policy};
use jitrace_ledger::state::{Count, Licence, Org, OrgIndex, PAGE_LEN, Receipt, StateKey};
use jitrace_types::{
    Hash, OrgId, Role, SignedTransaction, Transaction, keys::domain, tx::MAX_TX_BYTES,
};
use serde::{Deserialize, Serialize};
use std::{
    sync::{Arc, LazyLock},
    time::{SystemTime, UNIX_EPOCH},
};

mod catalogue;
mod labels;
mod signed;

/// The session cookie's name.
pub const COOKIE: &str = "jitrace_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Most rows of any console list in one answer.
pub const MAX_LIMIT: usize = 100;
/// Most organisations a filtered, sorted list looks at.
const MAX_ORGS_SCANNED: u64 = 100_000;

impl From<jitrace_console::Error> for ApiError {
    fn from(e: jitrace_console::Error) -> Self {
        use jitrace_console::Error as E;
        match e {
            E::SignInFailed | E::NoSession => ApiError::Unauthorised(e.to_string()),
            E::Csrf => ApiError::Csrf(e.to_string()),
            E::UserExists(_) => ApiError::Duplicate(e.to_string()),
            E::Invalid(_) => ApiError::BadRequest(e.to_string()),
            E::KeyDoesNotOpen | E::Store(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// The console's routes, merged into the API's router.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(shell))
        .route(
            "/console/api/session",
            get(whoami).post(sign_in).delete(sign_out),
        )
        .route("/console/api/tx", axum::routing::post(send_tx))
        .route("/console/api/users", get(list_users).post(create_user))
        .route("/console/api/orgs", get(orgs))
        .route("/console/api/licences", get(licences))
        .route("/console/api/blocks", get(blocks))
        .route("/console/api/blocks/{height}", get(block_detail))
        .route("/console/api/search", get(search))
        .route("/console/api/node", get(node))
        .merge(crate::console_b2b::routes())
        .merge(signed::routes())
        .merge(labels::routes())
        .merge(catalogue::routes())
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn console(api: &ApiState) -> Result<&Arc<Console>, ApiError> {
    api.console
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("this node runs no console".into()))
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

fn host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether the request came to this machine's loopback interface by name.
fn loopback_host(host: &str) -> bool {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A `Set-Cookie` value for the session `token` (empty with `max_age` 0: the sign-out).
fn session_cookie(headers: &HeaderMap, token: &str, max_age_s: u64) -> HeaderValue {
    let secure = if loopback_host(host(headers)) {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session of the request's cookie.
pub(crate) async fn session(
    api: &ApiState,
    headers: &HeaderMap,
) -> Result<ActiveSession, ApiError> {
    let token = cookie_token(headers)
        .ok_or_else(|| ApiError::Unauthorised("sign in to the console first".into()))?;
    Ok(console(api)?.session(token, now_ms())?)
}

/// A request from another site: its `Origin` is not this host.
fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Csrf("a console write needs an Origin header".into()))?;
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    if origin_host.is_empty() || origin_host != host(headers) {
        return Err(ApiError::Csrf(format!(
            "the request comes from another origin ({origin})"
        )));
    }
    Ok(())
}

/// The session of a state-changing request: same origin, and the session's CSRF token.
pub(crate) async fn write_session(
    api: &ApiState,
    headers: &HeaderMap,
) -> Result<ActiveSession, ApiError> {
    check_origin(headers)?;
    let session = session(api, headers).await?;
    session.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    Ok(session)
}

/// The user's organisation, from the latest state; `None` until it is registered.
pub(crate) async fn org_of(
    api: &ApiState,
    session: &ActiveSession,
) -> Result<Option<Org>, ApiError> {
    read_record::<Org>(api.state.as_ref(), StateKey::Org(session.user.org.clone())).await
}

/// A platform member's session, or 403.
async fn platform_session(api: &ApiState, session: &ActiveSession) -> Result<Org, ApiError> {
    match org_of(api, session).await? {
        Some(org) if org.roles.contains(&Role::Platform) => Ok(org),
        _ => Err(ApiError::Forbidden(
            "this is for members of the platform organisation".into(),
        )),
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("bad JSON: {e}")))
}

/// The console page: every screen is drawn by `web/js/console/app.js`; a visitor without a
/// session gets the sign-in form. Strict CSP: scripts and styles from this node only, and the
/// QR decoder's worker (a `blob:` made by the vendored qr-scanner) for the camera scanners.
async fn shell(State(api): State<Shared>) -> Response {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src 'self' {}; connect-src 'self'; img-src 'self' data:; \
             worker-src 'self' blob:; style-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            assets::import_map_csp()
        )
    });
    let chain = escape_html(&api.chain_id);
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Jitrace console</title>
<link rel="stylesheet" href="{css}">
<script type="importmap">{import_map}</script>
<script type="module" src="{app}"></script>
</head>
<body>
<div id="app" data-chain="{chain}"><noscript>The Jitrace console needs JavaScript. 控制台需要启用 JavaScript。</noscript></div>
<footer class="api-links">Jitrace <code>{chain}</code> · API: <a href="/docs">/docs</a> · <a href="/openapi.json">/openapi.json</a> · <a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a></footer>
</body>
</html>
"#,
        css = assets::asset_url("js/console/console.css"),
        app = assets::asset_url("js/console/app.js"),
        import_map = assets::import_map(),
    );
    crate::consumer::html_page(StatusCode::OK, &html, CSP.as_str())
}

/// Who is signed in: what the page needs to draw the shell.
#[derive(Serialize)]
struct SessionView {
    signed_in: bool,
    user: String,
    display_name: String,
    org: String,
    org_name: Option<String>,
    org_roles: Vec<String>,
    role: &'static str,
    key: String,
    csrf: String,
    chain_id: String,
    /// Payload kinds this user may send.
    may_send: Vec<&'static str>,
    /// The code-signing key sealed for this user (it signs label files), if any.
    code_key: Option<String>,
}

async fn session_view(api: &ApiState, session: &ActiveSession) -> Result<SessionView, ApiError> {
    let org = org_of(api, session).await?;
    let member = org
        .as_ref()
        .is_some_and(|o| o.members.contains(&session.key.public_key()));
    let roles = org.as_ref().map(|o| o.roles.clone()).unwrap_or_default();
    let mut kinds: Vec<&'static str> = roles
        .iter()
        .flat_map(|r| policy::kinds_of(*r))
        .filter(|k| member && policy::may_send(&roles, session.user.role, k))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    Ok(SessionView {
        signed_in: true,
        user: session.user.name.clone(),
        display_name: session.user.display_name.clone(),
        org: session.user.org.to_string(),
        org_name: org.as_ref().map(|o| o.name.clone()),
        org_roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
        role: session.user.role.as_str(),
        key: session.key.public_key().to_hex(),
        csrf: session.csrf.clone(),
        chain_id: api.chain_id.clone(),
        may_send: kinds,
        code_key: session.code_key.as_ref().map(|k| k.public_key().to_hex()),
    })
}

#[derive(Deserialize)]
struct SignIn {
    name: String,
    password: String,
}

/// `POST /console/api/session`: signs in; sets the session cookie.
async fn sign_in(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    check_origin(&headers)?;
    let SignIn { name, password } = parse_json(&body)?;
    let console = console(&api)?.clone();
    let signed = tokio::task::spawn_blocking(move || console.sign_in(&name, &password, now_ms()))
        .await
        .map_err(|e| ApiError::Internal(format!("sign-in task failed: {e}")))??;
    let view = session_view(&api, &signed.session).await?;
    let mut response = Json(view).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&headers, &signed.token, jitrace_console::ABSOLUTE_MS / 1000),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /console/api/session`: the signed-in user, or `{"signed_in": false}` (a 200, so that a
/// visitor's first page load logs no failed request in the browser).
async fn whoami(State(api): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let mut response = match session(&api, &headers).await {
        Ok(session) => Json(session_view(&api, &session).await?).into_response(),
        Err(ApiError::Unauthorised(_)) => {
            Json(serde_json::json!({ "signed_in": false })).into_response()
        }
        Err(e) => return Err(e),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /console/api/session`: signs out.
async fn sign_out(State(api): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    write_session(&api, &headers).await?;
    if let Some(token) = cookie_token(&headers) {
        console(&api)?.sign_out(token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&headers, "", 0));
    Ok(response)
}

#[derive(Deserialize)]
struct SendTx {
    /// Hex of the borsh `Transaction` (unsigned), as `web/js/tx.js` builds it.
    body: String,
}

#[derive(Serialize)]
struct Sent {
    hash: String,
    kind: &'static str,
}

/// `POST /console/api/tx`: signs the page's transaction body with the user's key and admits it.
async fn send_tx(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Sent>), ApiError> {
    let session = write_session(&api, &headers).await?;
    let SendTx { body } = parse_json(&body)?;
    let body = hex::decode(body.trim())
        .map_err(|e| ApiError::BadRequest(format!("`body` must be hex: {e}")))?;
    if body.len() > MAX_TX_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_TX_BYTES,
        });
    }
    let tx: Transaction = borsh::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("the transaction does not decode: {e}")))?;
    tx.validate()
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let key = session.key.public_key();
    if tx.signer != key {
        return Err(ApiError::Forbidden(format!(
            "the transaction's signer {} is not your key {key}",
            tx.signer
        )));
    }
    let kind = tx.payload.kind();
    let org = org_of(&api, &session).await?;
    let allowed = org.as_ref().is_some_and(|org| {
        org.members.contains(&key) && policy::may_send(&org.roles, session.user.role, kind)
    });
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "a {} of {} may not send {kind}",
            session.user.role.as_str(),
            session.user.org
        )));
    }
    let signature = session.key.sign(domain::TRANSACTION, &body);
    let raw = SignedTransaction { body, signature }.encode();
    let hash = admission::admit(&api, raw).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Sent {
            hash: hash.to_hex(),
            kind,
        }),
    ))
}

#[derive(Serialize)]
struct UserView {
    name: String,
    display_name: String,
    org: String,
    role: &'static str,
    key: String,
    created_ms: u64,
}

impl From<&jitrace_console::User> for UserView {
    fn from(u: &jitrace_console::User) -> Self {
        Self {
            name: u.name.clone(),
            display_name: u.display_name.clone(),
            org: u.org.to_string(),
            role: u.role.as_str(),
            key: u.public_key.to_hex(),
            created_ms: u.created_ms,
        }
    }
}

#[derive(Deserialize)]
struct OrgFilter {
    org: Option<String>,
}

/// `GET /console/api/users`: a platform admin's view of every user (`?org=` narrows), an
/// organisation admin's of their own organisation's.
async fn list_users(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(filter): Query<OrgFilter>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let session = session(&api, &headers).await?;
    if session.user.role != ConsoleRole::Admin {
        return Err(ApiError::Forbidden("only console admins list users".into()));
    }
    let platform = platform_session(&api, &session).await.is_ok();
    let org = match (platform, filter.org) {
        (true, None) => None,
        (true, Some(id)) => Some(parse_org(&id)?),
        (false, _) => Some(session.user.org.clone()),
    };
    let users = console(&api)?.users(org.as_ref())?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

pub(crate) fn parse_org(text: &str) -> Result<OrgId, ApiError> {
    OrgId::new(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

#[derive(Deserialize)]
struct CreateUser {
    name: String,
    display_name: String,
    org: String,
    role: String,
    password: String,
}

/// `POST /console/api/users`: a new user with a new member key, sealed with their password.
/// Platform admins create users of any organisation (the first user of a new one, whose key
/// the page then registers as its admin); organisation admins, of their own. The key becomes a
/// member only by a transaction (`register_org` or `add_member`).
async fn create_user(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let session = write_session(&api, &headers).await?;
    let request: CreateUser = parse_json(&body)?;
    let org = parse_org(&request.org)?;
    let role = ConsoleRole::parse(&request.role)
        .ok_or_else(|| ApiError::BadRequest("role is admin, operator or viewer".into()))?;
    let platform = platform_session(&api, &session).await.is_ok();
    let own_org = org == session.user.org;
    if session.user.role != ConsoleRole::Admin || !(platform || own_org) {
        return Err(ApiError::Forbidden(
            "only platform admins, or admins of the organisation, create its users".into(),
        ));
    }
    let console = console(&api)?.clone();
    let user = tokio::task::spawn_blocking(move || {
        console.create_user(
            NewUser {
                name: &request.name,
                display_name: &request.display_name,
                org,
                role,
                password: &request.password,
                key: None,
            },
            now_ms(),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("create-user task failed: {e}")))??;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

#[derive(Deserialize)]
struct OrgQuery {
    /// Part of the id or name, any case.
    #[serde(default)]
    q: String,
    /// Only organisations with this role.
    role: Option<String>,
    /// `id`, `name`, `registered` (default) or `licences`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct OrgRow {
    id: String,
    name: String,
    roles: Vec<&'static str>,
    region: Option<String>,
    members: usize,
    licences: usize,
    products: u64,
    registered_height: u64,
    registered_time_ms: u64,
}

#[derive(Serialize)]
pub(crate) struct Rows<T> {
    pub(crate) rows: Vec<T>,
    /// Rows matching the filter, over all pages.
    pub(crate) total: usize,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

pub(crate) fn limit(requested: Option<usize>) -> usize {
    requested.unwrap_or(20).clamp(1, MAX_LIMIT)
}

/// `GET /console/api/orgs?q=&role=&sort=&order=&offset=&limit=`: one page of organisations,
/// filtered and sorted on the node. It reads the ledger's registration index (up to 100,000
/// organisations); the answer carries at most 100 rows.
async fn orgs(
    State(api): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<OrgQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Rows<OrgRow>>, ApiError> {
    session(&api, &headers).await?;
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let role = query
        .role
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<Role>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        })
        .transpose()?;
    let needle = query.q.trim().to_lowercase();
    let mut matched = registered_orgs(&api, MAX_ORGS_SCANNED).await?;
    matched.retain(|org| {
        let text_ok = needle.is_empty()
            || org.id.as_str().contains(&needle)
            || org.name.to_lowercase().contains(&needle);
        text_ok && role.is_none_or(|r| org.roles.contains(&r))
    });
    match query.sort.as_deref().unwrap_or("registered") {
        "id" => matched.sort_by(|a, b| a.id.cmp(&b.id)),
        "name" => matched.sort_by_key(|o| o.name.to_lowercase()),
        "licences" => matched.sort_by_key(|o| o.licences.len()),
        "registered" => {}
        other => {
            return Err(ApiError::BadRequest(format!(
                "sort is id, name, registered or licences, not {other:?}"
            )));
        }
    }
    if query.order.as_deref() == Some("desc") {
        matched.reverse();
    }
    let limit = limit(query.limit);
    let total = matched.len();
    let rows = matched
        .into_iter()
        .skip(query.offset)
        .take(limit)
        .map(|o| OrgRow {
            id: o.id.to_string(),
            name: o.name.clone(),
            roles: o.roles.iter().map(|r| r.as_str()).collect(),
            region: o.region.clone(),
            members: o.members.len(),
            licences: o.licences.len(),
            products: o.product_count,
            registered_height: o.registered_at.height,
            registered_time_ms: o.registered_at.time_ms,
        })
        .collect();
    Ok(Json(Rows {
        rows,
        total,
        offset: query.offset,
        limit,
    }))
}

/// The first `max` organisations registered, in registration order, from the ledger's index.
pub(crate) async fn registered_orgs(api: &ApiState, max: u64) -> Result<Vec<Org>, ApiError> {
    let count = read_record::<Count>(api.state.as_ref(), StateKey::OrgCount)
        .await?
        .unwrap_or_default()
        .0
        .min(max);
    let mut out = Vec::new();
    for page in 0..count.div_ceil(PAGE_LEN) {
        let page = u32::try_from(page).unwrap_or(u32::MAX);
        let index = read_record::<OrgIndex>(api.state.as_ref(), StateKey::OrgIndex(page))
            .await?
            .unwrap_or_default();
        let reads = index
            .0
            .into_iter()
            .map(|id| read_record::<Org>(api.state.as_ref(), StateKey::Org(id)));
        out.extend(
            futures::future::try_join_all(reads)
                .await?
                .into_iter()
                .flatten(),
        );
    }
    out.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok(out)
}

#[derive(Deserialize)]
struct LicenceQuery {
    org: String,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// `GET /console/api/licences?org=`: an organisation's licences, newest first, a page at a time.
async fn licences(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<LicenceQuery>,
) -> Result<Json<Rows<LicenceView>>, ApiError> {
    session(&api, &headers).await?;
    let id = parse_org(&query.org)?;
    let org = read_record::<Org>(api.state.as_ref(), StateKey::Org(id.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no organisation {id}")))?;
    let limit = limit(query.limit);
    let reads = org
        .licences
        .iter()
        .rev()
        .skip(query.offset)
        .take(limit)
        .map(|l| read_record::<Licence>(api.state.as_ref(), StateKey::Licence(l.clone())));
    let rows = futures::future::try_join_all(reads)
        .await?
        .iter()
        .flatten()
        .map(licence_view)
        .collect();
    Ok(Json(Rows {
        rows,
        total: org.licences.len(),
        offset: query.offset,
        limit,
    }))
}

#[derive(Deserialize)]
struct BlockQuery {
    /// Blocks below this height (default: from the tip).
    before: Option<u64>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct BlockRow {
    height: u64,
    hash: String,
    time_ms: u64,
    txs: usize,
}

#[derive(Serialize)]
struct BlockPage {
    rows: Vec<BlockRow>,
    tip: u64,
    /// `before` for the next (older) page.
    next_before: Option<u64>,
}

fn decode_block(height: u64, bytes: Vec<u8>) -> Result<Block, ApiError> {
    Block::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored block {height} does not decode: {e}")))
}

/// `GET /console/api/blocks?before=&limit=`: the latest finalised blocks, newest first.
async fn blocks(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BlockQuery>,
) -> Result<Json<BlockPage>, ApiError> {
    session(&api, &headers).await?;
    let tip = api.tip.borrow().map_or(0, |t| t.height);
    let top = query.before.map_or(tip, |b| b.saturating_sub(1).min(tip));
    let limit = limit(query.limit) as u64;
    let low = top.saturating_sub(limit - 1).max(1);
    let blocks = read_store(&api, move |store| {
        (low..=top)
            .rev()
            .map(|h| Ok((h, store.block(h)?)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut rows = Vec::new();
    for (height, bytes) in blocks {
        let Some(bytes) = bytes else { continue };
        let view = block_view(&decode_block(height, bytes)?, None);
        rows.push(BlockRow {
            height,
            hash: view.hash,
            time_ms: view.time_ms,
            txs: view.txs.len(),
        });
    }
    Ok(Json(BlockPage {
        rows,
        tip,
        next_before: (low > 1 && top >= 1).then_some(low),
    }))
}

#[derive(Deserialize)]
struct TxPage {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct BlockDetail {
    height: u64,
    hash: String,
    parent: String,
    time_ms: u64,
    tx_root: String,
    state_root: String,
    certified: bool,
    /// A page of the block's transactions with their receipts.
    txs: Rows<TxStatus>,
}

/// `GET /console/api/blocks/{height}?offset=&limit=`: a block and a page of its transactions'
/// receipts.
async fn block_detail(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(height): Path<u64>,
    Query(page): Query<TxPage>,
) -> Result<Json<BlockDetail>, ApiError> {
    session(&api, &headers).await?;
    let (bytes, certificate) = read_store(&api, move |store| {
        Ok((store.block(height)?, store.certificate(height)?))
    })
    .await?;
    let bytes = bytes
        .ok_or_else(|| ApiError::NotFound(format!("no finalised block at height {height}")))?;
    let view = block_view(&decode_block(height, bytes)?, certificate.as_deref());
    let limit = limit(page.limit);
    let mut rows = Vec::new();
    for hash in view.txs.iter().skip(page.offset).take(limit) {
        let hash = Hash::from_hex(hash).map_err(|e| ApiError::Internal(e.to_string()))?;
        let receipt = read_record::<Receipt>(api.state.as_ref(), StateKey::Receipt(hash)).await?;
        rows.push(
            receipt
                .as_ref()
                .map_or_else(|| pending_tx_view(&hash), executed_tx_view),
        );
    }
    Ok(Json(BlockDetail {
        height,
        hash: view.hash,
        parent: view.parent,
        time_ms: view.time_ms,
        tx_root: view.tx_root,
        state_root: view.state_root,
        certified: view.certificate.is_some(),
        txs: Rows {
            rows,
            total: view.txs.len(),
            offset: page.offset,
            limit,
        },
    }))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

/// What a search found.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Found {
    Tx {
        tx: TxStatus,
    },
    Block {
        height: u64,
    },
    Org {
        id: String,
    },
    /// A product code: the consumer page's path.
    Code {
        path: String,
        gtin: String,
        serial: String,
    },
}

/// `GET /console/api/search?q=`: a transaction hash, a block height, a product code (its URL,
/// or a GTIN and a serial), or an organisation id.
async fn search(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(SearchQuery { q }): Query<SearchQuery>,
) -> Result<Json<Found>, ApiError> {
    session(&api, &headers).await?;
    let q = q.trim();
    if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hash = Hash::from_hex(&q.to_ascii_lowercase())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if let Some(receipt) =
            read_record::<Receipt>(api.state.as_ref(), StateKey::Receipt(hash)).await?
        {
            return Ok(Json(Found::Tx {
                tx: executed_tx_view(&receipt),
            }));
        }
        if api.mempool.contains(&hash) {
            return Ok(Json(Found::Tx {
                tx: pending_tx_view(&hash),
            }));
        }
        return Err(ApiError::NotFound(format!("no transaction {hash}")));
    }
    if !q.is_empty() && q.len() <= 20 && q.bytes().all(|b| b.is_ascii_digit()) {
        let height: u64 = q
            .parse()
            .map_err(|_| ApiError::BadRequest("not a height".into()))?;
        let tip = api.tip.borrow().map_or(0, |t| t.height);
        if (1..=tip).contains(&height) {
            return Ok(Json(Found::Block { height }));
        }
        return Err(ApiError::NotFound(format!(
            "no finalised block at height {height}"
        )));
    }
    if q.contains("/01/") {
        let link = jitrace_types::DigitalLink::parse(q)
            .map_err(|e| ApiError::BadRequest(format!("not a product code: {e}")))?;
        let uri = link.to_uri();
        let path = uri
            .find("/01/")
            .map_or(uri.clone(), |i| uri[i..].to_string());
        let (gtin, serial) = code_parts(&path);
        return Ok(Json(Found::Code { path, gtin, serial }));
    }
    if let Some((gtin, serial)) = q.split_once(char::is_whitespace) {
        let gtin = jitrace_types::Gtin::parse(gtin.trim())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let serial = serial.trim();
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::BadRequest("a serial is a number".into()));
        }
        return Ok(Json(Found::Code {
            path: format!("/01/{gtin}/21/{serial}"),
            gtin: gtin.to_string(),
            serial: serial.to_string(),
        }));
    }
    let id = parse_org(q)?;
    if read_record::<Org>(api.state.as_ref(), StateKey::Org(id.clone()))
        .await?
        .is_some()
    {
        return Ok(Json(Found::Org { id: id.to_string() }));
    }
    Err(ApiError::NotFound(format!("nothing found for {q:?}")))
}

fn code_parts(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.split(['/', '?']).collect();
    (
        parts.get(2).copied().unwrap_or_default().to_string(),
        parts.get(4).copied().unwrap_or_default().to_string(),
    )
}

#[derive(Serialize)]
struct NodeView {
    status: jitrace_client::dto::Status,
    /// `healthy` (a block finalised within 10 s), `stalled`, or `starting` (none yet).
    health: &'static str,
    /// Milliseconds since the latest finalised block.
    tip_age_ms: Option<u64>,
    blocks_executed: u64,
    mean_block_execution_micros: Option<u64>,
}

/// `GET /console/api/node`: this node's height, peers, mempool and health.
async fn node(State(api): State<Shared>, headers: HeaderMap) -> Result<Json<NodeView>, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    session(&api, &headers).await?;
    let tip = *api.tip.borrow();
    let peers = crate::pages::connected_peers(&(api.engine_metrics)());
    let status = status_view(
        &api.chain_id,
        &api.validators,
        tip,
        api.mempool.len(),
        &api.role,
        peers,
    );
    let age = tip.map(|t| now_ms().saturating_sub(t.time_ms));
    let health = match age {
        None => "starting",
        Some(age) if age <= 10_000 => "healthy",
        Some(_) => "stalled",
    };
    let blocks = api.exec_stats.blocks.load(Relaxed);
    Ok(Json(NodeView {
        status,
        health,
        tip_age_ms: age,
        blocks_executed: blocks,
        mean_block_execution_micros: (blocks > 0)
            .then(|| api.exec_stats.micros.load(Relaxed) / blocks),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_get_cookies_without_secure() {
        for host in ["127.0.0.1:8080", "localhost:3000", "[::1]:80", "127.0.0.1"] {
            assert!(loopback_host(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1:80", "127.example.com", ""] {
            assert!(!loopback_host(host), "{host}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("console.example.com"),
        );
        let cookie = session_cookie(&headers, "ab", 60);
        assert_eq!(
            cookie.to_str().unwrap(),
            "jitrace_session=ab; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
    }
}
