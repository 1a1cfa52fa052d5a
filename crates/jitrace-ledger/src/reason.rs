//! Why a transaction was rejected: stable, machine-readable reason codes.

use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// A rejection reason. The snake_case code is part of the API: never renumber or rename.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            /// Every reason.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The stable snake_case code.
            pub fn code(self) -> &'static str {
                match self {
                    $(Reason::$variant => $code,)*
                }
            }

            /// Looks a reason up by its code.
            pub fn from_code(code: &str) -> Option<Reason> {
                Reason::ALL.iter().copied().find(|r| r.code() == code)
            }
        }
    };
}

reasons! {
    /// The bytes are not a transaction, or a field breaks its syntax (e.g. a malformed GTIN).
    Malformed = "malformed",
    /// The signature does not verify against the signer's key.
    BadSignature = "bad_signature",
    /// The transaction names another chain.
    WrongChainId = "wrong_chain_id",
    /// The nonce is not above the signer's last accepted nonce.
    NonceReplayed = "nonce_replayed",
    /// The same transaction was already executed.
    Duplicate = "duplicate",
    /// The signer's key has never been a member of an organisation (a removed member keeps its
    /// account and nonce, and is refused by the rules instead).
    UnknownSigner = "unknown_signer",
    /// The signer is not a member of the organisation it acts for.
    NotAMember = "not_a_member",
    /// The organisation lacks the role this action needs.
    UnauthorisedRole = "unauthorised_role",
    /// The organisation id is taken.
    OrgExists = "org_exists",
    /// No such organisation.
    UnknownOrg = "unknown_org",
    /// The key is already a member.
    MemberExists = "member_exists",
    /// The key is not a member.
    UnknownMember = "unknown_member",
    /// The last member of an organisation cannot be removed.
    LastMember = "last_member",
    /// The licence id is taken.
    LicenceExists = "licence_exists",
    /// No such licence.
    UnknownLicence = "unknown_licence",
    /// The licence was revoked.
    LicenceRevoked = "licence_revoked",
    /// The licence's validity window has ended.
    LicenceExpired = "licence_expired",
    /// The licence's validity window has not begun.
    LicenceNotYetValid = "licence_not_yet_valid",
    /// The licence belongs to another organisation.
    LicenceWrongOrg = "licence_wrong_org",
    /// The batch needs more codes than the licence has left.
    QuotaExceeded = "quota_exceeded",
    /// The GTIN is already registered.
    ProductExists = "product_exists",
    /// No such product.
    UnknownProduct = "unknown_product",
    /// The product belongs to another organisation.
    ProductWrongOrg = "product_wrong_org",
    /// The GTIN does not carry the organisation's GS1 company prefix.
    GtinPrefixMismatch = "gtin_prefix_mismatch",
    /// The code-signing key is registered already.
    CodeKeyExists = "code_key_exists",
    /// The code-signing key is not registered to this organisation.
    UnknownCodeKey = "unknown_code_key",
    /// The code-signing key was revoked.
    CodeKeyRevoked = "code_key_revoked",
    /// The serial range overlaps a range issued before for this product.
    SerialRangeOverlap = "serial_range_overlap",
    /// The lot label is already used for this product.
    LotExists = "lot_exists",
    /// A per-record bound would be passed (members of an organisation, code-signing keys,
    /// batches of one product): see `state::MAX_*`.
    LimitReached = "limit_reached",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
