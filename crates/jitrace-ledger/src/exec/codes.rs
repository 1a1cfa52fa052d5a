//! The life of a product code: events (custody, sale), voiding, ownership and scans.
//!
//! A code has no state until its first event (or scan), and only a genuine code can get one:
//! every event and scan carries the code's signature, checked against its batch's
//! code-signing key. Custody moves only by a ship/receive pair or an explicit transfer by the
//! custodian; ownership only by the sale or a one-time ticket.

use super::{Failure, Reject, RuleResult, TxState, reject};
use crate::{
    Reason, StateReader,
    clones::{self, CloneContext},
    geo,
    read::{self, CodeCheck},
    state::{
        Batch, BuyerKind, ChannelGrant, CloneSuspicion, CodeEventKind, CodeEventRecord, CodeFlags,
        CodeState, CodeStatus, MAX_EVENTS_PER_CODE, MAX_VOIDED_RANGES, PendingTicket, Product,
        Retirement, SaleRecord, ScanPoint, ScanSummary, SerialRanges, StateKey, Ticket, TicketKind,
        TicketState, VoidedRanges,
    },
};
use jitrace_types::{
    Hash, OrgId, PublicKey, Signature,
    keys::domain,
    tx::{
        Buyer, CodeAction, CodeEvent, CodeId, Disposition, Place, Scan, SignedCode, VoidCodes,
        redeem_message, ticket_id,
    },
};

impl<R: StateReader> TxState<'_, '_, R> {
    /// The batch of a genuine code; rejects a code that was never issued or whose signature is
    /// not its batch's key's. `what` names the code in messages.
    pub(super) fn genuine(
        &self,
        chain_id: &str,
        code: &SignedCode,
        what: &str,
    ) -> RuleResult<(Batch, bool)> {
        let mut verify = |batch: &Batch, code: &SignedCode| {
            let key = (batch.code_key, code.code, code.signature.clone());
            if let Some(known) = self.exec.code_checks.borrow().get(&key) {
                return *known;
            }
            let valid = read::signature_valid(chain_id, batch, code);
            self.exec.code_checks.borrow_mut().insert(key, valid);
            valid
        };
        match read::check_code_with(self, code, &mut verify)? {
            CodeCheck::NotIssued => reject(
                Reason::CodeNotIssued,
                format!(
                    "{what}: serial {} of GTIN {} is in no issued batch",
                    code.code.serial, code.code.gtin
                ),
            ),
            CodeCheck::SignatureInvalid { batch } => reject(
                Reason::CodeSignatureInvalid,
                format!(
                    "{what}: the signature is not {}'s code-signing key's for lot {}",
                    batch.org, batch.lot
                ),
            ),
            CodeCheck::Genuine { batch, voided } => Ok((batch, voided)),
        }
    }

    pub(super) fn chain_id(&self) -> RuleResult<String> {
        Ok(self.params()?.chain_id)
    }

    /// A new state for a code of `batch` that had none.
    pub(super) fn fresh_code(&self, code: CodeId, batch: &Batch) -> CodeState {
        CodeState {
            code,
            lot: batch.lot.clone(),
            brand: batch.org.clone(),
            status: CodeStatus::Issued,
            custodian: None,
            in_transit_to: None,
            owner: None,
            owner_device: None,
            ticket: None,
            sale: None,
            flags: CodeFlags::default(),
            clone: None,
            last_place: None,
            last_event_at: None,
            event_count: 0,
            scans: ScanSummary::default(),
            created_at: self.stamp,
            parent: None,
            parts: Vec::new(),
            height: 0,
        }
    }

    /// Appends an event to the code's log and updates its latest place and time.
    pub(super) fn log_event(
        &mut self,
        state: &mut CodeState,
        signer: PublicKey,
        org: Option<OrgId>,
        kind: CodeEventKind,
        action: Option<&CodeAction>,
        place: Option<&Place>,
    ) -> RuleResult<()> {
        if state.event_count >= MAX_EVENTS_PER_CODE {
            return reject(
                Reason::LimitReached,
                format!("the code has {MAX_EVENTS_PER_CODE} events, the most one code may have"),
            );
        }
        let place = place.filter(|p| **p != Place::default()).cloned();
        let disposition = match (&kind, action) {
            (CodeEventKind::ReportedStolen, _) => Some(Disposition::Stolen),
            (_, Some(action)) => Some(action.disposition()),
            _ => None,
        };
        let record = CodeEventRecord {
            index: state.event_count,
            at: self.stamp,
            tx: self.tx_hash,
            signer,
            org,
            kind,
            biz_step: action.map(CodeAction::biz_step),
            disposition,
            place: place.clone(),
        };
        self.put(StateKey::CodeEvent(state.code, state.event_count), &record);
        state.event_count += 1;
        state.last_event_at = Some(self.stamp);
        if place.is_some() {
            state.last_place = place;
        }
        Ok(())
    }

    pub(super) fn record_code_event(
        &mut self,
        signer: PublicKey,
        event: &CodeEvent,
    ) -> RuleResult<()> {
        let chain_id = self.chain_id()?;
        let code = event.code.code;
        let (batch, voided) = self.genuine(&chain_id, &event.code, "the code")?;
        if voided {
            return reject(
                Reason::CodeVoided,
                format!(
                    "{} voided serial {} of lot {}",
                    batch.org, code.serial, batch.lot
                ),
            );
        }
        self.require_member(signer, &event.org)?;
        check_place(&event.action, &event.place)?;
        let mut state = match self.get::<CodeState>(&StateKey::Code(code))? {
            Some(state) => state,
            None => self.fresh_code(code, &batch),
        };
        let org = &event.org;
        let brand = state.brand.clone();
        let place = &event.place;
        let kind = match state.status {
            CodeStatus::Retired(how) => {
                return reject(
                    Reason::CodeRetired,
                    format!("the item was {}", retirement(how)),
                );
            }
            CodeStatus::Sold | CodeStatus::Owned => {
                return reject(
                    Reason::AlreadySold,
                    "the item was sold: its custody events are over",
                );
            }
            CodeStatus::Issued => {
                if !matches!(event.action, CodeAction::Commission | CodeAction::Pack) {
                    return reject(
                        Reason::CodeNotCommissioned,
                        "the item's first event must be its brand's commissioning or packing",
                    );
                }
                if org != &brand {
                    return reject(
                        Reason::NotCustodian,
                        format!("only {brand} commissions its codes"),
                    );
                }
                state.status = CodeStatus::Active;
                state.custodian = Some(brand.clone());
                match event.action {
                    CodeAction::Pack => CodeEventKind::Packed,
                    _ => CodeEventKind::Commissioned,
                }
            }
            CodeStatus::Active
            | CodeStatus::InChannel
            | CodeStatus::InTransit
            | CodeStatus::InStock => self.custody_event(&mut state, org, &event.action, place)?,
        };
        self.log_event(
            &mut state,
            signer,
            Some(org.clone()),
            kind,
            Some(&event.action),
            Some(place),
        )?;
        self.put(StateKey::Code(code), &state);
        Ok(())
    }

    /// An event on a commissioned, unsold item: applies it to `state` and says what happened.
    fn custody_event(
        &mut self,
        state: &mut CodeState,
        org: &OrgId,
        action: &CodeAction,
        place: &Place,
    ) -> RuleResult<CodeEventKind> {
        let brand = state.brand.clone();
        let gtin = state.code.gtin;
        Ok(match action {
            CodeAction::Commission => {
                return reject(
                    Reason::AlreadyCommissioned,
                    "the item was commissioned already",
                );
            }
            CodeAction::Receive => {
                if state.status != CodeStatus::InTransit
                    || state.in_transit_to.as_ref() != Some(org)
                {
                    let detail = match &state.in_transit_to {
                        Some(to) => format!("the item is in transit to {to}, not to {org}"),
                        None => "the item is not in transit".to_string(),
                    };
                    return reject(Reason::NotInTransitToYou, detail);
                }
                if org != &brand {
                    self.channel_standing(&brand, org, &gtin)?;
                }
                let from = state
                    .custodian
                    .replace(org.clone())
                    .unwrap_or(brand.clone());
                state.in_transit_to = None;
                state.status = held_by(&brand, org);
                CodeEventKind::Received { from }
            }
            CodeAction::Pack => {
                self.require_custody(state, org, action)?;
                CodeEventKind::Packed
            }
            CodeAction::Store => {
                self.require_custody(state, org, action)?;
                CodeEventKind::Stored
            }
            CodeAction::Ship { to } => {
                self.require_custody(state, org, action)?;
                self.require_org(to)?;
                state.status = CodeStatus::InTransit;
                state.in_transit_to = Some(to.clone());
                CodeEventKind::Shipped { to: to.clone() }
            }
            CodeAction::TransferCustody { to } => {
                self.require_custody(state, org, action)?;
                self.require_org(to)?;
                if to != &brand {
                    self.channel_standing(&brand, to, &gtin)?;
                }
                state.custodian = Some(to.clone());
                state.status = held_by(&brand, to);
                CodeEventKind::CustodyTransferred { to: to.clone() }
            }
            CodeAction::Sell { buyer } => {
                let standing = self.require_custody(state, org, action)?;
                self.sell(state, org, standing, place, buyer)?
            }
            CodeAction::Destroy => {
                self.require_custody(state, org, action)?;
                state.status = CodeStatus::Retired(Retirement::Destroyed);
                CodeEventKind::Destroyed
            }
            CodeAction::Decommission => {
                self.require_custody(state, org, action)?;
                state.status = CodeStatus::Retired(Retirement::Decommissioned);
                CodeEventKind::Decommissioned
            }
        })
    }

    /// Checks that `org` holds the item and may act on it now: not in transit (except to
    /// redirect the shipment), and, unless it is the brand, under a grant in force for the
    /// product. Returns those grants (`None` for the brand).
    fn require_custody(
        &self,
        state: &CodeState,
        org: &OrgId,
        action: &CodeAction,
    ) -> RuleResult<Option<Vec<ChannelGrant>>> {
        let brand = &state.brand;
        let custodian = state.custodian.as_ref().unwrap_or(brand);
        if org != custodian {
            return reject(
                Reason::NotCustodian,
                format!("{custodian} holds the item, not {org}"),
            );
        }
        if state.status == CodeStatus::InTransit && !matches!(action, CodeAction::Ship { .. }) {
            let to = state.in_transit_to.as_ref().unwrap_or(brand);
            return reject(
                Reason::CodeInTransit,
                format!("the item is in transit to {to}: it can only be received or redirected"),
            );
        }
        // The brand, and a manufacturer whose gate accepted the part, need no channel grant.
        if org == brand || state.status == CodeStatus::InStock {
            return Ok(None);
        }
        self.channel_standing(brand, org, &state.code.gtin)
            .map(Some)
    }

    /// A retail sale by the custodian `seller`, with its grants in force (`None` for the brand
    /// itself). A sale outside every selling grant's territory or geofence is recorded and
    /// flagged grey market: the ledger keeps the evidence.
    fn sell(
        &mut self,
        state: &mut CodeState,
        seller: &OrgId,
        standing: Option<Vec<ChannelGrant>>,
        place: &Place,
        buyer: &Buyer,
    ) -> RuleResult<CodeEventKind> {
        let (Some(region), Some(city)) = (&place.region, &place.city) else {
            return reject(Reason::BadLocation, "a sale needs its city and region");
        };
        let grey_market = match standing {
            None => false,
            Some(grants) => {
                let selling: Vec<_> = grants.iter().filter(|g| g.role.may_sell()).collect();
                if selling.is_empty() {
                    return reject(
                        Reason::ChannelNotAuthorised,
                        format!(
                            "{seller}'s grants from {} for GTIN {} do not allow selling",
                            state.brand, state.code.gtin
                        ),
                    );
                }
                !selling.iter().any(|g| g.covers_place(region, place.point))
            }
        };
        let buyer_kind = match buyer {
            Buyer::Anonymous => {
                state.status = CodeStatus::Sold;
                BuyerKind::Anonymous
            }
            Buyer::Owner(key) => {
                state.status = CodeStatus::Owned;
                state.owner = Some(*key);
                BuyerKind::Owner(*key)
            }
            Buyer::ClaimTicket(key) => {
                self.new_ticket(state, *key, TicketKind::Claim)?;
                state.status = CodeStatus::Sold;
                BuyerKind::ClaimTicket
            }
        };
        state.custodian = None;
        state.in_transit_to = None;
        state.flags.grey_market |= grey_market;
        state.sale = Some(SaleRecord {
            seller: seller.clone(),
            city: city.clone(),
            region: region.clone(),
            point: place.point,
            at: self.stamp,
            grey_market,
        });
        Ok(CodeEventKind::Sold {
            buyer: buyer_kind,
            grey_market,
        })
    }

    /// Records a new pending ticket for `state`'s code, cancelling the one it replaces.
    fn new_ticket(
        &mut self,
        state: &mut CodeState,
        key: PublicKey,
        kind: TicketKind,
    ) -> RuleResult<()> {
        let hash = ticket_id(&state.code, &key);
        if self.get::<Ticket>(&StateKey::Ticket(hash))?.is_some() {
            return reject(
                Reason::TicketInvalid,
                "this ticket key was used for the item already: use a fresh secret",
            );
        }
        self.cancel_pending(state)?;
        self.put(
            StateKey::Ticket(hash),
            &Ticket {
                code: state.code,
                kind,
                issued_at: self.stamp,
                state: TicketState::Pending,
            },
        );
        state.ticket = Some(PendingTicket {
            hash,
            kind,
            issued_at: self.stamp,
        });
        Ok(())
    }

    fn cancel_pending(&mut self, state: &mut CodeState) -> RuleResult<()> {
        if let Some(pending) = state.ticket.take()
            && let Some(mut ticket) = self.get::<Ticket>(&StateKey::Ticket(pending.hash))?
        {
            ticket.state = TicketState::Cancelled { at: self.stamp };
            self.put(StateKey::Ticket(pending.hash), &ticket);
        }
        Ok(())
    }

    pub(super) fn void_codes(&mut self, signer: PublicKey, void: &VoidCodes) -> RuleResult<()> {
        self.require_issuer(signer, &void.org)?;
        let Some(product) = self.get::<Product>(&StateKey::Product(void.gtin))? else {
            return reject(
                Reason::UnknownProduct,
                format!("GTIN {} is not registered", void.gtin),
            );
        };
        if product.info.org != void.org {
            return reject(
                Reason::ProductWrongOrg,
                format!("GTIN {} belongs to {}", void.gtin, product.info.org),
            );
        }
        let ranges = self
            .get::<SerialRanges>(&StateKey::SerialRanges(void.gtin))?
            .unwrap_or_default();
        let end = void.first_serial.saturating_add(void.count);
        let Some(range) = ranges.find(void.first_serial).filter(|r| end <= r.end()) else {
            return reject(
                Reason::CodeNotIssued,
                format!(
                    "serials {}..{end} of GTIN {} are not all in one issued batch",
                    void.first_serial, void.gtin
                ),
            );
        };
        let key = StateKey::VoidedCodes(void.gtin, range.lot.clone());
        let mut voided = self.get::<VoidedRanges>(&key)?.unwrap_or_default();
        if voided.covers(void.first_serial, void.count) {
            return reject(
                Reason::CodeVoided,
                format!(
                    "serials {}..{end} of lot {} are voided already",
                    void.first_serial, range.lot
                ),
            );
        }
        voided.add(void.first_serial, void.count);
        if voided.0.len() > MAX_VOIDED_RANGES {
            return reject(
                Reason::LimitReached,
                format!(
                    "lot {} would have more than {MAX_VOIDED_RANGES} separate voided ranges",
                    range.lot
                ),
            );
        }
        self.put(key, &voided);
        Ok(())
    }

    /// The state of a code the signer acts on as its owner.
    fn owned_code(&self, signer: PublicKey, code: &CodeId) -> RuleResult<CodeState> {
        let Some(state) = self.get::<CodeState>(&StateKey::Code(*code))? else {
            return reject(
                Reason::UnknownCode,
                format!(
                    "no event ever named serial {} of GTIN {}",
                    code.serial, code.gtin
                ),
            );
        };
        if state.owner != Some(signer) {
            return reject(Reason::NotOwner, "the signer does not own the item");
        }
        Ok(state)
    }

    pub(super) fn redeem_ticket(
        &mut self,
        signer: PublicKey,
        code: &CodeId,
        key: &PublicKey,
        proof: &Signature,
        device: Option<Hash>,
    ) -> RuleResult<()> {
        if !key.verify(
            domain::TICKET,
            &redeem_message(code, &signer, device.as_ref()),
            proof,
        ) {
            return reject(
                Reason::TicketInvalid,
                "the ticket proof is not the ticket key's signature for this item, owner and device",
            );
        }
        let hash = ticket_id(code, key);
        let Some(mut ticket) = self.get::<Ticket>(&StateKey::Ticket(hash))? else {
            return reject(
                Reason::TicketInvalid,
                "no ticket has this key for this item",
            );
        };
        match ticket.state {
            TicketState::Pending => {}
            TicketState::Redeemed { at, .. } => {
                return reject(
                    Reason::TicketUsed,
                    format!("the ticket was redeemed at height {}", at.height),
                );
            }
            TicketState::Cancelled { at } => {
                return reject(
                    Reason::TicketInvalid,
                    format!("the ticket was cancelled at height {}", at.height),
                );
            }
        }
        let mut state = self
            .get::<CodeState>(&StateKey::Code(*code))?
            .filter(|s| ticket.code == *code && s.ticket.is_some_and(|t| t.hash == hash))
            .ok_or_else(|| {
                Failure::Reject(Reject(
                    Reason::TicketInvalid,
                    "the ticket is not the item's pending ticket".into(),
                ))
            })?;
        if state.flags.stolen {
            return reject(
                Reason::CodeStolen,
                "the item is reported lost or stolen: it cannot change owner",
            );
        }
        ticket.state = TicketState::Redeemed {
            by: signer,
            at: self.stamp,
        };
        self.put(StateKey::Ticket(hash), &ticket);
        state.ticket = None;
        state.owner = Some(signer);
        state.owner_device = device;
        state.status = CodeStatus::Owned;
        self.log_event(
            &mut state,
            signer,
            None,
            CodeEventKind::OwnerChanged {
                owner: signer,
                ticket: ticket.kind,
            },
            None,
            None,
        )?;
        self.put(StateKey::Code(*code), &state);
        Ok(())
    }

    pub(super) fn issue_transfer_ticket(
        &mut self,
        signer: PublicKey,
        code: &CodeId,
        key: PublicKey,
    ) -> RuleResult<()> {
        let mut state = self.owned_code(signer, code)?;
        if state.flags.stolen {
            return reject(
                Reason::CodeStolen,
                "the item is reported lost or stolen: clear the report before a transfer",
            );
        }
        self.new_ticket(&mut state, key, TicketKind::Transfer)?;
        self.put(StateKey::Code(*code), &state);
        Ok(())
    }

    pub(super) fn cancel_ticket(&mut self, signer: PublicKey, code: &CodeId) -> RuleResult<()> {
        let mut state = self.owned_code(signer, code)?;
        if state.ticket.is_none() {
            return reject(Reason::TicketInvalid, "the item has no pending ticket");
        }
        self.cancel_pending(&mut state)?;
        self.put(StateKey::Code(*code), &state);
        Ok(())
    }

    pub(super) fn report_stolen(&mut self, signer: PublicKey, code: &CodeId) -> RuleResult<()> {
        let mut state = self.owned_code(signer, code)?;
        if state.flags.stolen {
            return reject(Reason::CodeStolen, "the item is reported already");
        }
        state.flags.stolen = true;
        self.log_event(
            &mut state,
            signer,
            None,
            CodeEventKind::ReportedStolen,
            None,
            None,
        )?;
        self.put(StateKey::Code(*code), &state);
        Ok(())
    }

    pub(super) fn clear_stolen(&mut self, signer: PublicKey, code: &CodeId) -> RuleResult<()> {
        let mut state = self.owned_code(signer, code)?;
        if !state.flags.stolen {
            return reject(
                Reason::CodeNotStolen,
                "the item is not reported lost or stolen",
            );
        }
        state.flags.stolen = false;
        self.log_event(
            &mut state,
            signer,
            None,
            CodeEventKind::StolenCleared,
            None,
            None,
        )?;
        self.put(StateKey::Code(*code), &state);
        Ok(())
    }

    pub(super) fn record_scans(&mut self, signer: PublicKey, scans: &[Scan]) -> RuleResult<()> {
        self.require_platform(signer)?;
        let params = self.params()?;
        let rules = params.scan_rules;
        let now = self.stamp.time_ms;
        for (i, scan) in scans.iter().enumerate() {
            let what = format!("scan {i}");
            if !scan.cell.is_valid() || !geo::is_cell(scan.cell) {
                return reject(
                    Reason::BadLocation,
                    format!(
                        "{what}: the cell must be on the globe with both coordinates multiples \
                         of {} micro-degrees",
                        geo::CELL_MICRO
                    ),
                );
            }
            if scan.time_ms.saturating_add(rules.max_scan_age_ms) < now
                || scan.time_ms > now.saturating_add(rules.max_scan_ahead_ms)
            {
                return reject(
                    Reason::ScanTimeInvalid,
                    format!(
                        "{what}: scanned at {} ms, the block is at {now} ms (at most {} ms \
                         before, {} ms after)",
                        scan.time_ms, rules.max_scan_age_ms, rules.max_scan_ahead_ms
                    ),
                );
            }
            // A voided code is still scanned: the scan is evidence of a label in the wild.
            let (batch, _voided) = self.genuine(&params.chain_id, &scan.code, &what)?;
            let code = scan.code.code;
            let mut state = match self.get::<CodeState>(&StateKey::Code(code))? {
                Some(state) => state,
                None => self.fresh_code(code, &batch),
            };
            let point = ScanPoint {
                cell: scan.cell,
                device: scan.device,
                time_ms: scan.time_ms,
            };
            let context = CloneContext {
                sale: state.sale.as_ref(),
                owner_device: state.owner_device,
            };
            let mut summary = std::mem::take(&mut state.scans);
            let fired = clones::observe(&rules, &mut summary, point, context);
            state.scans = summary;
            if let Some(rule) = fired
                && !state.flags.clone_suspected
            {
                state.flags.clone_suspected = true;
                state.clone = Some(CloneSuspicion {
                    rule,
                    scan: point,
                    at: self.stamp,
                });
            }
            self.put(StateKey::Code(code), &state);
        }
        Ok(())
    }
}

/// Rejects a place that is off the globe or lacks what the action needs.
fn check_place(action: &CodeAction, place: &Place) -> RuleResult<()> {
    if place.point.is_some_and(|p| !p.is_valid()) {
        return reject(
            Reason::BadLocation,
            "the GPS position is off the globe (latitude ±90,000,000, longitude ±180,000,000 \
             micro-degrees)",
        );
    }
    if matches!(action, CodeAction::Ship { .. } | CodeAction::Receive)
        && (place.point.is_none() || place.region.is_none())
    {
        return reject(
            Reason::BadLocation,
            "shipping and receiving need the GPS position and the region",
        );
    }
    Ok(())
}

/// The status of an item held by `holder`.
fn held_by(brand: &OrgId, holder: &OrgId) -> CodeStatus {
    match holder == brand {
        true => CodeStatus::Active,
        false => CodeStatus::InChannel,
    }
}

fn retirement(how: Retirement) -> &'static str {
    match how {
        Retirement::Destroyed => "destroyed",
        Retirement::Decommissioned => "decommissioned",
        Retirement::Installed => "installed into another item: remove it first",
    }
}
