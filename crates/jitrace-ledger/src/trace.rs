//! B2B reads the rules and the API share: recalls over a code and its parts, the receiving
//! gate's checks, and traces backward (item → parts, lots, suppliers) and forward (lot, part
//! type or issuer → every item containing it).
//!
//! Each is a pure function of state, bounded: a trace stops at [`MAX_TRACE_NODES`] codes and
//! says so. The gate check is the rule itself: the executor applies its verdict, the API shows
//! it before anything is submitted.

use crate::{
    Missing, StateReader, decode,
    read::{self, CodeCheck},
    state::{
        Batch, CodeState, CodeStatus, Count, GateEntry, GatePage, GateReason, GateVerdict,
        LIST_PAGE_LEN, LotEntry, MAX_ASSEMBLY_DEPTH, PAGE_LEN, Pallet, ProductPage, Recall,
        RecallRefs, Record, Retirement, SerialRanges, StateKey, SupplierAuthorisation,
        list_page_of,
    },
};
use jitrace_types::{
    Gtin, OrgId, PrimaryKey, Sscc,
    code::parse_code,
    digital_link::DigitalLink,
    parts::{GateItem, RecallScope, SpecMismatch},
    tx::{Attribute, CodeId, SignedCode},
};
use std::collections::BTreeSet;

/// Most codes one trace visits.
pub const MAX_TRACE_NODES: usize = 100_000;

fn get<T: Record, R: StateReader + ?Sized>(
    reader: &R,
    key: &StateKey,
) -> Result<Option<T>, Missing> {
    Ok(reader.get(key)?.map(|bytes| decode(&bytes)))
}

/// The open recalls covering `code` itself (its lot, its product, its issuer).
pub fn recalls_of<R: StateReader + ?Sized>(
    reader: &R,
    state: &CodeState,
) -> Result<Vec<Recall>, Missing> {
    recalls_on(reader, &state.code.gtin, &state.lot, &state.brand)
}

/// The open recalls covering a code of `gtin`, lot `lot`, issued by `issuer`.
pub fn recalls_on<R: StateReader + ?Sized>(
    reader: &R,
    gtin: &Gtin,
    lot: &str,
    issuer: &OrgId,
) -> Result<Vec<Recall>, Missing> {
    let scopes = [
        RecallScope::Lot {
            gtin: *gtin,
            lot: lot.to_string(),
        },
        RecallScope::Product(*gtin),
        RecallScope::Issuer(issuer.clone()),
    ];
    let mut out = Vec::new();
    for scope in scopes {
        let refs: RecallRefs = get(reader, &StateKey::RecallsOn(scope))?.unwrap_or_default();
        for (org, number) in refs.0 {
            if let Some(recall) = get::<Recall, _>(reader, &StateKey::Recall(org, number))? {
                out.push(recall);
            }
        }
    }
    Ok(out)
}

/// The first recalled code in `state`'s item, itself first, then its parts at any depth:
/// the code and the recalls on it. `None` if nothing in it is recalled.
pub fn recalled_within<R: StateReader + ?Sized>(
    reader: &R,
    state: &CodeState,
) -> Result<Option<(CodeId, Vec<Recall>)>, Missing> {
    let mut stack = vec![(state.clone(), 0usize)];
    let mut visited = 0usize;
    while let Some((node, depth)) = stack.pop() {
        let recalls = recalls_of(reader, &node)?;
        if !recalls.is_empty() {
            return Ok(Some((node.code, recalls)));
        }
        visited += 1;
        if depth >= MAX_ASSEMBLY_DEPTH || visited >= MAX_TRACE_NODES {
            continue;
        }
        for part in node.parts.iter().rev() {
            if let Some(child) = read::code_state(reader, part)? {
                stack.push((child, depth + 1));
            }
        }
    }
    Ok(None)
}

/// The item `code` is finally installed in (itself when it is installed nowhere).
pub fn root_of<R: StateReader + ?Sized>(
    reader: &R,
    state: CodeState,
) -> Result<CodeState, Missing> {
    let mut node = state;
    for _ in 0..MAX_ASSEMBLY_DEPTH {
        let Some(parent) = node.parent else { break };
        match read::code_state(reader, &parent)? {
            Some(p) => node = p,
            None => break,
        }
    }
    Ok(node)
}

/// What a gate entry names: nothing, unreadable text, a code, or a pallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scanned {
    Nothing,
    Unreadable,
    Code(SignedCode),
    Pallet(Sscc),
}

/// Reads a gate entry's scanned text: a code's Digital Link (with its AI 8030 signature), a
/// pallet's Digital Link (`/00/`) or its bare 18-digit SSCC.
pub fn parse_scanned(text: &str) -> Scanned {
    let text = text.trim();
    if text.is_empty() {
        return Scanned::Nothing;
    }
    if let Ok(sscc) = Sscc::parse(text) {
        return Scanned::Pallet(sscc);
    }
    if let Ok(code) = parse_code(text)
        && let Some(serial) = code.serial_number()
    {
        return Scanned::Code(SignedCode {
            code: CodeId {
                gtin: code.gtin,
                serial,
            },
            signature: code.signature.unwrap_or_default(),
        });
    }
    if let Ok(link) = DigitalLink::parse(text)
        && let PrimaryKey::Sscc(sscc) = link.key
    {
        return Scanned::Pallet(sscc);
    }
    Scanned::Unreadable
}

/// What a gate entry stands for: the pallet it was (if one) and its codes, or the verdict on
/// the entry itself.
pub type GateCodes = Result<(Option<Sscc>, Vec<SignedCode>), GateVerdict>;

/// The codes a gate entry stands for: one code, or every code of a pallet. `Err` is a verdict
/// for the entry itself (nothing, unreadable, unknown pallet).
pub fn gate_codes<R: StateReader + ?Sized>(
    reader: &R,
    item: &GateItem,
) -> Result<GateCodes, Missing> {
    let verdict = |reason| GateVerdict {
        code: None,
        pallet: None,
        issuer: None,
        shipper: None,
        reasons: vec![reason],
        mismatches: Vec::new(),
    };
    Ok(match parse_scanned(&item.scanned) {
        Scanned::Nothing => Err(verdict(GateReason::NoCode)),
        Scanned::Unreadable => Err(verdict(GateReason::CodeUnreadable)),
        Scanned::Code(code) => Ok((None, vec![code])),
        Scanned::Pallet(sscc) => match get::<Pallet, _>(reader, &StateKey::Pallet(sscc))? {
            Some(pallet) => Ok((Some(sscc), pallet.codes)),
            None => Err(GateVerdict {
                pallet: Some(sscc),
                ..verdict(GateReason::UnknownPallet)
            }),
        },
    })
}

/// The gate's verdict on one code arriving at `gate` at `now_s` (unix seconds), with the
/// attributes the dock measured. Every applicable reason is listed. `verify` checks the code's
/// signature against its batch (the executor caches it).
pub fn gate_check<R: StateReader + ?Sized>(
    reader: &R,
    gate: &OrgId,
    code: &SignedCode,
    observed: &[Attribute],
    now_s: u64,
    verify: &mut dyn FnMut(&Batch, &SignedCode) -> bool,
) -> Result<GateVerdict, Missing> {
    let mut verdict = GateVerdict {
        code: Some(code.code),
        pallet: None,
        issuer: None,
        shipper: None,
        reasons: Vec::new(),
        mismatches: Vec::new(),
    };
    let batch = match read::check_code_with(reader, code, verify)? {
        CodeCheck::NotIssued => {
            verdict.reasons.push(GateReason::CodeNotIssued);
            return Ok(verdict);
        }
        CodeCheck::SignatureInvalid { batch } => {
            verdict.issuer = Some(batch.org);
            verdict.reasons.push(GateReason::CodeForged);
            return Ok(verdict);
        }
        CodeCheck::Genuine { batch, voided } => {
            if voided {
                verdict.reasons.push(GateReason::CodeVoided);
            }
            batch
        }
    };
    verdict.issuer = Some(batch.org.clone());
    let state = read::code_state(reader, &code.code)?;
    // Custody: shipped to this gate by the issuer or one of its channels in force.
    let shipper = state
        .as_ref()
        .filter(|s| s.status == CodeStatus::InTransit && s.in_transit_to.as_ref() == Some(gate))
        .map(|s| s.custodian.clone().unwrap_or_else(|| s.brand.clone()));
    verdict.shipper = shipper.clone();
    match &state {
        Some(s) if s.parent.is_some() => verdict.reasons.push(GateReason::AlreadyInstalled),
        Some(s) if s.custodian.as_ref() == Some(gate) => {
            verdict.reasons.push(GateReason::AlreadyReceived)
        }
        Some(s) if matches!(s.status, CodeStatus::Sold | CodeStatus::Owned) => {
            verdict.reasons.push(GateReason::CodeRetired)
        }
        Some(s) if matches!(s.status, CodeStatus::Retired(how) if how != Retirement::Installed) => {
            verdict.reasons.push(GateReason::CodeRetired)
        }
        _ => {}
    }
    let custody_ok = match &shipper {
        None => false,
        Some(s) if *s == batch.org => true,
        Some(s) => read::channel_grants(reader, &batch.org, s)?.is_some_and(|g| {
            read::grants_in_force(&g, &code.code.gtin, now_s)
                .next()
                .is_some()
        }),
    };
    if !custody_ok && !verdict.reasons.contains(&GateReason::AlreadyReceived) {
        verdict.reasons.push(GateReason::CustodyBroken);
    }
    // The supplier: the issuer, or the reseller that shipped it, authorised for this part type.
    let mut auth = supplier_auth(reader, gate, &code.code.gtin, &batch.org, now_s)?;
    if auth.is_none()
        && let Some(s) = &shipper
        && *s != batch.org
    {
        auth = supplier_auth(reader, gate, &code.code.gtin, s, now_s)?;
    }
    match &auth {
        None => verdict.reasons.push(GateReason::SupplierNotAuthorised),
        Some(auth) => {
            let lot: Option<LotEntry> =
                get(reader, &StateKey::Lot(code.code.gtin, batch.lot.clone()))?;
            let mismatches = spec_mismatches(auth, lot.as_ref(), observed);
            if !mismatches.is_empty() {
                verdict.reasons.push(GateReason::SpecMismatch);
                verdict.mismatches = mismatches;
            }
        }
    }
    if let Some(s) = &state
        && recalled_within(reader, s)?.is_some()
    {
        verdict.reasons.push(GateReason::Recalled);
    } else if state.is_none()
        && !recalls_on(reader, &code.code.gtin, &batch.lot, &batch.org)?.is_empty()
    {
        // A code without state has no parts: only its own recalls apply.
        verdict.reasons.push(GateReason::Recalled);
    }
    verdict.reasons.sort_unstable();
    verdict.reasons.dedup();
    Ok(verdict)
}

/// The supplier authorisation of `supplier` by `manufacturer` for `part`, if in force.
pub fn supplier_auth<R: StateReader + ?Sized>(
    reader: &R,
    manufacturer: &OrgId,
    part: &Gtin,
    supplier: &OrgId,
    now_s: u64,
) -> Result<Option<SupplierAuthorisation>, Missing> {
    let auth: Option<SupplierAuthorisation> = get(
        reader,
        &StateKey::SupplierAuth(manufacturer.clone(), *part, supplier.clone()),
    )?;
    Ok(auth.filter(|a| a.in_force(now_s)))
}

/// The rules of `auth`'s specification that the lot's record or the measured attributes
/// break. A measured value overrides the lot's for the same attribute; both are checked, so
/// a part that differs from its own lot's record is caught even when the record is in spec.
fn spec_mismatches(
    auth: &SupplierAuthorisation,
    lot: Option<&LotEntry>,
    observed: &[Attribute],
) -> Vec<SpecMismatch> {
    let recorded: &[Attribute] = lot.map_or(&[], |l| &l.record.attributes);
    let mut effective: Vec<Attribute> = recorded.to_vec();
    for o in observed {
        match effective.iter_mut().find(|a| a.name == o.name) {
            Some(a) => a.value = o.value.clone(),
            None => effective.push(o.clone()),
        }
    }
    let mut out = auth.spec.mismatches(&effective);
    for m in auth.spec.mismatches(recorded) {
        if !out.iter().any(|o| o.name == m.name) {
            out.push(m);
        }
    }
    out
}

/// One code in a backward trace, with its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceNode {
    pub state: CodeState,
    /// The lot's technical record, if its issuer recorded one.
    pub lot: Option<LotEntry>,
    pub parts: Vec<TraceNode>,
}

/// Backward trace: `code` and every part in it, at every depth, with lots and issuers. At
/// most [`MAX_TRACE_NODES`] codes; the flag says whether it stopped short.
pub fn trace_back<R: StateReader + ?Sized>(
    reader: &R,
    code: &CodeId,
) -> Result<Option<(TraceNode, bool)>, Missing> {
    let Some(state) = read::code_state(reader, code)? else {
        return Ok(None);
    };
    let mut budget = MAX_TRACE_NODES;
    let node = back(reader, state, 0, &mut budget)?;
    Ok(Some((node, budget == 0)))
}

fn back<R: StateReader + ?Sized>(
    reader: &R,
    state: CodeState,
    depth: usize,
    budget: &mut usize,
) -> Result<TraceNode, Missing> {
    *budget = budget.saturating_sub(1);
    let lot = get(reader, &StateKey::Lot(state.code.gtin, state.lot.clone()))?;
    let mut parts = Vec::with_capacity(state.parts.len());
    if depth < MAX_ASSEMBLY_DEPTH {
        for part in &state.parts {
            if *budget == 0 {
                break;
            }
            if let Some(child) = read::code_state(reader, part)? {
                parts.push(back(reader, child, depth + 1, budget)?);
            }
        }
    }
    Ok(TraceNode { state, lot, parts })
}

/// Forward trace: the items that contain, at any depth, a code of `scope`, or are such a code
/// (a finished item, or a part in stock), in code order. It visits every serial of the
/// scope's lots (a code gets state with its first event), at most [`MAX_TRACE_NODES`]; the
/// flag says whether it stopped short.
pub fn trace_forward<R: StateReader + ?Sized>(
    reader: &R,
    scope: &RecallScope,
) -> Result<(Vec<CodeState>, bool), Missing> {
    let lots = lots_in(reader, scope)?;
    // Every code of each lot that has state, and the item it is in now.
    let mut roots = BTreeSet::new();
    let mut out = Vec::new();
    let mut visited = 0usize;
    for (gtin, lot) in lots {
        let Some(batch) = get::<Batch, _>(reader, &StateKey::Batch(gtin, lot))? else {
            continue;
        };
        for serial in batch.first_serial..batch.first_serial.saturating_add(batch.count) {
            visited += 1;
            if visited > MAX_TRACE_NODES {
                out.sort_by_key(|s: &CodeState| s.code);
                return Ok((out, true));
            }
            let Some(state) = read::code_state(reader, &CodeId { gtin, serial })? else {
                continue;
            };
            let root = root_of(reader, state)?;
            if roots.insert(root.code) {
                out.push(root);
            }
        }
    }
    out.sort_by_key(|s| s.code);
    Ok((out, false))
}

/// The lots a scope covers: one lot, a product's lots, or the lots of every product of an
/// issuer, in order.
pub fn lots_in<R: StateReader + ?Sized>(
    reader: &R,
    scope: &RecallScope,
) -> Result<Vec<(Gtin, String)>, Missing> {
    let mut lots: Vec<(Gtin, String)> = Vec::new();
    match scope {
        RecallScope::Lot { gtin, lot } => lots.push((*gtin, lot.clone())),
        RecallScope::Product(gtin) => lots_of(reader, gtin, &mut lots)?,
        RecallScope::Issuer(org) => {
            for page in 0.. {
                let products: Option<ProductPage> =
                    get(reader, &StateKey::OrgProducts(org.clone(), page))?;
                let Some(products) = products else { break };
                for gtin in &products.0 {
                    lots_of(reader, gtin, &mut lots)?;
                }
                if (products.0.len() as u64) < PAGE_LEN {
                    break;
                }
            }
        }
    }
    Ok(lots)
}

/// The lots of `gtin`, in serial order.
fn lots_of<R: StateReader + ?Sized>(
    reader: &R,
    gtin: &Gtin,
    lots: &mut Vec<(Gtin, String)>,
) -> Result<(), Missing> {
    let ranges: SerialRanges = get(reader, &StateKey::SerialRanges(*gtin))?.unwrap_or_default();
    for range in ranges.0 {
        if !lots.iter().any(|(g, l)| g == gtin && *l == range.lot) {
            lots.push((*gtin, range.lot));
        }
    }
    Ok(())
}

/// A recall's progress over the items it affects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecallProgress {
    /// Items affected.
    pub affected: u64,
    /// Held by the issuer, a manufacturer or a channel: located.
    pub located: u64,
    /// In the hands of consumers (sold or owned).
    pub with_consumers: u64,
    /// Back with their brand after the recall began.
    pub returned: u64,
    /// Destroyed or decommissioned.
    pub destroyed: u64,
    /// Shipped and not yet received.
    pub in_transit: u64,
}

/// How far `recall` has come: the items of its forward trace by where they are now.
pub fn recall_progress(recall: &Recall, items: &[CodeState]) -> RecallProgress {
    let mut p = RecallProgress {
        affected: items.len() as u64,
        ..Default::default()
    };
    for item in items {
        let returned = item.custodian.as_ref() == Some(&item.brand)
            && item
                .last_event_at
                .is_some_and(|at| at.height >= recall.started_at.height);
        match item.status {
            CodeStatus::Retired(Retirement::Destroyed | Retirement::Decommissioned) => {
                p.destroyed += 1
            }
            CodeStatus::Sold | CodeStatus::Owned => p.with_consumers += 1,
            CodeStatus::InTransit => p.in_transit += 1,
            _ if returned => p.returned += 1,
            _ => p.located += 1,
        }
    }
    p
}

/// An organisation's gate log: how many entries it has, and the entries from `start`, at
/// most `limit`, oldest first.
pub fn gate_log<R: StateReader + ?Sized>(
    reader: &R,
    org: &OrgId,
    start: u64,
    limit: u64,
) -> Result<(u64, Vec<GateEntry>), Missing> {
    let total = get::<Count, _>(reader, &StateKey::GateCount(org.clone()))?.map_or(0, |c| c.0);
    let end = start.saturating_add(limit).min(total);
    let mut out = Vec::new();
    let mut index = start;
    while index < end {
        let page = list_page_of(index);
        let entries: GatePage =
            get(reader, &StateKey::GateLog(org.clone(), page))?.unwrap_or_default();
        let first = u64::from(page) * LIST_PAGE_LEN;
        let before = out.len();
        out.extend(
            entries
                .0
                .into_iter()
                .skip((index - first) as usize)
                .take((end - index) as usize),
        );
        if out.len() == before {
            break; // a page shorter than the count says: stop rather than loop
        }
        index += (out.len() - before) as u64;
    }
    Ok((total, out))
}
