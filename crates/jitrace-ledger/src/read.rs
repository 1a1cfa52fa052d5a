//! Read helpers over a [`StateReader`]: what the API and the rules both need to know about
//! codes, channels and tickets. Each answers from state alone (no clock: callers pass the
//! time where it matters) and returns [`Missing`] like the executor does.

use crate::{
    Missing, StateReader, decode,
    state::{
        Batch, ChannelGrant, ChannelGrants, CodeEventRecord, CodeState, Count, MAX_EVENTS_PER_CODE,
        OrgIndex, Params, Record, SerialRanges, StateKey, Ticket, VoidedRanges,
    },
};
use jitrace_types::{
    Gtin, Hash, OrgId, Payload, Transaction,
    code::verify_code,
    tx::{CodeAction, CodeId, SignedCode},
};

fn read<T: Record, R: StateReader + ?Sized>(
    reader: &R,
    key: &StateKey,
) -> Result<Option<T>, Missing> {
    Ok(reader.get(key)?.map(|bytes| decode(&bytes)))
}

/// The chain's parameters (`None` before genesis).
pub fn params<R: StateReader + ?Sized>(reader: &R) -> Result<Option<Params>, Missing> {
    read(reader, &StateKey::Params)
}

/// A code's state: `None` until its first event or scan.
pub fn code_state<R: StateReader + ?Sized>(
    reader: &R,
    code: &CodeId,
) -> Result<Option<CodeState>, Missing> {
    read(reader, &StateKey::Code(*code))
}

/// Up to `limit` events of a code from index `start`, oldest first (the path). `limit` is
/// capped at [`MAX_EVENTS_PER_CODE`].
pub fn code_events<R: StateReader + ?Sized>(
    reader: &R,
    code: &CodeId,
    start: u32,
    limit: u32,
) -> Result<Vec<CodeEventRecord>, Missing> {
    let Some(state) = code_state(reader, code)? else {
        return Ok(Vec::new());
    };
    let end = start
        .saturating_add(limit.min(MAX_EVENTS_PER_CODE))
        .min(state.event_count);
    let mut events = Vec::with_capacity(end.saturating_sub(start) as usize);
    for index in start..end {
        if let Some(event) = read(reader, &StateKey::CodeEvent(*code, index))? {
            events.push(event);
        }
    }
    Ok(events)
}

/// What the chain says of a printed code's authenticity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The serial lies in no batch of the product.
    NotIssued,
    /// The signature is malformed or not the batch's code-signing key's: a forgery.
    SignatureInvalid { batch: Batch },
    /// A genuine code of `batch`; `voided` when its brand voided it.
    Genuine { batch: Batch, voided: bool },
}

/// The batch holding `code`, if it was issued.
pub fn batch_of<R: StateReader + ?Sized>(
    reader: &R,
    code: &CodeId,
) -> Result<Option<Batch>, Missing> {
    let ranges: SerialRanges =
        read(reader, &StateKey::SerialRanges(code.gtin))?.unwrap_or_default();
    let Some(range) = ranges.find(code.serial) else {
        return Ok(None);
    };
    read(reader, &StateKey::Batch(code.gtin, range.lot.clone()))
}

/// Whether `serial` of `batch` is voided.
pub fn is_voided<R: StateReader + ?Sized>(
    reader: &R,
    batch: &Batch,
    serial: u64,
) -> Result<bool, Missing> {
    let voided: Option<VoidedRanges> = read(
        reader,
        &StateKey::VoidedCodes(batch.gtin, batch.lot.clone()),
    )?;
    Ok(voided.is_some_and(|v| v.contains(serial)))
}

/// Checks a printed code: issued, signed by its batch's code-signing key for this chain, and
/// whether it was voided.
pub fn check_code<R: StateReader + ?Sized>(
    reader: &R,
    chain_id: &str,
    code: &SignedCode,
) -> Result<CodeCheck, Missing> {
    check_code_with(reader, code, &mut |batch, code| {
        signature_valid(chain_id, batch, code)
    })
}

/// [`check_code`] with a caller-supplied signature check (the executor and the API remember
/// results).
pub fn check_code_with<R: StateReader + ?Sized>(
    reader: &R,
    code: &SignedCode,
    verify: &mut dyn FnMut(&Batch, &SignedCode) -> bool,
) -> Result<CodeCheck, Missing> {
    let Some(batch) = batch_of(reader, &code.code)? else {
        return Ok(CodeCheck::NotIssued);
    };
    if !verify(&batch, code) {
        return Ok(CodeCheck::SignatureInvalid { batch });
    }
    let voided = is_voided(reader, &batch, code.code.serial)?;
    Ok(CodeCheck::Genuine { batch, voided })
}

/// Whether `code`'s signature is `batch`'s code-signing key's over this chain, GTIN and serial.
pub fn signature_valid(chain_id: &str, batch: &Batch, code: &SignedCode) -> bool {
    verify_code(
        &batch.code_key,
        chain_id,
        &code.code.gtin,
        &code.code.serial_text(),
        &code.signature,
    )
    .is_ok()
}

/// The grants `brand` gave `channel`.
pub fn channel_grants<R: StateReader + ?Sized>(
    reader: &R,
    brand: &OrgId,
    channel: &OrgId,
) -> Result<Option<ChannelGrants>, Missing> {
    read(
        reader,
        &StateKey::ChannelGrants(brand.clone(), channel.clone()),
    )
}

/// How many channel organisations `brand` has authorised.
pub fn channel_count<R: StateReader + ?Sized>(reader: &R, brand: &OrgId) -> Result<u64, Missing> {
    Ok(
        read::<Count, _>(reader, &StateKey::BrandChannelCount(brand.clone()))?
            .unwrap_or_default()
            .0,
    )
}

/// The channel authorisations of `brand` on page `page` (`state::PAGE_LEN` channel
/// organisations a page, in order of their first grant), with every grant of each.
pub fn channel_authorisations<R: StateReader + ?Sized>(
    reader: &R,
    brand: &OrgId,
    page: u32,
) -> Result<Vec<ChannelGrants>, Missing> {
    let channels: OrgIndex =
        read(reader, &StateKey::BrandChannels(brand.clone(), page))?.unwrap_or_default();
    let mut out = Vec::with_capacity(channels.0.len());
    for channel in &channels.0 {
        if let Some(grants) = channel_grants(reader, brand, channel)? {
            out.push(grants);
        }
    }
    Ok(out)
}

/// The grants of `channel` from `brand` in force at `now_s` (unix seconds) for `gtin`.
pub fn grants_in_force<'g>(
    grants: &'g ChannelGrants,
    gtin: &Gtin,
    now_s: u64,
) -> impl Iterator<Item = &'g ChannelGrant> {
    grants
        .grants
        .iter()
        .filter(move |g| g.covers_product(gtin) && g.in_force(now_s))
}

/// A ticket by its hash.
pub fn ticket<R: StateReader + ?Sized>(reader: &R, hash: &Hash) -> Result<Option<Ticket>, Missing> {
    read(reader, &StateKey::Ticket(*hash))
}

/// Keys a transaction will likely read, beyond its receipt and signer's account: a caller
/// with an asynchronous store can fetch them in one round trip before executing, instead of
/// one [`Missing`] at a time. A hint only: the executor still asks for anything else.
pub fn likely_reads(tx: &Transaction) -> Vec<StateKey> {
    let code_keys = |code: &CodeId, keys: &mut Vec<StateKey>| {
        keys.push(StateKey::SerialRanges(code.gtin));
        keys.push(StateKey::Code(*code));
    };
    let mut keys = Vec::new();
    match &tx.payload {
        Payload::RecordCodeEvent(event) => {
            code_keys(&event.code.code, &mut keys);
            keys.push(StateKey::Org(event.org.clone()));
            if let CodeAction::Ship { to } | CodeAction::TransferCustody { to } = &event.action {
                keys.push(StateKey::Org(to.clone()));
            }
        }
        Payload::RecordScans { scans } => {
            for scan in scans {
                code_keys(&scan.code.code, &mut keys);
            }
        }
        Payload::RedeemTicket { code, .. }
        | Payload::IssueTransferTicket { code, .. }
        | Payload::CancelTicket { code }
        | Payload::ReportStolen { code }
        | Payload::ClearStolen { code } => keys.push(StateKey::Code(*code)),
        Payload::RegisterProduct(info) | Payload::UpdateProduct(info) => {
            keys.push(StateKey::Product(info.gtin));
            keys.push(StateKey::Org(info.org.clone()));
        }
        _ => {}
    }
    keys.sort();
    keys.dedup();
    keys
}
