//! The verdict on a scanned code: `genuine`, `warning` or `counterfeit`, with every applicable
//! reason (design §3), the product record, status, path, latest place and authorised sellers.
//!
//! The API decides no ledger rule: authenticity is the ledger's [`read::check_code`], the
//! code's state and path its [`read::code_state`] and [`read::code_events`], the channels its
//! [`read::channel_authorisations`]. They read through a synchronous `StateReader`; [`Reads`]
//! answers them from keys fetched from the asynchronous [`StateSource`] beforehand, fetching
//! what they report [`Missing`] and running them again (as the node does for the executor).
//!
//! How reasons weigh (the verdict is the worst):
//! - **counterfeit**: `signature_invalid` (forged, or signed by another key), `no_signature`,
//!   `serial_not_issued`, `code_voided` (the brand declared the label lost or spoiled, so it
//!   is on no genuine item).
//! - **warning**: the code is genuine but something needs checking before buying:
//!   `clone_suspected` (the label was copied; the chain cannot tell which copy is the
//!   original, so the original's owner must not be told theirs is fake), `stolen`,
//!   `recalled`, `outside_territory` (grey market), `unauthorised_seller`,
//!   `licence_revoked`, `code_retired`, and `location_mismatch` with `already_sold` when a sold
//!   item is scanned farther than the chain's `far_from_sale_m` from the sale place by a
//!   device that is not the owner's.
//! - **info**: `already_sold` near the sale place, or by the owner's device.

use crate::{
    ApiError, ApiState,
    source::StateSource,
    views::{event_name, product_view, public_degrees},
};
use futures::future::try_join_all;
use jitrace_client::dto::{
    AuthorisedSeller, OrgSummary, OwnershipView, PathStep, PublicPlace, SaleView, ScannedCodeView,
    Severity, Verdict, VerdictKind, VerdictReason,
};
use jitrace_ledger::{
    Missing, StateReader, geo,
    read::{self, CodeCheck},
    state::{
        Batch, ChannelGrants, CodeEventRecord, CodeState, Licence, MAX_EVENTS_PER_CODE, Org,
        OrgIndex, Params, Product, Record, ScanRules, StateKey, TicketKind,
    },
};
use jitrace_types::{
    Hash, OrgId,
    code::{ScannedCode, decode_code_signature, parse_code},
    tx::{CodeId, GeoPoint, Place, SignedCode},
};
use std::collections::BTreeMap;

/// Parses a scanned link into a product code: a malformed link, a wrong check digit, a link
/// that is not a product code or a signature that is not 86 characters of base64url is the
/// client's error ([`ApiError::BadCode`]). A link without a signature parses: its verdict is
/// `counterfeit` with `no_signature`.
pub fn parse_scanned(uri: &str) -> Result<ScannedCode, ApiError> {
    let code = parse_code(uri).map_err(|e| ApiError::BadCode(e.to_string()))?;
    if let Some(signature) = &code.signature {
        decode_code_signature(signature).map_err(|e| ApiError::BadCode(e.to_string()))?;
    }
    Ok(code)
}

/// A scanner position in decimal degrees as a fixed-point point, or why not.
pub fn scanner_point(lat: Option<f64>, lon: Option<f64>) -> Result<Option<GeoPoint>, ApiError> {
    match (lat, lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) => {
            let on_globe = lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon);
            if !on_globe {
                return Err(ApiError::BadRequest(
                    "lat must be within ±90 and lon within ±180 decimal degrees".into(),
                ));
            }
            Ok(Some(GeoPoint {
                lat_micro: (lat * 1e6).round() as i32,
                lon_micro: (lon * 1e6).round() as i32,
            }))
        }
        _ => Err(ApiError::BadRequest(
            "give both lat and lon, or neither".into(),
        )),
    }
}

/// Keys fetched from the asynchronous state, read by the ledger's synchronous helpers.
#[derive(Default)]
struct Prefetched(BTreeMap<StateKey, Option<Vec<u8>>>);

impl StateReader for Prefetched {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        self.0.get(key).cloned().ok_or_else(|| Missing(key.clone()))
    }
}

/// The ledger's read helpers over a [`StateSource`].
pub(crate) struct Reads<'a> {
    source: &'a dyn StateSource,
    cache: Prefetched,
}

impl<'a> Reads<'a> {
    pub(crate) fn new(source: &'a dyn StateSource) -> Self {
        Self {
            source,
            cache: Prefetched::default(),
        }
    }

    /// Fetches `keys` (those not fetched yet) concurrently.
    pub(crate) async fn fetch(
        &mut self,
        keys: impl IntoIterator<Item = StateKey>,
    ) -> Result<(), ApiError> {
        let wanted: Vec<StateKey> = keys
            .into_iter()
            .filter(|k| !self.cache.0.contains_key(k))
            .collect();
        let reads = wanted.into_iter().map(|key| {
            let read = self.source.get(key.clone());
            async move {
                read.await
                    .map(|value| (key.clone(), value))
                    .map_err(|e| ApiError::Internal(format!("reading {key:?}: {e}")))
            }
        });
        for (key, value) in try_join_all(reads).await? {
            self.cache.0.insert(key, value);
        }
        Ok(())
    }

    /// Runs a ledger read helper, fetching each key it misses, until it answers.
    pub(crate) async fn run<T>(
        &mut self,
        read: impl Fn(&dyn StateReader) -> Result<T, Missing>,
    ) -> Result<T, ApiError> {
        loop {
            match read(&self.cache) {
                Ok(value) => return Ok(value),
                Err(Missing(key)) => self.fetch([key]).await?,
            }
        }
    }

    /// The ledger's [`read::check_code`], with its reads fetched first so that the signature
    /// is verified once.
    pub(crate) async fn check_code(
        &mut self,
        chain_id: &str,
        code: &SignedCode,
    ) -> Result<CodeCheck, ApiError> {
        if let Some(batch) = self.run(|r| read::batch_of(r, &code.code)).await? {
            self.fetch([StateKey::VoidedCodes(batch.gtin, batch.lot)])
                .await?;
        }
        self.run(|r| {
            read::check_code_with(r, code, &mut |batch, code| {
                remembered_signature_check(chain_id, batch, code)
            })
        })
        .await
    }

    /// A record, decoded (a record that does not decode is an internal error, not a panic).
    pub(crate) async fn record<T: Record>(&mut self, key: StateKey) -> Result<Option<T>, ApiError> {
        self.fetch([key.clone()]).await?;
        match self.cache.0.get(&key).cloned().flatten() {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ApiError::Internal(format!("record {key:?} does not decode: {e}"))),
        }
    }

    /// Organisations by id (missing ones left out).
    pub(crate) async fn orgs(
        &mut self,
        ids: impl IntoIterator<Item = OrgId>,
    ) -> Result<BTreeMap<OrgId, Org>, ApiError> {
        let ids: Vec<OrgId> = ids.into_iter().collect();
        self.fetch(ids.iter().cloned().map(StateKey::Org)).await?;
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(org) = self.record::<Org>(StateKey::Org(id.clone())).await? {
                out.insert(id, org);
            }
        }
        Ok(out)
    }
}

/// One reason, with its weight and texts.
fn reason(code: &'static str, severity: Severity) -> VerdictReason {
    let (en, zh) = texts(code);
    VerdictReason {
        code: code.to_string(),
        severity,
        en: en.to_string(),
        zh: zh.to_string(),
    }
}

/// Plain English and plain Chinese for each reason code.
fn texts(code: &str) -> (&'static str, &'static str) {
    match code {
        "signature_invalid" => (
            "The code's digital signature is not the brand's: this label was not made by the brand.",
            "此码的数字签名不是品牌方的：该标签并非品牌方制作。",
        ),
        "no_signature" => (
            "The code carries no digital signature, so it cannot be the brand's.",
            "此码没有数字签名，不可能是品牌方的正品码。",
        ),
        "serial_not_issued" => (
            "The brand never issued this serial number.",
            "品牌方从未发行过此序列号。",
        ),
        "code_voided" => (
            "The brand voided this code (lost or spoiled labels): it belongs on no genuine item.",
            "品牌方已作废此码（遗失或损坏的标签）：正品上不应出现此码。",
        ),
        "licence_revoked" => (
            "The licence under which this code was issued has been revoked.",
            "发行此码所依据的许可已被吊销。",
        ),
        "already_sold" => (
            "This item was already sold to a consumer.",
            "此商品已售出给消费者。",
        ),
        "location_mismatch" => (
            "This item was sold far from where it is being scanned now.",
            "此商品的售出地点与当前扫码位置相距很远。",
        ),
        "clone_suspected" => (
            "This code has been scanned in ways only a copied label explains: it may be a fake.",
            "此码的扫描记录显示标签可能被复制：该商品可能是假货。",
        ),
        "outside_territory" => (
            "This item was sold outside the seller's authorised territory (grey market).",
            "此商品在经销商授权区域之外销售（窜货）。",
        ),
        "unauthorised_seller" => (
            "The seller was not authorised by the brand to sell this product.",
            "销售方未获得品牌方对该商品的销售授权。",
        ),
        "recalled" => (
            "This item, or a part inside it, is under a recall.",
            "此商品或其内部零部件已被召回。",
        ),
        "stolen" => (
            "The owner reported this item lost or stolen.",
            "物主已报告此商品遗失或被盗。",
        ),
        "code_retired" => (
            "This item was destroyed or taken out of circulation.",
            "此商品已被销毁或退出流通。",
        ),
        _ => ("", ""),
    }
}

fn public_place(place: &Place) -> PublicPlace {
    PublicPlace {
        city: place.city.clone(),
        region: place.region.clone(),
        lat: place.point.map(|p| public_degrees(p.lat_micro)),
        lon: place.point.map(|p| public_degrees(p.lon_micro)),
    }
}

fn summary(id: &OrgId, orgs: &BTreeMap<OrgId, Org>) -> OrgSummary {
    let org = orgs.get(id);
    OrgSummary {
        id: id.to_string(),
        name: org.map_or_else(|| id.to_string(), |o| o.name.clone()),
        region: org.and_then(|o| o.region.clone()),
    }
}

fn whole_km(metres: u64) -> u64 {
    (metres + 500) / 1000
}

/// Whether `seller` held a grant of `brand` allowing it to sell `code`'s product at `time_ms`
/// (a grant revoked later still counts: the sale was authorised when it happened).
fn seller_authorised(grants: Option<&ChannelGrants>, code: &CodeId, time_ms: u64) -> bool {
    let at_s = time_ms / 1000;
    grants.is_some_and(|grants| {
        grants.grants.iter().any(|g| {
            g.role.may_sell()
                && g.covers_product(&code.gtin)
                && g.valid_from <= at_s
                && at_s < g.valid_until
                && g.revoked.as_ref().is_none_or(|r| r.at.time_ms > time_ms)
        })
    })
}

/// Who scans, for the verdict.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scanner {
    /// Where (exact; never stored).
    pub point: Option<GeoPoint>,
    /// The device pseudonym (see [`crate::scans::device_pseudonym`]), to recognise the owner.
    pub device: Option<Hash>,
}

/// Most verdicts remembered for the current height.
const MAX_REMEMBERED_VERDICTS: usize = 10_000;

/// A verdict's inputs besides the state: the code as printed and the scanner.
pub type VerdictKey = (
    jitrace_types::Gtin,
    String,
    Option<String>,
    Option<(i32, i32)>,
    Option<[u8; 32]>,
);

/// Verdicts given at one height, by their other inputs. A verdict is a function of the state at
/// the tip, the tip's time, the code and the scanner — nothing else — so a repeat scan at the
/// same height gets the same answer without the work.
#[derive(Default)]
pub struct VerdictCache(std::sync::Mutex<(u64, BTreeMap<VerdictKey, Verdict>)>);

/// The verdict on `code` as the latest applied state has it (remembered until the next block).
pub async fn verdict(
    api: &ApiState,
    code: &ScannedCode,
    scanner: Scanner,
) -> Result<Verdict, ApiError> {
    let height = api.tip.borrow().map_or(0, |t| t.height);
    let key: VerdictKey = (
        code.gtin,
        code.serial.clone(),
        code.signature.clone(),
        scanner.point.map(|p| (p.lat_micro, p.lon_micro)),
        scanner.device.map(|d| d.0),
    );
    let poisoned = std::sync::PoisonError::into_inner;
    if height > 0 {
        let remembered = api.verdicts.0.lock().unwrap_or_else(poisoned);
        if remembered.0 == height
            && let Some(v) = remembered.1.get(&key)
        {
            return Ok(v.clone());
        }
    }
    let answer = fresh_verdict(api, code, scanner).await?;
    // Kept only if the tip did not move while it was made.
    if height > 0 && api.tip.borrow().map_or(0, |t| t.height) == height {
        let mut remembered = api.verdicts.0.lock().unwrap_or_else(poisoned);
        if remembered.0 != height || remembered.1.len() >= MAX_REMEMBERED_VERDICTS {
            *remembered = (height, BTreeMap::new());
        }
        remembered.1.insert(key, answer.clone());
    }
    Ok(answer)
}

/// [`verdict`], worked out.
async fn fresh_verdict(
    api: &ApiState,
    code: &ScannedCode,
    scanner: Scanner,
) -> Result<Verdict, ApiError> {
    let tip = *api.tip.borrow();
    let height = tip.map_or(0, |t| t.height);
    let now_ms = tip
        .map(|t| t.time_ms)
        .filter(|t| *t > 0)
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        });
    let mut reads = Reads::new(api.state.as_ref());
    let mut reasons = Vec::new();
    // What nearly every verdict reads, in one round trip.
    let mut first = vec![
        StateKey::Product(code.gtin),
        StateKey::Params,
        StateKey::SerialRanges(code.gtin),
    ];
    if let Some(serial) = code.serial_number() {
        first.push(StateKey::Code(CodeId {
            gtin: code.gtin,
            serial,
        }));
    }
    reads.fetch(first).await?;

    let product = reads
        .record::<Product>(StateKey::Product(code.gtin))
        .await?;
    let id = code.serial_number().map(|serial| CodeId {
        gtin: code.gtin,
        serial,
    });
    let mut genuine: Option<Batch> = None;
    let mut batch_org = None;
    match (&id, &code.signature) {
        (None, signature) => {
            reasons.push(reason("serial_not_issued", Severity::Counterfeit));
            if signature.is_none() {
                reasons.push(reason("no_signature", Severity::Counterfeit));
            }
        }
        (Some(id), None) => {
            let batch = reads.run(|r| read::batch_of(r, id)).await?;
            if batch.is_none() {
                reasons.push(reason("serial_not_issued", Severity::Counterfeit));
            }
            batch_org = batch.map(|b| b.org);
            reasons.push(reason("no_signature", Severity::Counterfeit));
        }
        (Some(id), Some(signature)) => {
            let signed = SignedCode {
                code: *id,
                signature: signature.clone(),
            };
            match reads.check_code(&api.chain_id, &signed).await? {
                CodeCheck::NotIssued => {
                    reasons.push(reason("serial_not_issued", Severity::Counterfeit))
                }
                CodeCheck::SignatureInvalid { batch } => {
                    batch_org = Some(batch.org);
                    reasons.push(reason("signature_invalid", Severity::Counterfeit));
                }
                CodeCheck::Genuine { batch, voided } => {
                    if voided {
                        reasons.push(reason("code_voided", Severity::Counterfeit));
                    }
                    batch_org = Some(batch.org.clone());
                    genuine = Some(batch);
                }
            }
        }
    }
    let brand_id = batch_org.or_else(|| product.as_ref().map(|p| p.info.org.clone()));

    // The code's life, for a genuine code only: a forged label says nothing about the item.
    let mut state: Option<CodeState> = None;
    let mut events: Vec<CodeEventRecord> = Vec::new();
    let rules = reads
        .record::<Params>(StateKey::Params)
        .await?
        .map_or(ScanRules::DEFAULT, |p| p.scan_rules);
    if let (Some(batch), Some(id)) = (&genuine, &id) {
        if let Some(licence) = reads
            .record::<Licence>(StateKey::Licence(batch.licence.clone()))
            .await?
            && licence.revoked.is_some()
        {
            reasons.push(reason("licence_revoked", Severity::Warning));
        }
        state = reads.run(|r| read::code_state(r, id)).await?;
        if let Some(state) = &state {
            let count = state.event_count.min(MAX_EVENTS_PER_CODE);
            reads
                .fetch((0..count).map(|i| StateKey::CodeEvent(*id, i)))
                .await?;
            events = reads
                .run(|r| read::code_events(r, id, 0, MAX_EVENTS_PER_CODE))
                .await?;
        }
    }

    // Organisation names for the path, the custodian and the sale.
    let mut org_ids: Vec<OrgId> = brand_id.iter().cloned().collect();
    for event in &events {
        org_ids.extend(event.org.iter().cloned());
        org_ids.extend(event_name(&event.kind).1.cloned());
    }
    if let Some(state) = &state {
        org_ids.extend(state.custodian.iter().cloned());
        org_ids.extend(state.sale.iter().map(|s| s.seller.clone()));
    }
    org_ids.sort();
    org_ids.dedup();
    let orgs = reads.orgs(org_ids).await?;

    let mut sale = None;
    let mut recalled = false;
    if let (Some(state), Some(id)) = (&state, &id) {
        let flags = state.flags;
        if flags.clone_suspected {
            reasons.push(reason("clone_suspected", Severity::Warning));
        }
        if flags.stolen {
            reasons.push(reason("stolen", Severity::Warning));
        }
        // Recalled: its lot, product or issuer, or any part inside it.
        recalled = reads
            .run(|r| jitrace_ledger::trace::recalled_within(r, state))
            .await?
            .is_some();
        if recalled {
            reasons.push(reason("recalled", Severity::Warning));
        }
        if flags.grey_market {
            reasons.push(reason("outside_territory", Severity::Warning));
        }
        if matches!(state.status, jitrace_ledger::state::CodeStatus::Retired(how) if how != jitrace_ledger::state::Retirement::Installed)
        {
            reasons.push(reason("code_retired", Severity::Warning));
        }
        if let Some(record) = &state.sale {
            let far = match (scanner.point, record.point) {
                (Some(here), Some(sold)) => {
                    geo::distance_m(here, sold) > u64::from(rules.far_from_sale_m)
                }
                _ => false,
            };
            let by_owner = scanner.device.is_some() && scanner.device == state.owner_device;
            if far && !by_owner {
                reasons.push(reason("already_sold", Severity::Warning));
                reasons.push(reason("location_mismatch", Severity::Warning));
            } else {
                reasons.push(reason("already_sold", Severity::Info));
            }
            if Some(&record.seller) != brand_id.as_ref() {
                let grants = match &brand_id {
                    Some(brand) => {
                        reads
                            .run(|r| read::channel_grants(r, brand, &record.seller))
                            .await?
                    }
                    None => None,
                };
                if !seller_authorised(grants.as_ref(), id, record.at.time_ms) {
                    reasons.push(reason("unauthorised_seller", Severity::Warning));
                }
            }
            sale = Some(SaleView {
                seller: record.seller.to_string(),
                seller_name: orgs.get(&record.seller).map(|o| o.name.clone()),
                city: record.city.clone(),
                region: record.region.clone(),
                time_ms: record.at.time_ms,
                grey_market: record.grey_market,
            });
        }
    }

    let path = events
        .iter()
        .map(|event| {
            let (name, counterparty) = event_name(&event.kind);
            PathStep {
                event: name.to_string(),
                biz_step: event.biz_step.map(|s| s.as_str().to_string()),
                org: event.org.as_ref().map(ToString::to_string),
                org_name: event
                    .org
                    .as_ref()
                    .and_then(|o| orgs.get(o))
                    .map(|o| o.name.clone()),
                counterparty: counterparty.map(ToString::to_string),
                place: event.place.as_ref().map(public_place),
                time_ms: event.at.time_ms,
                height: event.at.height,
            }
        })
        .collect();

    let latest = state.as_ref().and_then(|s| s.last_place.clone());
    let distance_km = match (scanner.point, latest.as_ref().and_then(|p| p.point)) {
        (Some(here), Some(there)) => Some(whole_km(geo::distance_m(here, there))),
        _ => None,
    };

    let authorised_sellers = match &brand_id {
        Some(brand) => sellers(&mut reads, brand, code, scanner.point, now_ms).await?,
        None => Vec::new(),
    };

    reasons.sort_by_key(|r| std::cmp::Reverse(r.severity));
    let verdict = match reasons.first().map(|r| r.severity) {
        Some(Severity::Counterfeit) => VerdictKind::Counterfeit,
        Some(Severity::Warning) => VerdictKind::Warning,
        _ => VerdictKind::Genuine,
    };
    let flags = state.as_ref().map_or_else(Vec::new, |s| {
        [
            ("recalled", recalled),
            ("stolen", s.flags.stolen),
            ("clone_suspected", s.flags.clone_suspected),
            ("grey_market", s.flags.grey_market),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name.to_string())
        .collect()
    });
    Ok(Verdict {
        verdict,
        reasons,
        code: ScannedCodeView {
            gtin: code.gtin.to_string(),
            serial: code.serial.clone(),
            signed: code.signature.is_some(),
        },
        product: product.as_ref().map(product_view),
        brand: brand_id.as_ref().map(|b| summary(b, &orgs)),
        status: match (&genuine, &state) {
            (None, _) => None,
            (Some(_), None) => Some("issued".to_string()),
            (Some(_), Some(s)) => Some(s.status.as_str().to_string()),
        },
        flags,
        custodian: state
            .as_ref()
            .and_then(|s| s.custodian.as_ref())
            .map(|c| summary(c, &orgs)),
        sale,
        ownership: OwnershipView {
            owner: state.as_ref().and_then(|s| s.owner).map(|k| k.to_hex()),
            pending_ticket: state.as_ref().and_then(|s| s.ticket).map(|t| {
                match t.kind {
                    TicketKind::Claim => "claim",
                    TicketKind::Transfer => "transfer",
                }
                .to_string()
            }),
        },
        path,
        latest_location: latest.as_ref().map(public_place),
        latest_time_ms: state
            .as_ref()
            .and_then(|s| s.last_event_at)
            .map(|s| s.time_ms),
        distance_km,
        authorised_sellers,
        height,
        scan_queued: None,
    })
}

/// The channel organisations of `brand` holding a grant in force now that lets them sell
/// `code`'s product, nearest to the scanner first (first page of 1,000 channels).
async fn sellers(
    reads: &mut Reads<'_>,
    brand: &OrgId,
    code: &ScannedCode,
    scanner: Option<GeoPoint>,
    now_ms: u64,
) -> Result<Vec<AuthorisedSeller>, ApiError> {
    let page = reads
        .record::<OrgIndex>(StateKey::BrandChannels(brand.clone(), 0))
        .await?
        .unwrap_or_default();
    reads
        .fetch(
            page.0
                .iter()
                .map(|c| StateKey::ChannelGrants(brand.clone(), c.clone())),
        )
        .await?;
    let all = reads
        .run(|r| read::channel_authorisations(r, brand, 0))
        .await?;
    let orgs = reads.orgs(all.iter().map(|g| g.channel.clone())).await?;
    let mut out = Vec::new();
    for grants in &all {
        let selling: Vec<_> = read::grants_in_force(grants, &code.gtin, now_ms / 1000)
            .filter(|g| g.role.may_sell())
            .collect();
        let Some(first) = selling.first() else {
            continue;
        };
        let mut territory: Vec<String> = selling.iter().flat_map(|g| g.territory.clone()).collect();
        territory.sort();
        territory.dedup();
        let distance_km = scanner.and_then(|here| {
            selling
                .iter()
                .filter_map(|g| g.geofence)
                .map(|fence| whole_km(geo::distance_m(here, fence.centre)))
                .min()
        });
        let org = orgs.get(&grants.channel);
        out.push(AuthorisedSeller {
            org: grants.channel.to_string(),
            name: org.map_or_else(|| grants.channel.to_string(), |o| o.name.clone()),
            role: first.role.as_str().to_string(),
            region: org.and_then(|o| o.region.clone()),
            territory,
            distance_km,
        });
    }
    out.sort_by(|a, b| {
        (a.distance_km.is_none(), a.distance_km, &a.name).cmp(&(
            b.distance_km.is_none(),
            b.distance_km,
            &b.name,
        ))
    });
    Ok(out)
}

/// Most code-signature checks remembered.
const MAX_REMEMBERED_CHECKS: usize = 100_000;

/// Signature checks already made, by (code-signing key, chain, code, signature): a pure
/// function's results, so remembering them is safe; an Ed25519 verification is most of a
/// repeated scan's cost.
static CODE_CHECKS: std::sync::LazyLock<std::sync::Mutex<BTreeMap<CheckKey, bool>>> =
    std::sync::LazyLock::new(Default::default);

/// (code-signing key, chain, code, signature).
type CheckKey = (jitrace_types::PublicKey, String, CodeId, String);

/// [`read::signature_valid`], remembered.
fn remembered_signature_check(chain_id: &str, batch: &Batch, code: &SignedCode) -> bool {
    let key = (
        batch.code_key,
        chain_id.to_string(),
        code.code,
        code.signature.clone(),
    );
    let poisoned = std::sync::PoisonError::into_inner;
    if let Some(valid) = CODE_CHECKS.lock().unwrap_or_else(poisoned).get(&key) {
        return *valid;
    }
    let valid = read::signature_valid(chain_id, batch, code);
    let mut checks = CODE_CHECKS.lock().unwrap_or_else(poisoned);
    if checks.len() >= MAX_REMEMBERED_CHECKS {
        checks.clear();
    }
    checks.insert(key, valid);
    valid
}
