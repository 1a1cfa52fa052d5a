//! Brand alerts: grey-market sales and clone suspicions read from finalised blocks, and
//! counterfeit scans from the scan endpoint; listed and filtered, and streamed live as
//! Server-Sent Events, to the brand's members only.
//!
//! Alerts are derived data: the chain watcher rebuilds the on-chain ones from the blocks after a
//! restart; counterfeit scans are kept in memory (bounded per brand).

use crate::{ApiError, ApiState, Shared, auth, source::read_record};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, Method, Uri},
    response::sse::{Event, KeepAlive, Sse},
};
use commonware_codec::DecodeExt as _;
use futures::Stream;
use jitrace_client::dto::{AlertList, AlertView, ErrorBody};
use jitrace_ledger::state::{CodeState, StateKey};
use jitrace_types::{Hash, OrgId, Payload, SignedTransaction, tx::CodeAction};
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::broadcast;

/// Alerts kept per brand (the oldest go first).
const MAX_PER_BRAND: usize = 10_000;

/// The alert store and live feed.
pub struct AlertHub {
    inner: Mutex<Inner>,
    live: broadcast::Sender<AlertView>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    by_brand: BTreeMap<String, VecDeque<AlertView>>,
}

impl AlertHub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::default(),
            live: broadcast::channel(1024).0,
        })
    }

    /// Records an alert (its `seq` is assigned here) and sends it to live subscribers.
    pub fn push(&self, mut alert: AlertView) {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.next_seq += 1;
            alert.seq = inner.next_seq;
            let list = inner.by_brand.entry(alert.brand.clone()).or_default();
            if list.len() >= MAX_PER_BRAND {
                list.pop_front();
            }
            list.push_back(alert.clone());
        }
        let _ = self.live.send(alert);
    }

    /// A brand's alerts after `after`, filtered, oldest first, at most `limit`.
    pub fn list(&self, brand: &str, filter: &AlertFilter, limit: usize) -> Vec<AlertView> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .by_brand
            .get(brand)
            .map(|list| {
                list.iter()
                    .filter(|a| filter.matches(a))
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Query filters of the alert endpoints.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct AlertFilter {
    /// The brand (organisation id) whose alerts to read; the caller must be one of its members.
    pub brand: String,
    /// Only this kind: `grey_market`, `clone_suspected` or `counterfeit_scan`.
    pub kind: Option<String>,
    /// Only this region or its subdivisions (e.g. `CN` or `CN-SH`).
    pub region: Option<String>,
    /// Only alerts after this sequence number.
    #[serde(default)]
    pub after: u64,
}

impl AlertFilter {
    fn matches(&self, alert: &AlertView) -> bool {
        alert.brand == self.brand
            && alert.seq > self.after
            && self.kind.as_ref().is_none_or(|k| &alert.kind == k)
            && self.region.as_ref().is_none_or(|r| {
                alert
                    .region
                    .as_deref()
                    .is_some_and(|a| a == r || a.starts_with(&format!("{r}-")))
            })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The alert a code's state raises at `height`, if any.
fn alerts_of(state: &CodeState, height: u64) -> Vec<AlertView> {
    let base =
        |kind: &str, region: Option<String>, city: Option<String>, detail: String| AlertView {
            seq: 0,
            brand: state.brand.to_string(),
            kind: kind.into(),
            gtin: state.code.gtin.to_string(),
            serial: state.code.serial,
            region,
            city,
            height,
            time_ms: 0,
            detail,
        };
    let mut out = Vec::new();
    if let Some(sale) = &state.sale
        && sale.grey_market
        && sale.at.height == height
    {
        let mut alert = base(
            "grey_market",
            Some(sale.region.clone()),
            Some(sale.city.clone()),
            format!("sold by {} outside its authorised territory", sale.seller),
        );
        alert.time_ms = sale.at.time_ms;
        out.push(alert);
    }
    if let Some(clone) = &state.clone
        && state.flags.clone_suspected
        && clone.at.height == height
    {
        let mut alert = base(
            "clone_suspected",
            state.sale.as_ref().map(|s| s.region.clone()),
            None,
            format!("{:?}", clone.rule),
        );
        alert.time_ms = clone.at.time_ms;
        out.push(alert);
    }
    out
}

/// Watches finalised blocks and raises the alerts their transactions caused. Runs until the
/// tip channel closes.
pub fn spawn_chain_watcher(api: Arc<ApiState>, hub: Arc<AlertHub>) {
    tokio::spawn(async move {
        let mut tip = api.tip.clone();
        let mut next = 1u64;
        loop {
            let height = tip.borrow().map_or(0, |t| t.height);
            while next <= height {
                if let Err(e) = scan_block(&api, &hub, next).await {
                    tracing::warn!(height = next, %e, "alerts: could not read a block");
                }
                next += 1;
            }
            if tip.changed().await.is_err() {
                return;
            }
        }
    });
}

async fn scan_block(api: &ApiState, hub: &AlertHub, height: u64) -> Result<(), ApiError> {
    let Some(bytes) = api
        .store
        .block(height)
        .map_err(|e| ApiError::Internal(e.to_string()))?
    else {
        return Ok(());
    };
    let block =
        jitrace_chain::Block::decode(bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut codes = BTreeSet::new();
    for raw in &block.txs {
        let Some(tx) = SignedTransaction::decode(raw)
            .ok()
            .and_then(|s| s.transaction().ok())
        else {
            continue;
        };
        match tx.payload {
            Payload::RecordCodeEvent(event) if matches!(event.action, CodeAction::Sell { .. }) => {
                codes.insert(event.code.code);
            }
            Payload::RecordScans { scans } => codes.extend(scans.iter().map(|s| s.code.code)),
            _ => {}
        }
    }
    for code in codes {
        if let Some(state) =
            read_record::<CodeState>(api.state.as_ref(), StateKey::Code(code)).await?
        {
            for alert in alerts_of(&state, height) {
                hub.push(alert);
            }
        }
    }
    Ok(())
}

/// Records a counterfeit scan for the brand whose product it claims to be.
pub(crate) fn counterfeit_scan(
    hub: &AlertHub,
    brand: &OrgId,
    gtin: &str,
    serial: u64,
    cell: Option<(f64, f64)>,
    reasons: &str,
) {
    hub.push(AlertView {
        seq: 0,
        brand: brand.to_string(),
        kind: "counterfeit_scan".into(),
        gtin: gtin.into(),
        serial,
        region: None,
        city: cell.map(|(lat, lon)| format!("near {lat:.1},{lon:.1}")),
        height: 0,
        time_ms: now_ms(),
        detail: reasons.into(),
    });
}

/// The filter of a signed alerts request whose caller is a member of the brand (or of the
/// platform).
async fn authorised_filter(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    query: Result<Query<AlertFilter>, QueryRejection>,
) -> Result<AlertFilter, ApiError> {
    let Query(filter) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    authorise(api, method, uri, headers, &filter.brand).await?;
    Ok(filter)
}

/// Checks that the caller of a signed GET is a member of `brand` (or of the platform).
async fn authorise(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    brand: &str,
) -> Result<(), ApiError> {
    let caller = auth::authenticate(api, method, uri, headers, &Hash::of(&[b""])).await?;
    let brand = OrgId::new(brand).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let platform = caller
        .orgs
        .iter()
        .any(|o| o.roles.contains(&jitrace_types::Role::Platform));
    if !caller.member_of(&brand) && !platform {
        return Err(ApiError::Forbidden(format!(
            "only members of {brand} read its alerts"
        )));
    }
    Ok(())
}

/// A brand's alerts: grey-market sales, clone suspicions and counterfeit scans (signed request
/// by a member of the brand).
#[utoipa::path(
    get, path = "/v1/alerts", tag = "alerts",
    params(AlertFilter),
    responses(
        (status = 200, description = "Alerts, oldest first (at most 1,000)", body = AlertList),
        (status = 401, description = "`unauthorised`: not a valid signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a member of the brand", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<AlertFilter>, QueryRejection>,
) -> Result<Json<AlertList>, ApiError> {
    let filter = authorised_filter(&api, &method, &uri, &headers, query).await?;
    Ok(Json(AlertList {
        alerts: api.alerts.list(&filter.brand, &filter, 1_000),
    }))
}

/// The same alerts, live: Server-Sent Events, first those already raised after `after`, then each
/// new one as it happens (signed request by a member of the brand).
#[utoipa::path(
    get, path = "/v1/alerts/stream", tag = "alerts",
    params(AlertFilter),
    responses(
        (status = 200, description = "An event stream of `alert` events with AlertView JSON", content_type = "text/event-stream"),
        (status = 401, description = "`unauthorised`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    )
)]
pub(crate) async fn stream(
    State(api): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<AlertFilter>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let filter = authorised_filter(&api, &method, &uri, &headers, query).await?;
    // Subscribe before reading the backlog, so nothing falls between the two.
    let live = api.alerts.live.subscribe();
    let backlog = api.alerts.list(&filter.brand, &filter, MAX_PER_BRAND);
    let after = AlertFilter {
        after: backlog.last().map_or(filter.after, |a| a.seq),
        ..filter
    };
    let backlog = futures::stream::iter(backlog.iter().map(event).collect::<Vec<_>>());
    let live = futures::stream::unfold((live, after), |(mut live, filter)| async move {
        loop {
            match live.recv().await {
                Ok(alert) if filter.matches(&alert) => {
                    return Some((event(&alert), (live, filter)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = futures::StreamExt::chain(backlog, live);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// An alert as an SSE event.
fn event(alert: &AlertView) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event("alert")
        .id(alert.seq.to_string())
        .json_data(alert)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(brand: &str, kind: &str, region: Option<&str>) -> AlertView {
        AlertView {
            seq: 0,
            brand: brand.into(),
            kind: kind.into(),
            gtin: "09506000134352".into(),
            serial: 1,
            region: region.map(Into::into),
            city: None,
            height: 1,
            time_ms: 0,
            detail: String::new(),
        }
    }

    #[test]
    fn alerts_are_per_brand_filtered_and_bounded() {
        let hub = AlertHub::new();
        hub.push(alert("acme", "grey_market", Some("CN-SH")));
        hub.push(alert("acme", "clone_suspected", Some("CN-BJ")));
        hub.push(alert("other", "grey_market", Some("CN-SH")));
        let all = AlertFilter {
            brand: "acme".into(),
            ..AlertFilter::default()
        };
        assert_eq!(hub.list("acme", &all, 10).len(), 2);
        let grey = AlertFilter {
            kind: Some("grey_market".into()),
            ..all.clone()
        };
        assert_eq!(hub.list("acme", &grey, 10).len(), 1);
        let china = AlertFilter {
            region: Some("CN".into()),
            ..all.clone()
        };
        assert_eq!(hub.list("acme", &china, 10).len(), 2);
        let beijing = AlertFilter {
            region: Some("CN-BJ".into()),
            ..all.clone()
        };
        assert_eq!(hub.list("acme", &beijing, 10)[0].kind, "clone_suspected");
        let after_first = AlertFilter { after: 1, ..all };
        assert_eq!(hub.list("acme", &after_first, 10).len(), 1);
        for _ in 0..MAX_PER_BRAND + 5 {
            hub.push(alert("busy", "grey_market", None));
        }
        let busy = AlertFilter {
            brand: "busy".into(),
            ..AlertFilter::default()
        };
        assert_eq!(hub.list("busy", &busy, usize::MAX).len(), MAX_PER_BRAND);
    }
}
