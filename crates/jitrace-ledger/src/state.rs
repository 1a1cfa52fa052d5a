//! State keys and the records stored under them.

use borsh::{BorshDeserialize, BorshSerialize};
use jitrace_types::{Gtin, Hash, LicenceId, OrgId, PublicKey, Role, TxHash, tx::ProductInfo};

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
}

/// A typed record, so that a key and its value can never disagree.
pub trait Record: BorshSerialize + BorshDeserialize {}

/// Chain parameters, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Params {
    pub chain_id: String,
    pub operator: PublicKey,
    pub platform_org: OrgId,
    pub validators: Vec<PublicKey>,
}
impl Record for Params {}

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

/// A page of organisation ids, in registration order.
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
}
