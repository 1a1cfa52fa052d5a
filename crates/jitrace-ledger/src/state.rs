//! State keys and the records stored under them.

use borsh::{BorshDeserialize, BorshSerialize};
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, PublicKey, Role, Sscc, TxHash,
    parts::{LotRecord, PartSpec, RecallScope, SpecMismatch},
    tx::{
        BizStep, ChannelRole, CodeId, Disposition, GeoPoint, Geofence, Place, ProductInfo,
        SignedCode,
    },
};

/// Where a record lives. The borsh encoding of a key is its identity: the authenticated store
/// hashes it, the query index keeps it as is (its first byte groups records by kind).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum StateKey {
    /// The chain's parameters, written once from genesis.
    Params = 0,
    /// A key's nonce and memberships.
    Account(PublicKey) = 1,
    /// An organisation.
    Org(OrgId) = 2,
    /// A licence.
    Licence(LicenceId) = 3,
    /// A product record.
    Product(Gtin) = 4,
    /// The serial ranges issued for a product, sorted.
    SerialRanges(Gtin) = 5,
    /// A code batch, by product and lot.
    Batch(Gtin, String) = 6,
    /// A code-signing key: which organisation it signs for.
    CodeKey(PublicKey) = 7,
    /// The receipt of an authentic transaction (decoded, correctly signed), by its id.
    Receipt(TxHash) = 8,
    /// A page of every organisation's id, in registration order (for listings).
    OrgIndex(u32) = 9,
    /// A page of an organisation's products, in registration order.
    OrgProducts(OrgId, u32) = 10,
    /// How many organisations there are.
    OrgCount = 11,
    /// The grants a brand (first) gave a channel organisation (second).
    ChannelGrants(OrgId, OrgId) = 12,
    /// A page of a brand's channel organisations, in order of their first grant.
    BrandChannels(OrgId, u32) = 13,
    /// How many channel organisations a brand has authorised (listed in
    /// [`StateKey::BrandChannels`]).
    BrandChannelCount(OrgId) = 14,
    /// The voided serial ranges of a batch, by product and lot.
    VoidedCodes(Gtin, String) = 15,
    /// A code's state, from its first event or scan.
    Code(CodeId) = 16,
    /// One event of a code's life, by its index (from 0).
    CodeEvent(CodeId, u32) = 17,
    /// A claim or transfer ticket, by its id (`tx::ticket_id`).
    Ticket(Hash) = 18,
    /// A manufacturer's (first) authorisation of a supplier (third) for a part type.
    SupplierAuth(OrgId, Gtin, OrgId) = 19,
    /// A lot's technical record, by product and lot.
    Lot(Gtin, String) = 20,
    /// A pallet, by its SSCC.
    Pallet(Sscc) = 21,
    /// A page of an organisation's receiving-gate log (its own gate, and its parts at others').
    GateLog(OrgId, u32) = 22,
    /// How many entries an organisation's gate log has.
    GateCount(OrgId) = 23,
    /// An organisation's recall, by its number.
    Recall(OrgId, u32) = 26,
    /// How many recalls an organisation has started.
    RecallCount(OrgId) = 27,
    /// The open recalls covering a scope.
    RecallsOn(RecallScope) = 28,
}

/// Entries per page of a paged list ([`StateKey::OrgIndex`], [`StateKey::OrgProducts`]): lists
/// that grow without bound are split so that no record grows without bound.
pub const PAGE_LEN: u64 = 1_000;

/// Most member keys of one organisation.
pub const MAX_MEMBERS: usize = 1_000;
/// Most code-signing keys one organisation ever registers.
pub const MAX_CODE_KEYS: usize = 100;
/// Most batches (serial ranges) of one product.
pub const MAX_BATCHES_PER_PRODUCT: usize = 5_000;
/// Most grants a brand gives one channel organisation (revoked ones included).
pub const MAX_GRANTS_PER_CHANNEL: usize = 32;
/// Most separate voided ranges of one batch (adjacent and overlapping ranges merge).
pub const MAX_VOIDED_RANGES: usize = 1_000;
/// Most events of one code.
pub const MAX_EVENTS_PER_CODE: u32 = 1_000;
/// Most distinct scanning devices a code remembers (enough to tell "many": see
/// [`ScanRules::max_devices`]).
pub const MAX_TRACKED_DEVICES: usize = 64;

impl StateKey {
    /// The canonical bytes of the key.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Reads a key written by [`StateKey::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        borsh::from_slice(bytes).ok()
    }

    /// The 32-byte key used by the authenticated store (keys must spread evenly there).
    pub fn hashed(&self) -> Hash {
        Hash::of(&[b"jitrace/v1/state-key", &self.encode()])
    }

    /// The first byte of every key of this kind, for prefix scans in the query index.
    pub fn kind_tag(&self) -> u8 {
        self.encode()[0]
    }
}

/// Tags of [`StateKey`] kinds, for prefix scans.
pub mod tag {
    pub const ACCOUNT: u8 = 1;
    pub const ORG: u8 = 2;
    pub const LICENCE: u8 = 3;
    pub const PRODUCT: u8 = 4;
    pub const BATCH: u8 = 6;
    pub const CODE_KEY: u8 = 7;
    pub const RECEIPT: u8 = 8;
    pub const CHANNEL_GRANTS: u8 = 12;
    pub const VOIDED_CODES: u8 = 15;
    pub const CODE: u8 = 16;
    pub const CODE_EVENT: u8 = 17;
    pub const TICKET: u8 = 18;
    pub const SUPPLIER_AUTH: u8 = 19;
    pub const RECALL: u8 = 26;
}

/// A typed record, so that a key and its value can never disagree.
pub trait Record: BorshSerialize + BorshDeserialize + Clone + Send + Sync + 'static {}

/// Chain parameters, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Params {
    pub chain_id: String,
    pub operator: PublicKey,
    pub platform_org: OrgId,
    pub validators: Vec<PublicKey>,
    /// Thresholds of scan acceptance and clone detection.
    pub scan_rules: ScanRules,
}
impl Record for Params {}

/// Thresholds of scan acceptance and clone detection, part of [`Params`] (defaults:
/// [`ScanRules::DEFAULT`], set at genesis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ScanRules {
    /// A scan after the sale, from a device other than the owner's, farther than this from the
    /// sale place suggests a clone.
    pub far_from_sale_m: u32,
    /// Moving between two scans faster than this suggests a clone (two copies of the label).
    pub max_speed_kmh: u32,
    /// Hops shorter than this never count as travel: cells are ~5 km, and neighbours in time
    /// would look fast.
    pub min_travel_m: u32,
    /// More distinct devices than this on one code suggests a clone. Below
    /// [`MAX_TRACKED_DEVICES`].
    pub max_devices: u32,
    /// A scan older than this (against the block's time) is refused.
    pub max_scan_age_ms: u64,
    /// A scan later than the block's time by more than this is refused (clock skew).
    pub max_scan_ahead_ms: u64,
}

impl ScanRules {
    /// The defaults written at genesis.
    ///
    /// - 100 km from the sale place: beyond a metropolitan area (Shanghai–Hangzhou is 165 km).
    /// - 1,200 km/h: faster than any airliner door to door, with room for the distance
    ///   approximation's overestimate on long east–west flights (`geo`).
    /// - 30 km: several cells.
    /// - 16 devices: a bottle passes through a shop, a buyer, a household and guests.
    /// - 7 days old, 5 minutes ahead.
    pub const DEFAULT: ScanRules = ScanRules {
        far_from_sale_m: 100_000,
        max_speed_kmh: 1_200,
        min_travel_m: 30_000,
        max_devices: 16,
        max_scan_age_ms: 7 * 86_400_000,
        max_scan_ahead_ms: 300_000,
    };

    /// Why these rules cannot run a chain, if they cannot: a zero speed or distance would
    /// flag every scan, and the device count must stay below what a code tracks.
    pub fn problem(&self) -> Option<String> {
        if self.max_speed_kmh == 0 {
            return Some("max_speed_kmh must be above 0".into());
        }
        if self.far_from_sale_m == 0 {
            return Some("far_from_sale_m must be above 0".into());
        }
        if self.max_devices == 0 || self.max_devices as usize >= MAX_TRACKED_DEVICES {
            return Some(format!(
                "max_devices must be between 1 and {}",
                MAX_TRACKED_DEVICES - 1
            ));
        }
        if self.max_scan_age_ms == 0 {
            return Some("max_scan_age_ms must be above 0".into());
        }
        None
    }
}

/// A key's replay counter and the organisations it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// The last accepted nonce (0: none yet).
    pub nonce: u64,
    /// Organisations this key is a member of, sorted.
    pub orgs: Vec<OrgId>,
}
impl Record for Account {}

/// An organisation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub roles: Vec<Role>,
    pub gs1_company_prefix: Option<String>,
    pub region: Option<String>,
    /// Member keys, sorted.
    pub members: Vec<PublicKey>,
    /// Code-signing keys ever registered, in registration order.
    pub code_keys: Vec<CodeKeyEntry>,
    /// Licences issued to this organisation, in issue order.
    pub licences: Vec<LicenceId>,
    /// How many products this organisation registered (listed in [`StateKey::OrgProducts`]).
    pub product_count: u64,
    pub registered_at: Stamp,
}
impl Record for Org {}

/// A page of organisation ids, in registration order ([`StateKey::OrgIndex`]) or in order of
/// their first grant ([`StateKey::BrandChannels`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct OrgIndex(pub Vec<OrgId>);
impl Record for OrgIndex {}

/// A page of GTINs, in registration order.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProductPage(pub Vec<Gtin>);
impl Record for ProductPage {}

/// A count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Count(pub u64);
impl Record for Count {}

/// The page that holds entry `index` of a paged list.
pub fn page_of(index: u64) -> u32 {
    u32::try_from(index / PAGE_LEN).unwrap_or(u32::MAX)
}

impl Org {
    /// Whether the organisation holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A code-signing key of an organisation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeKeyEntry {
    pub key: PublicKey,
    pub registered_at: Stamp,
    pub revoked_at: Option<Stamp>,
}

/// Which organisation a code-signing key belongs to (global index for verifying codes).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeKeyOwner {
    pub org: OrgId,
    pub revoked: bool,
}
impl Record for CodeKeyOwner {}

/// A licence to issue codes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Licence {
    pub id: LicenceId,
    pub org: OrgId,
    pub quota: u64,
    /// Codes issued so far.
    pub used: u64,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, exclusive.
    pub valid_until: u64,
    pub issued_at: Stamp,
    pub revoked: Option<Revocation>,
}
impl Record for Licence {}

/// When and why something was revoked.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Revocation {
    pub at: Stamp,
    pub reason: String,
}

/// A registered product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Product {
    pub info: ProductInfo,
    pub registered_at: Stamp,
    pub updated_at: Stamp,
    /// Codes issued for this product across all batches.
    pub codes_issued: u64,
}
impl Record for Product {}

/// One issued serial range.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SerialRange {
    pub first: u64,
    pub count: u64,
    pub lot: String,
}

impl SerialRange {
    /// One past the last serial.
    pub fn end(&self) -> u64 {
        self.first.saturating_add(self.count)
    }
}

/// The serial ranges of a product, sorted by `first`, never overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SerialRanges(pub Vec<SerialRange>);
impl Record for SerialRanges {}

impl SerialRanges {
    /// The range holding `serial`, if one does.
    pub fn find(&self, serial: u64) -> Option<&SerialRange> {
        let idx = self.0.partition_point(|r| r.first <= serial);
        idx.checked_sub(1)
            .map(|i| &self.0[i])
            .filter(|r| serial < r.end())
    }

    /// Whether `[first, first + count)` overlaps an issued range.
    pub fn overlaps(&self, first: u64, count: u64) -> bool {
        let end = first.saturating_add(count);
        self.0.iter().any(|r| first < r.end() && r.first < end)
    }
}

/// A batch of codes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Batch {
    pub gtin: Gtin,
    pub lot: String,
    pub org: OrgId,
    pub licence: LicenceId,
    pub first_serial: u64,
    pub count: u64,
    pub code_key: PublicKey,
    pub issued_at: Stamp,
    pub tx: TxHash,
}
impl Record for Batch {}

/// The grants a brand gave one channel organisation, in grant order (a grant's id is its
/// position).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChannelGrants {
    pub brand: OrgId,
    pub channel: OrgId,
    pub grants: Vec<ChannelGrant>,
}
impl Record for ChannelGrants {}

/// One authorisation of a channel by a brand.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChannelGrant {
    /// Position in [`ChannelGrants::grants`].
    pub id: u32,
    pub role: ChannelRole,
    /// Sorted; empty: every product of the brand.
    pub products: Vec<Gtin>,
    /// ISO 3166 regions, sorted and unique; a region covers its subdivisions.
    pub territory: Vec<String>,
    pub geofence: Option<Geofence>,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, exclusive.
    pub valid_until: u64,
    pub granted_at: Stamp,
    pub tx: TxHash,
    pub revoked: Option<Revocation>,
}

impl ChannelGrant {
    /// Whether the grant names `gtin` (or all the brand's products).
    pub fn covers_product(&self, gtin: &Gtin) -> bool {
        self.products.is_empty() || self.products.binary_search(gtin).is_ok()
    }

    /// Whether the grant is in force at `now_s` (unix seconds): not revoked, inside its window.
    pub fn in_force(&self, now_s: u64) -> bool {
        self.revoked.is_none() && self.valid_from <= now_s && now_s < self.valid_until
    }

    /// Whether a sale in `region`, at `point` if known, lies in the grant's territory and
    /// geofence. A geofenced grant needs the point: without it the sale is not shown inside.
    pub fn covers_place(&self, region: &str, point: Option<GeoPoint>) -> bool {
        let in_territory = self.territory.iter().any(|t| region_covers(t, region));
        let in_fence = match (&self.geofence, point) {
            (None, _) => true,
            (Some(fence), Some(point)) => crate::geo::within(fence, point),
            (Some(_), None) => false,
        };
        in_territory && in_fence
    }
}

/// Whether territory region `territory` covers `region`: the same code, or `region` is a
/// subdivision of it (`CN` covers `CN-SH`; `CN-SH` does not cover `CN-SHX` or `CN`).
pub fn region_covers(territory: &str, region: &str) -> bool {
    match region.strip_prefix(territory) {
        Some("") => true,
        Some(rest) => rest.starts_with('-'),
        None => false,
    }
}

/// The voided serials of a batch: sorted, disjoint, non-adjacent `(first, count)` ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoidedRanges(pub Vec<(u64, u64)>);
impl Record for VoidedRanges {}

impl VoidedRanges {
    /// Whether `serial` is voided.
    pub fn contains(&self, serial: u64) -> bool {
        let idx = self.0.partition_point(|(first, _)| *first <= serial);
        idx.checked_sub(1)
            .is_some_and(|i| serial < self.0[i].0.saturating_add(self.0[i].1))
    }

    /// Whether every serial of `[first, first + count)` is voided.
    pub fn covers(&self, first: u64, count: u64) -> bool {
        let idx = self.0.partition_point(|(f, _)| *f <= first);
        idx.checked_sub(1).is_some_and(|i| {
            let (f, c) = self.0[i];
            first.saturating_add(count) <= f.saturating_add(c)
        })
    }

    /// Adds `[first, first + count)`, merging overlapping and adjacent ranges.
    pub fn add(&mut self, first: u64, count: u64) {
        let mut start = first;
        let mut end = first.saturating_add(count);
        let mut kept = Vec::with_capacity(self.0.len() + 1);
        for &(f, c) in &self.0 {
            let e = f.saturating_add(c);
            if e < start || end < f {
                kept.push((f, c));
            } else {
                start = start.min(f);
                end = end.max(e);
            }
        }
        let pos = kept.partition_point(|(f, _)| *f < start);
        kept.insert(pos, (start, end - start));
        self.0 = kept;
    }

    /// How many codes are voided.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, c)| c).sum()
    }
}

/// Where a code is in its life (design §3). `Issued` codes have state only when scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CodeStatus {
    /// Never commissioned (the code has state because consumers scanned it).
    Issued,
    /// Commissioned; the brand holds it.
    Active,
    /// Shipped; the shipper holds it until the named organisation receives it.
    InTransit,
    /// An authorised channel holds it.
    InChannel,
    /// Sold to a consumer who has not claimed it (or never will).
    Sold,
    /// Sold and owned by a key.
    Owned,
    /// Accepted at a manufacturer's receiving gate (or taken out of an item): in its stock,
    /// ready for assembly.
    InStock,
    /// Out of circulation.
    Retired(Retirement),
}

impl CodeStatus {
    /// The snake_case name used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Issued => "issued",
            CodeStatus::Active => "active",
            CodeStatus::InTransit => "in_transit",
            CodeStatus::InChannel => "in_channel",
            CodeStatus::Sold => "sold",
            CodeStatus::Owned => "owned",
            CodeStatus::InStock => "in_stock",
            CodeStatus::Retired(Retirement::Installed) => "installed",
            CodeStatus::Retired(_) => "retired",
        }
    }
}

/// How a code left circulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Retirement {
    Destroyed,
    Decommissioned,
    /// Installed into another item ([`CodeState::parent`]); removing it brings it back.
    Installed,
}

/// Flags beside a code's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeFlags {
    /// Never set: a recall is a record on a scope (a lot, a product, an issuer), and whether a
    /// code is recalled is computed where it is read (`trace::recalled_within`). Kept so the
    /// record's encoding stays as it is.
    pub recalled: bool,
    /// Reported lost or stolen by the owner.
    pub stolen: bool,
    /// Scans suggest a copied label; see [`CodeState::clone`].
    pub clone_suspected: bool,
    /// Sold outside the seller's authorised territory.
    pub grey_market: bool,
}

/// A code's state: custody, ownership, flags, the latest place and a summary of its scans.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeState {
    pub code: CodeId,
    /// The batch's lot, and the brand that issued it.
    pub lot: String,
    pub brand: OrgId,
    pub status: CodeStatus,
    /// Who holds the item (EPCIS possessing party); `None` before commissioning and after
    /// the sale.
    pub custodian: Option<OrgId>,
    /// While in transit: who must receive it.
    pub in_transit_to: Option<OrgId>,
    /// Who owns the item (EPCIS owning party) after the sale.
    pub owner: Option<PublicKey>,
    /// The owner's device pseudonym, when the owner gave one.
    pub owner_device: Option<Hash>,
    /// The claim or transfer ticket waiting to be redeemed.
    pub ticket: Option<PendingTicket>,
    pub sale: Option<SaleRecord>,
    pub flags: CodeFlags,
    /// Why the code is suspected a clone (the first rule that fired).
    pub clone: Option<CloneSuspicion>,
    /// The latest place an event gave, and when.
    pub last_place: Option<Place>,
    pub last_event_at: Option<Stamp>,
    /// How many events are stored under [`StateKey::CodeEvent`] (indexes `0..event_count`).
    pub event_count: u32,
    pub scans: ScanSummary,
    pub created_at: Stamp,
    /// The item this part is installed in.
    pub parent: Option<CodeId>,
    /// The parts installed in this item, in installation order; at most [`MAX_PARTS`].
    pub parts: Vec<CodeId>,
    /// Levels of assembly below this item (0: no parts), at most [`MAX_ASSEMBLY_DEPTH`]; an
    /// upper bound, kept when parts are removed.
    pub height: u8,
}
impl Record for CodeState {}

/// Most parts installed in one item at a time.
pub const MAX_PARTS: usize = 1_000;
/// Most levels of assembly (part → module → … → item).
pub const MAX_ASSEMBLY_DEPTH: usize = 16;
/// Most open recalls on one scope.
pub const MAX_RECALLS_ON_SCOPE: usize = 64;

/// A manufacturer's authorisation of a supplier for one part type.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SupplierAuthorisation {
    pub manufacturer: OrgId,
    pub supplier: OrgId,
    pub part: Gtin,
    pub spec: PartSpec,
    /// [`PartSpec::hash`] of `spec`.
    pub spec_hash: Hash,
    pub valid_from: u64,
    pub valid_until: u64,
    pub granted_at: Stamp,
    pub revoked: Option<Revocation>,
}
impl Record for SupplierAuthorisation {}

impl SupplierAuthorisation {
    /// Whether it is in force at `now_s` (unix seconds).
    pub fn in_force(&self, now_s: u64) -> bool {
        self.revoked.is_none() && (self.valid_from..self.valid_until).contains(&now_s)
    }
}

/// A lot's technical record as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LotEntry {
    pub record: LotRecord,
    pub recorded_at: Stamp,
    pub tx: TxHash,
}
impl Record for LotEntry {}

/// A pallet: the codes packed on it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Pallet {
    pub sscc: Sscc,
    pub org: OrgId,
    pub codes: Vec<SignedCode>,
    pub packed_at: Stamp,
}
impl Record for Pallet {}

/// Why the receiving gate rejected a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum GateReason {
    /// The part carried no code.
    NoCode,
    /// The scanned text is not a code or pallet label.
    CodeUnreadable,
    /// The serial lies in no issued batch.
    CodeNotIssued,
    /// The signature is not the issuer's: a forged code.
    CodeForged,
    /// The issuer voided the code.
    CodeVoided,
    /// The SSCC is no packed pallet.
    UnknownPallet,
    /// Neither the issuer nor the shipper is authorised for this part type.
    SupplierNotAuthorised,
    /// The part or its lot breaks the manufacturer's specification.
    SpecMismatch,
    /// The part was not shipped to this manufacturer through an authorised chain.
    CustodyBroken,
    /// The part, its lot, its type or its issuer is recalled (or a part inside it is).
    Recalled,
    /// The part is installed in an item.
    AlreadyInstalled,
    /// This manufacturer received it already (a second scan, or a copied code).
    AlreadyReceived,
    /// The item was sold, destroyed or decommissioned.
    CodeRetired,
}

impl GateReason {
    /// The snake_case code used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            GateReason::NoCode => "no_code",
            GateReason::CodeUnreadable => "code_unreadable",
            GateReason::CodeNotIssued => "code_not_issued",
            GateReason::CodeForged => "code_forged",
            GateReason::CodeVoided => "code_voided",
            GateReason::UnknownPallet => "unknown_pallet",
            GateReason::SupplierNotAuthorised => "supplier_not_authorised",
            GateReason::SpecMismatch => "spec_mismatch",
            GateReason::CustodyBroken => "custody_broken",
            GateReason::Recalled => "recalled",
            GateReason::AlreadyInstalled => "already_installed",
            GateReason::AlreadyReceived => "already_received",
            GateReason::CodeRetired => "code_retired",
        }
    }
}

/// The gate's verdict on one part.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GateVerdict {
    /// The part's code, when one was read.
    pub code: Option<CodeId>,
    /// The pallet the part came on, when a pallet was scanned.
    pub pallet: Option<Sscc>,
    /// Who issued the part's code.
    pub issuer: Option<OrgId>,
    /// Who shipped it to the gate.
    pub shipper: Option<OrgId>,
    /// Empty: accepted.
    pub reasons: Vec<GateReason>,
    /// The specification rules broken, for [`GateReason::SpecMismatch`].
    pub mismatches: Vec<SpecMismatch>,
}

impl GateVerdict {
    /// Whether the part may enter stock.
    pub fn accepted(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// One entry of a gate log.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GateEntry {
    /// The manufacturer whose gate it was.
    pub gate: OrgId,
    pub at: Stamp,
    pub tx: TxHash,
    pub verdict: GateVerdict,
}

/// Entries a page of a gate log holds ([`GatePage`]): small, because an append rewrites its
/// page.
pub const LIST_PAGE_LEN: u64 = 100;

/// The page of a B2B log that holds entry `index`.
pub fn list_page_of(index: u64) -> u32 {
    u32::try_from(index / LIST_PAGE_LEN).unwrap_or(u32::MAX)
}

/// A page of a gate log.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GatePage(pub Vec<GateEntry>);
impl Record for GatePage {}
impl AsMut<Vec<GateEntry>> for GatePage {
    fn as_mut(&mut self) -> &mut Vec<GateEntry> {
        &mut self.0
    }
}

/// A recall.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Recall {
    pub org: OrgId,
    pub number: u32,
    pub scope: RecallScope,
    pub reason: String,
    pub started_at: Stamp,
    pub closed_at: Option<Stamp>,
}
impl Record for Recall {}

/// The open recalls on a scope, as (organisation, number).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RecallRefs(pub Vec<(OrgId, u32)>);
impl Record for RecallRefs {}

/// The sale of an item.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SaleRecord {
    pub seller: OrgId,
    pub city: String,
    pub region: String,
    pub point: Option<GeoPoint>,
    pub at: Stamp,
    /// Outside the seller's authorised territory or geofence.
    pub grey_market: bool,
}

/// A ticket waiting on a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PendingTicket {
    pub hash: Hash,
    pub kind: TicketKind,
    pub issued_at: Stamp,
}

/// What a ticket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TicketKind {
    /// Issued at the sale: the buyer claims the item.
    Claim,
    /// Issued by the owner: the next owner takes the item.
    Transfer,
}

/// A ticket, kept after use so that a second redemption is told apart from a wrong secret.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Ticket {
    pub code: CodeId,
    pub kind: TicketKind,
    pub issued_at: Stamp,
    pub state: TicketState,
}
impl Record for Ticket {}

/// Where a ticket is in its (one-time) life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TicketState {
    Pending,
    Redeemed {
        by: PublicKey,
        at: Stamp,
    },
    /// Cancelled by the owner, or replaced by a newer ticket.
    Cancelled {
        at: Stamp,
    },
}

/// The clone-detection rules (design §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CloneRule {
    /// Scanned after the sale, far from the sale place, by a device not the owner's.
    FarFromSale,
    /// Two scans farther apart than anyone could travel in the time between them.
    ImpossibleTravel,
    /// Scanned by more distinct devices than a genuine item meets.
    TooManyDevices,
}

impl CloneRule {
    /// The snake_case name used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloneRule::FarFromSale => "far_from_sale",
            CloneRule::ImpossibleTravel => "impossible_travel",
            CloneRule::TooManyDevices => "too_many_devices",
        }
    }
}

/// Why and when a code became suspected a clone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CloneSuspicion {
    pub rule: CloneRule,
    /// The scan that fired the rule.
    pub scan: ScanPoint,
    pub at: Stamp,
}

/// One scan, as remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ScanPoint {
    pub cell: GeoPoint,
    pub device: Hash,
    pub time_ms: u64,
}

/// What clone detection remembers of a code's scans: bounded whatever the number of scans.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ScanSummary {
    pub count: u64,
    /// The latest scan by scan time.
    pub last: Option<ScanPoint>,
    /// Distinct devices seen, sorted; at most [`MAX_TRACKED_DEVICES`].
    pub devices: Vec<Hash>,
}

/// One event of a code's life.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeEventRecord {
    pub index: u32,
    pub at: Stamp,
    pub tx: TxHash,
    pub signer: PublicKey,
    /// The organisation that acted; `None` for the owner's actions.
    pub org: Option<OrgId>,
    pub kind: CodeEventKind,
    /// CBV business step and disposition, for custody events.
    pub biz_step: Option<BizStep>,
    pub disposition: Option<Disposition>,
    pub place: Option<Place>,
}
impl Record for CodeEventRecord {}

/// What an event did.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CodeEventKind {
    Commissioned,
    Packed,
    Shipped {
        to: OrgId,
    },
    Received {
        from: OrgId,
    },
    Stored,
    CustodyTransferred {
        to: OrgId,
    },
    Sold {
        buyer: BuyerKind,
        grey_market: bool,
    },
    Destroyed,
    Decommissioned,
    /// A ticket was redeemed: `owner` owns the item now.
    OwnerChanged {
        owner: PublicKey,
        ticket: TicketKind,
    },
    ReportedStolen,
    StolenCleared,
    /// This part was installed into `into`.
    Installed {
        into: CodeId,
    },
    /// This part was taken out of `from`.
    Removed {
        from: CodeId,
    },
    /// Parts were installed into or removed from this item.
    Assembled {
        added: u32,
        removed: u32,
    },
}

/// How the buyer was bound at a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum BuyerKind {
    Anonymous,
    Owner(PublicKey),
    ClaimTicket,
}

/// When something happened: the block height and the block's time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Stamp {
    pub height: u64,
    /// Milliseconds since the Unix epoch, from the block header.
    pub time_ms: u64,
}

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    pub tx: TxHash,
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// The signer, when the body could be read.
    pub signer: Option<PublicKey>,
    /// The payload kind (`register_org`, ...), when the body could be read.
    pub kind: Option<String>,
    pub outcome: Outcome,
}
impl Record for Receipt {}

/// Accepted, or rejected with a reason.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Outcome {
    Ok,
    Rejected {
        reason: crate::Reason,
        detail: String,
    },
}

impl Receipt {
    /// Whether the transaction took effect.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_find_and_overlap() {
        let r = SerialRanges(vec![
            SerialRange {
                first: 1,
                count: 10,
                lot: "a".into(),
            },
            SerialRange {
                first: 100,
                count: 5,
                lot: "b".into(),
            },
        ]);
        assert_eq!(r.find(0), None);
        assert_eq!(r.find(1).unwrap().lot, "a");
        assert_eq!(r.find(10).unwrap().lot, "a");
        assert_eq!(r.find(11), None);
        assert_eq!(r.find(104).unwrap().lot, "b");
        assert_eq!(r.find(105), None);
        assert!(r.overlaps(10, 1));
        assert!(!r.overlaps(11, 89));
        assert!(r.overlaps(11, 90));
        assert!(r.overlaps(0, 1000));
    }

    #[test]
    fn voided_ranges_merge() {
        let mut v = VoidedRanges::default();
        v.add(10, 5); // 10..15
        v.add(20, 1); // 20
        assert_eq!(v.0, [(10, 5), (20, 1)]);
        assert!(v.contains(10) && v.contains(14) && !v.contains(15) && v.contains(20));
        assert!(!v.contains(9) && !v.contains(21));
        v.add(15, 5); // adjacent on both sides: 10..21
        assert_eq!(v.0, [(10, 11)]);
        v.add(0, 3);
        v.add(12, 2); // inside
        assert_eq!(v.0, [(0, 3), (10, 11)]);
        assert!(v.covers(10, 11) && v.covers(12, 2) && !v.covers(9, 2) && !v.covers(20, 2));
        assert_eq!(v.total(), 14);
        v.add(u64::MAX - 1, 1);
        assert!(v.contains(u64::MAX - 1));
    }

    #[test]
    fn regions_cover_their_subdivisions() {
        assert!(region_covers("CN", "CN"));
        assert!(region_covers("CN", "CN-SH"));
        assert!(region_covers("CN", "CN-NX"));
        assert!(region_covers("CN-SH", "CN-SH"));
        assert!(!region_covers("CN-SH", "CN"));
        assert!(!region_covers("CN-SH", "CN-SHX"));
        assert!(!region_covers("CN", "CNX"));
        assert!(!region_covers("CN-GD", "CN-SH"));
        assert!(!region_covers("HK", "CN-HK"));
    }
}
