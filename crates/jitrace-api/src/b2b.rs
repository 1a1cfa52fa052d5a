//! B2B endpoints: the receiving gate, gate logs, traces backward and forward, and recalls.
//!
//! Everything here is private to the organisations involved, so every request is signed
//! ([`auth`]): the gate and its log by members of the organisation, a backward trace by the
//! item's brand or holder, a forward trace by the scope's issuer (every item) or a brand (its
//! own items only), a recall by the recalling organisation. The gate's verdicts come from the
//! ledger's own check (`trace::gate_check`) run on the latest state; the gate transaction's
//! block makes them final.

use crate::{
    ApiError, ApiState, Shared, StateSource, admission, auth,
    auth::{Access, Caller},
    verdict::Reads,
    views::{
        affected_item_view, gate_entry_view, gate_verdict_view, lot_view, recall_progress_view,
        scope_text,
    },
};
use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, Method, StatusCode, Uri},
};
use jitrace_client::dto::{
    ErrorBody, GateCheckRequest, GateLogView, GateReport, GateVerdictView, RecallView,
    SubmitRequest, TraceBackView, TraceForwardView, TraceNodeView,
};
use jitrace_ledger::{
    read,
    state::{Batch, CodeState, GateReason, GateVerdict, Recall, StateKey},
    trace::{self, TraceNode},
};
use jitrace_types::{
    Gtin, Hash, OrgId, Payload, SignedTransaction,
    parts::{GateItem, RecallScope},
    tx::{Attribute, CodeId, SignedCode},
};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Most gate-log entries or forward-trace items one response holds.
pub(crate) const MAX_PAGE: u64 = 1_000;

fn now_s(api: &ApiState) -> u64 {
    let tip_ms = api.tip.borrow().map(|t| t.time_ms).unwrap_or(0);
    let ms = if tip_ms > 0 {
        tip_ms
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    ms / 1000
}

fn org_id(text: &str) -> Result<OrgId, ApiError> {
    OrgId::new(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The organisation `org` names, when a signed bodiless request comes from one of its members
/// (who may `what`).
pub(crate) async fn member_read(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    org: &str,
    what: &str,
) -> Result<OrgId, ApiError> {
    let caller =
        auth::authenticate(api, method, uri, headers, &Hash::of(&[b""]), Access::Member).await?;
    let org = org_id(org)?;
    require_member(&caller, &org, what)?;
    Ok(org)
}

fn require_member(caller: &Caller, org: &OrgId, what: &str) -> Result<(), ApiError> {
    if caller.member_of(org) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only members of {org} may {what}"
        )))
    }
}

/// The gate's verdicts on `items` at `gate`, as the ledger would decide them now, in order. A
/// code seen twice is `already_received` the second time, as it will be in the block.
async fn gate_verdicts(
    api: &ApiState,
    gate: &OrgId,
    items: &[GateItem],
) -> Result<Vec<GateVerdict>, ApiError> {
    let now = now_s(api);
    let chain_id = api.chain_id.clone();
    let mut reads = Reads::new(api.state.as_ref());
    let mut out = Vec::new();
    let mut accepted: BTreeSet<CodeId> = BTreeSet::new();
    for item in items {
        let (pallet, codes) = match reads.run(|r| trace::gate_codes(r, item)).await? {
            Ok(found) => found,
            Err(verdict) => {
                out.push(verdict);
                continue;
            }
        };
        for code in &codes {
            let mut verdict = reads
                .run(|r| {
                    let mut verify = |batch: &Batch, code: &SignedCode| {
                        read::signature_valid(&chain_id, batch, code)
                    };
                    trace::gate_check(r, gate, code, &item.observed, now, &mut verify)
                })
                .await?;
            verdict.pallet = pallet;
            if verdict.accepted() && !accepted.insert(code.code) {
                verdict.reasons = vec![GateReason::AlreadyReceived];
            }
            out.push(verdict);
        }
    }
    Ok(out)
}

fn report(tx: Option<String>, verdicts: &[GateVerdict]) -> GateReport {
    let views: Vec<GateVerdictView> = verdicts.iter().map(gate_verdict_view).collect();
    let accepted = views.iter().filter(|v| v.accepted).count() as u64;
    GateReport {
        tx,
        accepted,
        rejected: views.len() as u64 - accepted,
        verdicts: views,
    }
}

/// Receives parts at a manufacturer's gate: the body is a signed `gate_receive` transaction.
/// The answer is every part's verdict, accepted or rejected with every reason, as the ledger
/// decides it on the latest state; the transaction is admitted to record them (accepted parts
/// enter stock when its block is final).
#[utoipa::path(
    post, path = "/v1/gate/receive", tag = "b2b",
    request_body(content = SubmitRequest, description = "Hex of a signed gate_receive transaction"),
    responses(
        (status = 202, description = "Verdicts, and the admitted transaction", body = GateReport),
        (status = 400, description = "`bad_request`, `malformed`, `bad_signature`, `wrong_chain_id` or `nonce_replayed`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the signer is not a member of the gate's organisation", body = ErrorBody),
        (status = 409, description = "`duplicate`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
    )
)]
pub(crate) async fn gate_receive(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<GateReport>), ApiError> {
    let raw = admission::submitted_bytes(&headers, body)?;
    let signed = SignedTransaction::decode(&raw).map_err(|e| ApiError::Malformed(e.to_string()))?;
    let tx = signed
        .transaction()
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let Payload::GateReceive(gate) = &tx.payload else {
        return Err(ApiError::BadRequest(format!(
            "the transaction is {}, not gate_receive",
            tx.payload.kind()
        )));
    };
    let account = crate::source::read_record::<jitrace_ledger::state::Account>(
        api.state.as_ref(),
        StateKey::Account(tx.signer),
    )
    .await?
    .unwrap_or_default();
    if account.orgs.binary_search(&gate.org).is_err() {
        return Err(ApiError::Forbidden(format!(
            "the signer is not a member of {}",
            gate.org
        )));
    }
    // Admission checks the signature, the chain and the nonce; the verdicts follow.
    let hash = admission::admit(&api, raw).await?;
    let verdicts = gate_verdicts(&api, &gate.org, &gate.items).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(report(Some(hash.to_hex()), &verdicts)),
    ))
}

/// Checks parts at a manufacturer's gate without recording anything: what `receive` would
/// answer (signed request by a member of the organisation).
#[utoipa::path(
    post, path = "/v1/gate/check", tag = "b2b",
    request_body = GateCheckRequest,
    responses(
        (status = 200, description = "Every part's verdict", body = GateReport),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    )
)]
pub(crate) async fn gate_check(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<GateReport>, ApiError> {
    let body = admission::read_body(body, admission::MAX_BODY_BYTES)?;
    let caller = auth::authenticate(
        &api,
        &method,
        &uri,
        &headers,
        &Hash::of(&[&body]),
        Access::Member,
    )
    .await?;
    let request: GateCheckRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a gate check: {e}")))?;
    let org = org_id(&request.org)?;
    require_member(&caller, &org, "use its gate")?;
    let items = gate_items(request.items)?;
    Ok(Json(check_report(&api, &org, &items).await?))
}

/// A gate check's items as the ledger's, 1 to 500 of them.
pub(crate) fn gate_items(
    items: Vec<jitrace_client::dto::GateItemRequest>,
) -> Result<Vec<GateItem>, ApiError> {
    if items.is_empty() || items.len() > jitrace_types::parts::MAX_GATE_ITEMS {
        return Err(ApiError::BadRequest("1 to 500 items".into()));
    }
    Ok(items
        .into_iter()
        .map(|i| GateItem {
            scanned: i.scanned,
            observed: i
                .observed
                .into_iter()
                .map(|a| Attribute {
                    name: a.name,
                    value: a.value,
                })
                .collect(),
        })
        .collect())
}

/// What the gate would answer for `items` now, recording nothing (the dry run of `/v1/gate/check`
/// and of the console's gate).
pub(crate) async fn check_report(
    api: &ApiState,
    gate: &OrgId,
    items: &[GateItem],
) -> Result<GateReport, ApiError> {
    let verdicts = gate_verdicts(api, gate, items).await?;
    Ok(report(None, &verdicts))
}

/// Paging of a log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogPage {
    /// The first entry (default 0).
    #[serde(default)]
    start: u64,
    /// How many entries (default and most: 1,000).
    limit: Option<u64>,
}

/// An organisation's gate log: its own gate's verdicts, and its parts' verdicts at other
/// organisations' gates, oldest first (signed request by a member).
#[utoipa::path(
    get, path = "/v1/gate/log/{org}", tag = "b2b",
    params(("org" = String, Path, description = "Organisation id"), LogPage),
    responses(
        (status = 200, description = "A page of the log", body = GateLogView),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    )
)]
pub(crate) async fn gate_log(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(page): Query<LogPage>,
) -> Result<Json<GateLogView>, ApiError> {
    let org = member_read(&api, &method, &uri, &headers, &org, "read its gate log").await?;
    let limit = page.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    Ok(Json(read_gate_log(&api, &org, page.start, limit).await?))
}

/// `limit` entries of `org`'s gate log from `start` (the caller checked membership).
pub(crate) async fn read_gate_log(
    api: &ApiState,
    org: &OrgId,
    start: u64,
    limit: u64,
) -> Result<GateLogView, ApiError> {
    let mut reads = Reads::new(api.state.as_ref());
    let (total, entries) = reads.run(|r| trace::gate_log(r, org, start, limit)).await?;
    Ok(GateLogView {
        total,
        start,
        entries: entries
            .iter()
            .enumerate()
            .map(|(i, e)| gate_entry_view(start + i as u64, e))
            .collect(),
    })
}

fn code_id(gtin: &str, serial: u64) -> Result<CodeId, ApiError> {
    let gtin = Gtin::parse(gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(CodeId { gtin, serial })
}

fn node_view(node: &TraceNode, recalled: &BTreeSet<CodeId>, count: &mut u64) -> TraceNodeView {
    *count += 1;
    let s = &node.state;
    TraceNodeView {
        gtin: s.code.gtin.to_string(),
        serial: s.code.serial,
        lot: s.lot.clone(),
        issuer: s.brand.to_string(),
        status: s.status.as_str().to_string(),
        custodian: s.custodian.as_ref().map(ToString::to_string),
        recalled: recalled.contains(&s.code),
        lot_record: node.lot.as_ref().map(lot_view),
        parts: node
            .parts
            .iter()
            .map(|p| node_view(p, recalled, count))
            .collect(),
    }
}

/// Backward trace: an item and every part in it, at every depth, with lots, technical records
/// and issuers (signed request by a member of the item's brand or holder, or of the brand or
/// holder of the item it is installed in).
#[utoipa::path(
    get, path = "/v1/trace/back/{gtin}/{serial}", tag = "b2b",
    params(("gtin" = String, Path), ("serial" = u64, Path)),
    responses(
        (status = 200, description = "The item's tree of parts", body = TraceBackView),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`: no record of this code", body = ErrorBody),
    )
)]
pub(crate) async fn trace_back(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((gtin, serial)): Path<(String, u64)>,
) -> Result<Json<TraceBackView>, ApiError> {
    let caller = auth::authenticate(
        &api,
        &method,
        &uri,
        &headers,
        &Hash::of(&[b""]),
        Access::Member,
    )
    .await?;
    let code = code_id(&gtin, serial)?;
    Ok(Json(back_trace_view(&api, &caller, code).await?))
}

/// The backward trace of `code` for `caller`: only the item's (or its root's) brand or holder.
pub(crate) async fn back_trace_view(
    api: &ApiState,
    caller: &Caller,
    code: CodeId,
) -> Result<TraceBackView, ApiError> {
    let CodeId { gtin, serial } = code;
    let Some(BackTrace {
        node,
        root,
        recalled,
        truncated,
    }) = back_trace(api.state.as_ref(), &code).await?
    else {
        return Err(ApiError::NotFound(format!(
            "no record of serial {serial} of GTIN {gtin}"
        )));
    };
    let allowed = [&node.state, &root]
        .iter()
        .flat_map(|s| [Some(&s.brand), s.custodian.as_ref()])
        .flatten()
        .any(|org| caller.member_of(org));
    if !allowed {
        return Err(ApiError::Forbidden(
            "only the item's brand or holder traces it".into(),
        ));
    }
    let mut codes = 0;
    let item = node_view(&node, &recalled, &mut codes);
    Ok(TraceBackView {
        item,
        codes,
        truncated,
    })
}

/// A forward trace's scope.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ForwardScope {
    /// A product or part GTIN (with `lot`: one lot of it).
    pub(crate) gtin: Option<String>,
    pub(crate) lot: Option<String>,
    /// An issuer (supplier or brand): everything it issued.
    pub(crate) issuer: Option<String>,
    /// Paging over the visible items.
    #[serde(default)]
    pub(crate) start: u64,
    pub(crate) limit: Option<u64>,
}

pub(crate) fn parse_scope(q: &ForwardScope) -> Result<RecallScope, ApiError> {
    match (&q.gtin, &q.lot, &q.issuer) {
        (Some(gtin), Some(lot), None) => Ok(RecallScope::Lot {
            gtin: Gtin::parse(gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?,
            lot: lot.clone(),
        }),
        (Some(gtin), None, None) => Ok(RecallScope::Product(
            Gtin::parse(gtin).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        )),
        (None, None, Some(issuer)) => Ok(RecallScope::Issuer(org_id(issuer)?)),
        _ => Err(ApiError::BadRequest(
            "give gtin and lot, gtin alone, or issuer alone".into(),
        )),
    }
}

/// The issuer of a scope.
async fn scope_issuer(
    reads: &mut Reads<'_>,
    scope: &RecallScope,
) -> Result<Option<OrgId>, ApiError> {
    Ok(match scope {
        RecallScope::Lot { gtin, lot } => reads
            .record::<Batch>(StateKey::Batch(*gtin, lot.clone()))
            .await?
            .map(|b| b.org),
        RecallScope::Product(gtin) => reads
            .record::<jitrace_ledger::state::Product>(StateKey::Product(*gtin))
            .await?
            .map(|p| p.info.org),
        RecallScope::Issuer(org) => Some(org.clone()),
    })
}

/// Forward trace: every item containing, at any depth, a code of a lot, a product or part
/// type, or an issuer, and where it is now (signed; the scope's issuer sees every item, a
/// brand sees its own).
#[utoipa::path(
    get, path = "/v1/trace/forward", tag = "b2b",
    params(ForwardScope),
    responses(
        (status = 200, description = "The items affected", body = TraceForwardView),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
    )
)]
pub(crate) async fn trace_forward(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<ForwardScope>,
) -> Result<Json<TraceForwardView>, ApiError> {
    let caller = auth::authenticate(
        &api,
        &method,
        &uri,
        &headers,
        &Hash::of(&[b""]),
        Access::Member,
    )
    .await?;
    let scope = parse_scope(&q)?;
    let limit = q.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    Ok(Json(
        forward_trace_view(&api, &caller, &scope, q.start, limit)
            .await?
            .0,
    ))
}

/// The forward trace of `scope` as `caller` may see it: every item for a member of the
/// scope's issuer, a brand's own items otherwise; `limit` visible items from `start`, and how
/// many items the caller sees in all.
pub(crate) async fn forward_trace_view(
    api: &ApiState,
    caller: &Caller,
    scope: &RecallScope,
    start: u64,
    limit: u64,
) -> Result<(TraceForwardView, u64), ApiError> {
    let mut reads = Reads::new(api.state.as_ref());
    let issuer = scope_issuer(&mut reads, scope).await?;
    let (items, truncated) = forward_trace(api.state.as_ref(), scope).await?;
    let sees_all = issuer.as_ref().is_some_and(|i| caller.member_of(i));
    let visible: Vec<_> = items
        .iter()
        .filter(|s| sees_all || caller.member_of(&s.brand))
        .collect();
    let seen = visible.len() as u64;
    let view = TraceForwardView {
        total: items.len() as u64,
        items: visible
            .into_iter()
            .skip(start as usize)
            .take(limit as usize)
            .map(affected_item_view)
            .collect(),
        truncated,
    };
    Ok((view, seen))
}

/// A recall, its progress and the items it reaches (signed request by a member of the
/// recalling organisation).
#[utoipa::path(
    get, path = "/v1/recalls/{org}/{number}", tag = "b2b",
    params(("org" = String, Path), ("number" = u32, Path)),
    responses(
        (status = 200, description = "The recall", body = RecallView),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn recall(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((org, number)): Path<(String, u32)>,
) -> Result<Json<RecallView>, ApiError> {
    let org = member_read(&api, &method, &uri, &headers, &org, "read its recalls").await?;
    Ok(Json(read_recall(&api, &org, number).await?))
}

/// Recall `number` of `org` with its progress (the caller checked membership).
pub(crate) async fn read_recall(
    api: &ApiState,
    org: &OrgId,
    number: u32,
) -> Result<RecallView, ApiError> {
    let mut reads = Reads::new(api.state.as_ref());
    let Some(recall) = reads
        .record::<Recall>(StateKey::Recall(org.clone(), number))
        .await?
    else {
        return Err(ApiError::NotFound(format!("{org} has no recall {number}")));
    };
    let (items, truncated) = forward_trace(api.state.as_ref(), &recall.scope).await?;
    let progress = trace::recall_progress(&recall, &items);
    Ok(RecallView {
        org: recall.org.to_string(),
        number: recall.number,
        scope: scope_text(&recall.scope),
        reason: recall.reason.clone(),
        started_height: recall.started_at.height,
        started_ms: recall.started_at.time_ms,
        closed: recall.closed_at.is_some(),
        progress: recall_progress_view(&progress),
        items: items
            .iter()
            .take(MAX_PAGE as usize)
            .map(affected_item_view)
            .collect(),
        truncated: truncated || items.len() as u64 > MAX_PAGE,
    })
}

/// A backward trace as the API answers it.
pub struct BackTrace {
    /// The code and its parts.
    pub node: TraceNode,
    /// The item the code is installed in, at the top (itself when installed nowhere).
    pub root: CodeState,
    /// The codes of the tree under an open recall themselves.
    pub recalled: BTreeSet<CodeId>,
    /// The trace stopped at its size limit.
    pub truncated: bool,
}

/// The ledger's backward trace of `code` over `source`, its reads fetched level by level,
/// concurrently (the ledger's helper would otherwise wait on one key at a time), and the
/// recalls on every code in it.
pub async fn back_trace(
    source: &dyn StateSource,
    code: &CodeId,
) -> Result<Option<BackTrace>, ApiError> {
    let mut reads = Reads::new(source);
    let mut level = vec![*code];
    let mut seen = 0usize;
    while !level.is_empty() && seen < trace::MAX_TRACE_NODES {
        reads
            .fetch(level.iter().map(|c| StateKey::Code(*c)))
            .await?;
        let mut next = Vec::new();
        let mut extra = Vec::new();
        for c in &level {
            if let Some(state) = reads.record::<CodeState>(StateKey::Code(*c)).await? {
                extra.push(StateKey::Lot(c.gtin, state.lot.clone()));
                extra.extend(recall_keys(&state));
                next.extend(state.parts.iter().copied());
            }
        }
        reads.fetch(extra).await?;
        seen += level.len();
        level = next;
    }
    let Some((node, truncated)) = reads.run(|r| trace::trace_back(r, code)).await? else {
        return Ok(None);
    };
    let root = reads.run(|r| trace::root_of(r, node.state.clone())).await?;
    let mut recalled = BTreeSet::new();
    let mut stack = vec![&node];
    while let Some(n) = stack.pop() {
        if !reads
            .run(|r| trace::recalls_of(r, &n.state))
            .await?
            .is_empty()
        {
            recalled.insert(n.state.code);
        }
        stack.extend(n.parts.iter());
    }
    Ok(Some(BackTrace {
        node,
        root,
        recalled,
        truncated,
    }))
}

/// The keys [`trace::recalls_of`] reads for `state`.
fn recall_keys(state: &CodeState) -> [StateKey; 3] {
    [
        StateKey::RecallsOn(RecallScope::Lot {
            gtin: state.code.gtin,
            lot: state.lot.clone(),
        }),
        StateKey::RecallsOn(RecallScope::Product(state.code.gtin)),
        StateKey::RecallsOn(RecallScope::Issuer(state.brand.clone())),
    ]
}

/// Codes fetched at once by [`forward_trace`].
const FETCH_CHUNK: u64 = 1_000;

/// The ledger's forward trace of `scope` over `source`: the lots' codes fetched a thousand at a
/// time, concurrently, then the items they are installed in, level by level.
pub async fn forward_trace(
    source: &dyn StateSource,
    scope: &RecallScope,
) -> Result<(Vec<CodeState>, bool), ApiError> {
    let mut reads = Reads::new(source);
    let lots = reads.run(|r| trace::lots_in(r, scope)).await?;
    let mut budget = trace::MAX_TRACE_NODES as u64;
    for (gtin, lot) in &lots {
        if budget == 0 {
            break;
        }
        let Some(batch) = reads
            .record::<Batch>(StateKey::Batch(*gtin, lot.clone()))
            .await?
        else {
            continue;
        };
        let end = batch.first_serial.saturating_add(batch.count.min(budget));
        budget = budget.saturating_sub(batch.count);
        let mut start = batch.first_serial;
        while start < end {
            let stop = start.saturating_add(FETCH_CHUNK).min(end);
            let ids: Vec<CodeId> = (start..stop)
                .map(|serial| CodeId {
                    gtin: *gtin,
                    serial,
                })
                .collect();
            reads.fetch(ids.iter().map(|c| StateKey::Code(*c))).await?;
            // Up the assembly, a level at a time.
            let mut level = ids;
            for _ in 0..jitrace_ledger::state::MAX_ASSEMBLY_DEPTH {
                let mut parents = BTreeSet::new();
                for c in &level {
                    if let Some(state) = reads.record::<CodeState>(StateKey::Code(*c)).await?
                        && let Some(parent) = state.parent
                    {
                        parents.insert(parent);
                    }
                }
                if parents.is_empty() {
                    break;
                }
                reads
                    .fetch(parents.iter().map(|c| StateKey::Code(*c)))
                    .await?;
                level = parents.into_iter().collect();
            }
            start = stop;
        }
    }
    reads.run(|r| trace::trace_forward(r, scope)).await
}
