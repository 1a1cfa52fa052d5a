//! The wire DTOs of the node's HTTP API: the one definition the server and the client share.
//!
//! Conventions: keys, hashes, signatures and certificates are lower-case hex strings; GTINs are
//! 14-digit strings; times are `u64` Unix milliseconds (`*_ms`) or seconds (licence windows);
//! heights are block heights. These types carry no domain logic: the API converts ledger records
//! into them, and nothing converts them back into state.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The node's view of the chain: `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// The chain this node serves; transactions must name it.
    pub chain_id: String,
    /// Height of the latest finalised block (0 before the first one).
    pub height: u64,
    /// Hash of the latest finalised block (all zeros before the first one).
    pub block_hash: String,
    /// State root after the latest finalised block (all zeros before the first one).
    pub state_root: String,
    /// Time of the latest finalised block, Unix milliseconds (0 before the first one).
    pub time_ms: u64,
    /// The validators' public keys.
    pub validators: Vec<String>,
    /// Transactions included in finalised blocks so far.
    pub tx_count: u64,
    /// Transactions waiting in this node's mempool.
    pub mempool_size: u64,
    /// `validator` or `observer`.
    #[serde(default)]
    pub role: String,
    /// The consensus view (round) the latest block was finalised in.
    #[serde(default)]
    pub view: u64,
    /// Peers this node is connected to.
    #[serde(default)]
    pub peers: u64,
}

/// Several transactions to submit at once: `POST /v1/txs` (at most 1,000).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitBatchRequest {
    /// Hex of each signed transaction's wire bytes.
    pub txs: Vec<String>,
}

/// The outcome of each transaction of a `POST /v1/txs`, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitBatchResponse {
    pub results: Vec<SubmitOutcome>,
}

/// One transaction's admission: its id, or why it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitOutcome {
    /// The transaction id, when the bytes decoded.
    pub hash: Option<String>,
    /// Why it was not admitted (the same codes as `POST /v1/tx`).
    pub error: Option<ErrorDetail>,
}

/// A brand alert: a grey-market sale, a clone suspicion, or a counterfeit scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertView {
    /// Increasing number of the alert on this node (use as `after` to page or resume).
    pub seq: u64,
    /// The brand the code belongs to.
    pub brand: String,
    /// `grey_market`, `clone_suspected` or `counterfeit_scan`.
    pub kind: String,
    pub gtin: String,
    pub serial: u64,
    /// ISO 3166-2 region, when known.
    pub region: Option<String>,
    pub city: Option<String>,
    /// The block that raised it (0 for counterfeit scans, which are not on chain).
    pub height: u64,
    pub time_ms: u64,
    pub detail: String,
}

/// Alerts, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertList {
    pub alerts: Vec<AlertView>,
}

/// Which view of a code's history a caller gets: `public` (city-level places, positions rounded
/// to 0.1°) or `private` (exact positions, actors and every detail), for members of the brand,
/// of a channel the brand authorised for the product, or of an organisation that recorded an
/// event on the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HistoryView {
    Public,
    Private,
}

/// A code's events: `GET /v1/codes/{gtin}/{serial}/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeHistory {
    /// Which view this is.
    pub view: HistoryView,
    pub gtin: String,
    pub serial: u64,
    /// The brand that issued the code.
    pub brand: String,
    /// How many events the code has.
    pub event_count: u32,
    /// Events from `from`, oldest first.
    pub events: Vec<CodeEventView>,
    /// The `from` of the next page, when there are more events.
    pub next: Option<u32>,
}

/// One event of a code. The fields marked private are present only in the private view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeEventView {
    /// Position in the code's history, from 0.
    pub index: u32,
    /// `commissioned`, `packed`, `shipped`, `received`, `stored`, `custody_transferred`,
    /// `sold`, `destroyed`, `decommissioned`, `owner_changed`, `reported_stolen`,
    /// `stolen_cleared`.
    pub event: String,
    /// GS1 CBV business step, for custody events.
    pub biz_step: Option<String>,
    /// The organisation that acted (none for an owner's action).
    pub org: Option<String>,
    pub org_name: Option<String>,
    /// The other organisation of a shipment or hand-over.
    pub counterparty: Option<String>,
    pub place: Option<EventPlace>,
    pub time_ms: u64,
    pub height: u64,
    /// Private: GS1 CBV disposition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// Private: the key that signed the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Private: the transaction that recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// Private: the sale's buyer binding (`anonymous`, `owner`, `claim_ticket`) and whether it
    /// was outside the seller's territory; the new owner's key of an ownership change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where an event happened. Public view: `lat`/`lon` rounded to 0.1°; private view: also the
/// exact position in micro-degrees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPlace {
    pub city: Option<String>,
    /// ISO 3166-2 region.
    pub region: Option<String>,
    /// Latitude rounded to 0.1°.
    pub lat: Option<f64>,
    /// Longitude rounded to 0.1°.
    pub lon: Option<f64>,
    /// Private: exact latitude, micro-degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat_micro: Option<i32>,
    /// Private: exact longitude, micro-degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon_micro: Option<i32>,
}

/// Scan counts of a brand: `GET /v1/analytics/scans`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanAnalytics {
    pub brand: String,
    /// The first and last day asked for (UTC dates, inclusive).
    pub from: String,
    pub to: String,
    /// Counts by day, product, cell and outcome, in that order.
    pub rows: Vec<ScanCount>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Scans of one product in one ~5 km cell on one day with one outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanCount {
    /// UTC date of the block that recorded the scans (`YYYY-MM-DD`).
    pub day: String,
    pub gtin: String,
    /// The cell's centre, micro-degrees.
    pub cell_lat_micro: i32,
    pub cell_lon_micro: i32,
    /// `genuine`, `warning` (the code carried a flag when its block was indexed) or
    /// `counterfeit` (scans through this node whose verdict was counterfeit; never on chain).
    pub outcome: String,
    pub count: u64,
}

/// Channel volumes of a brand: `GET /v1/analytics/channels`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelVolumes {
    pub brand: String,
    /// The first and last day asked for (UTC dates, inclusive).
    pub from: String,
    pub to: String,
    /// Volumes by day, channel, product and action, in that order.
    pub rows: Vec<ChannelVolume>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Code events of one organisation for one product with one action on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelVolume {
    /// UTC date of the block (`YYYY-MM-DD`).
    pub day: String,
    /// The organisation that acted.
    pub channel: String,
    pub gtin: String,
    /// `commissioned`, `packed`, `shipped`, `received`, `stored`, `custody_transferred`,
    /// `sold`, `destroyed`, `decommissioned`.
    pub action: String,
    pub count: u64,
}

/// A stored media file: the answer to `POST /v1/media`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaStored {
    /// SHA-256 of the file, the reference a product record holds.
    pub hash: String,
    pub mime: String,
    pub size: u64,
    /// Where it is served.
    pub url: String,
}

/// A transaction to submit: `POST /v1/tx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitRequest {
    /// Hex of the signed transaction's wire bytes (`SignedTransaction::encode`).
    pub tx: String,
}

/// An admitted transaction: it waits in the mempool for a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    /// The transaction id (SHA-256 of its body), to poll `GET /v1/tx/{hash}` with.
    pub hash: String,
}

/// Where a transaction is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Admitted, waiting for a block.
    Pending,
    /// Executed and took effect.
    Ok,
    /// Executed and rejected by the ledger; see `reason` and `detail`.
    Rejected,
}

impl TxState {
    /// The wire name: `pending`, `ok` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            TxState::Pending => "pending",
            TxState::Ok => "ok",
            TxState::Rejected => "rejected",
        }
    }
}

impl fmt::Display for TxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the wire name, so `status.status == "ok"` reads naturally.
impl PartialEq<str> for TxState {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for TxState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A transaction's status: `GET /v1/tx/{hash}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxStatus {
    /// The transaction id.
    pub hash: String,
    /// `pending`, `ok` or `rejected`.
    pub status: TxState,
    /// The ledger's stable reason code when rejected (e.g. `quota_exceeded`).
    pub reason: Option<String>,
    /// A human-readable explanation when rejected.
    pub detail: Option<String>,
    /// The block that included the transaction.
    pub height: Option<u64>,
    /// Position in that block.
    pub index: Option<u32>,
    /// The signer's public key, when the body could be read.
    pub signer: Option<String>,
    /// The payload kind (e.g. `register_org`), when the body could be read.
    pub kind: Option<String>,
}

/// A finalised block: `GET /v1/blocks/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockView {
    pub height: u64,
    /// The block's digest.
    pub hash: String,
    /// The parent block's digest.
    pub parent: String,
    /// The proposer's time, Unix milliseconds.
    pub time_ms: u64,
    /// Commitment to the transactions.
    pub tx_root: String,
    /// State root after executing the block.
    pub state_root: String,
    /// The ids of the block's transactions, in order.
    pub txs: Vec<String>,
    /// Hex of the finalisation certificate, when one was recorded for this height.
    pub certificate: Option<String>,
}

/// A key's account: `GET /v1/accounts/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    /// The public key.
    pub key: String,
    /// The last accepted nonce; the next transaction must use a greater one.
    pub nonce: u64,
    /// Organisations the key is a member of.
    pub orgs: Vec<String>,
}

/// The nonce a key's next transaction uses: `GET /v1/accounts/{key}/nonce`. Unlike the account
/// itself, every key has one (a key without an account starts at 1), so a browser signing its
/// first transaction asks without a 404.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonceView {
    /// The public key.
    pub key: String,
    /// The last accepted nonce (0 for a key without an account).
    pub nonce: u64,
    /// The nonce the key's next transaction must use, unless others of its transactions are
    /// still waiting in a mempool.
    pub next_nonce: u64,
}

/// A code-signing key of an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeKeyView {
    /// The public key.
    pub key: String,
    pub registered_height: u64,
    /// Whether the key was revoked (codes issued before stay valid).
    pub revoked: bool,
    /// The height of the revocation, when revoked.
    pub revoked_height: Option<u64>,
}

/// An organisation: `GET /v1/orgs/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgView {
    pub id: String,
    pub name: String,
    /// Roles, e.g. `brand`, `retailer`.
    pub roles: Vec<String>,
    /// GS1 company prefix its GTINs carry, when set.
    pub gs1_company_prefix: Option<String>,
    /// ISO 3166 region, when set.
    pub region: Option<String>,
    /// Member public keys.
    pub members: Vec<String>,
    /// Code-signing keys ever registered, in registration order.
    pub code_keys: Vec<CodeKeyView>,
    /// Licence ids, in issue order.
    pub licences: Vec<String>,
    /// GTINs of its first 1,000 products, in registration order.
    pub products: Vec<String>,
    /// How many products it registered.
    #[serde(default)]
    pub product_count: u64,
    pub registered_height: u64,
    pub registered_time_ms: u64,
}

/// Every organisation: `GET /v1/orgs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgList {
    /// Up to 1,000 organisations, in registration order.
    pub orgs: Vec<OrgView>,
    /// The page to ask for next (`?page=`), when there are more.
    #[serde(default)]
    pub next_page: Option<u32>,
}

/// When and why a licence was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationView {
    pub reason: String,
    pub height: u64,
}

/// A licence to issue codes: `GET /v1/licences/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenceView {
    pub id: String,
    /// The licensed organisation.
    pub org: String,
    /// Codes the licence allows in total.
    pub quota: u64,
    /// Codes issued under it so far.
    pub used: u64,
    /// `quota - used`.
    pub remaining: u64,
    /// Start of validity, Unix seconds (inclusive).
    pub valid_from: u64,
    /// End of validity, Unix seconds (exclusive).
    pub valid_until: u64,
    pub issued_height: u64,
    /// Set when the licence was revoked.
    pub revoked: Option<RevocationView>,
}

/// One specification attribute of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttributeView {
    pub name: String,
    pub value: String,
}

/// A product's photo, video or document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaView {
    /// SHA-256 of the file.
    pub hash: String,
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    pub caption: String,
    /// Where this node serves the file (`/v1/media/{hash}`), relative to the API's base URL.
    pub url: String,
}

/// A registered product: `GET /v1/products/{gtin}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductView {
    /// GTIN-14.
    pub gtin: String,
    /// The owning organisation.
    pub org: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeView>,
    pub media: Vec<MediaView>,
    /// Codes issued across all batches.
    pub codes_issued: u64,
    pub registered_height: u64,
    pub updated_height: u64,
}

/// A batch of product codes: a serial range under one lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchView {
    /// GTIN-14.
    pub gtin: String,
    /// Batch/lot label (GS1 AI 10).
    pub lot: String,
    pub org: String,
    /// The licence whose quota the batch used.
    pub licence: String,
    /// Serials are `first_serial .. first_serial + count`.
    pub first_serial: u64,
    pub count: u64,
    /// The code-signing key that signs these codes.
    pub code_key: String,
    pub issued_height: u64,
    pub issued_time_ms: u64,
    /// The transaction that issued the batch.
    pub tx: String,
}

/// A product's batches: `GET /v1/products/{gtin}/batches`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchList {
    /// GTIN-14.
    pub gtin: String,
    /// Sorted by first serial.
    pub batches: Vec<BatchView>,
}

/// How a scanned code looks: `genuine`, `warning` or `counterfeit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// A genuine code with nothing against it.
    Genuine,
    /// A genuine code with something to check first (sold elsewhere, grey market, stolen...).
    Warning,
    /// A forged, unissued or voided code.
    Counterfeit,
}

impl VerdictKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Genuine => "genuine",
            VerdictKind::Warning => "warning",
            VerdictKind::Counterfeit => "counterfeit",
        }
    }
}

/// How much a reason weighs: `info` does not change a `genuine` verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Counterfeit,
}

/// One reason behind a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerdictReason {
    /// Stable snake_case code: `signature_invalid`, `no_signature`, `serial_not_issued`,
    /// `code_voided`, `licence_revoked`, `already_sold`, `location_mismatch`,
    /// `clone_suspected`, `outside_territory`, `unauthorised_seller`, `recalled`, `stolen`,
    /// `code_retired`.
    pub code: String,
    pub severity: Severity,
    /// Plain English.
    pub en: String,
    /// Plain Chinese.
    pub zh: String,
}

/// The scanned code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScannedCodeView {
    /// GTIN-14.
    pub gtin: String,
    /// The serial as printed (AI 21).
    pub serial: String,
    /// Whether the link carries a digital signature (AI 8030).
    pub signed: bool,
}

/// The brand (or other organisation) that issued the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgSummary {
    pub id: String,
    pub name: String,
    /// ISO 3166 region.
    pub region: Option<String>,
}

/// A place at city level: exact GPS is private, so positions are rounded to 0.1° (~10 km).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicPlace {
    pub city: Option<String>,
    /// ISO 3166-2 region.
    pub region: Option<String>,
    /// Latitude rounded to 0.1°.
    pub lat: Option<f64>,
    /// Longitude rounded to 0.1°.
    pub lon: Option<f64>,
}

/// One step of an item's path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PathStep {
    /// What happened: `commissioned`, `packed`, `shipped`, `received`, `stored`,
    /// `custody_transferred`, `sold`, `destroyed`, `decommissioned`, `owner_changed`,
    /// `reported_stolen`, `stolen_cleared`.
    pub event: String,
    /// GS1 CBV business step, for custody events.
    pub biz_step: Option<String>,
    /// The organisation that acted (none for an owner's action).
    pub org: Option<String>,
    pub org_name: Option<String>,
    /// The other organisation of a shipment or hand-over.
    pub counterparty: Option<String>,
    pub place: Option<PublicPlace>,
    pub time_ms: u64,
    pub height: u64,
}

/// The retail sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleView {
    pub seller: String,
    pub seller_name: Option<String>,
    pub city: String,
    pub region: String,
    pub time_ms: u64,
    /// Sold outside the seller's authorised territory.
    pub grey_market: bool,
}

/// Who owns the item and how it changes hands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnershipView {
    /// The owner's public key, once claimed.
    pub owner: Option<String>,
    /// A ticket waiting to be redeemed: `claim` or `transfer`.
    pub pending_ticket: Option<String>,
}

/// A channel organisation authorised to sell the product now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorisedSeller {
    pub org: String,
    pub name: String,
    /// `distributor` or `retailer`.
    pub role: String,
    /// The organisation's registered region.
    pub region: Option<String>,
    /// ISO 3166 regions where it may sell.
    pub territory: Vec<String>,
    /// Distance from the scanner to the centre of its selling area (whole km), when both are
    /// known.
    pub distance_km: Option<u64>,
}

/// The verdict on a scanned code: `GET /01/{gtin}/21/{serial}` (JSON), `GET /v1/verdict`,
/// `POST /v1/scans`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// Every applicable reason, worst first.
    pub reasons: Vec<VerdictReason>,
    pub code: ScannedCodeView,
    /// The product record, when the GTIN is registered (even for a forged code: it is what
    /// the label claims to be).
    pub product: Option<ProductView>,
    pub brand: Option<OrgSummary>,
    /// The code's status (`issued`, `active`, `in_transit`, `in_channel`, `sold`, `owned`,
    /// `retired`); `None` for a code that is not genuine.
    pub status: Option<String>,
    /// Flags beside the status: `recalled`, `stolen`, `clone_suspected`, `grey_market`.
    pub flags: Vec<String>,
    /// Who holds the item now.
    pub custodian: Option<OrgSummary>,
    pub sale: Option<SaleView>,
    pub ownership: OwnershipView,
    /// Events oldest first.
    pub path: Vec<PathStep>,
    /// The latest known place of the item, and when.
    pub latest_location: Option<PublicPlace>,
    pub latest_time_ms: Option<u64>,
    /// Distance from the scanner to the latest known place (whole km).
    pub distance_km: Option<u64>,
    pub authorised_sellers: Vec<AuthorisedSeller>,
    /// The finalised height the verdict was read at.
    pub height: u64,
    /// For `POST /v1/scans`: whether the scan was queued for the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_queued: Option<bool>,
}

/// A consumer scan to record: `POST /v1/scans`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanRequest {
    /// The scanned Digital Link, as printed.
    pub uri: String,
    /// Decimal degrees; rounded to a ~5 km cell before it is recorded.
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    /// A pseudonym the client chose for its device (1 to 200 characters); only its hash is
    /// recorded.
    pub device: String,
}

/// Every error response's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable snake_case code to branch on (e.g. `nonce_replayed`, `not_found`).
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};
    use std::fmt::Debug;

    /// Serialises `value`, checks the JSON is `expected`, and reads it back.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T, expected: Value) {
        let json = serde_json::to_value(&value).expect("serialise");
        assert_eq!(json, expected);
        let back: T = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, value);
    }

    fn hex(byte: char) -> String {
        byte.to_string().repeat(64)
    }

    #[test]
    fn status() {
        round_trip(
            Status {
                chain_id: "jitrace-dev".into(),
                height: 7,
                block_hash: hex('a'),
                state_root: hex('b'),
                time_ms: 1_700_000_000_000,
                validators: vec![hex('c')],
                tx_count: 12,
                mempool_size: 3,
                role: "validator".into(),
                view: 7,
                peers: 3,
            },
            json!({
                "chain_id": "jitrace-dev", "height": 7, "block_hash": hex('a'),
                "state_root": hex('b'), "time_ms": 1_700_000_000_000u64,
                "validators": [hex('c')], "tx_count": 12, "mempool_size": 3,
                "role": "validator", "view": 7, "peers": 3,
            }),
        );
    }

    #[test]
    fn submit_and_tx_status() {
        round_trip(SubmitRequest { tx: "00ff".into() }, json!({ "tx": "00ff" }));
        round_trip(Submitted { hash: hex('1') }, json!({ "hash": hex('1') }));
        round_trip(
            TxStatus {
                hash: hex('1'),
                status: TxState::Rejected,
                reason: Some("quota_exceeded".into()),
                detail: Some("batch needs 10 codes".into()),
                height: Some(3),
                index: Some(0),
                signer: Some(hex('2')),
                kind: Some("issue_code_batch".into()),
            },
            json!({
                "hash": hex('1'), "status": "rejected", "reason": "quota_exceeded",
                "detail": "batch needs 10 codes", "height": 3, "index": 0,
                "signer": hex('2'), "kind": "issue_code_batch",
            }),
        );
        round_trip(
            TxStatus {
                hash: hex('1'),
                status: TxState::Pending,
                reason: None,
                detail: None,
                height: None,
                index: None,
                signer: None,
                kind: None,
            },
            json!({
                "hash": hex('1'), "status": "pending", "reason": null, "detail": null,
                "height": null, "index": null, "signer": null, "kind": null,
            }),
        );
        for state in [TxState::Pending, TxState::Ok, TxState::Rejected] {
            assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert!(TxState::Ok == "ok" && TxState::Rejected != "ok");
    }

    #[test]
    fn absent_optional_fields_read_as_none() {
        let status: TxStatus =
            serde_json::from_value(json!({ "hash": hex('1'), "status": "pending" })).unwrap();
        assert_eq!(status.status, TxState::Pending);
        assert_eq!(status.reason, None);
        assert!(serde_json::from_value::<TxStatus>(json!({ "hash": 1, "status": "ok" })).is_err());
        assert!(
            serde_json::from_value::<TxStatus>(json!({ "hash": "x", "status": "done" })).is_err()
        );
    }

    #[test]
    fn block_and_account() {
        round_trip(
            BlockView {
                height: 1,
                hash: hex('a'),
                parent: hex('0'),
                time_ms: 5,
                tx_root: hex('b'),
                state_root: hex('c'),
                txs: vec![hex('d')],
                certificate: Some("beef".into()),
            },
            json!({
                "height": 1, "hash": hex('a'), "parent": hex('0'), "time_ms": 5,
                "tx_root": hex('b'), "state_root": hex('c'), "txs": [hex('d')],
                "certificate": "beef",
            }),
        );
        round_trip(
            AccountView {
                key: hex('e'),
                nonce: 4,
                orgs: vec!["acme".into()],
            },
            json!({ "key": hex('e'), "nonce": 4, "orgs": ["acme"] }),
        );
    }

    #[test]
    fn org_and_licence() {
        let org = OrgView {
            id: "acme".into(),
            name: "Acme Wines".into(),
            roles: vec!["brand".into()],
            gs1_company_prefix: Some("0614141".into()),
            region: Some("CN-SH".into()),
            members: vec![hex('1')],
            code_keys: vec![CodeKeyView {
                key: hex('2'),
                registered_height: 2,
                revoked: true,
                revoked_height: Some(5),
            }],
            licences: vec!["acme-2026".into()],
            products: vec!["00614141000012".into()],
            product_count: 1,
            registered_height: 1,
            registered_time_ms: 1000,
        };
        round_trip(
            OrgList {
                orgs: vec![org.clone()],
                next_page: None,
            },
            json!({ "orgs": [{
                "id": "acme", "name": "Acme Wines", "roles": ["brand"],
                "gs1_company_prefix": "0614141", "region": "CN-SH", "members": [hex('1')],
                "code_keys": [{
                    "key": hex('2'), "registered_height": 2, "revoked": true, "revoked_height": 5,
                }],
                "licences": ["acme-2026"], "products": ["00614141000012"], "product_count": 1,
                "registered_height": 1, "registered_time_ms": 1000,
            }], "next_page": null}),
        );
        round_trip(
            LicenceView {
                id: "acme-2026".into(),
                org: "acme".into(),
                quota: 100,
                used: 30,
                remaining: 70,
                valid_from: 10,
                valid_until: 20,
                issued_height: 2,
                revoked: Some(RevocationView {
                    reason: "fraud".into(),
                    height: 9,
                }),
            },
            json!({
                "id": "acme-2026", "org": "acme", "quota": 100, "used": 30, "remaining": 70,
                "valid_from": 10, "valid_until": 20, "issued_height": 2,
                "revoked": { "reason": "fraud", "height": 9 },
            }),
        );
    }

    #[test]
    fn product_and_batches() {
        round_trip(
            ProductView {
                gtin: "00614141000012".into(),
                org: "acme".into(),
                name: "Red".into(),
                description: "A wine".into(),
                attributes: vec![AttributeView {
                    name: "volume_ml".into(),
                    value: "750".into(),
                }],
                media: vec![MediaView {
                    hash: hex('f'),
                    mime: "image/png".into(),
                    size: 10,
                    caption: "label".into(),
                    url: format!("/v1/media/{}", hex('f')),
                }],
                codes_issued: 100,
                registered_height: 3,
                updated_height: 4,
            },
            json!({
                "gtin": "00614141000012", "org": "acme", "name": "Red", "description": "A wine",
                "attributes": [{ "name": "volume_ml", "value": "750" }],
                "media": [{
                    "hash": hex('f'), "mime": "image/png", "size": 10, "caption": "label",
                    "url": format!("/v1/media/{}", hex('f')),
                }],
                "codes_issued": 100, "registered_height": 3, "updated_height": 4,
            }),
        );
        let batch = BatchView {
            gtin: "00614141000012".into(),
            lot: "L1".into(),
            org: "acme".into(),
            licence: "acme-2026".into(),
            first_serial: 1,
            count: 100,
            code_key: hex('2'),
            issued_height: 4,
            issued_time_ms: 4000,
            tx: hex('3'),
        };
        round_trip(
            BatchList {
                gtin: "00614141000012".into(),
                batches: vec![batch],
            },
            json!({ "gtin": "00614141000012", "batches": [{
                "gtin": "00614141000012", "lot": "L1", "org": "acme", "licence": "acme-2026",
                "first_serial": 1, "count": 100, "code_key": hex('2'), "issued_height": 4,
                "issued_time_ms": 4000, "tx": hex('3'),
            }]}),
        );
    }

    #[test]
    fn error_body() {
        round_trip(
            ErrorBody {
                error: ErrorDetail {
                    code: "not_found".into(),
                    message: "no organisation acme".into(),
                },
            },
            json!({ "error": { "code": "not_found", "message": "no organisation acme" } }),
        );
    }
}

// ---- B2B: the receiving gate, traces and recalls ----

/// A dry-run gate check: `POST /v1/gate/check` (signed request by a member of `org`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateCheckRequest {
    /// The manufacturer whose gate it is.
    pub org: String,
    pub items: Vec<GateItemRequest>,
}

/// One thing scanned at the gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateItemRequest {
    /// What the scanner read: a code's Digital Link, a pallet's SSCC, or "" for no code.
    pub scanned: String,
    /// Attributes the dock measured.
    #[serde(default)]
    pub observed: Vec<AttributeView>,
}

/// A code by GTIN and serial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeRef {
    pub gtin: String,
    pub serial: u64,
}

/// A specification rule a part breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpecMismatchView {
    pub name: String,
    /// The value found; `null` when the attribute is missing.
    pub found: Option<String>,
}

/// The gate's verdict on one part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateVerdictView {
    pub accepted: bool,
    pub code: Option<CodeRef>,
    /// The pallet's SSCC, when the part came on a scanned pallet.
    pub pallet: Option<String>,
    pub issuer: Option<String>,
    pub shipper: Option<String>,
    /// Every reason for a rejection: `no_code`, `code_unreadable`, `code_not_issued`,
    /// `code_forged`, `code_voided`, `unknown_pallet`, `supplier_not_authorised`,
    /// `spec_mismatch`, `custody_broken`, `recalled`, `already_installed`, `already_received`,
    /// `code_retired`.
    pub reasons: Vec<String>,
    pub mismatches: Vec<SpecMismatchView>,
}

/// The gate's answer: every part's verdict, and the transaction that records them (for
/// `POST /v1/gate/receive`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateReport {
    /// The gate transaction's id; its block makes the verdicts final. `null` for a dry run.
    pub tx: Option<String>,
    pub accepted: u64,
    pub rejected: u64,
    pub verdicts: Vec<GateVerdictView>,
}

/// One entry of a gate log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateEntryView {
    pub index: u64,
    /// The manufacturer whose gate it was.
    pub gate: String,
    pub height: u64,
    pub time_ms: u64,
    pub tx: String,
    pub verdict: GateVerdictView,
}

/// A page of an organisation's gate log: `GET /v1/gate/log/{org}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateLogView {
    pub total: u64,
    pub start: u64,
    pub entries: Vec<GateEntryView>,
}

/// An organisation's flows of goods: `GET /v1/flows/{org}`. The counts always; with `role`, a
/// page of codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowsView {
    pub org: String,
    /// How many codes the organisation has in each role and status (none: left out).
    pub counts: Vec<FlowCountView>,
    /// The page's role and status, when a page was asked for.
    pub role: Option<String>,
    pub status: Option<String>,
    /// A page of codes, by status, GTIN and serial; empty without `role`.
    pub codes: Vec<FlowCodeView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// How many codes an organisation has in one role and status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowCountView {
    /// `holder` or `issuer`.
    pub role: String,
    /// As holder: `in_transit` (shipped to it), `in_stock`, `held`, `installed` (in an item it
    /// holds). As issuer: the code's status wherever it is: `issued`, `active`, `in_transit`,
    /// `in_channel`, `in_stock`, `installed`, `sold`, `owned`, `destroyed`, `decommissioned`.
    pub status: String,
    pub codes: u64,
}

/// One code of an organisation's flows, and where it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowCodeView {
    pub gtin: String,
    pub serial: u64,
    /// The status the organisation sees it in, in the role asked for.
    pub status: String,
    /// Who holds it (or receives it, or holds the item it is installed in); absent once sold
    /// or retired.
    pub holder: Option<String>,
    /// Who issued it.
    pub issuer: String,
    pub lot: String,
}

/// A lot's technical record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotView {
    pub attributes: Vec<AttributeView>,
    /// Production date, Unix seconds.
    pub produced_at: Option<u64>,
    pub tests: Vec<TestResultView>,
    pub documents: Vec<MediaView>,
}

/// One quality test of a lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestResultView {
    pub name: String,
    pub value: String,
    pub passed: bool,
}

/// A code in a backward trace, with the parts inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceNodeView {
    pub gtin: String,
    pub serial: u64,
    pub lot: String,
    /// Who issued the code (the supplier of a part).
    pub issuer: String,
    pub status: String,
    pub custodian: Option<String>,
    pub recalled: bool,
    pub lot_record: Option<LotView>,
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub parts: Vec<TraceNodeView>,
}

/// `GET /v1/trace/back/{gtin}/{serial}`: an item and every part in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceBackView {
    pub item: TraceNodeView,
    /// How many codes the trace holds.
    pub codes: u64,
    /// The trace stopped at its size limit.
    pub truncated: bool,
}

/// An item a forward trace or a recall reaches, and where it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedItemView {
    pub gtin: String,
    pub serial: u64,
    pub brand: String,
    pub status: String,
    pub custodian: Option<String>,
    /// Where it was sold, when it was.
    pub sale_city: Option<String>,
    pub sale_region: Option<String>,
    /// Whether a consumer key owns it (the key itself is not shown).
    pub owned: bool,
}

/// `GET /v1/trace/forward`: the items containing a lot, a part type or an issuer's codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceForwardView {
    /// Items affected in all (the caller may see only its own, see `items`).
    pub total: u64,
    /// The items the caller may see: all for the scope's issuer, its own for a manufacturer.
    pub items: Vec<AffectedItemView>,
    pub truncated: bool,
}

/// A recall's progress over its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecallProgressView {
    pub affected: u64,
    pub located: u64,
    pub in_transit: u64,
    pub with_consumers: u64,
    pub returned: u64,
    pub destroyed: u64,
}

/// `GET /v1/recalls/{org}/{number}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecallView {
    pub org: String,
    pub number: u32,
    /// `lot:{gtin}:{lot}`, `product:{gtin}` or `issuer:{org}`.
    pub scope: String,
    pub reason: String,
    pub started_height: u64,
    pub started_ms: u64,
    pub closed: bool,
    pub progress: RecallProgressView,
    pub items: Vec<AffectedItemView>,
    pub truncated: bool,
}

/// One authorisation of a channel by a brand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelGrantView {
    /// The grant's number among the brand's grants to this channel.
    pub id: u32,
    /// `distributor`, `retailer` or `logistics`.
    pub role: String,
    /// GTINs covered; empty: every product of the brand.
    pub products: Vec<String>,
    /// ISO 3166-2 regions.
    pub territory: Vec<String>,
    /// A circle the grant is limited to: centre (micro-degrees) and radius (metres).
    pub geofence: Option<(i32, i32, u32)>,
    /// Unix seconds.
    pub valid_from: u64,
    pub valid_until: u64,
    pub granted_height: u64,
    pub revoked: Option<RevocationView>,
}

/// A brand's grants to one channel organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    pub channel: String,
    pub grants: Vec<ChannelGrantView>,
}

/// `GET /v1/orgs/{brand}/channels`: a page of a brand's channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelList {
    pub brand: String,
    /// Channel organisations the brand has authorised, in all.
    pub total: u64,
    pub page: u32,
    pub channels: Vec<ChannelView>,
}
