//! Brand alerts: grey-market sales and clone suspicions read from finalised blocks, and
//! counterfeit scans from the scan endpoint; listed and filtered, and streamed live as
//! Server-Sent Events, to the brand's members only.
//!
//! Alerts are kept in the node's off-chain index (`jitrace_store::index`): the chain-derived
//! ones are written by the indexer ([`crate::analytics`]) in the same transaction as the block's
//! height, so a restart neither loses nor repeats them, and their sequence numbers stay the
//! same; counterfeit scans are written as they are answered.

use crate::{ApiError, ApiState, Shared, auth, views::alert_view};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, Method, Uri},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use jitrace_client::dto::{AlertList, ErrorBody};
use jitrace_ledger::{
    geo,
    state::{CodeState, StateKey},
};
use jitrace_store::{
    IndexStore,
    index::{Alert, MAX_ALERTS_PER_BRAND, ScanKey, day_of},
};
use jitrace_types::{Hash, OrgId, token::Scope, tx::GeoPoint};
use std::{collections::BTreeMap, convert::Infallible, sync::Arc, time::Duration};
use tokio::sync::broadcast;

/// Most alerts one list answers.
const MAX_LISTED: usize = 1_000;

/// The alert store and live feed.
pub struct AlertHub {
    index: Arc<IndexStore>,
    live: broadcast::Sender<Alert>,
}

impl AlertHub {
    /// A hub keeping its alerts in `index`.
    pub fn new(index: Arc<IndexStore>) -> Arc<Self> {
        Arc::new(Self {
            index,
            live: broadcast::channel(1024).0,
        })
    }

    /// Sends alerts already stored (with their sequence numbers) to live subscribers.
    pub fn publish(&self, alerts: Vec<Alert>) {
        for alert in alerts {
            let _ = self.live.send(alert);
        }
    }

    /// Stores an alert that is not on chain, with the scans it counts, and sends it live.
    fn record(&self, alert: Alert, scans: &[ScanKey]) -> Result<(), ApiError> {
        let stored = self
            .index
            .add_alert(alert, scans)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        self.publish(vec![stored]);
        Ok(())
    }

    /// A brand's alerts matching `filter`, oldest first, at most `limit`.
    pub fn list(&self, filter: &AlertFilter, limit: usize) -> Result<Vec<Alert>, ApiError> {
        self.index
            .alerts(&filter.brand, filter.after, limit, |a| filter.matches(a))
            .map_err(|e| ApiError::Internal(e.to_string()))
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
    fn matches(&self, alert: &Alert) -> bool {
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

/// The alerts a code's state raises at `height`.
pub(crate) fn alerts_of(state: &CodeState, height: u64) -> Vec<Alert> {
    let base = |kind: &str, region: Option<String>, city: Option<String>, detail: String| Alert {
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

/// The alerts of recalls started at `height` on `scopes`: one for each brand with items the
/// recall reaches (and one for the recalling organisation), saying how many.
pub(crate) async fn recall_alerts(
    api: &ApiState,
    scopes: &[jitrace_types::parts::RecallScope],
    height: u64,
) -> Result<Vec<Alert>, ApiError> {
    use jitrace_ledger::{
        state::{Recall, RecallRefs},
        trace,
    };
    let mut reads = crate::verdict::Reads::new(api.state.as_ref());
    let mut out = Vec::new();
    for scope in scopes {
        let refs = reads
            .record::<RecallRefs>(StateKey::RecallsOn(scope.clone()))
            .await?
            .unwrap_or_default();
        for (org, number) in refs.0 {
            let Some(recall) = reads
                .record::<Recall>(StateKey::Recall(org.clone(), number))
                .await?
                .filter(|r| r.started_at.height == height)
            else {
                continue;
            };
            let (items, _) = reads.run(|r| trace::trace_forward(r, scope)).await?;
            let mut per_brand: BTreeMap<String, u64> = BTreeMap::new();
            per_brand.insert(org.to_string(), 0);
            for item in &items {
                *per_brand.entry(item.brand.to_string()).or_default() += 1;
            }
            let (gtin, serial) = match scope {
                jitrace_types::parts::RecallScope::Lot { gtin, .. }
                | jitrace_types::parts::RecallScope::Product(gtin) => (gtin.to_string(), 0),
                jitrace_types::parts::RecallScope::Issuer(_) => (String::new(), 0),
            };
            for (brand, count) in per_brand {
                out.push(Alert {
                    seq: 0,
                    brand,
                    kind: "recall".into(),
                    gtin: gtin.clone(),
                    serial,
                    region: None,
                    city: None,
                    height,
                    time_ms: recall.started_at.time_ms,
                    detail: format!(
                        "recall {org}/{number} of {}: {}; {count} of your items affected",
                        crate::views::scope_text(&recall.scope),
                        recall.reason
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Records a counterfeit scan for the brand whose product it claims to be, and counts it in
/// the brand's scan analytics (by the scan's ~5 km cell, when it has a position) unless
/// `on_chain`: a scan queued for the ledger (a voided code's) is counted from its block.
pub(crate) fn counterfeit_scan(
    hub: &AlertHub,
    brand: &OrgId,
    gtin: &str,
    serial: u64,
    point: Option<GeoPoint>,
    on_chain: bool,
    reasons: &str,
) -> Result<(), ApiError> {
    let time_ms = now_ms();
    let cell = point.map(geo::cell_of);
    let scans: Vec<ScanKey> = cell
        .filter(|_| !on_chain)
        .map(|cell| ScanKey {
            brand: brand.to_string(),
            day: day_of(time_ms),
            gtin: gtin.into(),
            cell_lat: cell.lat_micro,
            cell_lon: cell.lon_micro,
            outcome: "counterfeit".into(),
        })
        .into_iter()
        .collect();
    hub.record(
        Alert {
            seq: 0,
            brand: brand.to_string(),
            kind: "counterfeit_scan".into(),
            gtin: gtin.into(),
            serial,
            region: None,
            city: cell.map(|c| {
                format!(
                    "near {:.1},{:.1}",
                    f64::from(c.lat_micro) / 1e6,
                    f64::from(c.lon_micro) / 1e6
                )
            }),
            height: 0,
            time_ms,
            detail: reasons.into(),
        },
        &scans,
    )
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
    let caller = auth::authenticate(
        api,
        method,
        uri,
        headers,
        &Hash::of(&[b""]),
        auth::Access::Read(Scope::ReadAlerts),
    )
    .await?;
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
        alerts: api
            .alerts
            .list(&filter, MAX_LISTED)?
            .iter()
            .map(alert_view)
            .collect(),
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
    let backlog = api.alerts.list(&filter, MAX_ALERTS_PER_BRAND as usize)?;
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
fn event(alert: &Alert) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event("alert")
        .id(alert.seq.to_string())
        .json_data(alert_view(alert))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(brand: &str, kind: &str, region: Option<&str>) -> Alert {
        Alert {
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
    fn alerts_are_per_brand_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let hub = AlertHub::new(Arc::new(
            IndexStore::open(&dir.path().join("index.redb")).unwrap(),
        ));
        hub.record(alert("acme", "grey_market", Some("CN-SH")), &[])
            .unwrap();
        hub.record(alert("acme", "clone_suspected", Some("CN-BJ")), &[])
            .unwrap();
        hub.record(alert("other", "grey_market", Some("CN-SH")), &[])
            .unwrap();
        let all = AlertFilter {
            brand: "acme".into(),
            ..AlertFilter::default()
        };
        assert_eq!(hub.list(&all, 10).unwrap().len(), 2);
        let grey = AlertFilter {
            kind: Some("grey_market".into()),
            ..all.clone()
        };
        assert_eq!(hub.list(&grey, 10).unwrap().len(), 1);
        let china = AlertFilter {
            region: Some("CN".into()),
            ..all.clone()
        };
        assert_eq!(hub.list(&china, 10).unwrap().len(), 2);
        let beijing = AlertFilter {
            region: Some("CN-BJ".into()),
            ..all.clone()
        };
        assert_eq!(hub.list(&beijing, 10).unwrap()[0].kind, "clone_suspected");
        let after_first = AlertFilter { after: 1, ..all };
        assert_eq!(hub.list(&after_first, 10).unwrap().len(), 1);
    }
}
