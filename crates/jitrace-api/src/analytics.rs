//! Private analytics for brands and their channels: scan counts and channel volumes, from the
//! node's off-chain index (`jitrace_store::index`), and the indexer that builds it (and the
//! brand alerts, and the flows of goods of [`crate::flows`]) from finalised blocks.
//!
//! - The indexer reads each finalised block once, in order, from the block store; the
//!   counters, the alerts and the block's height are written in one transaction, so a restart
//!   resumes after the last indexed block without recounting it.
//! - Only transactions whose receipt is ok in that block count. A code's brand and flags are
//!   read from the latest state when the block is indexed (the index is not consensus data).
//! - Days are `block time_ms / 86_400_000`: UTC days, integer math.
//! - Brand members read their brand's counters; a channel organisation reads only its own
//!   volumes; anyone else is refused (`forbidden`). Answers are pages of at most
//!   [`MAX_ROWS`] rows over at most [`MAX_DAYS`] days.

use crate::{
    ApiError, ApiState, Shared, auth,
    source::read_record,
    verdict::Reads,
    views::{channel_volume_view, date_of_day, scan_count_view},
};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, Method, Uri},
};
use commonware_codec::DecodeExt as _;
use jitrace_client::dto::{ChannelVolumes, ErrorBody, ScanAnalytics};
use jitrace_ledger::{
    read,
    state::{CodeState, CodeStatus, Receipt, StateKey},
    trace, tx_id,
};
use jitrace_store::index::{BlockIndex, ChannelKey, Range, ScanKey, day_of};
use jitrace_types::{
    Gtin, Hash, OrgId, Payload, SignedTransaction,
    token::Scope,
    tx::{CodeAction, CodeId},
};
use std::{collections::BTreeSet, sync::Arc};

/// Most rows one answer holds.
pub const MAX_ROWS: usize = 1_000;
/// Most days one request spans.
pub const MAX_DAYS: u32 = 366;
/// Most counters one request looks at (a filtered page ends early, with `next`).
const MAX_EXAMINED: usize = 50_000;
/// Longest `after` cursor accepted, in hex characters.
const MAX_CURSOR_HEX: usize = 2_048;

/// Indexes finalised blocks as they come (and, at start, those finalised while the node was
/// down), publishing the alerts they raise. Runs until the tip channel closes.
pub fn spawn_indexer(api: Arc<ApiState>) {
    tokio::spawn(async move {
        let mut tip = api.tip.clone();
        loop {
            let height = tip.borrow_and_update().map_or(0, |t| t.height);
            if let Err(e) = index_to(&api, height).await {
                // Retried when the next block is finalised.
                tracing::warn!(%e, "index: could not index a block");
            }
            if tip.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Indexes every block up to `height` not indexed yet.
pub async fn index_to(api: &ApiState, height: u64) -> Result<(), ApiError> {
    let internal = |e: jitrace_store::Error| ApiError::Internal(e.to_string());
    loop {
        let next = api.index.indexed_height().map_err(internal)? + 1;
        if next > height {
            return Ok(());
        }
        let block = block_index(api, next).await?;
        let alerts = api.index.apply_block(&block).map_err(internal)?;
        api.alerts.publish(alerts);
    }
}

/// The name a code action counts under in channel volumes.
fn action_name(action: &CodeAction) -> &'static str {
    match action {
        CodeAction::Commission => "commissioned",
        CodeAction::Pack => "packed",
        CodeAction::Ship { .. } => "shipped",
        CodeAction::Receive => "received",
        CodeAction::Store => "stored",
        CodeAction::TransferCustody { .. } => "custody_transferred",
        CodeAction::Sell { .. } => "sold",
        CodeAction::Destroy => "destroyed",
        CodeAction::Decommission => "decommissioned",
    }
}

/// What block `height` adds to the index. A block that is missing or does not decode adds
/// nothing (and is logged), so one bad block cannot stop the index.
async fn block_index(api: &ApiState, height: u64) -> Result<BlockIndex, ApiError> {
    let mut out = BlockIndex {
        height,
        ..BlockIndex::default()
    };
    let bytes = api
        .store
        .block(height)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(block) = bytes.and_then(|bytes| {
        jitrace_chain::Block::decode(bytes)
            .inspect_err(|e| tracing::error!(height, %e, "index: a stored block does not decode"))
            .ok()
    }) else {
        return Ok(out);
    };
    let day = day_of(block.header.time_ms);
    // (code, acting organisation, action) of each accepted event, and each accepted scan.
    let mut events = Vec::new();
    let mut scans = Vec::new();
    let mut recalls = Vec::new();
    // Codes whose whereabouts the block may have changed, and gate entries to read them from.
    let mut moved: BTreeSet<CodeId> = BTreeSet::new();
    let mut gate_items = Vec::new();
    for raw in &block.txs {
        let Some(tx) = SignedTransaction::decode(raw)
            .ok()
            .and_then(|s| s.transaction().ok())
        else {
            continue;
        };
        if !matches!(
            tx.payload,
            Payload::RecordCodeEvent(_)
                | Payload::RecordScans { .. }
                | Payload::StartRecall(_)
                | Payload::GateReceive(_)
                | Payload::Assemble(_)
                | Payload::RedeemTicket { .. }
        ) {
            continue;
        }
        let receipt =
            read_record::<Receipt>(api.state.as_ref(), StateKey::Receipt(tx_id(raw))).await?;
        if !receipt.is_some_and(|r| r.is_ok() && r.height == height) {
            continue;
        }
        match tx.payload {
            Payload::RecordCodeEvent(event) => {
                moved.insert(event.code.code);
                events.push((event.code.code, event.org, action_name(&event.action)))
            }
            // A scan gives a code never commissioned its first state (`issued`).
            Payload::RecordScans { scans: batch } => {
                moved.extend(batch.iter().map(|s| s.code.code));
                scans.extend(batch.into_iter().map(|s| (s.code.code, s.cell)))
            }
            Payload::StartRecall(recall) => recalls.push(recall.scope),
            // Rejected entries changed nothing: reading them again is a no-op in the index.
            Payload::GateReceive(gate) => gate_items.extend(gate.items),
            Payload::Assemble(a) => {
                moved.insert(a.parent.code);
                moved.extend(a.remove.iter().chain(&a.add).copied());
            }
            // A claim turns `sold` into `owned`, which the issuer sees.
            Payload::RedeemTicket { code, .. } => {
                moved.insert(code);
            }
            _ => {}
        }
    }
    out.alerts
        .extend(crate::alerts::recall_alerts(api, &recalls, height).await?);
    let codes: BTreeSet<CodeId> = events
        .iter()
        .map(|e| e.0)
        .chain(scans.iter().map(|s| s.0))
        .collect();
    let mut reads = Reads::new(api.state.as_ref());
    let mut states = std::collections::BTreeMap::new();
    for code in codes {
        let Some(state) = reads.record::<CodeState>(StateKey::Code(code)).await? else {
            continue;
        };
        out.alerts.extend(crate::alerts::alerts_of(&state, height));
        let voided = match reads.run(|r| read::batch_of(r, &code)).await? {
            Some(batch) => {
                reads
                    .run(|r| read::is_voided(r, &batch, code.serial))
                    .await?
            }
            None => false,
        };
        states.insert(code, (state, voided));
    }
    for item in &gate_items {
        if let Ok((_, codes)) = reads.run(|r| trace::gate_codes(r, item)).await? {
            moved.extend(codes.iter().map(|c| c.code));
        }
    }
    out.flows = crate::flows::whereabouts_of(&mut reads, moved).await?;
    for (code, org, action) in events {
        if let Some((state, _)) = states.get(&code) {
            *out.channels
                .entry(ChannelKey {
                    brand: state.brand.to_string(),
                    day,
                    channel: org.to_string(),
                    gtin: code.gtin.to_string(),
                    action: action.into(),
                })
                .or_default() += 1;
        }
    }
    for (code, cell) in scans {
        if let Some((state, voided)) = states.get(&code) {
            *out.scans
                .entry(ScanKey {
                    brand: state.brand.to_string(),
                    day,
                    gtin: code.gtin.to_string(),
                    cell_lat: cell.lat_micro,
                    cell_lon: cell.lon_micro,
                    outcome: scan_outcome(state, *voided).into(),
                })
                .or_default() += 1;
        }
    }
    Ok(out)
}

/// The verdict a scan of a genuine code counts under: `counterfeit` for a voided code,
/// `warning` when the code carries a flag or is retired, else `genuine`.
fn scan_outcome(state: &CodeState, voided: bool) -> &'static str {
    let f = state.flags;
    if voided {
        "counterfeit"
    } else if f.clone_suspected
        || f.stolen
        || f.recalled
        || f.grey_market
        || matches!(state.status, CodeStatus::Retired(_))
    {
        "warning"
    } else {
        "genuine"
    }
}

/// `GET /v1/analytics/scans`' query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct ScanQuery {
    /// The brand (organisation id); the caller must be one of its members.
    brand: String,
    /// First day, UTC date `YYYY-MM-DD` (inclusive).
    from: String,
    /// Last day, UTC date `YYYY-MM-DD` (inclusive; at most 366 days after `from`).
    to: String,
    /// Only this product (GTIN).
    gtin: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Most rows (default and maximum 1,000).
    limit: Option<usize>,
}

/// `GET /v1/analytics/channels`' query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct ChannelQuery {
    /// The brand (organisation id): its members read every channel; a channel organisation
    /// the brand authorised reads its own volumes.
    brand: String,
    /// First day, UTC date `YYYY-MM-DD` (inclusive).
    from: String,
    /// Last day, UTC date `YYYY-MM-DD` (inclusive; at most 366 days after `from`).
    to: String,
    /// Only this product (GTIN).
    gtin: Option<String>,
    /// Only this channel organisation.
    channel: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Most rows (default and maximum 1,000).
    limit: Option<usize>,
}

/// A UTC date as days since the Unix epoch.
fn parse_day(name: &str, text: &str) -> Result<u32, ApiError> {
    let date = time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|_| ApiError::BadRequest(format!("{name} must be a date YYYY-MM-DD")))?;
    u32::try_from(date.to_julian_day() - 2_440_588)
        .map_err(|_| ApiError::BadRequest(format!("{name} must not be before 1970-01-01")))
}

/// The inclusive day range of `from` and `to`, checked.
fn day_range(from: &str, to: &str) -> Result<(u32, u32), ApiError> {
    let (from, to) = (parse_day("from", from)?, parse_day("to", to)?);
    if to < from || to - from >= MAX_DAYS {
        return Err(ApiError::BadRequest(format!(
            "to must be on or after from, and at most {MAX_DAYS} days in all"
        )));
    }
    Ok((from, to))
}

pub(crate) fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(MAX_ROWS) {
        n @ 1..=MAX_ROWS => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_ROWS}"
        ))),
    }
}

fn gtin_filter(gtin: Option<&str>) -> Result<Option<String>, ApiError> {
    gtin.map(|g| {
        Gtin::parse(g)
            .map(|g| g.to_string())
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    })
    .transpose()
}

pub(crate) fn encode_cursor<K: borsh::BorshSerialize>(key: &K) -> Result<String, ApiError> {
    borsh::to_vec(key)
        .map(hex::encode)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub(crate) fn decode_cursor<K: borsh::BorshDeserialize>(
    text: Option<&str>,
) -> Result<Option<K>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest("after is not a cursor this endpoint gave".into());
    if text.len() > MAX_CURSOR_HEX {
        return Err(bad());
    }
    let bytes = hex::decode(text).map_err(|_| bad())?;
    borsh::from_slice(&bytes).map(Some).map_err(|_| bad())
}

/// The checked page parameters both endpoints share.
struct Window<K> {
    from_day: u32,
    to_day: u32,
    /// 14-digit GTIN to keep, if any.
    gtin: Option<String>,
    after: Option<K>,
    limit: usize,
}

impl<K: borsh::BorshDeserialize> Window<K> {
    fn parse(
        from: &str,
        to: &str,
        gtin: Option<&str>,
        after: Option<&str>,
        rows: Option<usize>,
    ) -> Result<Self, ApiError> {
        let (from_day, to_day) = day_range(from, to)?;
        Ok(Self {
            from_day,
            to_day,
            gtin: gtin_filter(gtin)?,
            after: decode_cursor(after)?,
            limit: limit(rows)?,
        })
    }

    fn range<'a>(&'a self, brand: &'a OrgId) -> Range<'a, K> {
        Range {
            brand: brand.as_str(),
            from_day: self.from_day,
            to_day: self.to_day,
            after: self.after.as_ref(),
            limit: self.limit,
            max_examined: MAX_EXAMINED,
        }
    }

    fn keeps(&self, gtin: &str) -> bool {
        self.gtin.as_deref().is_none_or(|g| g == gtin)
    }
}

/// The caller of a signed analytics read (a member's key or a `read:analytics` token).
async fn reader(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<auth::Caller, ApiError> {
    let access = auth::Access::Read(Scope::ReadAnalytics);
    auth::authenticate(api, method, uri, headers, &Hash::of(&[b""]), access).await
}

fn brand_id(brand: &str) -> Result<OrgId, ApiError> {
    OrgId::new(brand).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Scan counts of a brand by day, product, ~5 km cell and outcome (signed request by a member
/// of the brand).
#[utoipa::path(
    get, path = "/v1/analytics/scans", tag = "analytics",
    params(ScanQuery),
    responses(
        (status = 200, description = "A page of scan counts", body = ScanAnalytics),
        (status = 400, description = "`bad_request`: a bad date, range, GTIN, limit or cursor", body = ErrorBody),
        (status = 401, description = "`unauthorised`: not a valid signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a member of the brand", body = ErrorBody),
    )
)]
pub(crate) async fn scans(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<ScanQuery>, QueryRejection>,
) -> Result<Json<ScanAnalytics>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let caller = reader(&api, &method, &uri, &headers).await?;
    let brand = brand_id(&query.brand)?;
    if !caller.member_of(&brand) {
        return Err(ApiError::Forbidden(format!(
            "only members of {brand} read its scan analytics"
        )));
    }
    let window = Window::<ScanKey>::parse(
        &query.from,
        &query.to,
        query.gtin.as_deref(),
        query.after.as_deref(),
        query.limit,
    )?;
    let page = api
        .index
        .scans(&window.range(&brand), |k| window.keeps(&k.gtin))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(ScanAnalytics {
        brand: brand.to_string(),
        from: date_of_day(window.from_day),
        to: date_of_day(window.to_day),
        rows: page
            .rows
            .iter()
            .map(|(k, n)| scan_count_view(k, *n))
            .collect(),
        next: page.next.as_ref().map(encode_cursor).transpose()?,
    }))
}

/// Channel volumes of a brand by day, channel organisation, product and action (signed
/// request by a member of the brand, or of a channel organisation the brand authorised, which
/// reads only its own volumes).
#[utoipa::path(
    get, path = "/v1/analytics/channels", tag = "analytics",
    params(ChannelQuery),
    responses(
        (status = 200, description = "A page of channel volumes", body = ChannelVolumes),
        (status = 400, description = "`bad_request`: a bad date, range, GTIN, limit or cursor", body = ErrorBody),
        (status = 401, description = "`unauthorised`: not a valid signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`: neither a member of the brand nor of one of its channels (or asking for another channel)", body = ErrorBody),
    )
)]
pub(crate) async fn channels(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<ChannelQuery>, QueryRejection>,
) -> Result<Json<ChannelVolumes>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let caller = reader(&api, &method, &uri, &headers).await?;
    let brand = brand_id(&query.brand)?;
    let channel = query.channel.as_deref().map(brand_id).transpose()?;
    // `None`: every channel; otherwise the channels the caller may read.
    let allowed: Option<BTreeSet<String>> = if caller.member_of(&brand) {
        channel.as_ref().map(|c| BTreeSet::from([c.to_string()]))
    } else {
        let mut own = BTreeSet::new();
        for org in &caller.orgs {
            if channel.as_ref().is_some_and(|c| c != &org.id) {
                continue;
            }
            let grants = read_record::<jitrace_ledger::state::ChannelGrants>(
                api.state.as_ref(),
                StateKey::ChannelGrants(brand.clone(), org.id.clone()),
            )
            .await?;
            if grants.is_some_and(|g| !g.grants.is_empty()) {
                own.insert(org.id.to_string());
            }
        }
        if own.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "only members of {brand}, or of a channel it authorised, read channel volumes \
                 (a channel reads only its own)"
            )));
        }
        Some(own)
    };
    let window = Window::<ChannelKey>::parse(
        &query.from,
        &query.to,
        query.gtin.as_deref(),
        query.after.as_deref(),
        query.limit,
    )?;
    let page = api
        .index
        .channels(&window.range(&brand), |k| {
            window.keeps(&k.gtin) && allowed.as_ref().is_none_or(|a| a.contains(&k.channel))
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(ChannelVolumes {
        brand: brand.to_string(),
        from: date_of_day(window.from_day),
        to: date_of_day(window.to_day),
        rows: page
            .rows
            .iter()
            .map(|(k, n)| channel_volume_view(k, *n))
            .collect(),
        next: page.next.as_ref().map(encode_cursor).transpose()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates_counted_from_the_epoch() {
        assert_eq!(parse_day("from", "1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("from", "2025-06-15").unwrap(), 20_254);
        assert_eq!(day_of(1_750_000_000_000), 20_254);
        assert_eq!(date_of_day(20_254), "2025-06-15");
        assert!(parse_day("from", "1969-12-31").is_err());
        assert!(parse_day("from", "2025-13-01").is_err());
        assert!(parse_day("from", "yesterday").is_err());
        assert!(day_range("2025-01-01", "2025-12-31").is_ok());
        assert!(day_range("2025-01-02", "2025-01-01").is_err());
        assert!(day_range("2024-01-01", "2025-12-31").is_err());
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_400() {
        let key = ChannelKey {
            brand: "acme".into(),
            day: 3,
            channel: "shop".into(),
            gtin: "00614141000012".into(),
            action: "sold".into(),
        };
        let text = encode_cursor(&key).unwrap();
        assert_eq!(decode_cursor::<ChannelKey>(Some(&text)).unwrap(), Some(key));
        for bad in ["zz", "00", &"0".repeat(MAX_CURSOR_HEX + 2)] {
            assert!(matches!(
                decode_cursor::<ChannelKey>(Some(bad)),
                Err(ApiError::BadRequest(_))
            ));
        }
    }
}
