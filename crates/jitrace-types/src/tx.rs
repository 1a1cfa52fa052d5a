//! The signed transaction envelope and every payload the ledger understands.
//!
//! Wire form (borsh, canonical): a [`SignedTransaction`] holds the exact bytes of a
//! [`Transaction`] body and an Ed25519 signature over them in [`domain::TRANSACTION`].
//! The transaction id is the SHA-256 of the body, so re-encoding can never change it.

use crate::{
    Error, Gtin, Hash, LicenceId, OrgId, PublicKey, Role, SecretKey, Signature,
    ids::validate_text,
    keys::domain,
    parts::{Assemble, AuthoriseSupplier, GateReceive, LotRecord, PackPallet, StartRecall},
};
use borsh::{BorshDeserialize, BorshSerialize};

/// Largest encoded signed transaction accepted anywhere (API, mempool, block, ledger).
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Longest chain id.
pub const MAX_CHAIN_ID_LEN: usize = 64;
/// Longest name (organisation, product).
pub const MAX_NAME_LEN: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 4_000;
/// Most specification attributes on a product.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most media items on a product.
pub const MAX_MEDIA: usize = 16;
/// Most codes in one batch (a batch is one range, so this bounds nothing in storage; it keeps
/// label printing and quota arithmetic sane).
pub const MAX_BATCH_SIZE: u64 = 100_000_000;

/// A transaction id: SHA-256 of the transaction body.
pub type TxHash = Hash;

/// What a signer asks the ledger to do, with replay protection.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// Which chain this is meant for; a transaction for another chain is rejected.
    pub chain_id: String,
    /// Who signs.
    pub signer: PublicKey,
    /// Must be greater than the signer's last accepted nonce.
    pub nonce: u64,
    /// The action.
    pub payload: Payload,
}

/// The transaction as it travels: body bytes and a signature over them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The borsh encoding of a [`Transaction`].
    pub body: Vec<u8>,
    /// The signer's signature over `body` in [`domain::TRANSACTION`].
    pub signature: Signature,
}

/// Every action of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Platform: onboard an organisation with its roles and first member key.
    RegisterOrg(RegisterOrg),
    /// Org member (or platform): add a member key to an organisation.
    AddMember { org: OrgId, key: PublicKey },
    /// Org member (or platform): remove a member key; the last member cannot be removed.
    RemoveMember { org: OrgId, key: PublicKey },
    /// Platform: license an organisation to issue up to `quota` codes in a time window.
    IssueLicence(IssueLicence),
    /// Platform: revoke a licence; no batch can be issued under it afterwards.
    RevokeLicence { licence: LicenceId, reason: String },
    /// Brand member: register a product under a GTIN the brand owns.
    RegisterProduct(ProductInfo),
    /// Brand member: replace a registered product's record (the GTIN and owner stay).
    UpdateProduct(ProductInfo),
    /// Brand member: register a code-signing key for the brand's product codes.
    RegisterCodeKey { org: OrgId, key: PublicKey },
    /// Brand member: revoke a code-signing key (codes already issued under it stay valid).
    RevokeCodeKey { org: OrgId, key: PublicKey },
    /// Brand member: register a serial range of codes for a product against a licence's quota.
    IssueCodeBatch(IssueCodeBatch),
    /// Brand member: authorise an organisation as a channel for products, a territory and a
    /// validity window (one grant; a channel can hold several).
    AuthoriseChannel(AuthoriseChannel),
    /// Brand member: revoke one grant of a channel.
    RevokeChannel {
        brand: OrgId,
        channel: OrgId,
        /// The grant's number within the (brand, channel) pair, from 0 in grant order.
        grant: u32,
        reason: String,
    },
    /// Brand member: void codes of one batch (lost or spoiled labels) without touching the rest.
    VoidCodes(VoidCodes),
    /// Brand or custodian member: an event in a code's life (GS1 CBV business step).
    RecordCodeEvent(CodeEvent),
    /// Anyone holding a pending ticket's secret: become the code's owner. The signer is the
    /// new owner; `proof` is the ticket key's signature over [`redeem_message`], so the
    /// redemption cannot be re-bound to another owner by whoever sees it in the mempool.
    RedeemTicket {
        code: CodeId,
        /// The ticket's public key ([`TicketSecret::public_key`]).
        ticket: PublicKey,
        proof: Signature,
        /// The new owner's device pseudonym (as the scan gateway computes it), so that the
        /// owner's own scans are recognised by clone detection.
        device: Option<Hash>,
    },
    /// Owner: offer the code to the next owner with a one-time ticket (its public key only,
    /// see [`TicketSecret`]); replaces a pending ticket.
    IssueTransferTicket { code: CodeId, ticket: PublicKey },
    /// Owner: cancel the pending ticket.
    CancelTicket { code: CodeId },
    /// Owner: report the item lost or stolen.
    ReportStolen { code: CodeId },
    /// Owner: withdraw a lost/stolen report.
    ClearStolen { code: CodeId },
    /// Platform member (the scan gateway): consumers' scans, coarse-located, for clone
    /// detection.
    RecordScans { scans: Vec<Scan> },
    /// Manufacturer member: authorise a supplier for a part type, with its specification.
    AuthoriseSupplier(AuthoriseSupplier),
    /// Manufacturer member: withdraw a supplier's authorisation for a part type.
    RevokeSupplier {
        manufacturer: OrgId,
        supplier: OrgId,
        part: Gtin,
        reason: String,
    },
    /// Member of the lot's issuer: the lot's technical record.
    RecordLot(LotRecord),
    /// Custodian member: pack codes onto an SSCC pallet.
    PackPallet(PackPallet),
    /// Manufacturer member: the receiving gate's checks; accepted parts enter stock.
    GateReceive(GateReceive),
    /// Custodian member: install parts into an item, or remove them.
    Assemble(Assemble),
    /// Issuer or authorising manufacturer member: recall a lot, a product or an issuer's codes.
    StartRecall(StartRecall),
    /// Member of the recalling organisation: close one of its recalls.
    CloseRecall { org: OrgId, recall: u32 },
}

/// [`Payload::RegisterOrg`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RegisterOrg {
    pub id: OrgId,
    pub name: String,
    pub roles: Vec<Role>,
    /// GS1 company prefix (6–12 digits); when set, the org's GTINs must carry it.
    pub gs1_company_prefix: Option<String>,
    /// ISO 3166-1 alpha-2 country, or 3166-2 subdivision (e.g. `CN-SH`).
    pub region: Option<String>,
    /// The first member key.
    pub admin: PublicKey,
}

/// [`Payload::IssueLicence`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IssueLicence {
    pub id: LicenceId,
    pub org: OrgId,
    /// How many codes the licence allows in total.
    pub quota: u64,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, exclusive.
    pub valid_until: u64,
}

/// A product record: [`Payload::RegisterProduct`] and [`Payload::UpdateProduct`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProductInfo {
    pub gtin: Gtin,
    /// The owning organisation (a brand, manufacturer or supplier).
    pub org: OrgId,
    pub name: String,
    pub description: String,
    /// Specification attributes, e.g. (`volume_ml`, `750`).
    pub attributes: Vec<Attribute>,
    /// Photos, videos and documents, by content hash (the files live in the blob store).
    pub media: Vec<MediaRef>,
}

/// One specification attribute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// A content-addressed media file.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MediaRef {
    /// SHA-256 of the file.
    pub hash: Hash,
    /// MIME type, e.g. `image/png`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Short caption.
    pub caption: String,
}

/// [`Payload::IssueCodeBatch`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IssueCodeBatch {
    pub org: OrgId,
    pub licence: LicenceId,
    pub gtin: Gtin,
    /// The batch/lot label (GS1 AI 10), unique per product.
    pub lot: String,
    /// First serial of the range; serials are decimal integers without leading zeros.
    pub first_serial: u64,
    /// How many codes: serials `first_serial .. first_serial + count`.
    pub count: u64,
    /// The brand's registered code-signing key that signs these codes.
    pub code_key: PublicKey,
}

impl Transaction {
    /// The canonical body bytes.
    pub fn body(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Signs the body with `key` (which should be `self.signer`'s secret key).
    pub fn sign(&self, key: &SecretKey) -> SignedTransaction {
        let body = self.body();
        let signature = key.sign(domain::TRANSACTION, &body);
        SignedTransaction { body, signature }
    }

    /// Checks every bound and syntactic rule that does not need ledger state.
    pub fn validate(&self) -> Result<(), Error> {
        if self.chain_id.is_empty() || self.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(invalid("chain_id", "must be 1 to 64 bytes"));
        }
        self.payload.validate()
    }
}

impl Payload {
    /// Stateless checks of the payload's fields.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Payload::RegisterOrg(org) => {
                validate_text("name", &org.name, MAX_NAME_LEN, true)?;
                if org.roles.is_empty() {
                    return Err(invalid("roles", "at least one role is required"));
                }
                let mut sorted = org.roles.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != org.roles.len() {
                    return Err(invalid("roles", "a role is listed twice"));
                }
                if let Some(prefix) = &org.gs1_company_prefix
                    && (!(6..=12).contains(&prefix.len())
                        || !prefix.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(invalid("gs1_company_prefix", "must be 6 to 12 digits"));
                }
                if let Some(region) = &org.region {
                    validate_region(region)?;
                }
                Ok(())
            }
            Payload::AddMember { .. }
            | Payload::RemoveMember { .. }
            | Payload::RegisterCodeKey { .. }
            | Payload::RevokeCodeKey { .. } => Ok(()),
            Payload::IssueLicence(l) => {
                if l.quota == 0 {
                    return Err(invalid("quota", "must be at least 1"));
                }
                if l.valid_from >= l.valid_until {
                    return Err(invalid("valid_until", "must be after valid_from"));
                }
                Ok(())
            }
            Payload::RevokeLicence { reason, .. } => validate_text("reason", reason, 500, false),
            Payload::RegisterProduct(p) | Payload::UpdateProduct(p) => p.validate(),
            Payload::IssueCodeBatch(b) => {
                crate::gs1::validate_lot(&b.lot)?;
                if b.count == 0 || b.count > MAX_BATCH_SIZE {
                    return Err(invalid("count", "must be 1 to 100,000,000"));
                }
                if b.first_serial.checked_add(b.count).is_none() {
                    return Err(invalid("first_serial", "range overflows"));
                }
                Ok(())
            }
            Payload::AuthoriseChannel(a) => a.validate(),
            Payload::RevokeChannel { reason, .. } => validate_text("reason", reason, 500, false),
            Payload::VoidCodes(v) => {
                validate_text("reason", &v.reason, 500, false)?;
                if v.count == 0 || v.count > MAX_BATCH_SIZE {
                    return Err(invalid("count", "must be 1 to 100,000,000"));
                }
                if v.first_serial.checked_add(v.count).is_none() {
                    return Err(invalid("first_serial", "range overflows"));
                }
                Ok(())
            }
            Payload::RecordCodeEvent(e) => {
                e.code.validate()?;
                e.place.validate()
            }
            Payload::RedeemTicket { .. }
            | Payload::IssueTransferTicket { .. }
            | Payload::CancelTicket { .. }
            | Payload::ReportStolen { .. }
            | Payload::ClearStolen { .. } => Ok(()),
            Payload::RecordScans { scans } => {
                if scans.is_empty() || scans.len() > MAX_SCANS_PER_TX {
                    return Err(invalid("scans", "must hold 1 to 200 scans"));
                }
                scans.iter().try_for_each(|scan| scan.code.validate())
            }
            Payload::AuthoriseSupplier(a) => a.validate(),
            Payload::RevokeSupplier { reason, .. } => validate_text("reason", reason, 500, false),
            Payload::RecordLot(l) => l.validate(),
            Payload::PackPallet(p) => p.validate(),
            Payload::GateReceive(g) => g.validate(),
            Payload::Assemble(a) => a.validate(),
            Payload::StartRecall(r) => r.validate(),
            Payload::CloseRecall { .. } => Ok(()),
        }
    }

    /// The payload's kind as a stable snake_case name (for receipts, indexes and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::RegisterOrg(_) => "register_org",
            Payload::AddMember { .. } => "add_member",
            Payload::RemoveMember { .. } => "remove_member",
            Payload::IssueLicence(_) => "issue_licence",
            Payload::RevokeLicence { .. } => "revoke_licence",
            Payload::RegisterProduct(_) => "register_product",
            Payload::UpdateProduct(_) => "update_product",
            Payload::RegisterCodeKey { .. } => "register_code_key",
            Payload::RevokeCodeKey { .. } => "revoke_code_key",
            Payload::IssueCodeBatch(_) => "issue_code_batch",
            Payload::AuthoriseChannel(_) => "authorise_channel",
            Payload::RevokeChannel { .. } => "revoke_channel",
            Payload::VoidCodes(_) => "void_codes",
            Payload::RecordCodeEvent(_) => "record_code_event",
            Payload::RedeemTicket { .. } => "redeem_ticket",
            Payload::IssueTransferTicket { .. } => "issue_transfer_ticket",
            Payload::CancelTicket { .. } => "cancel_ticket",
            Payload::ReportStolen { .. } => "report_stolen",
            Payload::ClearStolen { .. } => "clear_stolen",
            Payload::RecordScans { .. } => "record_scans",
            Payload::AuthoriseSupplier(_) => "authorise_supplier",
            Payload::RevokeSupplier { .. } => "revoke_supplier",
            Payload::RecordLot(_) => "record_lot",
            Payload::PackPallet(_) => "pack_pallet",
            Payload::GateReceive(_) => "gate_receive",
            Payload::Assemble(_) => "assemble",
            Payload::StartRecall(_) => "start_recall",
            Payload::CloseRecall { .. } => "close_recall",
        }
    }

    /// Whether any key may sign this payload, member of an organisation or not: the actions of
    /// a code's owner (a consumer) and of whoever redeems a ticket.
    pub fn any_key_may_sign(&self) -> bool {
        matches!(
            self,
            Payload::RedeemTicket { .. }
                | Payload::IssueTransferTicket { .. }
                | Payload::CancelTicket { .. }
                | Payload::ReportStolen { .. }
                | Payload::ClearStolen { .. }
        )
    }
}

/// Most products one channel grant names.
pub const MAX_CHANNEL_PRODUCTS: usize = 100;
/// Most regions in one channel grant's territory.
pub const MAX_TERRITORY_REGIONS: usize = 64;
/// Largest geofence radius, in metres.
pub const MAX_GEOFENCE_RADIUS_M: u32 = 2_000_000;
/// Longest city name.
pub const MAX_CITY_LEN: usize = 100;
/// Most scans in one [`Payload::RecordScans`].
pub const MAX_SCANS_PER_TX: usize = 200;

/// A position in WGS 84, in millionths of a degree: fixed point, because consensus state holds
/// no floats. One micro-degree of latitude is about 11 cm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GeoPoint {
    /// Latitude, −90,000,000 ..= 90,000,000 (south negative).
    pub lat_micro: i32,
    /// Longitude, −180,000,000 ..= 180,000,000 (west negative).
    pub lon_micro: i32,
}

impl GeoPoint {
    /// Largest latitude magnitude, in micro-degrees.
    pub const MAX_LAT: i32 = 90_000_000;
    /// Largest longitude magnitude, in micro-degrees.
    pub const MAX_LON: i32 = 180_000_000;

    /// Whether the point lies on the globe. (The ledger checks this and rejects a point off
    /// the globe with reason `bad_location`, so it is not part of [`Payload::validate`].)
    pub fn is_valid(&self) -> bool {
        (-Self::MAX_LAT..=Self::MAX_LAT).contains(&self.lat_micro)
            && (-Self::MAX_LON..=Self::MAX_LON).contains(&self.lon_micro)
    }
}

/// A circle on the ground: a channel's selling area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Geofence {
    pub centre: GeoPoint,
    /// 1 ..= [`MAX_GEOFENCE_RADIUS_M`].
    pub radius_m: u32,
}

/// What a brand authorises a channel to be.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ChannelRole {
    /// Wholesale: holds, ships and may sell.
    Distributor = 0,
    /// Sells to consumers.
    Retailer = 1,
    /// Carries goods: holds and ships, never sells.
    Logistics = 2,
}

impl ChannelRole {
    /// The organisation role a channel of this kind must hold.
    pub fn org_role(self) -> Role {
        match self {
            ChannelRole::Distributor => Role::Distributor,
            ChannelRole::Retailer => Role::Retailer,
            ChannelRole::Logistics => Role::Logistics,
        }
    }

    /// Whether a channel of this kind may sell to consumers.
    pub fn may_sell(self) -> bool {
        !matches!(self, ChannelRole::Logistics)
    }

    /// The lower-case name used in APIs.
    pub fn as_str(self) -> &'static str {
        self.org_role().as_str()
    }
}

/// [`Payload::AuthoriseChannel`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AuthoriseChannel {
    pub brand: OrgId,
    /// The organisation authorised; it must hold the matching [`Role`].
    pub channel: OrgId,
    pub role: ChannelRole,
    /// The brand's products the grant covers; empty: every product of the brand.
    pub products: Vec<Gtin>,
    /// ISO 3166 regions where the channel may sell; a region covers its subdivisions
    /// (`CN` covers `CN-SH`).
    pub territory: Vec<String>,
    /// Optionally, the channel may sell only inside this circle too.
    pub geofence: Option<Geofence>,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, exclusive.
    pub valid_until: u64,
}

impl AuthoriseChannel {
    fn validate(&self) -> Result<(), Error> {
        if self.products.len() > MAX_CHANNEL_PRODUCTS {
            return Err(invalid("products", "at most 100 products"));
        }
        let mut products = self.products.clone();
        products.sort_unstable();
        if products.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("products", "a product is listed twice"));
        }
        if self.territory.is_empty() || self.territory.len() > MAX_TERRITORY_REGIONS {
            return Err(invalid("territory", "must list 1 to 64 regions"));
        }
        for region in &self.territory {
            validate_region(region)?;
        }
        if self.valid_from >= self.valid_until {
            return Err(invalid("valid_until", "must be after valid_from"));
        }
        Ok(())
    }
}

/// [`Payload::VoidCodes`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoidCodes {
    pub org: OrgId,
    pub gtin: Gtin,
    /// Serials `first_serial .. first_serial + count`, all in one batch.
    pub first_serial: u64,
    pub count: u64,
    pub reason: String,
}

/// One item: GTIN and serial (a batch serial: a decimal number, see `code::parse_serial`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct CodeId {
    pub gtin: Gtin,
    pub serial: u64,
}

impl CodeId {
    /// The serial as printed (AI 21): decimal, no leading zeros.
    pub fn serial_text(&self) -> String {
        self.serial.to_string()
    }
}

/// A code as printed on the item: its id and the brand's signature (AI 8030), which the ledger
/// checks against the batch's code-signing key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedCode {
    pub code: CodeId,
    /// Unpadded base64url, as in the printed URI (`code::sign_code`).
    pub signature: String,
}

impl SignedCode {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        crate::gs1::validate_digital_signature(&self.signature)
    }
}

/// Where an event happened. Which parts are required depends on the event (the ledger rejects
/// a missing or off-globe part with reason `bad_location`).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Place {
    /// GPS position.
    pub point: Option<GeoPoint>,
    /// ISO 3166-2 region, e.g. `CN-SH`.
    pub region: Option<String>,
    /// City name as people write it, e.g. `上海` or `Shanghai`.
    pub city: Option<String>,
}

impl Place {
    fn validate(&self) -> Result<(), Error> {
        if let Some(region) = &self.region {
            validate_region(region)?;
        }
        if let Some(city) = &self.city {
            validate_text("city", city, MAX_CITY_LEN, true)?;
        }
        Ok(())
    }
}

/// [`Payload::RecordCodeEvent`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CodeEvent {
    pub code: SignedCode,
    /// The organisation acting: the brand, or the code's custodian (the signer is a member).
    pub org: OrgId,
    pub action: CodeAction,
    pub place: Place,
}

/// What happens to an item, after GS1 CBV business steps.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CodeAction {
    /// The brand puts the item into circulation (`commissioning` → `active`).
    Commission,
    /// The brand, or the custodian, packs it (`packing` → `in_progress`); the brand's packing
    /// commissions an item that was not yet.
    Pack,
    /// The custodian ships it to a named next custodian (`shipping` → `in_transit`); needs GPS
    /// and region.
    Ship { to: OrgId },
    /// The named organisation receives a shipment (`receiving` → `in_progress`) and becomes
    /// custodian; needs GPS and region.
    Receive,
    /// The custodian stores it (`storing` → `sellable_not_accessible`).
    Store,
    /// The custodian hands custody to another organisation directly, without a shipment
    /// (`consigning` → `in_progress`).
    TransferCustody { to: OrgId },
    /// The custodian sells it to a consumer (`retail_selling` → `retail_sold`); needs city and
    /// region.
    Sell { buyer: Buyer },
    /// The custodian destroys it (`destroying` → `destroyed`).
    Destroy,
    /// The custodian takes it out of circulation (`decommissioning` → `inactive`).
    Decommission,
}

/// Who becomes owner at a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Buyer {
    /// Nobody yet, and no ticket: the item is sold without an owner.
    Anonymous,
    /// The buyer's key, shown at the till: the buyer owns the item at once.
    Owner(PublicKey),
    /// A one-time claim ticket (its public key, see [`TicketSecret`]); the first holder of
    /// the secret to redeem it becomes owner.
    ClaimTicket(PublicKey),
}

/// GS1 CBV business steps the ledger records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum BizStep {
    Commissioning = 0,
    Packing = 1,
    Shipping = 2,
    Receiving = 3,
    Storing = 4,
    Consigning = 5,
    RetailSelling = 6,
    Destroying = 7,
    Decommissioning = 8,
}

impl BizStep {
    /// The CBV name (`commissioning`, `retail_selling`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BizStep::Commissioning => "commissioning",
            BizStep::Packing => "packing",
            BizStep::Shipping => "shipping",
            BizStep::Receiving => "receiving",
            BizStep::Storing => "storing",
            BizStep::Consigning => "consigning",
            BizStep::RetailSelling => "retail_selling",
            BizStep::Destroying => "destroying",
            BizStep::Decommissioning => "decommissioning",
        }
    }
}

/// GS1 CBV dispositions the ledger records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Disposition {
    Active = 0,
    InProgress = 1,
    InTransit = 2,
    SellableNotAccessible = 3,
    RetailSold = 4,
    Destroyed = 5,
    Inactive = 6,
    Stolen = 7,
}

impl Disposition {
    /// The CBV name (`active`, `in_transit`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Active => "active",
            Disposition::InProgress => "in_progress",
            Disposition::InTransit => "in_transit",
            Disposition::SellableNotAccessible => "sellable_not_accessible",
            Disposition::RetailSold => "retail_sold",
            Disposition::Destroyed => "destroyed",
            Disposition::Inactive => "inactive",
            Disposition::Stolen => "stolen",
        }
    }
}

impl CodeAction {
    /// The CBV business step.
    pub fn biz_step(&self) -> BizStep {
        match self {
            CodeAction::Commission => BizStep::Commissioning,
            CodeAction::Pack => BizStep::Packing,
            CodeAction::Ship { .. } => BizStep::Shipping,
            CodeAction::Receive => BizStep::Receiving,
            CodeAction::Store => BizStep::Storing,
            CodeAction::TransferCustody { .. } => BizStep::Consigning,
            CodeAction::Sell { .. } => BizStep::RetailSelling,
            CodeAction::Destroy => BizStep::Destroying,
            CodeAction::Decommission => BizStep::Decommissioning,
        }
    }

    /// The CBV disposition the item has after the step.
    pub fn disposition(&self) -> Disposition {
        match self {
            CodeAction::Commission => Disposition::Active,
            CodeAction::Pack | CodeAction::Receive | CodeAction::TransferCustody { .. } => {
                Disposition::InProgress
            }
            CodeAction::Ship { .. } => Disposition::InTransit,
            CodeAction::Store => Disposition::SellableNotAccessible,
            CodeAction::Sell { .. } => Disposition::RetailSold,
            CodeAction::Destroy => Disposition::Destroyed,
            CodeAction::Decommission => Disposition::Inactive,
        }
    }
}

/// The secret of a one-time claim or transfer ticket (printed on the receipt, or handed to
/// the next buyer): the Ed25519 seed of the ticket's key. Only the public key goes on chain;
/// the secret never does, not even when the ticket is redeemed (the holder signs instead).
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TicketSecret(pub [u8; 32]);

impl TicketSecret {
    /// The ticket's signing key.
    pub fn signing_key(&self) -> Result<SecretKey, Error> {
        SecretKey::from_bytes(self.0)
    }

    /// The ticket's public key, as a sale or a transfer offer records it.
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        Ok(self.signing_key()?.public_key())
    }

    /// The secret as a link carries it (`#claim=…`, `#transfer=…`): unpadded base64url, 43
    /// characters.
    pub fn to_text(&self) -> String {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Reads [`TicketSecret::to_text`]'s form; anything else fails with
    /// [`Error::BadEncoding`] (kind `"ticket secret"`).
    pub fn from_text(text: &str) -> Result<Self, Error> {
        crate::code::decode_base64url_exact("ticket secret", text).map(Self)
    }

    /// The redemption proof: the ticket key's signature giving `code` to `owner`.
    pub fn redeem(
        &self,
        code: &CodeId,
        owner: &PublicKey,
        device: Option<&Hash>,
    ) -> Result<Signature, Error> {
        Ok(self.signing_key()?.sign(
            crate::keys::domain::TICKET,
            &redeem_message(code, owner, device),
        ))
    }
}

/// What a ticket key signs to redeem: the GTIN, the serial (8 bytes, big-endian), the new
/// owner's key and the device pseudonym (32 zero bytes for none).
pub fn redeem_message(code: &CodeId, owner: &PublicKey, device: Option<&Hash>) -> Vec<u8> {
    let mut message = Vec::with_capacity(14 + 8 + 32 + 32);
    message.extend_from_slice(code.gtin.as_bytes());
    message.extend_from_slice(&code.serial.to_be_bytes());
    message.extend_from_slice(&owner.0);
    message.extend_from_slice(&device.map_or([0; 32], |d| d.0));
    message
}

impl std::fmt::Debug for TicketSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketSecret(..)")
    }
}

/// A ticket's id in the ledger: SHA-256 of a domain tag, the GTIN, the serial (8 bytes,
/// big-endian) and the ticket's public key. Binding the code means a ticket key reused for
/// another item gives another id.
pub fn ticket_id(code: &CodeId, ticket: &PublicKey) -> Hash {
    Hash::of(&[
        b"jitrace/v1/ticket",
        code.gtin.as_bytes(),
        &code.serial.to_be_bytes(),
        &ticket.0,
    ])
}

/// One consumer scan as the scan gateway reports it: never an exact position, never personal
/// data.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Scan {
    pub code: SignedCode,
    /// The centre of the scan's ~5 km cell: both coordinates multiples of the ledger's cell
    /// size (`jitrace_ledger::geo::CELL_MICRO`), so finer positions never reach the chain.
    pub cell: GeoPoint,
    /// The device's pseudonym (a keyed hash the gateway computes; not reversible).
    pub device: Hash,
    /// When the scan happened, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl ProductInfo {
    fn validate(&self) -> Result<(), Error> {
        validate_text("name", &self.name, MAX_NAME_LEN, true)?;
        validate_text("description", &self.description, MAX_DESCRIPTION_LEN, false)?;
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(invalid("attributes", "at most 64 attributes"));
        }
        for a in &self.attributes {
            validate_text("attribute name", &a.name, 64, true)?;
            validate_text("attribute value", &a.value, 500, false)?;
        }
        let mut names: Vec<_> = self.attributes.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("attributes", "an attribute name is listed twice"));
        }
        if self.media.len() > MAX_MEDIA {
            return Err(invalid("media", "at most 16 media items"));
        }
        self.media.iter().try_for_each(MediaRef::validate)
    }
}

impl MediaRef {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        validate_text("media caption", &self.caption, 200, false)?;
        let ok_mime = self.mime.len() <= 100
            && self.mime.contains('/')
            && self.mime.bytes().all(|b| b.is_ascii_graphic());
        if !ok_mime {
            return Err(invalid("media mime", "must be a MIME type like image/png"));
        }
        Ok(())
    }
}

/// Checks an ISO 3166-1 alpha-2 code or an ISO 3166-2 subdivision code (`CN`, `CN-SH`, `CN-31`).
pub fn validate_region(region: &str) -> Result<(), Error> {
    let (country, sub) = match region.split_once('-') {
        Some((c, s)) => (c, Some(s)),
        None => (region, None),
    };
    let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    let sub_ok = sub.is_none_or(|s| {
        (1..=3).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    if country_ok && sub_ok {
        Ok(())
    } else {
        Err(invalid(
            "region",
            "must be an ISO 3166 code like CN or CN-SH",
        ))
    }
}

pub(crate) fn invalid(field: &'static str, reason: &str) -> Error {
    Error::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

impl SignedTransaction {
    /// The transaction id.
    pub fn hash(&self) -> TxHash {
        Hash::of(&[&self.body])
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Reads wire bytes: bounded in size, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(Error::TooLarge {
                kind: "transaction",
                got: bytes.len(),
                max: MAX_TX_BYTES,
            });
        }
        borsh::from_slice(bytes).map_err(|e| Error::Decode {
            kind: "signed transaction",
            reason: e.to_string(),
        })
    }

    /// Decodes and validates the body. The signature is not checked here.
    pub fn transaction(&self) -> Result<Transaction, Error> {
        let tx: Transaction = borsh::from_slice(&self.body).map_err(|e| Error::Decode {
            kind: "transaction",
            reason: e.to_string(),
        })?;
        tx.validate()?;
        Ok(tx)
    }

    /// Whether `signature` is `signer`'s over the body.
    pub fn verify_signature(&self, signer: &PublicKey) -> bool {
        signer.verify(domain::TRANSACTION, &self.body, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &SecretKey) -> Transaction {
        Transaction {
            chain_id: "jitrace-test".into(),
            signer: key.public_key(),
            nonce: 1,
            payload: Payload::AddMember {
                org: OrgId::new("acme").unwrap(),
                key: SecretKey::from_seed(9).public_key(),
            },
        }
    }

    #[test]
    fn sign_encode_decode_verify() {
        let key = SecretKey::from_seed(1);
        let tx = sample(&key);
        let signed = tx.sign(&key);
        let back = SignedTransaction::decode(&signed.encode()).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.transaction().unwrap(), tx);
        assert!(back.verify_signature(&key.public_key()));
        assert!(!back.verify_signature(&SecretKey::from_seed(2).public_key()));
        assert_eq!(back.hash(), Hash::of(&[&tx.body()]));
    }

    #[test]
    fn decoding_is_bounded_and_strict() {
        let key = SecretKey::from_seed(1);
        let mut bytes = sample(&key).sign(&key).encode();
        bytes.push(0);
        assert!(SignedTransaction::decode(&bytes).is_err(), "trailing bytes");
        assert!(SignedTransaction::decode(&[0xff; 10]).is_err(), "garbage");
        let huge = vec![0u8; MAX_TX_BYTES + 1];
        assert!(matches!(
            SignedTransaction::decode(&huge),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn regions() {
        for ok in ["CN", "CN-SH", "CN-31", "US-CA", "DE"] {
            assert!(validate_region(ok).is_ok(), "{ok}");
        }
        for bad in ["cn", "CHN", "CN-", "CN-SHAN", ""] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    fn wine(serial: u64) -> CodeId {
        CodeId {
            gtin: Gtin::parse("09506000134352").unwrap(),
            serial,
        }
    }

    #[test]
    fn tickets_bind_the_item_and_the_owner() {
        let secret = TicketSecret([7; 32]);
        let key = secret.public_key().unwrap();
        assert_eq!(key, TicketSecret([7; 32]).public_key().unwrap());
        assert_ne!(key, TicketSecret([8; 32]).public_key().unwrap());
        let id = ticket_id(&wine(1000), &key);
        assert_ne!(id, ticket_id(&wine(1001), &key));
        let owner = SecretKey::from_seed(1).public_key();
        let proof = secret.redeem(&wine(1000), &owner, None).unwrap();
        let verify = |code: &CodeId, owner: &PublicKey, device: Option<&Hash>| {
            key.verify(
                crate::keys::domain::TICKET,
                &redeem_message(code, owner, device),
                &proof,
            )
        };
        assert!(verify(&wine(1000), &owner, None));
        let thief = SecretKey::from_seed(2).public_key();
        assert!(!verify(&wine(1000), &thief, None), "bound to the owner");
        assert!(!verify(&wine(1001), &owner, None), "bound to the item");
        assert!(
            !verify(&wine(1000), &owner, Some(&Hash([1; 32]))),
            "bound to the device"
        );
        assert_eq!(format!("{secret:?}"), "TicketSecret(..)", "never printed");
        let text = secret.to_text();
        assert_eq!(text.len(), 43);
        assert_eq!(TicketSecret::from_text(&text).unwrap(), secret);
        assert!(TicketSecret::from_text(&text[1..]).is_err(), "too short");
        assert!(
            TicketSecret::from_text(&format!("{}+", &text[1..])).is_err(),
            "not base64url"
        );
    }

    #[test]
    fn geo_points() {
        let ok = |lat, lon| {
            GeoPoint {
                lat_micro: lat,
                lon_micro: lon,
            }
            .is_valid()
        };
        assert!(ok(31_230_400, 121_473_700));
        assert!(ok(-90_000_000, 180_000_000) && ok(90_000_000, -180_000_000));
        assert!(!ok(90_000_001, 0) && !ok(0, -180_000_001) && !ok(i32::MIN, 0));
    }

    fn with(payload: Payload) -> Result<(), Error> {
        payload.validate()
    }

    #[test]
    fn channel_grants_validate() {
        let grant = AuthoriseChannel {
            brand: OrgId::new("helan-winery").unwrap(),
            channel: OrgId::new("jiuxian-shanghai").unwrap(),
            role: ChannelRole::Retailer,
            products: vec![wine(0).gtin],
            territory: vec!["CN-SH".into(), "CN-NX".into()],
            geofence: None,
            valid_from: 1,
            valid_until: 2,
        };
        assert!(with(Payload::AuthoriseChannel(grant.clone())).is_ok());
        let bad = [
            AuthoriseChannel {
                territory: vec![],
                ..grant.clone()
            },
            AuthoriseChannel {
                territory: vec!["Shanghai".into()],
                ..grant.clone()
            },
            AuthoriseChannel {
                territory: vec!["CN".into(); MAX_TERRITORY_REGIONS + 1],
                ..grant.clone()
            },
            AuthoriseChannel {
                products: vec![wine(0).gtin, wine(0).gtin],
                ..grant.clone()
            },
            AuthoriseChannel {
                valid_until: 1,
                ..grant.clone()
            },
        ];
        for b in bad {
            assert!(with(Payload::AuthoriseChannel(b.clone())).is_err(), "{b:?}");
        }
        assert!(ChannelRole::Retailer.may_sell() && !ChannelRole::Logistics.may_sell());
        assert_eq!(ChannelRole::Logistics.org_role(), Role::Logistics);
    }

    #[test]
    fn code_payloads_validate() {
        let code = SignedCode {
            code: wine(1000),
            signature: "A".repeat(86),
        };
        let event = |code: SignedCode, place: Place| {
            Payload::RecordCodeEvent(CodeEvent {
                code,
                org: OrgId::new("helan-winery").unwrap(),
                action: CodeAction::Commission,
                place,
            })
        };
        assert!(with(event(code.clone(), Place::default())).is_ok());
        let bad_sig = SignedCode {
            signature: "a+b".into(),
            ..code.clone()
        };
        assert!(with(event(bad_sig, Place::default())).is_err());
        let long_sig = SignedCode {
            signature: "A".repeat(101),
            ..code.clone()
        };
        assert!(with(event(long_sig, Place::default())).is_err());
        let bad_region = Place {
            region: Some("Ningxia".into()),
            ..Place::default()
        };
        assert!(with(event(code.clone(), bad_region)).is_err());
        let long_city = Place {
            city: Some("银".repeat(40)),
            ..Place::default()
        };
        assert!(with(event(code.clone(), long_city)).is_err());
        // Off-globe points are the ledger's to reject (`bad_location`), not the envelope's.
        let off_globe = Place {
            point: Some(GeoPoint {
                lat_micro: 95_000_000,
                lon_micro: 0,
            }),
            ..Place::default()
        };
        assert!(with(event(code.clone(), off_globe)).is_ok());

        let scan = Scan {
            code: code.clone(),
            cell: GeoPoint {
                lat_micro: 31_250_000,
                lon_micro: 121_450_000,
            },
            device: Hash([1; 32]),
            time_ms: 0,
        };
        assert!(with(Payload::RecordScans { scans: vec![] }).is_err());
        assert!(
            with(Payload::RecordScans {
                scans: vec![scan.clone(); MAX_SCANS_PER_TX]
            })
            .is_ok()
        );
        assert!(
            with(Payload::RecordScans {
                scans: vec![scan.clone(); MAX_SCANS_PER_TX + 1]
            })
            .is_err()
        );

        let void = VoidCodes {
            org: OrgId::new("helan-winery").unwrap(),
            gtin: wine(0).gtin,
            first_serial: u64::MAX,
            count: 1,
            reason: String::new(),
        };
        assert!(with(Payload::VoidCodes(void.clone())).is_err(), "overflow");
        assert!(
            with(Payload::VoidCodes(VoidCodes {
                first_serial: 5,
                ..void
            }))
            .is_ok()
        );
    }

    #[test]
    fn a_full_batch_of_scans_fits_a_transaction() {
        let key = SecretKey::from_seed(3);
        let scan = Scan {
            code: SignedCode {
                code: wine(u64::MAX),
                signature: "A".repeat(86),
            },
            cell: GeoPoint {
                lat_micro: -33_850_000,
                lon_micro: -70_650_000,
            },
            device: Hash([9; 32]),
            time_ms: u64::MAX,
        };
        let tx = Transaction {
            chain_id: "c".repeat(MAX_CHAIN_ID_LEN),
            signer: key.public_key(),
            nonce: u64::MAX,
            payload: Payload::RecordScans {
                scans: vec![scan; MAX_SCANS_PER_TX],
            },
        };
        let bytes = tx.sign(&key).encode();
        assert!(bytes.len() <= MAX_TX_BYTES, "{} bytes", bytes.len());
        assert!(SignedTransaction::decode(&bytes).is_ok());
    }

    #[test]
    fn only_owner_actions_may_come_from_any_key() {
        let code = wine(1);
        let key = SecretKey::from_seed(1);
        assert!(Payload::ReportStolen { code }.any_key_may_sign());
        assert!(
            Payload::RedeemTicket {
                code,
                ticket: key.public_key(),
                proof: Signature([0; 64]),
                device: None
            }
            .any_key_may_sign()
        );
        assert!(
            !Payload::RecordScans { scans: vec![] }.any_key_may_sign(),
            "the gateway is a platform member"
        );
    }
}
