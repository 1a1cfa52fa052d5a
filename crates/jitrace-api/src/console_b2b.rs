//! The console's B2B reads for manufacturers and suppliers: supplier authorisations, the
//! receiving gate's dry run and log, traces backward and forward, and recalls.
//!
//! These are the signed `/v1` B2B endpoints' functions ([`crate::b2b`]) called with the
//! console session's key as the caller, so who sees what is decided in one place. Writes
//! (authorise, gate receive, assemble, recall) are ordinary transactions the page builds and
//! `POST /console/api/tx` signs.

use crate::{
    ApiError, ApiState, Shared,
    auth::Caller,
    b2b::{self, ForwardScope},
    console::{
        Rows, limit, org_of, parse_json, parse_org, registered_orgs, session, write_session,
    },
    source::read_record,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::{get, post},
};
use jitrace_client::dto::{
    GateCheckRequest, GateLogView, GateReport, RecallProgressView, RecallView, TraceBackView,
    TraceForwardView,
};
use jitrace_console::ActiveSession;
use jitrace_ledger::state::{Count, Org, PAGE_LEN, ProductPage, StateKey, SupplierAuthorisation};
use jitrace_types::{Gtin, Role, parts::Allowed, tx::CodeId};
use serde::{Deserialize, Serialize};

/// Most (organisation, part) pairs the authorisation list looks at.
const MAX_PAIRS_SCANNED: usize = 20_000;
/// Most organisations the authorisation list looks at.
const MAX_ORGS_SCANNED: u64 = 10_000;

pub(crate) fn routes() -> Router<crate::Shared> {
    Router::new()
        .route("/console/api/b2b/suppliers", get(suppliers))
        .route("/console/api/b2b/gate/check", post(gate_check))
        .route("/console/api/b2b/gate/log", get(gate_log))
        .route(
            "/console/api/b2b/trace/back/{gtin}/{serial}",
            get(trace_back),
        )
        .route("/console/api/b2b/trace/forward", get(trace_forward))
        .route("/console/api/b2b/recalls", get(recalls))
        .route("/console/api/b2b/recalls/{number}", get(recall))
}

/// The session user's organisation, if their key is one of its members, as a [`Caller`] of
/// the B2B functions; `roles`, when not empty, are the organisation roles the screen needs.
async fn member(
    api: &ApiState,
    session: &ActiveSession,
    roles: &[Role],
) -> Result<(Org, Caller), ApiError> {
    let key = session.key.public_key();
    let org = org_of(api, session)
        .await?
        .filter(|o| o.members.contains(&key))
        .ok_or_else(|| {
            ApiError::Forbidden(format!("your key is not a member of {}", session.user.org))
        })?;
    if !roles.is_empty() && !roles.iter().any(|r| org.roles.contains(r)) {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        return Err(ApiError::Forbidden(format!(
            "this is for members of a {} organisation",
            names.join(" or ")
        )));
    }
    let caller = Caller {
        key,
        orgs: vec![org.clone()],
        scope: None,
    };
    Ok((org, caller))
}

/// One specification rule as the page shows and edits it.
#[derive(Serialize)]
struct RuleView {
    name: String,
    /// `exactly`, `one_of` or `range`.
    kind: &'static str,
    /// The value(s) for `exactly` and `one_of`.
    values: Vec<String>,
    /// Decimal text of a range's bounds.
    min: Option<String>,
    max: Option<String>,
}

/// Fixed-point thousandths as the shortest decimal text (`49950` → `49.95`).
fn milli_text(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let (whole, fraction) = (milli.unsigned_abs() / 1000, milli.unsigned_abs() % 1000);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{fraction:03}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

fn rule_view(name: &str, allowed: &Allowed) -> RuleView {
    let (kind, values, min, max) = match allowed {
        Allowed::Exactly(v) => ("exactly", vec![v.clone()], None, None),
        Allowed::OneOf(vs) => ("one_of", vs.clone(), None, None),
        Allowed::Range {
            min_milli,
            max_milli,
        } => (
            "range",
            vec![],
            Some(milli_text(*min_milli)),
            Some(milli_text(*max_milli)),
        ),
    };
    RuleView {
        name: name.to_string(),
        kind,
        values,
        min,
        max,
    }
}

#[derive(Serialize)]
struct AuthorisationRow {
    manufacturer: String,
    supplier: String,
    supplier_name: String,
    part: String,
    part_name: Option<String>,
    rules: Vec<RuleView>,
    spec_hash: String,
    valid_from: u64,
    valid_until: u64,
    granted_height: u64,
    /// `active`, `revoked`, `expired` or `pending` (not yet valid).
    state: &'static str,
    revoked_reason: Option<String>,
}

#[derive(Deserialize)]
struct AuthorisationQuery {
    /// Part of the other organisation's id or name, or of the part's GTIN or name, any case.
    #[serde(default)]
    q: String,
    /// `active` to hide revoked and expired ones.
    state: Option<String>,
    /// `granted` (the default: newest first), `supplier`, `part` or `valid_until`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// The products an organisation registered (its parts, for a supplier).
async fn products_of(api: &ApiState, org: &Org) -> Result<Vec<Gtin>, ApiError> {
    let mut out = Vec::new();
    for page in 0..org.product_count.div_ceil(PAGE_LEN) {
        let page = u32::try_from(page).unwrap_or(u32::MAX);
        let gtins = read_record::<ProductPage>(
            api.state.as_ref(),
            StateKey::OrgProducts(org.id.clone(), page),
        )
        .await?
        .unwrap_or_default();
        out.extend(gtins.0);
    }
    Ok(out)
}

/// `GET /console/api/b2b/suppliers?q=&state=&offset=&limit=`: the supplier authorisations
/// the user's organisation granted (a manufacturer) or holds (a supplier), newest first. There
/// is no ledger index of authorisations, so the node looks up every (supplier, part) pair —
/// each supplier's registered parts — against the manufacturer: at most 20,000 pairs.
async fn suppliers(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<AuthorisationQuery>,
) -> Result<Json<Rows<AuthorisationRow>>, ApiError> {
    let session = session(&api, &headers).await?;
    let (me, _) = member(&api, &session, &[Role::Manufacturer, Role::Supplier]).await?;
    let others = registered_orgs(&api, MAX_ORGS_SCANNED).await?;
    let mut keys = Vec::new();
    if me.roles.contains(&Role::Manufacturer) {
        for supplier in others.iter().filter(|o| o.roles.contains(&Role::Supplier)) {
            for part in products_of(&api, supplier).await? {
                keys.push(StateKey::SupplierAuth(
                    me.id.clone(),
                    part,
                    supplier.id.clone(),
                ));
            }
            if keys.len() >= MAX_PAIRS_SCANNED {
                break;
            }
        }
    }
    if me.roles.contains(&Role::Supplier) {
        let parts = products_of(&api, &me).await?;
        for maker in others
            .iter()
            .filter(|o| o.roles.contains(&Role::Manufacturer) && o.id != me.id)
        {
            for part in &parts {
                keys.push(StateKey::SupplierAuth(
                    maker.id.clone(),
                    *part,
                    me.id.clone(),
                ));
            }
        }
    }
    keys.truncate(MAX_PAIRS_SCANNED);
    let found = futures::future::try_join_all(
        keys.into_iter()
            .map(|k| read_record::<SupplierAuthorisation>(api.state.as_ref(), k)),
    )
    .await?;
    let now_s = crate::console::now_ms() / 1000;
    let needle = query.q.trim().to_lowercase();
    let name_of = |id: &jitrace_types::OrgId| {
        others
            .iter()
            .find(|o| &o.id == id)
            .map_or_else(|| id.to_string(), |o| o.name.clone())
    };
    let mut rows: Vec<AuthorisationRow> = Vec::new();
    for auth in found.into_iter().flatten() {
        let state = if auth.revoked.is_some() {
            "revoked"
        } else if now_s >= auth.valid_until {
            "expired"
        } else if now_s < auth.valid_from {
            "pending"
        } else {
            "active"
        };
        if query.state.as_deref() == Some("active") && state != "active" {
            continue;
        }
        let other = if auth.manufacturer == me.id {
            &auth.supplier
        } else {
            &auth.manufacturer
        };
        let part_name = read_record::<jitrace_ledger::state::Product>(
            api.state.as_ref(),
            StateKey::Product(auth.part),
        )
        .await?
        .map(|p| p.info.name);
        let text_ok = needle.is_empty()
            || other.as_str().contains(&needle)
            || name_of(other).to_lowercase().contains(&needle)
            || auth.part.to_string().contains(&needle)
            || part_name
                .as_ref()
                .is_some_and(|n| n.to_lowercase().contains(&needle));
        if !text_ok {
            continue;
        }
        rows.push(AuthorisationRow {
            manufacturer: auth.manufacturer.to_string(),
            supplier: auth.supplier.to_string(),
            supplier_name: name_of(&auth.supplier),
            part: auth.part.to_string(),
            part_name,
            rules: auth
                .spec
                .rules
                .iter()
                .map(|r| rule_view(&r.name, &r.allowed))
                .collect(),
            spec_hash: auth.spec_hash.to_hex(),
            valid_from: auth.valid_from,
            valid_until: auth.valid_until,
            granted_height: auth.granted_at.height,
            state,
            revoked_reason: auth.revoked.as_ref().map(|r| r.reason.clone()),
        });
    }
    match query.sort.as_deref() {
        None | Some("") => rows.sort_by_key(|r| std::cmp::Reverse(r.granted_height)),
        Some("granted") => rows.sort_by_key(|r| r.granted_height),
        Some("supplier") => {
            rows.sort_by(|a, b| (&a.supplier, &a.part).cmp(&(&b.supplier, &b.part)))
        }
        Some("part") => rows.sort_by(|a, b| (&a.part, &a.supplier).cmp(&(&b.part, &b.supplier))),
        Some("valid_until") => rows.sort_by_key(|r| r.valid_until),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort is granted, supplier, part or valid_until, not {other:?}"
            )));
        }
    }
    if query.sort.is_some() && query.order.as_deref() == Some("desc") {
        rows.reverse();
    }
    let limit = limit(query.limit);
    let total = rows.len();
    Ok(Json(Rows {
        rows: rows.into_iter().skip(query.offset).take(limit).collect(),
        total,
        offset: query.offset,
        limit,
    }))
}

/// `POST /console/api/b2b/gate/check`: what the user's gate would answer for these scans,
/// recording nothing (the page then sends the `gate_receive` transaction to record them).
async fn gate_check(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<GateReport>, ApiError> {
    let session = write_session(&api, &headers).await?;
    let (me, _) = member(&api, &session, &[Role::Manufacturer]).await?;
    let request: GateCheckRequest = parse_json(&body)?;
    if parse_org(&request.org)? != me.id {
        return Err(ApiError::Forbidden(format!(
            "you use the gate of {}, not {}",
            me.id, request.org
        )));
    }
    let items = b2b::gate_items(request.items)?;
    Ok(Json(b2b::check_report(&api, &me.id, &items).await?))
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// `GET /console/api/b2b/gate/log?offset=&limit=`: the organisation's gate log, newest first
/// (its own gate's verdicts, and its parts' verdicts at its customers' gates).
async fn gate_log(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> Result<Json<GateLogView>, ApiError> {
    let session = session(&api, &headers).await?;
    let (me, _) = member(&api, &session, &[]).await?;
    let total = b2b::read_gate_log(&api, &me.id, 0, 0).await?.total;
    let limit = limit(page.limit) as u64;
    let end = total.saturating_sub(page.offset as u64);
    let start = end.saturating_sub(limit);
    let mut log = b2b::read_gate_log(&api, &me.id, start, end - start).await?;
    log.entries.reverse();
    Ok(Json(log))
}

/// `GET /console/api/b2b/trace/back/{gtin}/{serial}`: an item's tree of parts, for its
/// brand or holder (as `GET /v1/trace/back`).
async fn trace_back(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path((gtin, serial)): Path<(String, u64)>,
) -> Result<Json<TraceBackView>, ApiError> {
    let session = session(&api, &headers).await?;
    let (_, caller) = member(&api, &session, &[]).await?;
    let gtin = Gtin::parse(&gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(
        b2b::back_trace_view(&api, &caller, CodeId { gtin, serial }).await?,
    ))
}

/// `GET /console/api/b2b/trace/forward?gtin=&lot=|issuer=&offset=&limit=`: the items
/// containing a lot, a part type or an issuer's codes, and where each is now (as `GET
/// /v1/trace/forward`).
async fn trace_forward(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ForwardScope>,
) -> Result<Json<ForwardPage>, ApiError> {
    let session = session(&api, &headers).await?;
    let (_, caller) = member(&api, &session, &[]).await?;
    let scope = b2b::parse_scope(&q)?;
    let limit = q.limit.unwrap_or(b2b::MAX_PAGE).min(b2b::MAX_PAGE);
    let (view, visible) = b2b::forward_trace_view(&api, &caller, &scope, q.start, limit).await?;
    Ok(Json(ForwardPage { view, visible }))
}

/// A page of a forward trace, and how many items the user sees in all (`total` counts every
/// item affected, some of which may be other brands').
#[derive(Serialize)]
struct ForwardPage {
    #[serde(flatten)]
    view: TraceForwardView,
    visible: u64,
}

#[derive(Serialize)]
struct RecallRow {
    number: u32,
    scope: String,
    reason: String,
    started_ms: u64,
    closed: bool,
    progress: RecallProgressView,
    truncated: bool,
}

/// `GET /console/api/b2b/recalls?offset=&limit=`: the organisation's recalls, newest first,
/// each with its progress.
async fn recalls(
    State(api): State<Shared>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> Result<Json<Rows<RecallRow>>, ApiError> {
    let session = session(&api, &headers).await?;
    let (me, _) = member(&api, &session, &[]).await?;
    let count = read_record::<Count>(api.state.as_ref(), StateKey::RecallCount(me.id.clone()))
        .await?
        .unwrap_or_default()
        .0;
    let limit = limit(page.limit);
    let mut rows = Vec::new();
    for number in (0..count).rev().skip(page.offset).take(limit) {
        let number = u32::try_from(number).unwrap_or(u32::MAX);
        let view = b2b::read_recall(&api, &me.id, number).await?;
        rows.push(RecallRow {
            number,
            scope: view.scope,
            reason: view.reason,
            started_ms: view.started_ms,
            closed: view.closed,
            progress: view.progress,
            truncated: view.truncated,
        });
    }
    Ok(Json(Rows {
        rows,
        total: usize::try_from(count).unwrap_or(usize::MAX),
        offset: page.offset,
        limit,
    }))
}

/// `GET /console/api/b2b/recalls/{number}`: one recall with its progress and items.
async fn recall(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(number): Path<u32>,
) -> Result<Json<RecallView>, ApiError> {
    let session = session(&api, &headers).await?;
    let (me, _) = member(&api, &session, &[]).await?;
    Ok(Json(b2b::read_recall(&api, &me.id, number).await?))
}

#[cfg(test)]
mod tests {
    use super::milli_text;

    #[test]
    fn milli_as_decimal_text() {
        for (milli, text) in [
            (49_950, "49.95"),
            (50_000, "50"),
            (-1_005, "-1.005"),
            (7, "0.007"),
        ] {
            assert_eq!(milli_text(milli), text);
        }
    }
}
