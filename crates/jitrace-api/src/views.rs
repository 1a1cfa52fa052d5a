//! Conversions from ledger records, blocks and the chain tip into the wire DTOs.
//!
//! The DTOs live in `jitrace_client::dto` and the records in `jitrace_ledger`, so these are
//! plain functions rather than `From` impls (neither type is this crate's).

use jitrace_chain::{Block, block::to_hash};
use jitrace_client::dto::{
    AccountView, AffectedItemView, AlertView, AttributeView, BatchView, BlockView, ChannelVolume,
    CodeEventView, CodeKeyView, CodeRef, EventPlace, FlowCodeView, FlowCountView, GateEntryView,
    GateVerdictView, LicenceView, LotView, MediaView, OrgView, ProductView, RecallProgressView,
    RevocationView, ScanCount, SpecMismatchView, Status, TestResultView, TxState, TxStatus,
};
use jitrace_ledger::{
    state::{
        Account, Batch, BuyerKind, CodeEventKind, CodeEventRecord, CodeState, GateEntry,
        GateVerdict, Licence, LotEntry, Org, Outcome, Product, Receipt, TicketKind,
    },
    trace::RecallProgress,
    tx_id,
};
use jitrace_store::{
    Tip,
    index::{Alert, ChannelKey, FlowCount, FlowRow, ScanKey},
};
use jitrace_types::{
    Gtin, Hash, OrgId, PublicKey,
    parts::RecallScope,
    tx::{Attribute, CodeId, MediaRef},
};

/// Where the API serves a media file.
pub fn media_url(hash: &Hash) -> String {
    format!("/v1/media/{}", hash.to_hex())
}

/// The chain's status; before the first block, height 0 and zero hashes.
pub fn status_view(
    chain_id: &str,
    validators: &[PublicKey],
    tip: Option<Tip>,
    mempool_size: usize,
    role: &str,
    peers: u64,
) -> Status {
    let tip = tip.unwrap_or(Tip {
        height: 0,
        view: 0,
        block_hash: Hash::ZERO,
        state_root: Hash::ZERO,
        time_ms: 0,
        tx_count: 0,
    });
    Status {
        chain_id: chain_id.to_string(),
        height: tip.height,
        block_hash: tip.block_hash.to_hex(),
        state_root: tip.state_root.to_hex(),
        time_ms: tip.time_ms,
        validators: validators.iter().map(PublicKey::to_hex).collect(),
        tx_count: tip.tx_count,
        mempool_size: u64::try_from(mempool_size).unwrap_or(u64::MAX),
        role: role.to_string(),
        view: tip.view,
        peers,
    }
}

/// An executed transaction's status, from its receipt.
pub fn executed_tx_view(receipt: &Receipt) -> TxStatus {
    let (status, reason, detail) = match &receipt.outcome {
        Outcome::Ok => (TxState::Ok, None, None),
        Outcome::Rejected { reason, detail } => (
            TxState::Rejected,
            Some(reason.code().to_string()),
            Some(detail.clone()),
        ),
    };
    TxStatus {
        hash: receipt.tx.to_hex(),
        status,
        reason,
        detail,
        height: Some(receipt.height),
        index: Some(receipt.index),
        signer: receipt.signer.as_ref().map(PublicKey::to_hex),
        kind: receipt.kind.clone(),
    }
}

/// A transaction waiting in the mempool.
pub fn pending_tx_view(hash: &Hash) -> TxStatus {
    TxStatus {
        hash: hash.to_hex(),
        status: TxState::Pending,
        reason: None,
        detail: None,
        height: None,
        index: None,
        signer: None,
        kind: None,
    }
}

/// A finalised block and its certificate.
pub fn block_view(block: &Block, certificate: Option<&[u8]>) -> BlockView {
    use commonware_cryptography::Digestible as _;
    let header = &block.header;
    BlockView {
        height: header.height.get(),
        hash: to_hash(&block.digest()).to_hex(),
        parent: to_hash(&header.parent).to_hex(),
        time_ms: header.time_ms,
        tx_root: to_hash(&header.tx_root).to_hex(),
        state_root: to_hash(&header.state_root).to_hex(),
        txs: block.txs.iter().map(|raw| tx_id(raw).to_hex()).collect(),
        certificate: certificate.map(hex::encode),
    }
}

/// A key's account.
pub fn account_view(key: &PublicKey, account: &Account) -> AccountView {
    AccountView {
        key: key.to_hex(),
        nonce: account.nonce,
        orgs: account.orgs.iter().map(ToString::to_string).collect(),
    }
}

/// An organisation.
/// An organisation, with the first page of its products.
pub fn org_view(org: &Org, products: &[Gtin]) -> OrgView {
    OrgView {
        id: org.id.to_string(),
        name: org.name.clone(),
        roles: org.roles.iter().map(ToString::to_string).collect(),
        gs1_company_prefix: org.gs1_company_prefix.clone(),
        region: org.region.clone(),
        members: org.members.iter().map(PublicKey::to_hex).collect(),
        code_keys: org
            .code_keys
            .iter()
            .map(|entry| CodeKeyView {
                key: entry.key.to_hex(),
                registered_height: entry.registered_at.height,
                revoked: entry.revoked_at.is_some(),
                revoked_height: entry.revoked_at.map(|stamp| stamp.height),
            })
            .collect(),
        licences: org.licences.iter().map(ToString::to_string).collect(),
        products: products.iter().map(ToString::to_string).collect(),
        product_count: org.product_count,
        registered_height: org.registered_at.height,
        registered_time_ms: org.registered_at.time_ms,
    }
}

/// A licence.
pub fn licence_view(licence: &Licence) -> LicenceView {
    LicenceView {
        id: licence.id.to_string(),
        org: licence.org.to_string(),
        quota: licence.quota,
        used: licence.used,
        remaining: licence.quota.saturating_sub(licence.used),
        valid_from: licence.valid_from,
        valid_until: licence.valid_until,
        issued_height: licence.issued_at.height,
        revoked: licence.revoked.as_ref().map(|r| RevocationView {
            reason: r.reason.clone(),
            height: r.at.height,
        }),
    }
}

/// A product.
pub fn product_view(product: &Product) -> ProductView {
    let info = &product.info;
    ProductView {
        gtin: info.gtin.to_string(),
        org: info.org.to_string(),
        name: info.name.clone(),
        description: info.description.clone(),
        attributes: info
            .attributes
            .iter()
            .map(|a| AttributeView {
                name: a.name.clone(),
                value: a.value.clone(),
            })
            .collect(),
        media: info.media.iter().map(media_view).collect(),
        codes_issued: product.codes_issued,
        registered_height: product.registered_at.height,
        updated_height: product.updated_at.height,
    }
}

/// A code batch.
pub fn batch_view(batch: &Batch) -> BatchView {
    BatchView {
        gtin: batch.gtin.to_string(),
        lot: batch.lot.clone(),
        org: batch.org.to_string(),
        licence: batch.licence.to_string(),
        first_serial: batch.first_serial,
        count: batch.count,
        code_key: batch.code_key.to_hex(),
        issued_height: batch.issued_at.height,
        issued_time_ms: batch.issued_at.time_ms,
        tx: batch.tx.to_hex(),
    }
}

/// A content-addressed media file.
pub fn media_view(m: &MediaRef) -> MediaView {
    MediaView {
        hash: m.hash.to_hex(),
        mime: m.mime.clone(),
        size: m.size,
        caption: m.caption.clone(),
        url: media_url(&m.hash),
    }
}

fn attribute_views(attributes: &[Attribute]) -> Vec<AttributeView> {
    attributes
        .iter()
        .map(|a| AttributeView {
            name: a.name.clone(),
            value: a.value.clone(),
        })
        .collect()
}

/// A code's id.
pub fn code_ref(code: &CodeId) -> CodeRef {
    CodeRef {
        gtin: code.gtin.to_string(),
        serial: code.serial,
    }
}

/// The gate's verdict on one part.
pub fn gate_verdict_view(v: &GateVerdict) -> GateVerdictView {
    GateVerdictView {
        accepted: v.accepted(),
        code: v.code.as_ref().map(code_ref),
        pallet: v.pallet.map(|s| s.to_string()),
        issuer: v.issuer.as_ref().map(ToString::to_string),
        shipper: v.shipper.as_ref().map(ToString::to_string),
        reasons: v.reasons.iter().map(|r| r.as_str().to_string()).collect(),
        mismatches: v
            .mismatches
            .iter()
            .map(|m| SpecMismatchView {
                name: m.name.clone(),
                found: m.found.clone(),
            })
            .collect(),
    }
}

/// One entry of a gate log, numbered `index`.
pub fn gate_entry_view(index: u64, e: &GateEntry) -> GateEntryView {
    GateEntryView {
        index,
        gate: e.gate.to_string(),
        height: e.at.height,
        time_ms: e.at.time_ms,
        tx: e.tx.to_hex(),
        verdict: gate_verdict_view(&e.verdict),
    }
}

/// A lot's technical record.
pub fn lot_view(lot: &LotEntry) -> LotView {
    let r = &lot.record;
    LotView {
        attributes: attribute_views(&r.attributes),
        produced_at: r.produced_at,
        tests: r
            .tests
            .iter()
            .map(|t| TestResultView {
                name: t.name.clone(),
                value: t.value.clone(),
                passed: t.passed,
            })
            .collect(),
        documents: r.documents.iter().map(media_view).collect(),
    }
}

/// An item a forward trace or a recall reaches.
pub fn affected_item_view(s: &CodeState) -> AffectedItemView {
    AffectedItemView {
        gtin: s.code.gtin.to_string(),
        serial: s.code.serial,
        brand: s.brand.to_string(),
        status: s.status.as_str().to_string(),
        custodian: s.custodian.as_ref().map(ToString::to_string),
        sale_city: s.sale.as_ref().map(|x| x.city.clone()),
        sale_region: s.sale.as_ref().map(|x| x.region.clone()),
        owned: s.owner.is_some(),
    }
}

/// A recall's scope as text: `lot:{gtin}:{lot}`, `product:{gtin}` or `issuer:{org}`.
pub fn scope_text(scope: &RecallScope) -> String {
    match scope {
        RecallScope::Lot { gtin, lot } => format!("lot:{gtin}:{lot}"),
        RecallScope::Product(gtin) => format!("product:{gtin}"),
        RecallScope::Issuer(org) => format!("issuer:{org}"),
    }
}

/// A recall's progress.
pub fn recall_progress_view(p: &RecallProgress) -> RecallProgressView {
    RecallProgressView {
        affected: p.affected,
        located: p.located,
        in_transit: p.in_transit,
        with_consumers: p.with_consumers,
        returned: p.returned,
        destroyed: p.destroyed,
    }
}

/// A stored alert as the wire shows it.
pub fn alert_view(alert: &Alert) -> AlertView {
    AlertView {
        seq: alert.seq,
        brand: alert.brand.clone(),
        kind: alert.kind.clone(),
        gtin: alert.gtin.clone(),
        serial: alert.serial,
        region: alert.region.clone(),
        city: alert.city.clone(),
        height: alert.height,
        time_ms: alert.time_ms,
        detail: alert.detail.clone(),
    }
}

/// The UTC date (`YYYY-MM-DD`) of a day counted from the Unix epoch.
pub fn date_of_day(day: u32) -> String {
    // Julian day 2,440,588 is 1970-01-01; every u32 day is inside `time`'s range or not shown.
    time::Date::from_julian_day(2_440_588_i32.saturating_add_unsigned(day))
        .map_or_else(|_| format!("day {day}"), |date| date.to_string())
}

/// A scan counter as the wire shows it.
pub fn scan_count_view(key: &ScanKey, count: u64) -> ScanCount {
    ScanCount {
        day: date_of_day(key.day),
        gtin: key.gtin.clone(),
        cell_lat_micro: key.cell_lat,
        cell_lon_micro: key.cell_lon,
        outcome: key.outcome.clone(),
        count,
    }
}

/// A channel-volume counter as the wire shows it.
pub fn channel_volume_view(key: &ChannelKey, count: u64) -> ChannelVolume {
    ChannelVolume {
        day: date_of_day(key.day),
        channel: key.channel.clone(),
        gtin: key.gtin.clone(),
        action: key.action.clone(),
        count,
    }
}

/// How many codes an organisation has in one role and status.
pub fn flow_count_view(count: &FlowCount) -> FlowCountView {
    FlowCountView {
        role: count.role.as_str().into(),
        status: count.status.clone(),
        codes: count.codes,
    }
}

/// One code of an organisation's flows.
pub fn flow_code_view(row: &FlowRow) -> FlowCodeView {
    let w = &row.whereabouts;
    FlowCodeView {
        gtin: row.code.gtin.clone(),
        serial: row.code.serial,
        status: row.status.clone(),
        holder: w.holder.as_ref().map(|h| h.org.clone()),
        issuer: w.issuer.clone(),
        lot: w.lot.clone(),
    }
}

/// Rounds a micro-degree coordinate to 0.1° for the public view.
pub(crate) fn public_degrees(micro: i32) -> f64 {
    (f64::from(micro) / 100_000.0).round() / 10.0
}

/// An event's name and counterparty.
pub(crate) fn event_name(kind: &CodeEventKind) -> (&'static str, Option<&OrgId>) {
    match kind {
        CodeEventKind::Commissioned => ("commissioned", None),
        CodeEventKind::Packed => ("packed", None),
        CodeEventKind::Shipped { to } => ("shipped", Some(to)),
        CodeEventKind::Received { from } => ("received", Some(from)),
        CodeEventKind::Stored => ("stored", None),
        CodeEventKind::CustodyTransferred { to } => ("custody_transferred", Some(to)),
        CodeEventKind::Sold { .. } => ("sold", None),
        CodeEventKind::Destroyed => ("destroyed", None),
        CodeEventKind::Decommissioned => ("decommissioned", None),
        CodeEventKind::OwnerChanged { .. } => ("owner_changed", None),
        CodeEventKind::ReportedStolen => ("reported_stolen", None),
        CodeEventKind::StolenCleared => ("stolen_cleared", None),
        CodeEventKind::Installed { .. } => ("installed", None),
        CodeEventKind::Removed { .. } => ("removed", None),
        CodeEventKind::Assembled { .. } => ("assembled", None),
    }
}

/// One event of a code's history: the public view (city level, positions rounded to 0.1°),
/// or with `private` the exact position, the signer, the transaction and every detail.
pub fn code_event_view(
    event: &CodeEventRecord,
    org_name: Option<String>,
    private: bool,
) -> CodeEventView {
    let (name, counterparty) = event_name(&event.kind);
    let place = event.place.as_ref().map(|place| EventPlace {
        city: place.city.clone(),
        region: place.region.clone(),
        lat: place.point.map(|p| public_degrees(p.lat_micro)),
        lon: place.point.map(|p| public_degrees(p.lon_micro)),
        lat_micro: place.point.filter(|_| private).map(|p| p.lat_micro),
        lon_micro: place.point.filter(|_| private).map(|p| p.lon_micro),
    });
    let detail = match &event.kind {
        CodeEventKind::Sold { buyer, grey_market } => Some(format!(
            "buyer: {}{}",
            match buyer {
                BuyerKind::Anonymous => "anonymous".to_string(),
                BuyerKind::Owner(key) => format!("owner {key}"),
                BuyerKind::ClaimTicket => "claim_ticket".to_string(),
            },
            if *grey_market {
                "; outside the seller's territory"
            } else {
                ""
            }
        )),
        CodeEventKind::OwnerChanged { owner, ticket } => Some(format!(
            "owner {owner} by {} ticket",
            match ticket {
                TicketKind::Claim => "claim",
                TicketKind::Transfer => "transfer",
            }
        )),
        _ => None,
    };
    CodeEventView {
        index: event.index,
        event: name.to_string(),
        biz_step: event.biz_step.map(|s| s.as_str().to_string()),
        org: event.org.as_ref().map(ToString::to_string),
        org_name,
        counterparty: counterparty.map(ToString::to_string),
        place,
        time_ms: event.at.time_ms,
        height: event.at.height,
        disposition: event
            .disposition
            .filter(|_| private)
            .map(|d| d.as_str().to_string()),
        signer: private.then(|| event.signer.to_hex()),
        tx: private.then(|| event.tx.to_hex()),
        detail: detail.filter(|_| private),
    }
}

/// A brand's grants to one channel.
pub fn channel_view(g: &jitrace_ledger::state::ChannelGrants) -> jitrace_client::dto::ChannelView {
    jitrace_client::dto::ChannelView {
        channel: g.channel.to_string(),
        grants: g
            .grants
            .iter()
            .map(|grant| jitrace_client::dto::ChannelGrantView {
                id: grant.id,
                role: grant.role.org_role().to_string(),
                products: grant.products.iter().map(ToString::to_string).collect(),
                territory: grant.territory.clone(),
                geofence: grant
                    .geofence
                    .map(|f| (f.centre.lat_micro, f.centre.lon_micro, f.radius_m)),
                valid_from: grant.valid_from,
                valid_until: grant.valid_until,
                granted_height: grant.granted_at.height,
                revoked: grant.revoked.as_ref().map(|r| RevocationView {
                    reason: r.reason.clone(),
                    height: r.at.height,
                }),
            })
            .collect(),
    }
}
