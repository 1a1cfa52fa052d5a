//! Executing transactions: the rules of the ledger.
//!
//! This module holds the executor and the rules of organisations, licences, products and code
//! batches; `channels` the rules of channel grants; `codes` the life of a code (events,
//! voiding, ownership, scans).

mod channels;
mod codes;
mod parts;

use crate::{
    Reason,
    state::{
        Account, Batch, CodeKeyEntry, CodeKeyOwner, Count, Licence, MAX_BATCHES_PER_PRODUCT,
        MAX_CODE_KEYS, MAX_MEMBERS, Org, OrgIndex, Outcome, Params, Product, ProductPage, Receipt,
        Record, Revocation, ScanRules, SerialRange, SerialRanges, Stamp, StateKey, page_of,
    },
};
use jitrace_types::{
    OrgId, Payload, PublicKey, Role, SignedTransaction, Transaction, TxHash,
    tx::{CodeId, IssueCodeBatch, IssueLicence, ProductInfo, RegisterOrg},
};
use std::{any::Any, cell::RefCell, collections::BTreeMap, sync::Arc};

/// A read that the reader could not answer yet: the caller fetches `0` and runs the
/// transaction again. This keeps the ledger synchronous and IO-free while the authenticated
/// store it reads from is asynchronous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing(pub StateKey);

/// Read access to the state before the block.
pub trait StateReader {
    /// The value stored under `key`, `Ok(None)` if there is none, or `Err(Missing)` if the
    /// reader does not hold it yet.
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing>;
}

impl StateReader for BTreeMap<StateKey, Vec<u8>> {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// Writes a block makes: `Some(value)` to store, `None` to delete. Ordered, so that applying it
/// is deterministic.
pub type WriteSet = BTreeMap<StateKey, Option<Vec<u8>>>;

/// What the block gives every transaction: its height and time (from the header, never from a
/// clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    pub height: u64,
    pub time_ms: u64,
}

/// The chain's starting point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    pub chain_id: String,
    /// The platform operator's key: first member of the platform organisation.
    pub operator: PublicKey,
    pub platform_org: OrgId,
    pub platform_name: String,
    pub validators: Vec<PublicKey>,
    /// Clone-detection and scan thresholds (checked by [`ScanRules::problem`] before a chain
    /// starts).
    pub scan_rules: ScanRules,
}

/// The id of a transaction from its wire bytes: the hash of its body, or, for bytes that are
/// not a signed transaction at all, a domain-separated hash of the bytes (so that no bytes can
/// take the id of a genuine transaction's body).
pub fn tx_id(raw: &[u8]) -> TxHash {
    match SignedTransaction::decode(raw) {
        Ok(signed) => signed.hash(),
        Err(_) => TxHash::of(&[b"jitrace/v1/undecodable-tx", raw]),
    }
}

/// Executes the transactions of one block, in order, over a [`StateReader`].
pub struct Executor<'r, R: StateReader> {
    reader: &'r R,
    env: BlockEnv,
    writes: WriteSet,
    /// Product-code signatures checked in this block, by (code-signing key, code, signature):
    /// a pure function's results, kept so that a transaction run again after a [`Missing`]
    /// read does not verify its codes again.
    code_checks: RefCell<BTreeMap<(PublicKey, CodeId, String), bool>>,
    /// Records decoded from the reader in this block, by key. The reader's values do not change
    /// during a block and a key this block wrote is read from `writes` first, so an entry is
    /// always what decoding the reader's bytes would give — without copying and decoding them
    /// for every transaction (an organisation's record, with its member list, is read by most).
    decoded: RefCell<BTreeMap<StateKey, Arc<dyn Any + Send + Sync>>>,
}

/// A rejection inside a rule.
struct Reject(Reason, String);

fn reject<T>(reason: Reason, detail: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Reject(Reject(reason, detail.into())))
}

/// Why a rule stopped: a rejection, or a read to fetch first.
enum Failure {
    Reject(Reject),
    Missing(Missing),
}

impl From<Missing> for Failure {
    fn from(m: Missing) -> Self {
        Failure::Missing(m)
    }
}

type RuleResult<T> = Result<T, Failure>;

/// Reads and staged writes of one transaction. Dropped on rejection, merged on success.
struct TxState<'e, 'r, R: StateReader> {
    exec: &'e Executor<'r, R>,
    staged: WriteSet,
    stamp: Stamp,
    tx_hash: TxHash,
    /// The signer had no account: admitted only for payloads any key may sign, and its new
    /// account is kept only if the rule succeeds.
    new_account: bool,
}

/// A rule reads through its staged writes, so the read helpers of `crate::read` work inside
/// rules too.
impl<R: StateReader> StateReader for TxState<'_, '_, R> {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        match self.staged.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.exec.read_raw(key),
        }
    }
}

impl<'r, R: StateReader> Executor<'r, R> {
    /// Starts a block over `reader`.
    pub fn new(reader: &'r R, env: BlockEnv) -> Self {
        Self {
            reader,
            env,
            writes: WriteSet::new(),
            code_checks: RefCell::default(),
            decoded: RefCell::default(),
        }
    }

    fn read_raw(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.reader.get(key),
        }
    }

    /// Writes the genesis state if the chain has none yet (the first block does this).
    pub fn init_genesis(&mut self, genesis: &Genesis) -> Result<(), Missing> {
        if self.read_raw(&StateKey::Params)?.is_some() {
            return Ok(());
        }
        let stamp = Stamp {
            height: self.env.height,
            time_ms: self.env.time_ms,
        };
        let params = Params {
            chain_id: genesis.chain_id.clone(),
            operator: genesis.operator,
            platform_org: genesis.platform_org.clone(),
            validators: genesis.validators.clone(),
            scan_rules: genesis.scan_rules,
        };
        let org = Org {
            id: genesis.platform_org.clone(),
            name: genesis.platform_name.clone(),
            roles: vec![Role::Platform],
            gs1_company_prefix: None,
            region: None,
            members: vec![genesis.operator],
            code_keys: vec![],
            licences: vec![],
            product_count: 0,
            registered_at: stamp,
        };
        let index = OrgIndex(vec![genesis.platform_org.clone()]);
        self.writes
            .insert(StateKey::OrgIndex(0), Some(encode(&index)));
        self.writes
            .insert(StateKey::OrgCount, Some(encode(&Count(1))));
        let account = Account {
            nonce: 0,
            orgs: vec![genesis.platform_org.clone()],
        };
        self.writes.insert(StateKey::Params, Some(encode(&params)));
        self.writes.insert(
            StateKey::Org(genesis.platform_org.clone()),
            Some(encode(&org)),
        );
        self.writes
            .insert(StateKey::Account(genesis.operator), Some(encode(&account)));
        Ok(())
    }

    /// Executes the transaction at `index` of the block from its wire bytes.
    ///
    /// Returns its receipt, or `Err(Missing)` with no effect when a read must be fetched first;
    /// call again with the same arguments after fetching.
    pub fn apply(&mut self, index: u32, raw: &[u8]) -> Result<Receipt, Missing> {
        self.apply_checked(index, raw, false)
    }

    /// Like [`Executor::apply`], for a caller that has already verified the transaction's
    /// signature (`signature_verified`), e.g. in a batch with others. Verification is a pure
    /// function of the bytes, so skipping it changes no outcome when the claim is true.
    pub fn apply_checked(
        &mut self,
        index: u32,
        raw: &[u8],
        signature_verified: bool,
    ) -> Result<Receipt, Missing> {
        let signed = match SignedTransaction::decode(raw) {
            Ok(signed) => signed,
            Err(e) => {
                // Not authentic: reported to the caller, never stored (anyone could forge it).
                let mut receipt = self.receipt(index, tx_id(raw));
                receipt.outcome = rejected(Reason::Malformed, e.to_string());
                return Ok(receipt);
            }
        };
        let tx = signed.transaction().map_err(|e| e.to_string());
        self.apply_parsed(
            index,
            &signed,
            signed.hash(),
            tx.as_ref(),
            signature_verified,
        )
    }

    /// Like [`Executor::apply_checked`], for a caller that has decoded the transaction already:
    /// `signed` is what `SignedTransaction::decode` gives for its bytes, `hash` its
    /// [`SignedTransaction::hash`] and `tx` its [`SignedTransaction::transaction`]. The same
    /// receipt and writes as `apply_checked` on the bytes, without decoding them again.
    pub fn apply_decoded(
        &mut self,
        index: u32,
        signed: &SignedTransaction,
        hash: TxHash,
        tx: &Transaction,
        signature_verified: bool,
    ) -> Result<Receipt, Missing> {
        self.apply_parsed(index, signed, hash, Ok(tx), signature_verified)
    }

    fn receipt(&self, index: u32, tx: TxHash) -> Receipt {
        Receipt {
            tx,
            height: self.env.height,
            index,
            signer: None,
            kind: None,
            outcome: Outcome::Ok,
        }
    }

    fn apply_parsed(
        &mut self,
        index: u32,
        signed: &SignedTransaction,
        hash: TxHash,
        tx: Result<&Transaction, &String>,
        signature_verified: bool,
    ) -> Result<Receipt, Missing> {
        let stamp = Stamp {
            height: self.env.height,
            time_ms: self.env.time_ms,
        };
        let mut receipt = self.receipt(index, hash);
        if self.read_raw(&StateKey::Receipt(receipt.tx))?.is_some() {
            // Do not overwrite the first receipt: report the duplicate to the caller only.
            receipt.outcome = rejected(Reason::Duplicate, "this transaction was executed before");
            return Ok(receipt);
        }
        let tx = match tx {
            Ok(tx) => tx,
            Err(e) => {
                // The signer is unknown, so the signature cannot be checked: not stored.
                receipt.outcome = rejected(Reason::Malformed, e.clone());
                return Ok(receipt);
            }
        };
        receipt.signer = Some(tx.signer);
        receipt.kind = Some(tx.payload.kind().to_string());
        if !signature_verified && !signed.verify_signature(&tx.signer) {
            // Not stored: a forged signature over someone's pending body must not take over
            // that body's transaction id.
            receipt.outcome = rejected(Reason::BadSignature, "signature does not match the signer");
            return Ok(receipt);
        }

        let mut state = TxState {
            exec: self,
            staged: WriteSet::new(),
            stamp,
            tx_hash: receipt.tx,
            new_account: false,
        };
        match state.admit(tx) {
            Ok(()) => {}
            Err(Failure::Missing(m)) => return Err(m),
            Err(Failure::Reject(Reject(reason, detail))) => {
                receipt.outcome = rejected(reason, detail);
                return self.finish(receipt, WriteSet::new());
            }
        }
        // Admitted: the nonce is consumed whatever the rule decides, except a new key's (a key
        // that is nobody's gets an account only by a successful action).
        let admitted = match state.new_account {
            true => WriteSet::new(),
            false => state.staged.clone(),
        };
        match state.run(tx) {
            Ok(()) => {
                let staged = state.staged;
                self.finish(receipt, staged)
            }
            Err(Failure::Missing(m)) => Err(m),
            Err(Failure::Reject(Reject(reason, detail))) => {
                receipt.outcome = rejected(reason, detail);
                self.finish(receipt, admitted)
            }
        }
    }

    fn finish(&mut self, receipt: Receipt, staged: WriteSet) -> Result<Receipt, Missing> {
        self.writes.extend(staged);
        self.writes
            .insert(StateKey::Receipt(receipt.tx), Some(encode(&receipt)));
        Ok(receipt)
    }

    /// The block's writes, to hand to the authenticated store.
    pub fn into_writes(self) -> WriteSet {
        self.writes
    }
}

fn rejected(reason: Reason, detail: impl Into<String>) -> Outcome {
    Outcome::Rejected {
        reason,
        detail: detail.into(),
    }
}

/// Encodes a record.
pub fn encode<T: Record>(record: &T) -> Vec<u8> {
    borsh::to_vec(record).expect("borsh encoding into a Vec cannot fail")
}

/// Decodes a record. Stored records were written by this crate, so a failure means the store
/// is corrupt: that is the one panic the ledger allows, because continuing would fork.
pub fn decode<T: Record>(bytes: &[u8]) -> T {
    borsh::from_slice(bytes).expect("state record does not decode: the store is corrupt")
}

impl<R: StateReader> TxState<'_, '_, R> {
    fn get<T: Record>(&self, key: &StateKey) -> Result<Option<T>, Missing> {
        if let Some(value) = self.staged.get(key).or_else(|| self.exec.writes.get(key)) {
            return Ok(value.as_ref().map(|bytes| decode(bytes)));
        }
        if let Some(record) = self.exec.decoded.borrow().get(key)
            && let Some(record) = record.downcast_ref::<T>()
        {
            return Ok(Some(record.clone()));
        }
        let Some(bytes) = self.exec.reader.get(key)? else {
            return Ok(None);
        };
        let record: T = decode(&bytes);
        self.exec
            .decoded
            .borrow_mut()
            .insert(key.clone(), Arc::new(record.clone()));
        Ok(Some(record))
    }

    fn put<T: Record>(&mut self, key: StateKey, record: &T) {
        self.staged.insert(key, Some(encode(record)));
    }

    fn params(&self) -> RuleResult<Params> {
        match self.get::<Params>(&StateKey::Params)? {
            Some(p) => Ok(p),
            None => reject(Reason::UnknownSigner, "the chain has no genesis state"),
        }
    }

    /// Checks that apply to every transaction and consumes the nonce.
    fn admit(&mut self, tx: &Transaction) -> RuleResult<()> {
        let params = self.params()?;
        if tx.chain_id != params.chain_id {
            return reject(
                Reason::WrongChainId,
                format!(
                    "transaction is for chain {:?}, this is {:?}",
                    tx.chain_id, params.chain_id
                ),
            );
        }
        let mut account = match self.get::<Account>(&StateKey::Account(tx.signer))? {
            Some(account) => account,
            None if tx.payload.any_key_may_sign() => {
                self.new_account = true;
                Account::default()
            }
            None => {
                return reject(
                    Reason::UnknownSigner,
                    format!("key {} is not a member of any organisation", tx.signer),
                );
            }
        };
        if tx.nonce <= account.nonce {
            return reject(
                Reason::NonceReplayed,
                format!(
                    "nonce {} is not above the last accepted nonce {}",
                    tx.nonce, account.nonce
                ),
            );
        }
        account.nonce = tx.nonce;
        self.put(StateKey::Account(tx.signer), &account);
        Ok(())
    }

    fn run(&mut self, tx: &Transaction) -> RuleResult<()> {
        let signer = tx.signer;
        match &tx.payload {
            Payload::RegisterOrg(org) => self.register_org(signer, org),
            Payload::AddMember { org, key } => self.add_member(signer, org, *key),
            Payload::RemoveMember { org, key } => self.remove_member(signer, org, *key),
            Payload::IssueLicence(licence) => self.issue_licence(signer, licence),
            Payload::RevokeLicence { licence, reason } => {
                self.require_platform(signer)?;
                let Some(mut record) = self.get::<Licence>(&StateKey::Licence(licence.clone()))?
                else {
                    return reject(Reason::UnknownLicence, format!("no licence {licence}"));
                };
                if record.revoked.is_some() {
                    return reject(
                        Reason::LicenceRevoked,
                        format!("licence {licence} is already revoked"),
                    );
                }
                record.revoked = Some(Revocation {
                    at: self.stamp,
                    reason: reason.clone(),
                });
                self.put(StateKey::Licence(licence.clone()), &record);
                Ok(())
            }
            Payload::RegisterProduct(info) => self.register_product(signer, info),
            Payload::UpdateProduct(info) => self.update_product(signer, info),
            Payload::RegisterCodeKey { org, key } => self.register_code_key(signer, org, *key),
            Payload::RevokeCodeKey { org, key } => self.revoke_code_key(signer, org, *key),
            Payload::IssueCodeBatch(batch) => self.issue_code_batch(signer, batch),
            Payload::AuthoriseChannel(grant) => self.authorise_channel(signer, grant),
            Payload::RevokeChannel {
                brand,
                channel,
                grant,
                reason,
            } => self.revoke_channel(signer, brand, channel, *grant, reason),
            Payload::VoidCodes(void) => self.void_codes(signer, void),
            Payload::RecordCodeEvent(event) => self.record_code_event(signer, event),
            Payload::RedeemTicket {
                code,
                ticket,
                proof,
                device,
            } => self.redeem_ticket(signer, code, ticket, proof, *device),
            Payload::IssueTransferTicket { code, ticket } => {
                self.issue_transfer_ticket(signer, code, *ticket)
            }
            Payload::CancelTicket { code } => self.cancel_ticket(signer, code),
            Payload::ReportStolen { code } => self.report_stolen(signer, code),
            Payload::ClearStolen { code } => self.clear_stolen(signer, code),
            Payload::RecordScans { scans } => self.record_scans(signer, scans),
            Payload::AuthoriseSupplier(a) => self.authorise_supplier(signer, a),
            Payload::RevokeSupplier {
                manufacturer,
                supplier,
                part,
                reason,
            } => self.revoke_supplier(signer, manufacturer, supplier, part, reason),
            Payload::RecordLot(lot) => self.record_lot(signer, lot),
            Payload::PackPallet(p) => self.pack_pallet(signer, p),
            Payload::GateReceive(g) => self.gate_receive(signer, g),
            Payload::Assemble(a) => self.assemble(signer, a),
            Payload::StartRecall(r) => self.start_recall(signer, r),
            Payload::CloseRecall { org, recall } => self.close_recall(signer, org, *recall),
        }
    }

    fn require_org(&self, org: &OrgId) -> RuleResult<Org> {
        match self.get::<Org>(&StateKey::Org(org.clone()))? {
            Some(o) => Ok(o),
            None => reject(Reason::UnknownOrg, format!("no organisation {org}")),
        }
    }

    fn is_member(&self, signer: PublicKey, org: &OrgId) -> RuleResult<bool> {
        let account = self
            .get::<Account>(&StateKey::Account(signer))?
            .unwrap_or_default();
        Ok(account.orgs.binary_search(org).is_ok())
    }

    fn require_platform(&self, signer: PublicKey) -> RuleResult<()> {
        let params = self.params()?;
        if self.is_member(signer, &params.platform_org)? {
            Ok(())
        } else {
            reject(
                Reason::UnauthorisedRole,
                "only the platform operator may do this",
            )
        }
    }

    /// The organisation, if `signer` is one of its members.
    fn require_member(&self, signer: PublicKey, org: &OrgId) -> RuleResult<Org> {
        let record = self.require_org(org)?;
        if !self.is_member(signer, org)? {
            return reject(
                Reason::NotAMember,
                format!("signer is not a member of {org}"),
            );
        }
        Ok(record)
    }

    /// Like [`Self::require_member`], and the organisation must be allowed to issue codes.
    fn require_issuer(&self, signer: PublicKey, org: &OrgId) -> RuleResult<Org> {
        let record = self.require_member(signer, org)?;
        if !record.roles.iter().any(|r| r.issues_codes()) {
            return reject(
                Reason::UnauthorisedRole,
                format!("{org} is not a brand, manufacturer or supplier"),
            );
        }
        Ok(record)
    }

    fn join(&mut self, key: PublicKey, org: &OrgId) -> RuleResult<()> {
        let mut account = self
            .get::<Account>(&StateKey::Account(key))?
            .unwrap_or_default();
        if let Err(pos) = account.orgs.binary_search(org) {
            account.orgs.insert(pos, org.clone());
        }
        self.put(StateKey::Account(key), &account);
        Ok(())
    }

    fn register_org(&mut self, signer: PublicKey, org: &RegisterOrg) -> RuleResult<()> {
        self.require_platform(signer)?;
        if self.get::<Org>(&StateKey::Org(org.id.clone()))?.is_some() {
            return reject(Reason::OrgExists, format!("organisation {} exists", org.id));
        }
        let mut roles = org.roles.clone();
        roles.sort();
        let record = Org {
            id: org.id.clone(),
            name: org.name.clone(),
            roles,
            gs1_company_prefix: org.gs1_company_prefix.clone(),
            region: org.region.clone(),
            members: vec![org.admin],
            code_keys: vec![],
            licences: vec![],
            product_count: 0,
            registered_at: self.stamp,
        };
        self.put(StateKey::Org(org.id.clone()), &record);
        let count = self.get::<Count>(&StateKey::OrgCount)?.unwrap_or_default();
        let page_key = StateKey::OrgIndex(page_of(count.0));
        let mut page = self.get::<OrgIndex>(&page_key)?.unwrap_or_default();
        page.0.push(org.id.clone());
        self.put(page_key, &page);
        self.put(StateKey::OrgCount, &Count(count.0 + 1));
        self.join(org.admin, &org.id)
    }

    fn add_member(&mut self, signer: PublicKey, org: &OrgId, key: PublicKey) -> RuleResult<()> {
        let mut record = self.require_org(org)?;
        if !self.is_member(signer, org)? {
            self.require_platform(signer)?;
        }
        let Err(pos) = record.members.binary_search(&key) else {
            return reject(
                Reason::MemberExists,
                format!("key is already a member of {org}"),
            );
        };
        if record.members.len() >= MAX_MEMBERS {
            return reject(
                Reason::LimitReached,
                format!("{org} has {MAX_MEMBERS} members, the most an organisation may have"),
            );
        }
        record.members.insert(pos, key);
        self.put(StateKey::Org(org.clone()), &record);
        self.join(key, org)
    }

    fn remove_member(&mut self, signer: PublicKey, org: &OrgId, key: PublicKey) -> RuleResult<()> {
        let mut record = self.require_org(org)?;
        if !self.is_member(signer, org)? {
            self.require_platform(signer)?;
        }
        let Ok(pos) = record.members.binary_search(&key) else {
            return reject(
                Reason::UnknownMember,
                format!("key is not a member of {org}"),
            );
        };
        if record.members.len() == 1 {
            return reject(
                Reason::LastMember,
                format!("{org} must keep at least one member"),
            );
        }
        record.members.remove(pos);
        self.put(StateKey::Org(org.clone()), &record);
        let mut account = self
            .get::<Account>(&StateKey::Account(key))?
            .unwrap_or_default();
        account.orgs.retain(|o| o != org);
        self.put(StateKey::Account(key), &account);
        Ok(())
    }

    fn issue_licence(&mut self, signer: PublicKey, licence: &IssueLicence) -> RuleResult<()> {
        self.require_platform(signer)?;
        if self
            .get::<Licence>(&StateKey::Licence(licence.id.clone()))?
            .is_some()
        {
            return reject(
                Reason::LicenceExists,
                format!("licence {} exists", licence.id),
            );
        }
        let mut org = self.require_org(&licence.org)?;
        if !org.roles.iter().any(|r| r.issues_codes()) {
            return reject(
                Reason::UnauthorisedRole,
                format!("{} is not a brand, manufacturer or supplier", licence.org),
            );
        }
        let record = Licence {
            id: licence.id.clone(),
            org: licence.org.clone(),
            quota: licence.quota,
            used: 0,
            valid_from: licence.valid_from,
            valid_until: licence.valid_until,
            issued_at: self.stamp,
            revoked: None,
        };
        org.licences.push(licence.id.clone());
        self.put(StateKey::Licence(licence.id.clone()), &record);
        self.put(StateKey::Org(licence.org.clone()), &org);
        Ok(())
    }

    fn check_prefix(org: &Org, info: &ProductInfo) -> RuleResult<()> {
        if let Some(prefix) = &org.gs1_company_prefix {
            // GTIN-14's first digit is the indicator digit; the company prefix follows it.
            if !info.gtin.as_str()[1..].starts_with(prefix.as_str()) {
                return reject(
                    Reason::GtinPrefixMismatch,
                    format!(
                        "GTIN {} does not carry {}'s company prefix {prefix}",
                        info.gtin, org.id
                    ),
                );
            }
        }
        Ok(())
    }

    fn register_product(&mut self, signer: PublicKey, info: &ProductInfo) -> RuleResult<()> {
        let mut org = self.require_issuer(signer, &info.org)?;
        Self::check_prefix(&org, info)?;
        if self
            .get::<Product>(&StateKey::Product(info.gtin))?
            .is_some()
        {
            return reject(
                Reason::ProductExists,
                format!("GTIN {} is registered", info.gtin),
            );
        }
        let product = Product {
            info: info.clone(),
            registered_at: self.stamp,
            updated_at: self.stamp,
            codes_issued: 0,
        };
        self.put(StateKey::Product(info.gtin), &product);
        let page_key = StateKey::OrgProducts(info.org.clone(), page_of(org.product_count));
        let mut page = self.get::<ProductPage>(&page_key)?.unwrap_or_default();
        page.0.push(info.gtin);
        self.put(page_key, &page);
        org.product_count += 1;
        self.put(StateKey::Org(info.org.clone()), &org);
        Ok(())
    }

    fn update_product(&mut self, signer: PublicKey, info: &ProductInfo) -> RuleResult<()> {
        let Some(mut product) = self.get::<Product>(&StateKey::Product(info.gtin))? else {
            return reject(
                Reason::UnknownProduct,
                format!("GTIN {} is not registered", info.gtin),
            );
        };
        if product.info.org != info.org {
            return reject(
                Reason::ProductWrongOrg,
                format!("GTIN {} belongs to {}", info.gtin, product.info.org),
            );
        }
        self.require_issuer(signer, &info.org)?;
        product.info = info.clone();
        product.updated_at = self.stamp;
        self.put(StateKey::Product(info.gtin), &product);
        Ok(())
    }

    fn register_code_key(
        &mut self,
        signer: PublicKey,
        org: &OrgId,
        key: PublicKey,
    ) -> RuleResult<()> {
        let mut record = self.require_issuer(signer, org)?;
        if self.get::<CodeKeyOwner>(&StateKey::CodeKey(key))?.is_some() {
            return reject(
                Reason::CodeKeyExists,
                "this code-signing key is registered already",
            );
        }
        if record.code_keys.len() >= MAX_CODE_KEYS {
            return reject(
                Reason::LimitReached,
                format!("{org} has registered {MAX_CODE_KEYS} code-signing keys, the most allowed"),
            );
        }
        record.code_keys.push(CodeKeyEntry {
            key,
            registered_at: self.stamp,
            revoked_at: None,
        });
        self.put(StateKey::Org(org.clone()), &record);
        self.put(
            StateKey::CodeKey(key),
            &CodeKeyOwner {
                org: org.clone(),
                revoked: false,
            },
        );
        Ok(())
    }

    fn revoke_code_key(
        &mut self,
        signer: PublicKey,
        org: &OrgId,
        key: PublicKey,
    ) -> RuleResult<()> {
        let mut record = self.require_member(signer, org)?;
        let owner = self.get::<CodeKeyOwner>(&StateKey::CodeKey(key))?;
        match owner {
            Some(owner) if &owner.org == org => {
                if owner.revoked {
                    return reject(
                        Reason::CodeKeyRevoked,
                        "this code-signing key is revoked already",
                    );
                }
            }
            _ => {
                return reject(
                    Reason::UnknownCodeKey,
                    format!("key is not a code-signing key of {org}"),
                );
            }
        }
        for entry in &mut record.code_keys {
            if entry.key == key {
                entry.revoked_at = Some(self.stamp);
            }
        }
        self.put(StateKey::Org(org.clone()), &record);
        self.put(
            StateKey::CodeKey(key),
            &CodeKeyOwner {
                org: org.clone(),
                revoked: true,
            },
        );
        Ok(())
    }

    fn issue_code_batch(&mut self, signer: PublicKey, batch: &IssueCodeBatch) -> RuleResult<()> {
        self.require_issuer(signer, &batch.org)?;
        let Some(mut licence) = self.get::<Licence>(&StateKey::Licence(batch.licence.clone()))?
        else {
            return reject(
                Reason::UnknownLicence,
                format!("no licence {}", batch.licence),
            );
        };
        if licence.org != batch.org {
            return reject(
                Reason::LicenceWrongOrg,
                format!("licence {} belongs to {}", licence.id, licence.org),
            );
        }
        if licence.revoked.is_some() {
            return reject(
                Reason::LicenceRevoked,
                format!("licence {} is revoked", licence.id),
            );
        }
        let now_s = self.stamp.time_ms / 1000;
        if now_s < licence.valid_from {
            return reject(
                Reason::LicenceNotYetValid,
                format!(
                    "licence {} is valid from {}",
                    licence.id, licence.valid_from
                ),
            );
        }
        if now_s >= licence.valid_until {
            return reject(
                Reason::LicenceExpired,
                format!("licence {} expired at {}", licence.id, licence.valid_until),
            );
        }
        let Some(mut product) = self.get::<Product>(&StateKey::Product(batch.gtin))? else {
            return reject(
                Reason::UnknownProduct,
                format!("GTIN {} is not registered", batch.gtin),
            );
        };
        if product.info.org != batch.org {
            return reject(
                Reason::ProductWrongOrg,
                format!("GTIN {} belongs to {}", batch.gtin, product.info.org),
            );
        }
        match self.get::<CodeKeyOwner>(&StateKey::CodeKey(batch.code_key))? {
            Some(owner) if owner.org == batch.org => {
                if owner.revoked {
                    return reject(Reason::CodeKeyRevoked, "the code-signing key is revoked");
                }
            }
            _ => {
                return reject(
                    Reason::UnknownCodeKey,
                    format!("key is not a code-signing key of {}", batch.org),
                );
            }
        }
        let batch_key = StateKey::Batch(batch.gtin, batch.lot.clone());
        if self.get::<Batch>(&batch_key)?.is_some() {
            return reject(
                Reason::LotExists,
                format!("lot {} exists for GTIN {}", batch.lot, batch.gtin),
            );
        }
        let mut ranges = self
            .get::<SerialRanges>(&StateKey::SerialRanges(batch.gtin))?
            .unwrap_or_default();
        if ranges.0.len() >= MAX_BATCHES_PER_PRODUCT {
            return reject(
                Reason::LimitReached,
                format!(
                    "GTIN {} has {MAX_BATCHES_PER_PRODUCT} batches, the most one product may have",
                    batch.gtin
                ),
            );
        }
        if ranges.overlaps(batch.first_serial, batch.count) {
            return reject(
                Reason::SerialRangeOverlap,
                format!(
                    "serials {}..{} overlap a batch issued before",
                    batch.first_serial,
                    batch.first_serial.saturating_add(batch.count)
                ),
            );
        }
        let remaining = licence.quota.saturating_sub(licence.used);
        if batch.count > remaining {
            return reject(
                Reason::QuotaExceeded,
                format!(
                    "batch needs {} codes, licence {} has {remaining} left",
                    batch.count, licence.id
                ),
            );
        }
        licence.used += batch.count;
        product.codes_issued = product.codes_issued.saturating_add(batch.count);
        let pos = ranges.0.partition_point(|r| r.first < batch.first_serial);
        ranges.0.insert(
            pos,
            SerialRange {
                first: batch.first_serial,
                count: batch.count,
                lot: batch.lot.clone(),
            },
        );
        let record = Batch {
            gtin: batch.gtin,
            lot: batch.lot.clone(),
            org: batch.org.clone(),
            licence: batch.licence.clone(),
            first_serial: batch.first_serial,
            count: batch.count,
            code_key: batch.code_key,
            issued_at: self.stamp,
            tx: self.tx_hash,
        };
        self.put(StateKey::Licence(licence.id.clone()), &licence);
        self.put(StateKey::Product(batch.gtin), &product);
        self.put(StateKey::SerialRanges(batch.gtin), &ranges);
        self.put(batch_key, &record);
        Ok(())
    }
}
