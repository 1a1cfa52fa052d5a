//! The flows of goods: where every code the chain has touched is now, for the organisation
//! holding it and for the one that issued it, from the node's off-chain index
//! (`jitrace_store::index`, built by the indexer in [`crate::analytics`]).
//!
//! - A code's holder is its custodian; for a code in transit, the organisation it is shipped
//!   to; for an installed part, the holder of the item at the top of its assembly. Sold, owned,
//!   destroyed and decommissioned codes (and parts of such items) have no holder.
//! - Its issuer (brand or supplier) sees its status wherever it is, sold and destroyed included.
//! - Parts move with their item: when an item moves, the indexer re-reads every part in it.
//! - Like the rest of the index, whereabouts are read from the latest state when a block is
//!   indexed: the index is not consensus data.
//! - Members of an organisation read its flows (signed requests); anyone else is refused.

use crate::{
    ApiError, Shared,
    analytics::{decode_cursor, encode_cursor, limit},
    b2b::member_read,
    verdict::Reads,
    views::{flow_code_view, flow_count_view},
};
use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, Method, Uri},
};
use jitrace_client::dto::{ErrorBody, FlowsView};
use jitrace_ledger::{
    state::{CodeState, CodeStatus, Retirement, StateKey},
    trace,
};
use jitrace_store::index::{FlowCode, FlowCursor, FlowQuery, FlowRole, Holder, Whereabouts};
use jitrace_types::{OrgId, tx::CodeId};
use std::collections::{BTreeMap, BTreeSet};

/// The statuses a holder sees its codes in.
pub const HOLDER_STATUSES: [&str; 4] = ["in_transit", "in_stock", "held", "installed"];
/// The statuses an issuer sees its codes in.
pub const ISSUER_STATUSES: [&str; 10] = [
    "issued",
    "active",
    "in_transit",
    "in_channel",
    "in_stock",
    "installed",
    "sold",
    "owned",
    "destroyed",
    "decommissioned",
];

/// The status a code's issuer sees it in: the ledger's name, with retirements told apart.
fn issuer_status(status: CodeStatus) -> &'static str {
    match status {
        CodeStatus::Retired(Retirement::Destroyed) => "destroyed",
        CodeStatus::Retired(Retirement::Decommissioned) => "decommissioned",
        other => other.as_str(),
    }
}

/// The status a code's holder sees it in; `None`: nobody holds a code in this status.
fn holder_status(status: CodeStatus) -> Option<&'static str> {
    match status {
        CodeStatus::InTransit => Some("in_transit"),
        CodeStatus::InStock => Some("in_stock"),
        CodeStatus::Active | CodeStatus::InChannel => Some("held"),
        CodeStatus::Retired(Retirement::Installed) => Some("installed"),
        _ => None,
    }
}

/// Who holds a top-level item (and so every part in it).
fn holder_of_item(item: &CodeState) -> Option<&OrgId> {
    match item.status {
        CodeStatus::InTransit => item.in_transit_to.as_ref(),
        CodeStatus::InStock | CodeStatus::Active | CodeStatus::InChannel => item.custodian.as_ref(),
        _ => None,
    }
}

/// A code's whereabouts, given the holder of the item at the top of its assembly.
fn whereabouts(state: &CodeState, holder: Option<&OrgId>) -> Whereabouts {
    Whereabouts {
        lot: state.lot.clone(),
        issuer: state.brand.to_string(),
        status: issuer_status(state.status).into(),
        holder: holder
            .zip(holder_status(state.status))
            .map(|(org, status)| Holder {
                org: org.to_string(),
                status: status.into(),
            }),
    }
}

fn flow_code(code: &CodeId) -> FlowCode {
    FlowCode {
        gtin: code.gtin.to_string(),
        serial: code.serial,
    }
}

/// The whereabouts of every code in `touched` and of every part installed in them, at any
/// depth (a part is held by whoever holds its item). Codes without state are left out. The
/// parts under one code are read level by level, at most [`trace::MAX_TRACE_NODES`].
pub(crate) async fn whereabouts_of(
    reads: &mut Reads<'_>,
    touched: BTreeSet<CodeId>,
) -> Result<BTreeMap<FlowCode, Whereabouts>, ApiError> {
    let mut out = BTreeMap::new();
    reads
        .fetch(touched.iter().map(|c| StateKey::Code(*c)))
        .await?;
    for code in touched {
        let Some(state) = reads.record::<CodeState>(StateKey::Code(code)).await? else {
            continue;
        };
        let item = reads.run(|r| trace::root_of(r, state.clone())).await?;
        let holder = holder_of_item(&item).cloned();
        let mut level = vec![state];
        let mut seen = 0usize;
        while !level.is_empty() {
            let mut parts = Vec::new();
            for s in &level {
                out.insert(flow_code(&s.code), whereabouts(s, holder.as_ref()));
                parts.extend(s.parts.iter().copied());
            }
            seen += level.len();
            if seen + parts.len() > trace::MAX_TRACE_NODES {
                tracing::warn!(
                    gtin = %code.gtin,
                    serial = code.serial,
                    "index: an item has too many parts to follow; some parts' holders are stale"
                );
                parts.truncate(trace::MAX_TRACE_NODES.saturating_sub(seen));
            }
            reads
                .fetch(parts.iter().map(|c| StateKey::Code(*c)))
                .await?;
            level.clear();
            for part in parts {
                if let Some(s) = reads.record::<CodeState>(StateKey::Code(part)).await? {
                    level.push(s);
                }
            }
        }
    }
    Ok(out)
}

/// `GET /v1/flows/{org}`'s query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FlowsQuery {
    /// `holder` or `issuer`: list a page of the organisation's codes in that role.
    role: Option<String>,
    /// Only codes in this status (needs `role`).
    status: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Most codes (default and maximum 1,000).
    limit: Option<usize>,
}

/// An organisation's flows of goods: how many of its codes are in each status as their holder
/// (in transit to it, in stock, held, installed in its items) and as their issuer (wherever
/// they are, sold and destroyed included); with `role` (and `status`), a page of those codes.
/// Signed request by a member of the organisation.
#[utoipa::path(
    get, path = "/v1/flows/{org}", tag = "b2b",
    params(("org" = String, Path, description = "Organisation id"), FlowsQuery),
    responses(
        (status = 200, description = "Counts, and a page of codes", body = FlowsView),
        (status = 400, description = "`bad_request`: a bad role, status, limit or cursor", body = ErrorBody),
        (status = 401, description = "`unauthorised`: not a valid signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a member of the organisation", body = ErrorBody),
    )
)]
pub(crate) async fn flows(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(org): Path<String>,
    query: Result<Query<FlowsQuery>, QueryRejection>,
) -> Result<Json<FlowsView>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let org = member_read(&api, &method, &uri, &headers, &org, "read its flows").await?;
    let role = match query.role.as_deref() {
        None if query.status.is_some() || query.after.is_some() => {
            return Err(ApiError::BadRequest(
                "status and after need a role (holder or issuer)".into(),
            ));
        }
        None => None,
        Some(text) => Some(FlowRole::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!("role must be holder or issuer, not {text}"))
        })?),
    };
    if let (Some(role), Some(status)) = (role, query.status.as_deref()) {
        let known: &[&str] = match role {
            FlowRole::Holder => &HOLDER_STATUSES,
            FlowRole::Issuer => &ISSUER_STATUSES,
        };
        if !known.contains(&status) {
            return Err(ApiError::BadRequest(format!(
                "a {} sees codes in status {}, not {status}",
                role.as_str(),
                known.join(", ")
            )));
        }
    }
    let internal = |e: jitrace_store::Error| ApiError::Internal(e.to_string());
    let counts = api.index.flow_counts(org.as_str()).map_err(internal)?;
    let mut view = FlowsView {
        org: org.to_string(),
        counts: counts.iter().map(flow_count_view).collect(),
        role: role.map(|r| r.as_str().into()),
        status: query.status.clone(),
        codes: Vec::new(),
        next: None,
    };
    if let Some(role) = role {
        let after: Option<FlowCursor> = decode_cursor(query.after.as_deref())?;
        let page = api
            .index
            .flows(&FlowQuery {
                org: org.as_str(),
                role,
                status: query.status.as_deref(),
                after: after.as_ref(),
                limit: limit(query.limit)?,
            })
            .map_err(|e| match e {
                jitrace_store::Error::FlowCursor { .. } => ApiError::BadRequest(e.to_string()),
                e => internal(e),
            })?;
        view.codes = page.rows.iter().map(flow_code_view).collect();
        view.next = page.next.as_ref().map(encode_cursor).transpose()?;
    }
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_flow_name() {
        let statuses = [
            CodeStatus::Issued,
            CodeStatus::Active,
            CodeStatus::InTransit,
            CodeStatus::InChannel,
            CodeStatus::Sold,
            CodeStatus::Owned,
            CodeStatus::InStock,
            CodeStatus::Retired(Retirement::Destroyed),
            CodeStatus::Retired(Retirement::Decommissioned),
            CodeStatus::Retired(Retirement::Installed),
        ];
        let issuer: Vec<&str> = statuses.iter().map(|s| issuer_status(*s)).collect();
        let mut sorted = issuer.clone();
        sorted.sort_unstable();
        let mut known = ISSUER_STATUSES.to_vec();
        known.sort_unstable();
        assert_eq!(sorted, known);
        let holder: BTreeSet<&str> = statuses.iter().filter_map(|s| holder_status(*s)).collect();
        assert_eq!(holder, BTreeSet::from(HOLDER_STATUSES));
    }
}
