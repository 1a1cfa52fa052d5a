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
    /// The serial lies in no batch of the product (or a range to void leaves its batch).
    CodeNotIssued = "code_not_issued",
    /// The code's signature (AI 8030) is malformed, or not the batch's code-signing key's over
    /// this chain, GTIN and serial: a forged code, or one signed by another brand.
    CodeSignatureInvalid = "code_signature_invalid",
    /// The code was voided by its brand (or, voiding, every code of the range already is).
    CodeVoided = "code_voided",
    /// The code has no state: no event or scan ever named it.
    UnknownCode = "unknown_code",
    /// The code's first event must be its brand's commissioning or packing.
    CodeNotCommissioned = "code_not_commissioned",
    /// The code was commissioned already.
    AlreadyCommissioned = "already_commissioned",
    /// The acting organisation does not hold the item (or, before commissioning, is not its
    /// brand).
    NotCustodian = "not_custodian",
    /// The item is in transit: only receiving it, or redirecting the shipment, is possible.
    CodeInTransit = "code_in_transit",
    /// The item is not in transit to the organisation that tries to receive it.
    NotInTransitToYou = "not_in_transit_to_you",
    /// The organisation holds no grant of the brand for this product (or none that allows
    /// selling).
    ChannelNotAuthorised = "channel_not_authorised",
    /// The organisation's grant for this product has expired.
    ChannelExpired = "channel_expired",
    /// The organisation's grant for this product has not begun.
    ChannelNotYetValid = "channel_not_yet_valid",
    /// The organisation's grant for this product was revoked (or, revoking, already is).
    ChannelRevoked = "channel_revoked",
    /// No such channel grant.
    UnknownChannel = "unknown_channel",
    /// The item was sold: custody events are over.
    AlreadySold = "already_sold",
    /// The item was destroyed or decommissioned.
    CodeRetired = "code_retired",
    /// The signer does not own the item.
    NotOwner = "not_owner",
    /// No pending ticket matches: wrong secret, cancelled or replaced ticket, or a ticket hash
    /// used before.
    TicketInvalid = "ticket_invalid",
    /// The ticket was redeemed already: a ticket works once.
    TicketUsed = "ticket_used",
    /// The item is reported lost or stolen (or, reporting, already is).
    CodeStolen = "code_stolen",
    /// The item is not reported lost or stolen.
    CodeNotStolen = "code_not_stolen",
    /// A position is off the globe, not a scan cell, or a place lacks a part the event needs
    /// (GPS and region to ship or receive; city and region to sell); or a geofence is invalid.
    BadLocation = "bad_location",
    /// A scan's time is too far in the past or the future of the block's time.
    ScanTimeInvalid = "scan_time_invalid",
    /// No supplier authorisation of this supplier for this part by this manufacturer.
    UnknownSupplierAuthorisation = "unknown_supplier_authorisation",
    /// The supplier authorisation was revoked already.
    SupplierRevoked = "supplier_revoked",
    /// No lot of this product with this name was issued.
    UnknownLot = "unknown_lot",
    /// A pallet with this SSCC was packed already.
    PalletExists = "pallet_exists",
    /// An assembly names a part that is not in its stock, or not in the item it removes it from.
    NotAPart = "not_a_part",
    /// The part is installed in an item already.
    AlreadyInstalled = "already_installed",
    /// The part, or a part inside it, is under an open recall.
    Recalled = "recalled",
    /// No recall with this number.
    UnknownRecall = "unknown_recall",
    /// The recall was closed already.
    RecallClosed = "recall_closed",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
