//! A code's history, `GET /v1/codes/{gtin}/{serial}/events`: the public view for anyone holding
//! the printed code, the private view for the organisations entitled to it.
//!
//! Who is entitled (checked on every request, from the latest state): members of the brand
//! that issued the code or owns the product, of a channel organisation the brand authorised
//! for the product (a grant in force), or of an organisation that recorded an event on the
//! code. They send a signed request and need nothing else.
//!
//! Everyone else (unsigned, or signed by anyone else: not an error) gets the public view, the
//! same facts as the verdict's path: city-level places, positions rounded to 0.1°, no signers,
//! no transactions. Like the verdict, it needs the printed code's signature (`8030`), so that
//! nobody can walk the serial numbers and rebuild a brand's distribution from the public paths.

use crate::{ApiError, Shared, auth, verdict::Reads, views::code_event_view};
use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    http::{HeaderMap, Method, Uri, header},
};
use jitrace_client::dto::{CodeHistory, ErrorBody, HistoryView};
use jitrace_ledger::{
    read::{self, CodeCheck},
    state::{MAX_EVENTS_PER_CODE, Product, StateKey},
};
use jitrace_types::{
    Gtin, Hash, OrgId,
    code::decode_code_signature,
    token::Scope,
    tx::{CodeId, SignedCode},
};

/// Events one page holds at most (and by default).
pub const MAX_EVENTS_PER_PAGE: u32 = 100;

/// `GET /v1/codes/{gtin}/{serial}/events`' query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct HistoryQuery {
    /// The first event's index (default 0).
    #[serde(default)]
    from: u32,
    /// Most events (default and maximum 100).
    limit: Option<u32>,
    /// The printed code's signature (AI 8030, 86 characters of base64url); needed for the
    /// public view, not by entitled organisations.
    #[serde(rename = "8030")]
    signature: Option<String>,
}

/// A code's events, oldest first: exact positions, signers, transactions and details for the
/// organisations entitled to them (signed request), the public view for everyone else.
#[utoipa::path(
    get, path = "/v1/codes/{gtin}/{serial}/events", tag = "codes",
    params(
        ("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14 with its check digit"),
        ("serial" = u64, Path, description = "Serial (AI 21)"),
        HistoryQuery,
    ),
    responses(
        (status = 200, description = "A page of events; `view` says which view", body = CodeHistory),
        (status = 400, description = "`bad_request` (bad GTIN, serial or limit) or `bad_code` (a malformed signature)", body = ErrorBody),
        (status = 401, description = "`unauthorised`: an Authorization header that does not verify", body = ErrorBody),
        (status = 403, description = "`forbidden`: the public view without the printed code's valid signature", body = ErrorBody),
        (status = 404, description = "`not_found`: the serial was never issued", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<CodeHistory>, ApiError> {
    let Path((gtin, serial)) = path.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let gtin = Gtin::parse(&gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let serial: u64 = serial
        .parse()
        .map_err(|_| ApiError::BadRequest("serial must be a whole number".into()))?;
    let limit = query.limit.unwrap_or(MAX_EVENTS_PER_PAGE);
    if !(1..=MAX_EVENTS_PER_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_EVENTS_PER_PAGE}"
        )));
    }
    let id = CodeId { gtin, serial };

    // A caller who signs but is no member of anything sees the public view; a signature
    // that does not verify is an error.
    let caller = if headers.contains_key(header::AUTHORIZATION) {
        match auth::authenticate(
            &api,
            &method,
            &uri,
            &headers,
            &Hash::of(&[b""]),
            auth::Access::Read(Scope::ReadHistory),
        )
        .await
        {
            Ok(caller) => Some(caller),
            Err(ApiError::Forbidden(_)) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };

    let mut reads = Reads::new(api.state.as_ref());
    let batch = reads
        .run(|r| read::batch_of(r, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("serial {serial} of {gtin} was not issued")))?;
    let state = reads.run(|r| read::code_state(r, &id)).await?;
    let count = state.as_ref().map_or(0, |s| s.event_count);
    let all = count.min(MAX_EVENTS_PER_CODE);
    reads
        .fetch((0..all).map(|i| StateKey::CodeEvent(id, i)))
        .await?;
    let events = reads
        .run(|r| read::code_events(r, &id, 0, MAX_EVENTS_PER_CODE))
        .await?;

    let private = match &caller {
        None => false,
        Some(caller) => {
            let product = reads.record::<Product>(StateKey::Product(gtin)).await?;
            let now_s = api.tip.borrow().map_or(0, |t| t.time_ms / 1000);
            let mut entitled = caller.member_of(&batch.org)
                || product.is_some_and(|p| caller.member_of(&p.info.org))
                || events
                    .iter()
                    .any(|e| e.org.as_ref().is_some_and(|o| caller.member_of(o)));
            for org in &caller.orgs {
                if entitled {
                    break;
                }
                let grants = reads
                    .run(|r| read::channel_grants(r, &batch.org, &org.id))
                    .await?;
                entitled = grants
                    .is_some_and(|g| read::grants_in_force(&g, &gtin, now_s).next().is_some());
            }
            entitled
        }
    };

    if !private {
        let signature = query.signature.ok_or_else(|| {
            ApiError::Forbidden(
                "the public history needs the printed code's signature (?8030=…); \
                 entitled organisations sign the request instead"
                    .into(),
            )
        })?;
        // A malformed signature is `bad_code`, as for the verdict.
        decode_code_signature(&signature).map_err(|e| ApiError::BadCode(e.to_string()))?;
        let check = reads
            .check_code(
                &api.chain_id,
                &SignedCode {
                    code: id,
                    signature,
                },
            )
            .await?;
        if !matches!(check, CodeCheck::Genuine { .. }) {
            return Err(ApiError::Forbidden(
                "the signature is not the brand's for this code".into(),
            ));
        }
    }

    let page: Vec<_> = events
        .iter()
        .filter(|e| e.index >= query.from)
        .take(limit as usize)
        .collect();
    let mut org_ids: Vec<OrgId> = page.iter().filter_map(|e| e.org.clone()).collect();
    org_ids.sort();
    org_ids.dedup();
    let orgs = reads.orgs(org_ids).await?;
    let next = query.from.saturating_add(limit);
    Ok(Json(CodeHistory {
        view: if private {
            HistoryView::Private
        } else {
            HistoryView::Public
        },
        gtin: gtin.to_string(),
        serial,
        brand: batch.org.to_string(),
        event_count: count,
        events: page
            .into_iter()
            .map(|e| {
                let name = e
                    .org
                    .as_ref()
                    .and_then(|o| orgs.get(o))
                    .map(|o| o.name.clone());
                code_event_view(e, name, private)
            })
            .collect(),
        next: (next < all).then_some(next),
    }))
}
