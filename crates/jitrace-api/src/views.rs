//! Conversions from ledger records, blocks and the chain tip into the wire DTOs.
//!
//! The DTOs live in `jitrace_client::dto` and the records in `jitrace_ledger`, so these are
//! plain functions rather than `From` impls (neither type is this crate's).

use jitrace_chain::{Block, block::to_hash};
use jitrace_client::dto::{
    AccountView, AffectedItemView, AttributeView, BatchView, BlockView, CodeKeyView, CodeRef,
    GateEntryView, GateVerdictView, LicenceView, LotView, MediaView, OrgView, ProductView,
    RecallProgressView, RevocationView, SpecMismatchView, Status, TestResultView, TxState,
    TxStatus,
};
use jitrace_ledger::{
    state::{
        Account, Batch, CodeState, GateEntry, GateVerdict, Licence, LotEntry, Org, Outcome,
        Product, Receipt,
    },
    trace::RecallProgress,
    tx_id,
};
use jitrace_store::Tip;
use jitrace_types::{
    Gtin, Hash, PublicKey,
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
