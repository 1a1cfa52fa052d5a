//! B2B rules: supplier authorisations, lot records, pallets, the receiving gate, assembly and
//! recalls (design §4). The gate's checks are `trace::gate_check`, shared with the API.

use super::{Failure, Reject, RuleResult, TxState, reject};
use crate::{
    Reason, StateReader, read,
    state::{
        Batch, CodeEventKind, CodeState, CodeStatus, Count, GateEntry, GatePage, GateVerdict,
        LotEntry, MAX_ASSEMBLY_DEPTH, MAX_PARTS, MAX_RECALLS_ON_SCOPE, Pallet, Product, Recall,
        RecallRefs, Record, Retirement, Revocation, StateKey, SupplierAuthorisation, list_page_of,
    },
    trace,
};
use jitrace_types::{
    Gtin, OrgId, PublicKey, Role,
    parts::{Assemble, AuthoriseSupplier, GateReceive, LotRecord, PackPallet, StartRecall},
    tx::{CodeAction, CodeId, SignedCode},
};

impl<R: StateReader> TxState<'_, '_, R> {
    fn require_role(&self, org: &OrgId, roles: &[Role], what: &str) -> RuleResult<()> {
        let record = self.require_org(org)?;
        if roles.iter().any(|r| record.has_role(*r)) {
            Ok(())
        } else {
            reject(Reason::UnauthorisedRole, format!("{org} may not {what}"))
        }
    }

    pub(super) fn authorise_supplier(
        &mut self,
        signer: PublicKey,
        a: &AuthoriseSupplier,
    ) -> RuleResult<()> {
        self.require_member(signer, &a.manufacturer)?;
        self.require_role(
            &a.manufacturer,
            &[Role::Manufacturer, Role::Brand],
            "authorise suppliers",
        )?;
        self.require_role(
            &a.supplier,
            &[Role::Supplier, Role::Manufacturer, Role::Distributor],
            "supply parts",
        )?;
        if self.get::<Product>(&StateKey::Product(a.part))?.is_none() {
            return reject(
                Reason::UnknownProduct,
                format!("part GTIN {} is not registered", a.part),
            );
        }
        let record = SupplierAuthorisation {
            manufacturer: a.manufacturer.clone(),
            supplier: a.supplier.clone(),
            part: a.part,
            spec_hash: a.spec.hash(),
            spec: a.spec.clone(),
            valid_from: a.valid_from,
            valid_until: a.valid_until,
            granted_at: self.stamp,
            revoked: None,
        };
        // A new authorisation replaces the previous one (a revised specification or window).
        self.put(
            StateKey::SupplierAuth(a.manufacturer.clone(), a.part, a.supplier.clone()),
            &record,
        );
        Ok(())
    }

    pub(super) fn revoke_supplier(
        &mut self,
        signer: PublicKey,
        manufacturer: &OrgId,
        supplier: &OrgId,
        part: &Gtin,
        reason: &str,
    ) -> RuleResult<()> {
        self.require_member(signer, manufacturer)?;
        let key = StateKey::SupplierAuth(manufacturer.clone(), *part, supplier.clone());
        let Some(mut auth) = self.get::<SupplierAuthorisation>(&key)? else {
            return reject(
                Reason::UnknownSupplierAuthorisation,
                format!("{manufacturer} never authorised {supplier} for part {part}"),
            );
        };
        if auth.revoked.is_some() {
            return reject(Reason::SupplierRevoked, "revoked already");
        }
        auth.revoked = Some(Revocation {
            at: self.stamp,
            reason: reason.to_string(),
        });
        self.put(key, &auth);
        Ok(())
    }

    pub(super) fn record_lot(&mut self, signer: PublicKey, lot: &LotRecord) -> RuleResult<()> {
        let Some(batch) = self.get::<Batch>(&StateKey::Batch(lot.gtin, lot.lot.clone()))? else {
            return reject(
                Reason::UnknownLot,
                format!("no lot {:?} of GTIN {} was issued", lot.lot, lot.gtin),
            );
        };
        self.require_member(signer, &batch.org)?;
        self.put(
            StateKey::Lot(lot.gtin, lot.lot.clone()),
            &LotEntry {
                record: lot.clone(),
                recorded_at: self.stamp,
                tx: self.tx_hash,
            },
        );
        Ok(())
    }

    pub(super) fn pack_pallet(&mut self, signer: PublicKey, p: &PackPallet) -> RuleResult<()> {
        self.require_member(signer, &p.org)?;
        if self.get::<Pallet>(&StateKey::Pallet(p.sscc))?.is_some() {
            return reject(
                Reason::PalletExists,
                format!("pallet {} was packed already", p.sscc),
            );
        }
        let chain_id = self.chain_id()?;
        for code in &p.codes {
            let (_, voided) = self.genuine(&chain_id, code, "a pallet code")?;
            if voided {
                return reject(Reason::CodeVoided, format!("{:?} is voided", code.code));
            }
            // Only an item someone holds: not a sold, destroyed or installed one (whose
            // custodian is none, or stale, and must not fall back to the brand).
            let holder = self
                .get::<CodeState>(&StateKey::Code(code.code))?
                .filter(|s| {
                    matches!(
                        s.status,
                        CodeStatus::Active
                            | CodeStatus::InChannel
                            | CodeStatus::InTransit
                            | CodeStatus::InStock
                    )
                })
                .and_then(|s| s.custodian);
            if holder.as_ref() != Some(&p.org) {
                return reject(
                    Reason::NotCustodian,
                    format!(
                        "{} does not hold serial {} of GTIN {}",
                        p.org, code.code.serial, code.code.gtin
                    ),
                );
            }
        }
        self.put(
            StateKey::Pallet(p.sscc),
            &Pallet {
                sscc: p.sscc,
                org: p.org.clone(),
                codes: p.codes.clone(),
                packed_at: self.stamp,
            },
        );
        Ok(())
    }

    /// The gate: every entry gets a verdict in the gate's log (and the issuer's); accepted
    /// parts enter the manufacturer's stock. The transaction itself succeeds whatever the
    /// verdicts: a rejected part is a fact to record, not an error.
    pub(super) fn gate_receive(&mut self, signer: PublicKey, g: &GateReceive) -> RuleResult<()> {
        self.require_member(signer, &g.org)?;
        self.require_role(
            &g.org,
            &[Role::Manufacturer, Role::Brand],
            "run a receiving gate",
        )?;
        let chain_id = self.chain_id()?;
        let now_s = self.stamp.time_ms / 1000;
        let mut checked = 0usize;
        for item in &g.items {
            let (pallet, codes) = match trace::gate_codes(self, item)? {
                Ok(found) => found,
                Err(verdict) => {
                    self.log_gate(&g.org, verdict)?;
                    continue;
                }
            };
            checked += codes.len();
            if checked > jitrace_types::parts::MAX_GATE_ITEMS * 4 {
                return reject(
                    Reason::LimitReached,
                    "one gate transaction checks at most 2,000 parts: split the pallets",
                );
            }
            for code in &codes {
                let mut verify = |batch: &Batch, code: &SignedCode| {
                    read::signature_valid(&chain_id, batch, code)
                };
                let mut verdict =
                    trace::gate_check(self, &g.org, code, &item.observed, now_s, &mut verify)?;
                verdict.pallet = pallet;
                if verdict.accepted() {
                    self.accept_at_gate(signer, &g.org, code)?;
                }
                self.log_gate(&g.org, verdict)?;
            }
        }
        Ok(())
    }

    fn accept_at_gate(
        &mut self,
        signer: PublicKey,
        gate: &OrgId,
        code: &SignedCode,
    ) -> RuleResult<()> {
        let Some(mut state) = self.get::<CodeState>(&StateKey::Code(code.code))? else {
            return Ok(()); // unreachable: an accepted code was shipped, so it has state
        };
        let from = state
            .custodian
            .replace(gate.clone())
            .unwrap_or(state.brand.clone());
        state.in_transit_to = None;
        state.status = CodeStatus::InStock;
        self.log_event(
            &mut state,
            signer,
            Some(gate.clone()),
            CodeEventKind::Received { from },
            Some(&CodeAction::Receive),
            None,
        )?;
        self.put(StateKey::Code(code.code), &state);
        Ok(())
    }

    /// Appends a verdict to the gate's log, and to the issuer's when it is another organisation.
    fn log_gate(&mut self, gate: &OrgId, verdict: GateVerdict) -> RuleResult<()> {
        let issuer = verdict.issuer.clone();
        let entry = GateEntry {
            gate: gate.clone(),
            at: self.stamp,
            tx: self.tx_hash,
            verdict,
        };
        if let Some(issuer) = issuer.filter(|i| i != gate) {
            self.append::<GatePage, _>(
                StateKey::GateCount(issuer.clone()),
                |page| StateKey::GateLog(issuer.clone(), page),
                entry.clone(),
            )?;
        }
        self.append::<GatePage, _>(
            StateKey::GateCount(gate.clone()),
            |page| StateKey::GateLog(gate.clone(), page),
            entry,
        )
    }

    /// Appends `item` to a paged list of [`LIST_PAGE_LEN`] entries a page, counted under
    /// `count_key`.
    fn append<P, T>(
        &mut self,
        count_key: StateKey,
        page_key: impl Fn(u32) -> StateKey,
        item: T,
    ) -> RuleResult<()>
    where
        P: Record + Default + AsMut<Vec<T>>,
    {
        let count = self.get::<Count>(&count_key)?.unwrap_or_default().0;
        let key = page_key(list_page_of(count));
        let mut entries = self.get::<P>(&key)?.unwrap_or_default();
        entries.as_mut().push(item);
        self.put(key, &entries);
        self.put(count_key, &Count(count + 1));
        Ok(())
    }

    pub(super) fn assemble(&mut self, signer: PublicKey, a: &Assemble) -> RuleResult<()> {
        self.require_member(signer, &a.org)?;
        let chain_id = self.chain_id()?;
        let (batch, voided) = self.genuine(&chain_id, &a.parent, "the item")?;
        if voided {
            return reject(Reason::CodeVoided, "the item's code is voided");
        }
        let mut parent = match self.get::<CodeState>(&StateKey::Code(a.parent.code))? {
            Some(state) => state,
            None => self.fresh_code(a.parent.code, &batch),
        };
        if parent.parent.is_some() {
            return reject(
                Reason::AlreadyInstalled,
                "the item is installed in another: remove it before changing its parts",
            );
        }
        match parent.status {
            CodeStatus::Issued => {
                if batch.org != a.org {
                    return reject(
                        Reason::NotCustodian,
                        format!("only {} commissions its codes", batch.org),
                    );
                }
                parent.status = CodeStatus::Active;
                parent.custodian = Some(a.org.clone());
                self.log_event(
                    &mut parent,
                    signer,
                    Some(a.org.clone()),
                    CodeEventKind::Commissioned,
                    Some(&CodeAction::Commission),
                    None,
                )?;
            }
            CodeStatus::Active | CodeStatus::InStock
                if parent.custodian.as_ref().unwrap_or(&parent.brand) == &a.org => {}
            _ => {
                return reject(
                    Reason::NotCustodian,
                    format!(
                        "{} does not hold the item in its plant (status {})",
                        a.org,
                        parent.status.as_str()
                    ),
                );
            }
        }
        for code in &a.remove {
            let Some(mut part) = self.get::<CodeState>(&StateKey::Code(*code))? else {
                return not_a_part(code, "has no record");
            };
            if part.parent != Some(parent.code) {
                return not_a_part(code, "is not installed in this item");
            }
            part.parent = None;
            part.status = CodeStatus::InStock;
            part.custodian = Some(a.org.clone());
            self.log_event(
                &mut part,
                signer,
                Some(a.org.clone()),
                CodeEventKind::Removed { from: parent.code },
                None,
                None,
            )?;
            self.put(StateKey::Code(*code), &part);
            parent.parts.retain(|p| p != code);
        }
        for code in &a.add {
            let Some(mut part) = self.get::<CodeState>(&StateKey::Code(*code))? else {
                return not_a_part(code, "has no record: it never passed a gate");
            };
            if part.parent.is_some() {
                return reject(
                    Reason::AlreadyInstalled,
                    format!(
                        "serial {} of GTIN {} is installed in another item",
                        code.serial, code.gtin
                    ),
                );
            }
            let in_stock = matches!(part.status, CodeStatus::InStock | CodeStatus::Active)
                && part.custodian.as_ref() == Some(&a.org);
            if !in_stock {
                return not_a_part(code, "is not in the organisation's stock");
            }
            if let Some((recalled, _)) = trace::recalled_within(self, &part)? {
                return reject(
                    Reason::Recalled,
                    format!(
                        "serial {} of GTIN {} is recalled{}",
                        code.serial,
                        code.gtin,
                        if recalled == *code {
                            String::new()
                        } else {
                            format!(" (its part {} {} is)", recalled.gtin, recalled.serial)
                        }
                    ),
                );
            }
            let height = part.height.saturating_add(1);
            if usize::from(height) > MAX_ASSEMBLY_DEPTH {
                return reject(
                    Reason::LimitReached,
                    format!("items nest at most {MAX_ASSEMBLY_DEPTH} levels deep"),
                );
            }
            if parent.parts.len() >= MAX_PARTS {
                return reject(
                    Reason::LimitReached,
                    format!("an item holds at most {MAX_PARTS} parts"),
                );
            }
            part.parent = Some(parent.code);
            part.status = CodeStatus::Retired(Retirement::Installed);
            part.custodian = None;
            self.log_event(
                &mut part,
                signer,
                Some(a.org.clone()),
                CodeEventKind::Installed { into: parent.code },
                None,
                None,
            )?;
            self.put(StateKey::Code(*code), &part);
            parent.parts.push(*code);
            parent.height = parent.height.max(height);
        }
        self.log_event(
            &mut parent,
            signer,
            Some(a.org.clone()),
            CodeEventKind::Assembled {
                added: a.add.len() as u32,
                removed: a.remove.len() as u32,
            },
            None,
            None,
        )?;
        self.put(StateKey::Code(parent.code), &parent);
        Ok(())
    }

    pub(super) fn start_recall(&mut self, signer: PublicKey, r: &StartRecall) -> RuleResult<()> {
        use jitrace_types::parts::RecallScope;
        self.require_member(signer, &r.org)?;
        // Who may recall: the scope's issuer, or a manufacturer that authorised it for the part.
        let (gtin, issuer) = match &r.scope {
            RecallScope::Lot { gtin, lot } => {
                let Some(batch) = self.get::<Batch>(&StateKey::Batch(*gtin, lot.clone()))? else {
                    return reject(
                        Reason::UnknownLot,
                        format!("no lot {lot:?} of GTIN {gtin} was issued"),
                    );
                };
                (Some(*gtin), batch.org)
            }
            RecallScope::Product(gtin) => {
                let Some(product) = self.get::<Product>(&StateKey::Product(*gtin))? else {
                    return reject(
                        Reason::UnknownProduct,
                        format!("GTIN {gtin} is not registered"),
                    );
                };
                (Some(*gtin), product.info.org)
            }
            RecallScope::Issuer(org) => (None, org.clone()),
        };
        let allowed = issuer == r.org
            || match gtin {
                Some(gtin) => self
                    .get::<SupplierAuthorisation>(&StateKey::SupplierAuth(
                        r.org.clone(),
                        gtin,
                        issuer.clone(),
                    ))?
                    .is_some(),
                None => false,
            };
        if !allowed {
            return reject(
                Reason::UnauthorisedRole,
                format!(
                    "{} may recall only what it issued, or parts of suppliers it authorised",
                    r.org
                ),
            );
        }
        let count_key = StateKey::RecallCount(r.org.clone());
        let number =
            u32::try_from(self.get::<Count>(&count_key)?.unwrap_or_default().0).unwrap_or(u32::MAX);
        let on_key = StateKey::RecallsOn(r.scope.clone());
        let mut on = self.get::<RecallRefs>(&on_key)?.unwrap_or_default();
        if on.0.len() >= MAX_RECALLS_ON_SCOPE {
            return reject(
                Reason::LimitReached,
                format!("at most {MAX_RECALLS_ON_SCOPE} open recalls on one scope"),
            );
        }
        on.0.push((r.org.clone(), number));
        self.put(on_key, &on);
        self.put(
            StateKey::Recall(r.org.clone(), number),
            &Recall {
                org: r.org.clone(),
                number,
                scope: r.scope.clone(),
                reason: r.reason.clone(),
                started_at: self.stamp,
                closed_at: None,
            },
        );
        self.put(count_key, &Count(u64::from(number) + 1));
        Ok(())
    }

    pub(super) fn close_recall(
        &mut self,
        signer: PublicKey,
        org: &OrgId,
        number: u32,
    ) -> RuleResult<()> {
        self.require_member(signer, org)?;
        let key = StateKey::Recall(org.clone(), number);
        let Some(mut recall) = self.get::<Recall>(&key)? else {
            return reject(
                Reason::UnknownRecall,
                format!("{org} has no recall {number}"),
            );
        };
        if recall.closed_at.is_some() {
            return reject(Reason::RecallClosed, "closed already");
        }
        recall.closed_at = Some(self.stamp);
        let on_key = StateKey::RecallsOn(recall.scope.clone());
        let mut on = self.get::<RecallRefs>(&on_key)?.unwrap_or_default();
        on.0.retain(|(o, n)| !(o == org && *n == number));
        self.put(on_key, &on);
        self.put(key, &recall);
        Ok(())
    }
}

fn not_a_part(code: &CodeId, why: &str) -> RuleResult<()> {
    Err(Failure::Reject(Reject(
        Reason::NotAPart,
        format!("serial {} of GTIN {} {why}", code.serial, code.gtin),
    )))
}
