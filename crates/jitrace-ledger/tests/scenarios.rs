//! Data-driven scenario tests of the ledger rules.
//!
//! Every `tests/scenarios/*.json` file (sorted by name; sub-directories are not loaded) is one
//! scenario: named keys, a genesis, and blocks of transactions, each with the receipt it must
//! get. The harness runs every scenario three times from an empty state — twice over a plain
//! `BTreeMap` reader and once over a reader that answers `Missing` for every key until the
//! harness "fetches" it — and requires identical receipts and an identical state digest each time
//! (determinism), that digest to equal the pinned `state_digest`, every receipt to match its
//! `expect`, the `expect_state` checks to hold, and the cross-record invariants of
//! [`check_invariants`] to hold on the final state.
//!
//! Block `n` (from 1) executes at height `n` over the state left by block `n - 1`: a fresh
//! `Executor`, `init_genesis` on block 1, `apply` for each transaction, then `into_writes` applied
//! to the map. The state digest is SHA-256 over, for each entry in key order,
//! `len(key) as u32 LE ‖ key.encode() ‖ len(value) as u32 LE ‖ value`.
//!
//! `UPDATE_SCENARIOS=1 cargo test -p jitrace-ledger --test scenarios` rewrites the pinned digests
//! (and pretty-prints the files) instead of failing on a digest mismatch; receipt and state
//! expectations still fail.
//!
//! # File format
//!
//! ```text
//! {
//!   "description": "free text (optional)",
//!   "keys": { "operator": 1, "acme_admin": 10, ... },  // name -> SecretKey::from_seed(seed)
//!   "genesis": {
//!     "chain_id": "jitrace-devnet",
//!     "platform_org": "platform",
//!     "platform_name": "...",            // optional, default "Jitrace Platform"
//!     "validators": ["<key name>", ...]  // optional
//!   },                                   // the operator is the key named "operator"
//!   "blocks": [                          // heights 1, 2, ...; genesis is written by block 1
//!     { "note": "optional", "time_ms": 1767225600000, "txs": [ <tx>, ... ] }
//!   ],
//!   "expect_state": { ... },             // optional, see below
//!   "state_digest": "<hex>"              // pinned; written by UPDATE_SCENARIOS=1
//! }
//! ```
//!
//! A `<tx>` is `{ "note"?, "signer", "nonce", "payload", "expect" }` plus optional knobs:
//! - `"chain_id": "..."`: sign for another chain (→ `wrong_chain_id`);
//! - `"sign_with": "<key name>"`: signature by another key (→ `bad_signature`);
//! - `"corrupt_gtin": "<14 bytes>"`: encode normally, replace the payload's 14 GTIN digits in
//!   the body with these bytes, then sign the modified body: the signature is valid but the body
//!   does not decode (→ `malformed`);
//! - `"send_body_only": true`: send the body bytes without the signed envelope;
//! - `"raw_hex": "..."`: send these bytes instead (no signer/nonce/payload);
//! - `"repeat_of": n`: resend the exact bytes of the scenario's n-th transaction, counted from 0
//!   across all blocks in file order (no signer/nonce/payload).
//!
//! `expect` is `"ok"` or a [`Reason`] code (`"nonce_replayed"`, ...).
//!
//! A payload is `{ "type": "<kind>", ...fields }` mirroring [`Payload`]; keys are given by name:
//! - `register_org` {id, name, roles: ["brand", ...], gs1_company_prefix?, region?, admin}
//! - `add_member` / `remove_member` / `register_code_key` / `revoke_code_key` {org, key}
//! - `issue_licence` {id, org, quota, valid_from, valid_until} (unix seconds; the ledger compares
//!   them with the block's `time_ms / 1000`)
//! - `revoke_licence` {licence, reason}
//! - `register_product` / `update_product` {gtin, org, name, description?, attributes?:
//!   [{name, value}], media?: [{hash: "<hex sha-256>", mime, size, caption?}]}
//! - `issue_code_batch` {org, licence, gtin, lot, first_serial, count, code_key}
//! - `authorise_channel` {brand, channel, role, products?, territory, geofence?: {centre:
//!   [lat_micro, lon_micro], radius_m}, valid_from, valid_until}
//! - `revoke_channel` {brand, channel, grant, reason}
//! - `void_codes` {org, gtin, first_serial, count, reason?}
//! - `record_code_event` {code: <printed code>, org, action, place?: {point?: [lat_micro,
//!   lon_micro], region?, city?}}; an action is `"commission"`, `"pack"`, `"receive"`,
//!   `"store"`, `"destroy"`, `"decommission"`, `{"ship": {"to"}}`, `{"transfer_custody":
//!   {"to"}}` or `{"sell": {"buyer": "anonymous" | {"owner": key} | {"claim_ticket": ticket}}}`
//! - `redeem_ticket` {code: {gtin, serial}, secret: <ticket name>, device?: <device name>,
//!   proof_for?: <key name>}: the harness signs the redemption proof with the ticket's key for
//!   the signer, or for `proof_for` (a front-runner replaying someone else's proof)
//! - `issue_transfer_ticket` {code: {gtin, serial}, ticket: <ticket name>}
//! - `cancel_ticket` / `report_stolen` / `clear_stolen` {code: {gtin, serial}}
//! - `record_scans` {scans: [{code: <printed code>, cell: [lat_micro, lon_micro], device:
//!   <device name>, time_ms}]}
//! - `authorise_supplier` {manufacturer, supplier, part: <GTIN>, spec: [<spec rule>],
//!   document?: "<hex sha-256>", valid_from, valid_until}; a spec rule is {name} and exactly
//!   one of `exactly`: text, `one_of`: [texts] or `range`: [min, max] (decimal texts, converted
//!   with `parts::decimal_milli`)
//! - `revoke_supplier` {manufacturer, supplier, part, reason?}
//! - `record_lot` {gtin, lot, attributes?: [{name, value}], produced_at?, tests?: [{name, value,
//!   passed}], documents?: [media as for products]}
//! - `pack_pallet` {org, sscc: "<18 digits>", codes: [<printed code>]}
//! - `gate_receive` {org, items: [{scanned, observed?: [{name, value}]}]}; `scanned` is a
//!   printed code (the harness prints its Digital Link, `code::code_uri` with [`RESOLVER`]),
//!   `"sscc:<18 digits>"` (the pallet label's bare SSCC), `""` (no code) or any other text as is
//! - `assemble` {org, parent: <printed code>, remove?: [{gtin, serial}], add?: [{gtin, serial}]}
//! - `start_recall` {org, scope, reason}; a scope is `{"lot": {gtin, lot}}`, `{"product":
//!   gtin}` or `{"issuer": org}`
//! - `close_recall` {org, recall: <number>}
//!
//! A printed code is {gtin, serial} and either `signed_by` (a key name: the harness signs it
//! with `code::sign_code` for the scenario's chain) or `signature` (the AI 8030 text as is). A
//! ticket name stands for the secret [`ticket_secret`], a device name for the pseudonym
//! [`device_pseudonym`].
//!
//! `expect_state` holds lists of typed checks on the final state; every field but the record's
//! id is optional, and `"exists": false` asserts the record is absent:
//! - `accounts`: {key, exists?, nonce?, orgs?: [org ids]}
//! - `orgs`: {id, exists?, name?, roles?, members?: [key names] (as a set), member_count?,
//!   licences?: [ids in issue order], code_keys?: [{key, revoked}] (in registration order),
//!   products?: [GTINs in registration order]}
//! - `licences`: {id, exists?, org?, quota?, used?, revoked?, revoked_reason?}
//! - `products`: {gtin, exists?, org?, name?, description?, attributes?, media_count?,
//!   codes_issued?, registered_height?, updated_height?}
//! - `code_keys`: {key, exists?, org?, revoked?}
//! - `batches`: {gtin, lot, exists?, org?, licence?, first_serial?, count?, code_key?, height?}
//! - `serial_ranges`: {gtin, ranges: [{first, count, lot}]} (exact, sorted by first)
//! - `channels`: {brand, channel, exists?, grants?: [{role, revoked, products?, territory}]}
//! - `brand_channels`: {brand, channels: [org ids in order of first grant]}
//! - `voided`: {gtin, lot, ranges: [[first, count]]} (exact)
//! - `codes`: {gtin, serial, exists?, status?, custodian?, in_transit_to?, owner?, ticket?,
//!   flags?, clone_rule?, sale?: {seller, city, region, grey_market}, events?: [one line
//!   each, see [`event_summary`]], last_region?, last_city?, scan_count?, device_count?}
//!   (`""` for "none" in the optional text fields)
//! - `tickets`: {gtin, serial, ticket: <name>, exists?, kind?, state?, redeemed_by?}
//! - on `codes` also `parent?`: {gtin, serial} or `null`, and `parts?`: [{gtin, serial}] (in
//!   installation order); the statuses include `in_stock` and `installed`
//! - `gate_log`: {org, entries: [{code?: {gtin, serial}, gate?: <org, when not the log's>,
//!   pallet?: "<18 digits>", accepted, reasons: [`GateReason::as_str` names, in the verdict's
//!   order], mismatches?: [rule names]}]}: the organisation's whole log, exact and in order
//!   (its own gate's entries, and its codes' entries at other gates)
//! - `recalls`: {org, number, exists?, closed?, scope?}
//! - `trace_forward`: {scope, items: [{gtin, serial}]}: `trace::trace_forward`'s items, exact,
//!   in code order
//! - `trace_back`: {code: {gtin, serial}, lines: [...]}: `trace::trace_back` one line a node
//!   (see [`trace_lines`])
//!
//! Besides the files: `every_reason_is_covered` and `every_payload_kind_succeeds_somewhere` keep
//! the files' coverage from regressing, `a_million_codes_are_one_transaction_and_a_bounded_write`
//! checks that a batch costs a fixed number of state writes whatever its size, and
//! `randomized_chains_are_deterministic` runs pseudo-random chains of valid and invalid
//! transactions (xorshift, fixed seeds) three ways and checks the invariants after every block.

use jitrace_ledger::{
    BlockEnv, Executor, Genesis, Missing, Reason, StateReader, WriteSet, decode, encode, read,
    state::{
        Account, Batch, ChannelGrants, CodeEventKind, CodeEventRecord, CodeKeyOwner, CodeState,
        CodeStatus, Count, GatePage, GateReason, LIST_PAGE_LEN, Licence, LotEntry,
        MAX_EVENTS_PER_CODE, MAX_GRANTS_PER_CHANNEL, MAX_PARTS, MAX_RECALLS_ON_SCOPE,
        MAX_TRACKED_DEVICES, MAX_VOIDED_RANGES, Org, OrgIndex, Outcome, PAGE_LEN, Pallet, Params,
        Product, ProductPage, Recall, RecallRefs, Receipt, Record, Retirement, ScanRules,
        SerialRanges, StateKey, SupplierAuthorisation, Ticket, TicketKind, TicketState,
        VoidedRanges,
    },
    trace,
};
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, Payload, PublicKey, Role, SecretKey, SignedTransaction, Sscc,
    Transaction,
    code::{code_uri, sign_code},
    keys::domain,
    parts::{
        Allowed, Assemble, AuthoriseSupplier, GateItem, GateReceive, LotRecord, PackPallet,
        PartSpec, RecallScope, SpecRule, StartRecall, TestResult, decimal_milli,
    },
    tx::{
        Attribute, AuthoriseChannel, Buyer, ChannelRole, CodeAction, CodeEvent, CodeId, GeoPoint,
        Geofence, IssueCodeBatch, IssueLicence, MediaRef, Place, ProductInfo, RegisterOrg, Scan,
        SignedCode, TicketSecret, VoidCodes, ticket_id,
    },
};
use serde::{Deserialize, Serialize};
use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    fmt::Debug,
    path::{Path, PathBuf},
};

/// The harness's state: the whole store in memory.
type State = BTreeMap<StateKey, Vec<u8>>;

// ------------------------------------------------------------------------------------------
// Scenario files
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    keys: BTreeMap<String, u64>,
    genesis: GenesisDto,
    blocks: Vec<BlockDto>,
    #[serde(default, skip_serializing_if = "ExpectState::is_empty")]
    expect_state: ExpectState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_digest: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisDto {
    chain_id: String,
    platform_org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    validators: Vec<String>,
    /// Clone-detection thresholds that differ from `ScanRules::DEFAULT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scan_rules: Option<ScanRulesDto>,
}

/// Overrides of `ScanRules::DEFAULT`, field by field.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRulesDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    far_from_sale_m: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_speed_kmh: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_travel_m: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_devices: Option<u32>,
}

impl ScanRulesDto {
    fn to_rules(&self) -> Result<ScanRules, String> {
        let d = ScanRules::DEFAULT;
        let rules = ScanRules {
            far_from_sale_m: self.far_from_sale_m.unwrap_or(d.far_from_sale_m),
            max_speed_kmh: self.max_speed_kmh.unwrap_or(d.max_speed_kmh),
            min_travel_m: self.min_travel_m.unwrap_or(d.min_travel_m),
            max_devices: self.max_devices.unwrap_or(d.max_devices),
            ..d
        };
        match rules.problem() {
            Some(problem) => Err(format!("genesis scan_rules: {problem}")),
            None => Ok(rules),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    time_ms: u64,
    txs: Vec<TxDto>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TxDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sign_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    corrupt_gtin: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    send_body_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repeat_of: Option<usize>,
    expect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<PayloadDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum PayloadDto {
    RegisterOrg {
        id: String,
        name: String,
        roles: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gs1_company_prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        admin: String,
    },
    AddMember {
        org: String,
        key: String,
    },
    RemoveMember {
        org: String,
        key: String,
    },
    IssueLicence {
        id: String,
        org: String,
        quota: u64,
        valid_from: u64,
        valid_until: u64,
    },
    RevokeLicence {
        licence: String,
        reason: String,
    },
    RegisterProduct(ProductDto),
    UpdateProduct(ProductDto),
    RegisterCodeKey {
        org: String,
        key: String,
    },
    RevokeCodeKey {
        org: String,
        key: String,
    },
    IssueCodeBatch {
        org: String,
        licence: String,
        gtin: String,
        lot: String,
        first_serial: u64,
        count: u64,
        code_key: String,
    },
    AuthoriseChannel {
        brand: String,
        channel: String,
        role: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        products: Vec<String>,
        territory: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        geofence: Option<GeofenceDto>,
        valid_from: u64,
        valid_until: u64,
    },
    RevokeChannel {
        brand: String,
        channel: String,
        grant: u32,
        reason: String,
    },
    VoidCodes {
        org: String,
        gtin: String,
        first_serial: u64,
        count: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    RecordCodeEvent {
        code: SignedCodeDto,
        org: String,
        action: ActionDto,
        #[serde(default, skip_serializing_if = "PlaceDto::is_empty")]
        place: PlaceDto,
    },
    RedeemTicket {
        code: CodeIdDto,
        /// The ticket's name: its secret is derived from it (see [`ticket_secret`]).
        secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// The owner the proof names, if not the signer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof_for: Option<String>,
    },
    IssueTransferTicket {
        code: CodeIdDto,
        /// The ticket's name; the payload carries the public key of the secret derived from it.
        ticket: String,
    },
    CancelTicket {
        code: CodeIdDto,
    },
    ReportStolen {
        code: CodeIdDto,
    },
    ClearStolen {
        code: CodeIdDto,
    },
    RecordScans {
        scans: Vec<ScanDto>,
    },
    AuthoriseSupplier {
        manufacturer: String,
        supplier: String,
        part: String,
        /// The specification's rules.
        spec: Vec<SpecRuleDto>,
        /// The hex SHA-256 of the drawing or specification document.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document: Option<String>,
        valid_from: u64,
        valid_until: u64,
    },
    RevokeSupplier {
        manufacturer: String,
        supplier: String,
        part: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    RecordLot {
        gtin: String,
        lot: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attributes: Vec<AttributeDto>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        produced_at: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tests: Vec<TestResultDto>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        documents: Vec<MediaDto>,
    },
    PackPallet {
        org: String,
        /// 18 digits.
        sscc: String,
        codes: Vec<SignedCodeDto>,
    },
    GateReceive {
        org: String,
        items: Vec<GateItemDto>,
    },
    Assemble {
        org: String,
        parent: SignedCodeDto,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<CodeIdDto>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<CodeIdDto>,
    },
    StartRecall {
        org: String,
        scope: ScopeDto,
        reason: String,
    },
    CloseRecall {
        org: String,
        recall: u32,
    },
}

/// One rule of a part specification: `{name}` and exactly one of `exactly` (a text),
/// `one_of` (texts) or `range` (`[min, max]`, decimal texts, see `parts::decimal_milli`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecRuleDto {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exactly: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<[String; 2]>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestResultDto {
    name: String,
    value: String,
    passed: bool,
}

/// One entry at the receiving gate.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateItemDto {
    scanned: ScannedDto,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    observed: Vec<AttributeDto>,
}

/// What the gate's scanner read: a printed code (turned into its Digital Link), or a text:
/// `"sscc:<18 digits>"` for a pallet label, `""` for a part without a code, anything else as is.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum ScannedDto {
    Code(SignedCodeDto),
    Text(String),
}

/// A recall's scope: `{"lot": {gtin, lot}}`, `{"product": gtin}` or `{"issuer": org}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ScopeDto {
    Lot { gtin: String, lot: String },
    Product(String),
    Issuer(String),
}

/// A code without its signature: `{gtin, serial}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeIdDto {
    gtin: String,
    serial: u64,
}

/// A printed code: `{gtin, serial}` and either `signed_by` (a key name: the harness signs the
/// code with it for the scenario's chain) or `signature` (the AI 8030 text as is).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedCodeDto {
    gtin: String,
    serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeofenceDto {
    /// `[lat_micro, lon_micro]`.
    centre: [i32; 2],
    radius_m: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceDto {
    /// `[lat_micro, lon_micro]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    point: Option<[i32; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<String>,
}

impl PlaceDto {
    fn is_empty(&self) -> bool {
        self.point.is_none() && self.region.is_none() && self.city.is_none()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ActionDto {
    Commission,
    Pack,
    Ship { to: String },
    Receive,
    Store,
    TransferCustody { to: String },
    Sell { buyer: BuyerDto },
    Destroy,
    Decommission,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum BuyerDto {
    Anonymous,
    /// A key name.
    Owner(String),
    /// A ticket name.
    ClaimTicket(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanDto {
    code: SignedCodeDto,
    /// `[lat_micro, lon_micro]`.
    cell: [i32; 2],
    /// A device name: its pseudonym is derived from it (see [`device_pseudonym`]).
    device: String,
    time_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductDto {
    gtin: String,
    org: String,
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeDto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    media: Vec<MediaDto>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeDto {
    name: String,
    value: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaDto {
    hash: String,
    mime: String,
    size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    caption: String,
}

// --- expect_state ---

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectState {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<AccountCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    orgs: Vec<OrgCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    licences: Vec<LicenceCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    products: Vec<ProductCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    code_keys: Vec<CodeKeyCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    batches: Vec<BatchCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    serial_ranges: Vec<SerialRangesCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    channels: Vec<ChannelCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    brand_channels: Vec<BrandChannelsCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    voided: Vec<VoidedCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    codes: Vec<CodeCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tickets: Vec<TicketCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gate_log: Vec<GateLogCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recalls: Vec<RecallCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trace_forward: Vec<TraceForwardCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trace_back: Vec<TraceBackCheck>,
}

/// An organisation's whole gate log (its own gate's entries and its parts' at others'), in
/// order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateLogCheck {
    org: String,
    entries: Vec<GateEntryCheck>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateEntryCheck {
    /// The code read, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<CodeIdDto>,
    /// The gate's organisation, when it is not the log's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gate: Option<String>,
    /// The pallet's 18 digits, when the part came on a scanned pallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pallet: Option<String>,
    accepted: bool,
    /// `GateReason::as_str` names, in the verdict's order.
    reasons: Vec<String>,
    /// The names of the broken specification rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mismatches: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallCheck {
    org: String,
    number: u32,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<ScopeDto>,
}

/// `trace::trace_forward` of a scope: the affected items (roots of assembly), in code order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceForwardCheck {
    scope: ScopeDto,
    items: Vec<CodeIdDto>,
}

/// `trace::trace_back` of a code, one line a node (see [`trace_lines`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceBackCheck {
    code: CodeIdDto,
    lines: Vec<String>,
}

impl ExpectState {
    fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.orgs.is_empty()
            && self.licences.is_empty()
            && self.products.is_empty()
            && self.code_keys.is_empty()
            && self.batches.is_empty()
            && self.serial_ranges.is_empty()
            && self.channels.is_empty()
            && self.brand_channels.is_empty()
            && self.voided.is_empty()
            && self.codes.is_empty()
            && self.tickets.is_empty()
            && self.gate_log.is_empty()
            && self.recalls.is_empty()
            && self.trace_forward.is_empty()
            && self.trace_back.is_empty()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelCheck {
    brand: String,
    channel: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    /// Every grant, in grant order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grants: Option<Vec<GrantCheck>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantCheck {
    role: String,
    revoked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    products: Vec<String>,
    territory: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandChannelsCheck {
    brand: String,
    /// In order of their first grant (exact).
    channels: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoidedCheck {
    gtin: String,
    lot: String,
    /// `[first, count]`, exact.
    ranges: Vec<[u64; 2]>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeCheck {
    gtin: String,
    serial: u64,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    /// `issued`, `active`, `in_transit`, `in_channel`, `sold`, `owned`, `in_stock`, `installed`,
    /// `retired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    /// An org id, or `""` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custodian: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_transit_to: Option<String>,
    /// A key name, or `""` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// `claim`, `transfer`, or `""` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
    /// The flags that are set, among `recalled`, `stolen`, `clone_suspected`, `grey_market`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flags: Option<Vec<String>>,
    /// `far_from_sale`, `impossible_travel`, `too_many_devices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clone_rule: Option<String>,
    /// `{seller, city, region, grey_market}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sale: Option<SaleCheck>,
    /// Every event, oldest first, in the short form of [`event_summary`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events: Option<Vec<String>>,
    /// The latest place's region and city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scan_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_count: Option<usize>,
    /// The item it is installed in; `null` for none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    parent: Option<Option<CodeIdDto>>,
    /// The parts installed in it, in installation order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parts: Option<Vec<CodeIdDto>>,
}

/// A field that may be `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaleCheck {
    seller: String,
    city: String,
    region: String,
    grey_market: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketCheck {
    gtin: String,
    serial: u64,
    /// The ticket's name.
    ticket: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    /// `claim` or `transfer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    /// `pending`, `redeemed`, `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    /// Who redeemed it (a key name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redeemed_by: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountCheck {
    key: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    orgs: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgCheck {
    id: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    members: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    licences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_keys: Option<Vec<CodeKeyEntryCheck>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    products: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeKeyEntryCheck {
    key: String,
    revoked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceCheck {
    id: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quota: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductCheck {
    gtin: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attributes: Option<Vec<AttributeDto>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    codes_issued: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registered_height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_height: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeKeyCheck {
    key: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchCheck {
    gtin: String,
    lot: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    licence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SerialRangesCheck {
    gtin: String,
    ranges: Vec<RangeDto>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeDto {
    first: u64,
    count: u64,
    lot: String,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

// ------------------------------------------------------------------------------------------
// From JSON to wire bytes
// ------------------------------------------------------------------------------------------

/// The scenario's named keys.
struct Keys(BTreeMap<String, SecretKey>);

impl Keys {
    fn new(seeds: &BTreeMap<String, u64>) -> Result<Self, String> {
        let mut seen = BTreeMap::new();
        for (name, seed) in seeds {
            if let Some(other) = seen.insert(*seed, name) {
                return Err(format!("keys {other:?} and {name:?} share seed {seed}"));
            }
        }
        Ok(Self(
            seeds
                .iter()
                .map(|(name, seed)| (name.clone(), SecretKey::from_seed(*seed)))
                .collect(),
        ))
    }

    fn secret(&self, name: &str) -> Result<&SecretKey, String> {
        self.0
            .get(name)
            .ok_or_else(|| format!("unknown key name {name:?} (declare it under \"keys\")"))
    }

    fn public(&self, name: &str) -> Result<PublicKey, String> {
        self.secret(name).map(SecretKey::public_key)
    }

    /// A key's name, for messages.
    fn name_of(&self, key: &PublicKey) -> String {
        self.0
            .iter()
            .find(|(_, k)| k.public_key() == *key)
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| key.to_hex())
    }
}

fn org_id(s: &str) -> Result<OrgId, String> {
    OrgId::new(s).map_err(|e| format!("org id {s:?}: {e}"))
}

fn licence_id(s: &str) -> Result<LicenceId, String> {
    LicenceId::new(s).map_err(|e| format!("licence id {s:?}: {e}"))
}

fn gtin(s: &str) -> Result<Gtin, String> {
    Gtin::parse(s).map_err(|e| format!("GTIN {s:?}: {e}"))
}

fn role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e| format!("role {s:?}: {e}"))
}

impl ProductDto {
    fn to_info(&self) -> Result<ProductInfo, String> {
        Ok(ProductInfo {
            gtin: gtin(&self.gtin)?,
            org: org_id(&self.org)?,
            name: self.name.clone(),
            description: self.description.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|a| Attribute {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
            media: self
                .media
                .iter()
                .map(MediaDto::to_media)
                .collect::<Result<_, String>>()?,
        })
    }
}

/// The secret of the ticket named `name` in a scenario.
fn ticket_secret(name: &str) -> TicketSecret {
    TicketSecret(Hash::of(&[b"scenario-ticket/", name.as_bytes()]).0)
}

/// The public key of a ticket's secret.
fn ticket_key(secret: &TicketSecret) -> PublicKey {
    secret
        .public_key()
        .expect("any 32 bytes are an Ed25519 seed")
}

/// The pseudonym of the device named `name` in a scenario.
fn device_pseudonym(name: &str) -> Hash {
    Hash::of(&[b"scenario-device/", name.as_bytes()])
}

fn point([lat_micro, lon_micro]: [i32; 2]) -> GeoPoint {
    GeoPoint {
        lat_micro,
        lon_micro,
    }
}

fn channel_role(s: &str) -> Result<ChannelRole, String> {
    match s {
        "distributor" => Ok(ChannelRole::Distributor),
        "retailer" => Ok(ChannelRole::Retailer),
        "logistics" => Ok(ChannelRole::Logistics),
        _ => Err(format!(
            "channel role {s:?}: expected distributor, retailer or logistics"
        )),
    }
}

impl CodeIdDto {
    fn to_id(&self) -> Result<CodeId, String> {
        Ok(CodeId {
            gtin: gtin(&self.gtin)?,
            serial: self.serial,
        })
    }
}

impl SignedCodeDto {
    fn to_signed(&self, keys: &Keys, chain_id: &str) -> Result<SignedCode, String> {
        let code = CodeId {
            gtin: gtin(&self.gtin)?,
            serial: self.serial,
        };
        let signature = match (&self.signed_by, &self.signature) {
            (Some(key), None) => {
                sign_code(keys.secret(key)?, chain_id, &code.gtin, &code.serial_text())
            }
            (None, Some(text)) => text.clone(),
            _ => return Err("a code needs exactly one of signed_by and signature".into()),
        };
        Ok(SignedCode { code, signature })
    }
}

impl PlaceDto {
    fn to_place(&self) -> Place {
        Place {
            point: self.point.map(point),
            region: self.region.clone(),
            city: self.city.clone(),
        }
    }
}

impl ActionDto {
    fn to_action(&self, keys: &Keys) -> Result<CodeAction, String> {
        Ok(match self {
            ActionDto::Commission => CodeAction::Commission,
            ActionDto::Pack => CodeAction::Pack,
            ActionDto::Ship { to } => CodeAction::Ship { to: org_id(to)? },
            ActionDto::Receive => CodeAction::Receive,
            ActionDto::Store => CodeAction::Store,
            ActionDto::TransferCustody { to } => CodeAction::TransferCustody { to: org_id(to)? },
            ActionDto::Sell { buyer } => CodeAction::Sell {
                buyer: match buyer {
                    BuyerDto::Anonymous => Buyer::Anonymous,
                    BuyerDto::Owner(key) => Buyer::Owner(keys.public(key)?),
                    BuyerDto::ClaimTicket(name) => {
                        Buyer::ClaimTicket(ticket_key(&ticket_secret(name)))
                    }
                },
            },
            ActionDto::Destroy => CodeAction::Destroy,
            ActionDto::Decommission => CodeAction::Decommission,
        })
    }
}

impl PayloadDto {
    fn to_payload(
        &self,
        keys: &Keys,
        chain_id: &str,
        signer: &PublicKey,
    ) -> Result<Payload, String> {
        Ok(match self {
            PayloadDto::RegisterOrg {
                id,
                name,
                roles,
                gs1_company_prefix,
                region,
                admin,
            } => Payload::RegisterOrg(RegisterOrg {
                id: org_id(id)?,
                name: name.clone(),
                roles: roles.iter().map(|r| role(r)).collect::<Result<_, _>>()?,
                gs1_company_prefix: gs1_company_prefix.clone(),
                region: region.clone(),
                admin: keys.public(admin)?,
            }),
            PayloadDto::AddMember { org, key } => Payload::AddMember {
                org: org_id(org)?,
                key: keys.public(key)?,
            },
            PayloadDto::RemoveMember { org, key } => Payload::RemoveMember {
                org: org_id(org)?,
                key: keys.public(key)?,
            },
            PayloadDto::IssueLicence {
                id,
                org,
                quota,
                valid_from,
                valid_until,
            } => Payload::IssueLicence(IssueLicence {
                id: licence_id(id)?,
                org: org_id(org)?,
                quota: *quota,
                valid_from: *valid_from,
                valid_until: *valid_until,
            }),
            PayloadDto::RevokeLicence { licence, reason } => Payload::RevokeLicence {
                licence: licence_id(licence)?,
                reason: reason.clone(),
            },
            PayloadDto::RegisterProduct(p) => Payload::RegisterProduct(p.to_info()?),
            PayloadDto::UpdateProduct(p) => Payload::UpdateProduct(p.to_info()?),
            PayloadDto::RegisterCodeKey { org, key } => Payload::RegisterCodeKey {
                org: org_id(org)?,
                key: keys.public(key)?,
            },
            PayloadDto::RevokeCodeKey { org, key } => Payload::RevokeCodeKey {
                org: org_id(org)?,
                key: keys.public(key)?,
            },
            PayloadDto::IssueCodeBatch {
                org,
                licence,
                gtin: g,
                lot,
                first_serial,
                count,
                code_key,
            } => Payload::IssueCodeBatch(IssueCodeBatch {
                org: org_id(org)?,
                licence: licence_id(licence)?,
                gtin: gtin(g)?,
                lot: lot.clone(),
                first_serial: *first_serial,
                count: *count,
                code_key: keys.public(code_key)?,
            }),
            PayloadDto::AuthoriseChannel {
                brand,
                channel,
                role,
                products,
                territory,
                geofence,
                valid_from,
                valid_until,
            } => Payload::AuthoriseChannel(AuthoriseChannel {
                brand: org_id(brand)?,
                channel: org_id(channel)?,
                role: channel_role(role)?,
                products: products.iter().map(|g| gtin(g)).collect::<Result<_, _>>()?,
                territory: territory.clone(),
                geofence: geofence.as_ref().map(|f| Geofence {
                    centre: point(f.centre),
                    radius_m: f.radius_m,
                }),
                valid_from: *valid_from,
                valid_until: *valid_until,
            }),
            PayloadDto::RevokeChannel {
                brand,
                channel,
                grant,
                reason,
            } => Payload::RevokeChannel {
                brand: org_id(brand)?,
                channel: org_id(channel)?,
                grant: *grant,
                reason: reason.clone(),
            },
            PayloadDto::VoidCodes {
                org,
                gtin: g,
                first_serial,
                count,
                reason,
            } => Payload::VoidCodes(VoidCodes {
                org: org_id(org)?,
                gtin: gtin(g)?,
                first_serial: *first_serial,
                count: *count,
                reason: reason.clone(),
            }),
            PayloadDto::RecordCodeEvent {
                code,
                org,
                action,
                place,
            } => {
                let code = code.to_signed(keys, chain_id)?;
                Payload::RecordCodeEvent(CodeEvent {
                    action: action.to_action(keys)?,
                    code,
                    org: org_id(org)?,
                    place: place.to_place(),
                })
            }
            PayloadDto::RedeemTicket {
                code,
                secret,
                device,
                proof_for,
            } => {
                let code = code.to_id()?;
                let device = device.as_deref().map(device_pseudonym);
                let owner = match proof_for {
                    Some(name) => keys.public(name)?,
                    None => *signer,
                };
                let secret = ticket_secret(secret);
                Payload::RedeemTicket {
                    code,
                    ticket: ticket_key(&secret),
                    proof: secret
                        .redeem(&code, &owner, device.as_ref())
                        .map_err(|e| e.to_string())?,
                    device,
                }
            }
            PayloadDto::IssueTransferTicket { code, ticket } => Payload::IssueTransferTicket {
                code: code.to_id()?,
                ticket: ticket_key(&ticket_secret(ticket)),
            },
            PayloadDto::CancelTicket { code } => Payload::CancelTicket {
                code: code.to_id()?,
            },
            PayloadDto::ReportStolen { code } => Payload::ReportStolen {
                code: code.to_id()?,
            },
            PayloadDto::ClearStolen { code } => Payload::ClearStolen {
                code: code.to_id()?,
            },
            PayloadDto::RecordScans { scans } => Payload::RecordScans {
                scans: scans
                    .iter()
                    .map(|scan| {
                        Ok(Scan {
                            code: scan.code.to_signed(keys, chain_id)?,
                            cell: point(scan.cell),
                            device: device_pseudonym(&scan.device),
                            time_ms: scan.time_ms,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            PayloadDto::AuthoriseSupplier {
                manufacturer,
                supplier,
                part,
                spec,
                document,
                valid_from,
                valid_until,
            } => Payload::AuthoriseSupplier(AuthoriseSupplier {
                manufacturer: org_id(manufacturer)?,
                supplier: org_id(supplier)?,
                part: gtin(part)?,
                spec: PartSpec {
                    rules: spec
                        .iter()
                        .map(SpecRuleDto::to_rule)
                        .collect::<Result<_, _>>()?,
                    document: document
                        .as_deref()
                        .map(|h| Hash::from_hex(h).map_err(|e| format!("document {h:?}: {e}")))
                        .transpose()?,
                },
                valid_from: *valid_from,
                valid_until: *valid_until,
            }),
            PayloadDto::RevokeSupplier {
                manufacturer,
                supplier,
                part,
                reason,
            } => Payload::RevokeSupplier {
                manufacturer: org_id(manufacturer)?,
                supplier: org_id(supplier)?,
                part: gtin(part)?,
                reason: reason.clone(),
            },
            PayloadDto::RecordLot {
                gtin: g,
                lot,
                attributes,
                produced_at,
                tests,
                documents,
            } => Payload::RecordLot(LotRecord {
                gtin: gtin(g)?,
                lot: lot.clone(),
                attributes: attributes.iter().map(AttributeDto::to_attribute).collect(),
                produced_at: *produced_at,
                tests: tests
                    .iter()
                    .map(|t| TestResult {
                        name: t.name.clone(),
                        value: t.value.clone(),
                        passed: t.passed,
                    })
                    .collect(),
                documents: documents
                    .iter()
                    .map(MediaDto::to_media)
                    .collect::<Result<_, _>>()?,
            }),
            PayloadDto::PackPallet { org, sscc, codes } => Payload::PackPallet(PackPallet {
                org: org_id(org)?,
                sscc: Sscc::parse(sscc).map_err(|e| format!("SSCC {sscc:?}: {e}"))?,
                codes: codes
                    .iter()
                    .map(|c| c.to_signed(keys, chain_id))
                    .collect::<Result<_, _>>()?,
            }),
            PayloadDto::GateReceive { org, items } => Payload::GateReceive(GateReceive {
                org: org_id(org)?,
                items: items
                    .iter()
                    .map(|item| {
                        Ok(GateItem {
                            scanned: item.scanned.to_text(keys, chain_id)?,
                            observed: item
                                .observed
                                .iter()
                                .map(AttributeDto::to_attribute)
                                .collect(),
                        })
                    })
                    .collect::<Result<_, String>>()?,
            }),
            PayloadDto::Assemble {
                org,
                parent,
                remove,
                add,
            } => Payload::Assemble(Assemble {
                org: org_id(org)?,
                parent: parent.to_signed(keys, chain_id)?,
                remove: remove
                    .iter()
                    .map(CodeIdDto::to_id)
                    .collect::<Result<_, _>>()?,
                add: add.iter().map(CodeIdDto::to_id).collect::<Result<_, _>>()?,
            }),
            PayloadDto::StartRecall { org, scope, reason } => Payload::StartRecall(StartRecall {
                org: org_id(org)?,
                scope: scope.to_scope()?,
                reason: reason.clone(),
            }),
            PayloadDto::CloseRecall { org, recall } => Payload::CloseRecall {
                org: org_id(org)?,
                recall: *recall,
            },
        })
    }
}

/// The resolver of the Digital Links the harness prints.
const RESOLVER: &str = "https://id.jitrace.dev";

impl SpecRuleDto {
    fn to_rule(&self) -> Result<SpecRule, String> {
        let decimal = |text: &str| {
            decimal_milli(text)
                .ok_or_else(|| format!("spec rule {}: {text:?} is no decimal", self.name))
        };
        let allowed = match (&self.exactly, &self.one_of, &self.range) {
            (Some(v), None, None) => Allowed::Exactly(v.clone()),
            (None, Some(vs), None) => Allowed::OneOf(vs.clone()),
            (None, None, Some([min, max])) => Allowed::Range {
                min_milli: decimal(min)?,
                max_milli: decimal(max)?,
            },
            _ => {
                return Err(format!(
                    "spec rule {}: exactly one of exactly, one_of and range",
                    self.name
                ));
            }
        };
        Ok(SpecRule {
            name: self.name.clone(),
            allowed,
        })
    }
}

impl AttributeDto {
    fn to_attribute(&self) -> Attribute {
        Attribute {
            name: self.name.clone(),
            value: self.value.clone(),
        }
    }
}

impl MediaDto {
    fn to_media(&self) -> Result<MediaRef, String> {
        Ok(MediaRef {
            hash: Hash::from_hex(&self.hash)
                .map_err(|e| format!("media hash {:?}: {e}", self.hash))?,
            mime: self.mime.clone(),
            size: self.size,
            caption: self.caption.clone(),
        })
    }
}

impl ScannedDto {
    /// The text the scanner read.
    fn to_text(&self, keys: &Keys, chain_id: &str) -> Result<String, String> {
        Ok(match self {
            ScannedDto::Code(code) => {
                let signed = code.to_signed(keys, chain_id)?;
                code_uri(
                    RESOLVER,
                    &signed.code.gtin,
                    &signed.code.serial_text(),
                    &signed.signature,
                )
            }
            ScannedDto::Text(text) => match text.strip_prefix("sscc:") {
                Some(digits) => {
                    Sscc::parse(digits).map_err(|e| format!("SSCC {digits:?}: {e}"))?;
                    digits.to_string()
                }
                None => text.clone(),
            },
        })
    }
}

impl ScopeDto {
    fn to_scope(&self) -> Result<RecallScope, String> {
        Ok(match self {
            ScopeDto::Lot { gtin: g, lot } => RecallScope::Lot {
                gtin: gtin(g)?,
                lot: lot.clone(),
            },
            ScopeDto::Product(g) => RecallScope::Product(gtin(g)?),
            ScopeDto::Issuer(org) => RecallScope::Issuer(org_id(org)?),
        })
    }
}

/// The GTIN a payload carries, if any.
fn payload_gtin(payload: &Payload) -> Option<Gtin> {
    match payload {
        Payload::RegisterProduct(p) | Payload::UpdateProduct(p) => Some(p.gtin),
        Payload::IssueCodeBatch(b) => Some(b.gtin),
        _ => None,
    }
}

/// What a transaction must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Rejected(Reason),
}

impl Expect {
    fn parse(s: &str) -> Result<Self, String> {
        if s == "ok" {
            return Ok(Expect::Ok);
        }
        Reason::from_code(s).map(Expect::Rejected).ok_or_else(|| {
            let codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
            format!(
                "expect {s:?} is neither \"ok\" nor a reason code ({})",
                codes.join(", ")
            )
        })
    }

    fn matches(self, receipt: &Receipt) -> bool {
        match (self, &receipt.outcome) {
            (Expect::Ok, Outcome::Ok) => true,
            (Expect::Rejected(want), Outcome::Rejected { reason, .. }) => want == *reason,
            _ => false,
        }
    }
}

fn describe(receipt: &Receipt) -> String {
    match &receipt.outcome {
        Outcome::Ok => "ok".to_string(),
        Outcome::Rejected { reason, detail } => format!("{reason} ({detail})"),
    }
}

impl TxDto {
    fn compile(&self, keys: &Keys, chain_id: &str, earlier: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let builds_tx = self.signer.is_some()
            || self.nonce.is_some()
            || self.payload.is_some()
            || self.chain_id.is_some()
            || self.sign_with.is_some()
            || self.corrupt_gtin.is_some()
            || self.send_body_only;
        if let Some(raw) = &self.raw_hex {
            if builds_tx || self.repeat_of.is_some() {
                return Err("raw_hex excludes every field but note and expect".into());
            }
            return hex::decode(raw).map_err(|e| format!("raw_hex: {e}"));
        }
        if let Some(n) = self.repeat_of {
            if builds_tx {
                return Err("repeat_of excludes every field but note and expect".into());
            }
            return earlier.get(n).cloned().ok_or_else(|| {
                format!(
                    "repeat_of {n}: only {} transactions come before this one",
                    earlier.len()
                )
            });
        }
        let signer = self.signer.as_deref().ok_or("missing \"signer\"")?;
        let nonce = self.nonce.ok_or("missing \"nonce\"")?;
        let payload = self
            .payload
            .as_ref()
            .ok_or("missing \"payload\"")?
            .to_payload(keys, chain_id, &keys.public(signer)?)?;
        let tx = Transaction {
            chain_id: self.chain_id.as_deref().unwrap_or(chain_id).to_string(),
            signer: keys.public(signer)?,
            nonce,
            payload,
        };
        let mut body = tx.body();
        if let Some(bad) = &self.corrupt_gtin {
            let good =
                payload_gtin(&tx.payload).ok_or("corrupt_gtin needs a payload with a gtin")?;
            if bad.len() != 14 {
                return Err(format!("corrupt_gtin {bad:?} must be 14 bytes"));
            }
            let hits: Vec<usize> = body
                .windows(14)
                .enumerate()
                .filter(|(_, w)| *w == good.as_bytes())
                .map(|(i, _)| i)
                .collect();
            let [at] = hits[..] else {
                return Err(format!(
                    "the GTIN occurs {} times in the body, expected once",
                    hits.len()
                ));
            };
            body[at..at + 14].copy_from_slice(bad.as_bytes());
        }
        if self.send_body_only {
            if self.sign_with.is_some() {
                return Err("send_body_only sends no signature: drop sign_with".into());
            }
            return Ok(body);
        }
        let key = keys.secret(self.sign_with.as_deref().unwrap_or(signer))?;
        let signature = key.sign(domain::TRANSACTION, &body);
        Ok(SignedTransaction { body, signature }.encode())
    }
}

/// A block ready to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawBlock {
    time_ms: u64,
    txs: Vec<Vec<u8>>,
}

/// A scenario turned into wire bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Compiled {
    genesis: Genesis,
    blocks: Vec<RawBlock>,
}

impl Scenario {
    fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("parse: {e}"))
    }

    /// The canonical text of the file: pretty JSON with small containers on one line.
    fn to_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a scenario serialises");
        loop {
            let compacted = compact_json(&text);
            if compacted == text {
                break;
            }
            text = compacted;
        }
        text.push('\n');
        text
    }

    fn keys(&self) -> Result<Keys, String> {
        Keys::new(&self.keys)
    }

    fn compile(&self) -> Result<Compiled, String> {
        let keys = self.keys()?;
        let genesis = Genesis {
            chain_id: self.genesis.chain_id.clone(),
            operator: keys.public("operator")?,
            platform_org: org_id(&self.genesis.platform_org)?,
            platform_name: self
                .genesis
                .platform_name
                .clone()
                .unwrap_or_else(|| "Jitrace Platform".to_string()),
            validators: self
                .genesis
                .validators
                .iter()
                .map(|v| keys.public(v))
                .collect::<Result<_, _>>()?,
            scan_rules: self
                .genesis
                .scan_rules
                .as_ref()
                .map_or(Ok(ScanRules::DEFAULT), ScanRulesDto::to_rules)?,
        };
        let mut all: Vec<Vec<u8>> = Vec::new();
        let mut blocks = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            let mut txs = Vec::new();
            for (i, tx) in block.txs.iter().enumerate() {
                Expect::parse(&tx.expect)
                    .and_then(|_| tx.compile(&keys, &genesis.chain_id, &all))
                    .map(|raw| {
                        all.push(raw.clone());
                        txs.push(raw);
                    })
                    .map_err(|e| format!("{}: {e}", tx_place(b, i, all.len(), tx)))?;
            }
            blocks.push(RawBlock {
                time_ms: block.time_ms,
                txs,
            });
        }
        Ok(Compiled { genesis, blocks })
    }
}

/// Longest line [`compact_json`] makes.
const MAX_LINE: usize = 100;

/// Puts every array or object of `serde_json`'s pretty output that holds no other container and
/// fits in [`MAX_LINE`] columns on one line. Run it until nothing changes to fold nested ones.
fn compact_json(pretty: &str) -> String {
    let lines: Vec<&str> = pretty.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let opens = |line: &str| line.ends_with('[') || line.ends_with('{');
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if opens(line) {
            let close = (i + 1..lines.len()).find(|&j| indent(lines[j]) <= indent(line));
            if let Some(j) = close {
                let inner = &lines[i + 1..j];
                if !inner.iter().any(|l| opens(l)) {
                    let items: Vec<&str> = inner.iter().map(|l| l.trim()).collect();
                    let (pad, closing) =
                        (if line.ends_with('{') { " " } else { "" }, lines[j].trim());
                    let joined = format!("{line}{pad}{}{pad}{closing}", items.join(" "));
                    if joined.chars().count() <= MAX_LINE {
                        out.push(joined);
                        i = j + 1;
                        continue;
                    }
                }
            }
        }
        out.push(line.to_string());
        i += 1;
    }
    out.join("\n")
}

/// Where a transaction is, for messages.
fn tx_place(block: usize, index: usize, number: usize, tx: &TxDto) -> String {
    let note = tx
        .note
        .as_deref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    format!("block {} tx {index} (#{number}{note})", block + 1)
}

// ------------------------------------------------------------------------------------------
// Execution
// ------------------------------------------------------------------------------------------

/// One executed block.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BlockRun {
    receipts: Vec<Receipt>,
    writes: WriteSet,
}

/// A whole chain, executed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    blocks: Vec<BlockRun>,
    state: State,
    digest: Hash,
}

/// Which reader the executor gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReaderKind {
    /// The `BTreeMap` itself: never `Missing`.
    Full,
    /// Answers `Missing` for every key until the harness fetches it (a fresh cache per block).
    Lazy,
    /// The `BTreeMap`, with each transaction decoded once by the caller and applied with
    /// `apply_decoded`, as the chain's block execution does.
    Decoded,
}

/// A reader that knows only the keys fetched so far, like a cache in front of an async store.
struct LazyReader<'s> {
    state: &'s State,
    fetched: RefCell<BTreeSet<StateKey>>,
}

impl StateReader for LazyReader<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Missing> {
        if self.fetched.borrow().contains(key) {
            Ok(self.state.get(key).cloned())
        } else {
            Err(Missing(key.clone()))
        }
    }
}

/// Calls `f` until it stops answering `Missing`, fetching each missing key.
fn retry<T>(mut f: impl FnMut() -> Result<T, Missing>, fetch: &dyn Fn(Missing)) -> T {
    // Every retry fetches one new key, so this is bounded by the keys a transaction reads.
    for _ in 0..1_000 {
        match f() {
            Ok(value) => return value,
            Err(missing) => fetch(missing),
        }
    }
    panic!("a transaction asked for more than 1,000 missing keys");
}

fn run_block<R: StateReader>(
    reader: &R,
    fetch: &dyn Fn(Missing),
    env: BlockEnv,
    genesis: Option<&Genesis>,
    txs: &[Vec<u8>],
    predecoded: bool,
) -> BlockRun {
    let mut exec = Executor::new(reader, env);
    if let Some(genesis) = genesis {
        retry(|| exec.init_genesis(genesis), fetch);
    }
    let mut receipts = Vec::with_capacity(txs.len());
    for (i, raw) in txs.iter().enumerate() {
        let index = u32::try_from(i).expect("block index fits u32");
        let decoded = predecoded
            .then(|| SignedTransaction::decode(raw).ok())
            .flatten()
            .and_then(|signed| signed.transaction().ok().map(|tx| (signed, tx)));
        receipts.push(match &decoded {
            Some((signed, tx)) => retry(
                || exec.apply_decoded(index, signed, signed.hash(), tx, false),
                fetch,
            ),
            None => retry(|| exec.apply(index, raw), fetch),
        });
    }
    BlockRun {
        receipts,
        writes: exec.into_writes(),
    }
}

fn apply_writes(state: &mut State, writes: &WriteSet) {
    for (key, value) in writes {
        match value {
            Some(value) => state.insert(key.clone(), value.clone()),
            None => state.remove(key),
        };
    }
}

/// Executes a chain from an empty state.
fn execute(genesis: &Genesis, blocks: &[RawBlock], kind: ReaderKind) -> Run {
    execute_with(genesis, blocks, kind, &mut |_, _| {})
}

/// [`execute`], calling `after_block` with each block's height and the state after it.
fn execute_with(
    genesis: &Genesis,
    blocks: &[RawBlock],
    kind: ReaderKind,
    after_block: &mut dyn FnMut(u64, &State),
) -> Run {
    let mut state = State::new();
    let mut runs = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let env = BlockEnv {
            height: i as u64 + 1,
            time_ms: block.time_ms,
        };
        let genesis = (i == 0).then_some(genesis);
        let run = match kind {
            ReaderKind::Full | ReaderKind::Decoded => run_block(
                &state,
                &|m| panic!("the BTreeMap reader answered {m:?}"),
                env,
                genesis,
                &block.txs,
                kind == ReaderKind::Decoded,
            ),
            ReaderKind::Lazy => {
                let reader = LazyReader {
                    state: &state,
                    fetched: RefCell::default(),
                };
                let fetch = |Missing(key): Missing| {
                    let fresh = reader.fetched.borrow_mut().insert(key.clone());
                    assert!(fresh, "the executor asked again for fetched key {key:?}");
                };
                run_block(&reader, &fetch, env, genesis, &block.txs, false)
            }
        };
        apply_writes(&mut state, &run.writes);
        after_block(env.height, &state);
        runs.push(run);
    }
    let digest = state_digest(&state);
    Run {
        blocks: runs,
        state,
        digest,
    }
}

/// SHA-256 over `len(key) u32 LE ‖ key ‖ len(value) u32 LE ‖ value` for every entry in key order.
fn state_digest(state: &State) -> Hash {
    let mut buf = Vec::new();
    for (key, value) in state {
        let key = key.encode();
        buf.extend_from_slice(&u32::try_from(key.len()).expect("key fits").to_le_bytes());
        buf.extend_from_slice(&key);
        buf.extend_from_slice(
            &u32::try_from(value.len())
                .expect("value fits")
                .to_le_bytes(),
        );
        buf.extend_from_slice(value);
    }
    Hash::of(&[&buf])
}

/// Runs a compiled chain three ways and requires the same result each time.
fn execute_deterministically(compiled: &Compiled) -> Result<Run, String> {
    let first = execute(&compiled.genesis, &compiled.blocks, ReaderKind::Full);
    let second = execute(&compiled.genesis, &compiled.blocks, ReaderKind::Decoded);
    let lazy = execute(&compiled.genesis, &compiled.blocks, ReaderKind::Lazy);
    for (what, other) in [
        ("a second run, decoding before applying", &second),
        ("a run over a lazy reader", &lazy),
    ] {
        if let Some(b) = (0..first.blocks.len()).find(|&b| first.blocks[b] != other.blocks[b]) {
            return Err(format!(
                "not deterministic: {what} gave other receipts or writes in block {}",
                b + 1
            ));
        }
        if first.digest != other.digest {
            return Err(format!(
                "not deterministic: {what} gave digest {}, the first {}",
                other.digest, first.digest
            ));
        }
    }
    Ok(first)
}

// ------------------------------------------------------------------------------------------
// Checks
// ------------------------------------------------------------------------------------------

fn get<T: Record>(state: &State, key: &StateKey) -> Option<T> {
    state.get(key).map(|bytes| decode(bytes))
}

/// Compares the receipts of a run with the scenario's expectations.
fn check_receipts(scenario: &Scenario, run: &Run, keys: &Keys) -> Vec<String> {
    let mut errors = Vec::new();
    let mut number = 0;
    for (b, (block, block_run)) in scenario.blocks.iter().zip(&run.blocks).enumerate() {
        // The receipt stored for each id is the last non-duplicate one of the block.
        let mut stored: BTreeMap<Hash, &Receipt> = BTreeMap::new();
        for (i, (tx, receipt)) in block.txs.iter().zip(&block_run.receipts).enumerate() {
            let place = tx_place(b, i, number, tx);
            number += 1;
            let expect = Expect::parse(&tx.expect).expect("checked when compiling");
            if !expect.matches(receipt) {
                let signer = receipt
                    .signer
                    .map(|k| keys.name_of(&k))
                    .unwrap_or_else(|| "-".into());
                errors.push(format!(
                    "{place}: expected {}, got {} [kind {}, signer {signer}]",
                    tx.expect,
                    describe(receipt),
                    receipt.kind.as_deref().unwrap_or("-"),
                ));
            }
            let height = b as u64 + 1;
            if receipt.height != height || receipt.index as usize != i {
                errors.push(format!(
                    "{place}: receipt says height {} index {}",
                    receipt.height, receipt.index
                ));
            }
            // Only authentic transactions leave a receipt in state; a duplicate keeps the first.
            let not_stored = matches!(
                receipt.outcome,
                Outcome::Rejected {
                    reason: Reason::Duplicate | Reason::Malformed | Reason::BadSignature,
                    ..
                }
            );
            if !not_stored {
                stored.insert(receipt.tx, receipt);
            } else if !stored.contains_key(&receipt.tx)
                && !matches!(
                    receipt.outcome,
                    Outcome::Rejected {
                        reason: Reason::Duplicate,
                        ..
                    }
                )
                && block_run
                    .writes
                    .contains_key(&StateKey::Receipt(receipt.tx))
            {
                errors.push(format!(
                    "block {}: an inauthentic transaction's receipt {} was written to state",
                    b + 1,
                    receipt.tx
                ));
            }
        }
        for (tx, receipt) in stored {
            let written = block_run.writes.get(&StateKey::Receipt(tx));
            if written != Some(&Some(encode(receipt))) {
                errors.push(format!(
                    "block {}: receipt of {tx} is not the one written to state",
                    b + 1
                ));
            }
        }
    }
    errors
}

/// Every organisation id, from the index pages, in registration order.
fn org_index(state: &State) -> Vec<OrgId> {
    (0u32..)
        .map_while(|page| get::<OrgIndex>(state, &StateKey::OrgIndex(page)))
        .flat_map(|p| p.0)
        .collect()
}

/// An organisation's products, from its pages, in registration order.
fn org_products(state: &State, org: &Org) -> Vec<Gtin> {
    (0u32..)
        .map_while(|page| get::<ProductPage>(state, &StateKey::OrgProducts(org.id.clone(), page)))
        .flat_map(|p| p.0)
        .collect()
}

/// Collects mismatches of `expect_state`.
struct Checker<'a> {
    state: &'a State,
    keys: &'a Keys,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn field<T: PartialEq + Debug>(&mut self, what: &str, want: Option<T>, got: T) {
        if let Some(want) = want
            && want != got
        {
            self.errors
                .push(format!("{what}: expected {want:?}, got {got:?}"));
        }
    }

    /// Checks presence; returns the record when it is there and wanted.
    fn presence<T>(&mut self, what: &str, want: bool, got: Option<T>) -> Option<T> {
        match (want, got) {
            (true, Some(record)) => Some(record),
            (true, None) => {
                self.errors.push(format!("{what}: missing"));
                None
            }
            (false, Some(_)) => {
                self.errors
                    .push(format!("{what}: exists, expected it not to"));
                None
            }
            (false, None) => None,
        }
    }

    fn key(&mut self, name: &str) -> Option<PublicKey> {
        match self.keys.public(name) {
            Ok(key) => Some(key),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    fn key_names(&self, keys: &[PublicKey]) -> Vec<String> {
        keys.iter().map(|k| self.keys.name_of(k)).collect()
    }

    fn parsed<T>(&mut self, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }

    fn run(&mut self, expect: &ExpectState) {
        let state = self.state;
        for c in &expect.accounts {
            let Some(key) = self.key(&c.key) else {
                continue;
            };
            let what = format!("account {}", c.key);
            let got = get::<Account>(state, &StateKey::Account(key));
            let Some(account) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(&format!("{what} nonce"), c.nonce, account.nonce);
            let orgs: Vec<String> = account.orgs.iter().map(|o| o.to_string()).collect();
            self.field(&format!("{what} orgs"), c.orgs.clone(), orgs);
        }
        for c in &expect.orgs {
            let Some(id) = self.parsed(org_id(&c.id)) else {
                continue;
            };
            let what = format!("org {}", c.id);
            let got = get::<Org>(state, &StateKey::Org(id));
            let Some(org) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(&format!("{what} name"), c.name.clone(), org.name.clone());
            let roles: Vec<String> = org.roles.iter().map(|r| r.to_string()).collect();
            let want_roles = c.roles.clone().map(|mut r| {
                r.sort_by_key(|name| role(name).ok());
                r
            });
            self.field(&format!("{what} roles"), want_roles, roles);
            if let Some(members) = &c.members {
                let mut want: Vec<PublicKey> = members.iter().filter_map(|m| self.key(m)).collect();
                want.sort();
                if want != org.members {
                    let (want, got) = (self.key_names(&want), self.key_names(&org.members));
                    self.errors
                        .push(format!("{what} members: expected {want:?}, got {got:?}"));
                }
            }
            self.field(
                &format!("{what} member_count"),
                c.member_count,
                org.members.len(),
            );
            let licences: Vec<String> = org.licences.iter().map(|l| l.to_string()).collect();
            self.field(&format!("{what} licences"), c.licences.clone(), licences);
            let code_keys: Vec<CodeKeyEntryCheck> = org
                .code_keys
                .iter()
                .map(|e| CodeKeyEntryCheck {
                    key: self.keys.name_of(&e.key),
                    revoked: e.revoked_at.is_some(),
                })
                .collect();
            self.field(&format!("{what} code_keys"), c.code_keys.clone(), code_keys);
            let products: Vec<String> = org_products(self.state, &org)
                .iter()
                .map(|g| g.to_string())
                .collect();
            self.field(&format!("{what} products"), c.products.clone(), products);
        }
        for c in &expect.licences {
            let Some(id) = self.parsed(licence_id(&c.id)) else {
                continue;
            };
            let what = format!("licence {}", c.id);
            let got = get::<Licence>(state, &StateKey::Licence(id));
            let Some(licence) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(
                &format!("{what} org"),
                c.org.clone(),
                licence.org.to_string(),
            );
            self.field(&format!("{what} quota"), c.quota, licence.quota);
            self.field(&format!("{what} used"), c.used, licence.used);
            self.field(
                &format!("{what} revoked"),
                c.revoked,
                licence.revoked.is_some(),
            );
            self.field(
                &format!("{what} revoked_reason"),
                c.revoked_reason.clone().map(Some),
                licence.revoked.map(|r| r.reason),
            );
        }
        for c in &expect.products {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let what = format!("product {}", c.gtin);
            let got = get::<Product>(state, &StateKey::Product(g));
            let Some(product) = self.presence(&what, c.exists, got) else {
                continue;
            };
            let info = &product.info;
            self.field(&format!("{what} org"), c.org.clone(), info.org.to_string());
            self.field(&format!("{what} name"), c.name.clone(), info.name.clone());
            self.field(
                &format!("{what} description"),
                c.description.clone(),
                info.description.clone(),
            );
            let attributes: Vec<AttributeDto> = info
                .attributes
                .iter()
                .map(|a| AttributeDto {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect();
            self.field(
                &format!("{what} attributes"),
                c.attributes.clone(),
                attributes,
            );
            self.field(
                &format!("{what} media_count"),
                c.media_count,
                info.media.len(),
            );
            self.field(
                &format!("{what} codes_issued"),
                c.codes_issued,
                product.codes_issued,
            );
            self.field(
                &format!("{what} registered_height"),
                c.registered_height,
                product.registered_at.height,
            );
            self.field(
                &format!("{what} updated_height"),
                c.updated_height,
                product.updated_at.height,
            );
        }
        for c in &expect.code_keys {
            let Some(key) = self.key(&c.key) else {
                continue;
            };
            let what = format!("code key {}", c.key);
            let got = get::<CodeKeyOwner>(state, &StateKey::CodeKey(key));
            let Some(owner) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(&format!("{what} org"), c.org.clone(), owner.org.to_string());
            self.field(&format!("{what} revoked"), c.revoked, owner.revoked);
        }
        for c in &expect.batches {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let what = format!("batch {} lot {}", c.gtin, c.lot);
            let got = get::<Batch>(state, &StateKey::Batch(g, c.lot.clone()));
            let Some(batch) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(&format!("{what} org"), c.org.clone(), batch.org.to_string());
            self.field(
                &format!("{what} licence"),
                c.licence.clone(),
                batch.licence.to_string(),
            );
            self.field(
                &format!("{what} first_serial"),
                c.first_serial,
                batch.first_serial,
            );
            self.field(&format!("{what} count"), c.count, batch.count);
            self.field(
                &format!("{what} code_key"),
                c.code_key.clone(),
                self.keys.name_of(&batch.code_key),
            );
            self.field(&format!("{what} height"), c.height, batch.issued_at.height);
        }
        for c in &expect.serial_ranges {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let ranges = get::<SerialRanges>(state, &StateKey::SerialRanges(g)).unwrap_or_default();
            let got: Vec<RangeDto> = ranges
                .0
                .iter()
                .map(|r| RangeDto {
                    first: r.first,
                    count: r.count,
                    lot: r.lot.clone(),
                })
                .collect();
            self.field(
                &format!("serial ranges of {}", c.gtin),
                Some(c.ranges.clone()),
                got,
            );
        }
        for c in &expect.channels {
            let (Some(brand), Some(channel)) = (
                self.parsed(org_id(&c.brand)),
                self.parsed(org_id(&c.channel)),
            ) else {
                continue;
            };
            let what = format!("channel {} of {}", c.channel, c.brand);
            let got = get::<ChannelGrants>(state, &StateKey::ChannelGrants(brand, channel));
            let Some(record) = self.presence(&what, c.exists, got) else {
                continue;
            };
            let grants: Vec<GrantCheck> = record
                .grants
                .iter()
                .map(|g| GrantCheck {
                    role: g.role.as_str().to_string(),
                    revoked: g.revoked.is_some(),
                    products: g.products.iter().map(|p| p.to_string()).collect(),
                    territory: g.territory.clone(),
                })
                .collect();
            self.field(&format!("{what} grants"), c.grants.clone(), grants);
        }
        for c in &expect.brand_channels {
            let Some(brand) = self.parsed(org_id(&c.brand)) else {
                continue;
            };
            let got: Vec<String> = brand_channels(state, &brand)
                .iter()
                .map(|o| o.to_string())
                .collect();
            self.field(
                &format!("channels of {}", c.brand),
                Some(c.channels.clone()),
                got,
            );
        }
        for c in &expect.voided {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let voided = get::<VoidedRanges>(state, &StateKey::VoidedCodes(g, c.lot.clone()))
                .unwrap_or_default();
            let got: Vec<[u64; 2]> = voided.0.iter().map(|(f, n)| [*f, *n]).collect();
            self.field(
                &format!("voided codes of {} lot {}", c.gtin, c.lot),
                Some(c.ranges.clone()),
                got,
            );
        }
        for c in &expect.codes {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let id = CodeId {
                gtin: g,
                serial: c.serial,
            };
            let what = format!("code {}/{}", c.gtin, c.serial);
            let got = get::<CodeState>(state, &StateKey::Code(id));
            let Some(code) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(
                &format!("{what} status"),
                c.status.clone(),
                code.status.as_str().to_string(),
            );
            let org_text =
                |o: &Option<OrgId>| o.as_ref().map(|o| o.to_string()).unwrap_or_default();
            self.field(
                &format!("{what} custodian"),
                c.custodian.clone(),
                org_text(&code.custodian),
            );
            self.field(
                &format!("{what} in_transit_to"),
                c.in_transit_to.clone(),
                org_text(&code.in_transit_to),
            );
            let owner = code
                .owner
                .map(|k| self.keys.name_of(&k))
                .unwrap_or_default();
            self.field(&format!("{what} owner"), c.owner.clone(), owner);
            let ticket = match code.ticket.map(|t| t.kind) {
                Some(TicketKind::Claim) => "claim",
                Some(TicketKind::Transfer) => "transfer",
                None => "",
            };
            self.field(
                &format!("{what} ticket"),
                c.ticket.clone(),
                ticket.to_string(),
            );
            let flags = code.flags;
            let set: Vec<String> = [
                ("recalled", flags.recalled),
                ("stolen", flags.stolen),
                ("clone_suspected", flags.clone_suspected),
                ("grey_market", flags.grey_market),
            ]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name.to_string())
            .collect();
            self.field(&format!("{what} flags"), c.flags.clone(), set);
            self.field(
                &format!("{what} clone_rule"),
                c.clone_rule.clone(),
                code.clone
                    .map(|s| s.rule.as_str().to_string())
                    .unwrap_or_default(),
            );
            let sale = code.sale.as_ref().map(|s| SaleCheck {
                seller: s.seller.to_string(),
                city: s.city.clone(),
                region: s.region.clone(),
                grey_market: s.grey_market,
            });
            if c.sale.is_some() {
                self.field(&format!("{what} sale"), c.sale.clone().map(Some), sale);
            }
            let events: Vec<String> = read::code_events(state, &id, 0, MAX_EVENTS_PER_CODE)
                .expect("a map reader never misses")
                .iter()
                .map(|e| event_summary(e, self.keys))
                .collect();
            self.field(&format!("{what} events"), c.events.clone(), events);
            let last = code.last_place.clone().unwrap_or_default();
            self.field(
                &format!("{what} last_region"),
                c.last_region.clone(),
                last.region.unwrap_or_default(),
            );
            self.field(
                &format!("{what} last_city"),
                c.last_city.clone(),
                last.city.unwrap_or_default(),
            );
            self.field(
                &format!("{what} scan_count"),
                c.scan_count,
                code.scans.count,
            );
            self.field(
                &format!("{what} device_count"),
                c.device_count,
                code.scans.devices.len(),
            );
            self.field(
                &format!("{what} parent"),
                c.parent.clone(),
                code.parent.map(code_dto),
            );
            self.field(
                &format!("{what} parts"),
                c.parts.clone(),
                code.parts.iter().copied().map(code_dto).collect(),
            );
        }
        for c in &expect.tickets {
            let Some(g) = self.parsed(gtin(&c.gtin)) else {
                continue;
            };
            let id = CodeId {
                gtin: g,
                serial: c.serial,
            };
            let hash = ticket_id(&id, &ticket_key(&ticket_secret(&c.ticket)));
            let what = format!("ticket {} of {}/{}", c.ticket, c.gtin, c.serial);
            let got = get::<Ticket>(state, &StateKey::Ticket(hash));
            let Some(ticket) = self.presence(&what, c.exists, got) else {
                continue;
            };
            let kind = match ticket.kind {
                TicketKind::Claim => "claim",
                TicketKind::Transfer => "transfer",
            };
            self.field(&format!("{what} kind"), c.kind.clone(), kind.to_string());
            let (state_name, by) = match ticket.state {
                TicketState::Pending => ("pending", String::new()),
                TicketState::Redeemed { by, .. } => ("redeemed", self.keys.name_of(&by)),
                TicketState::Cancelled { .. } => ("cancelled", String::new()),
            };
            self.field(
                &format!("{what} state"),
                c.state.clone(),
                state_name.to_string(),
            );
            self.field(&format!("{what} redeemed_by"), c.redeemed_by.clone(), by);
        }
        for c in &expect.gate_log {
            let Some(org) = self.parsed(org_id(&c.org)) else {
                continue;
            };
            let (total, entries) =
                trace::gate_log(state, &org, 0, u64::MAX).expect("a map reader never misses");
            if total != entries.len() as u64 {
                self.errors.push(format!(
                    "gate log of {}: count {total}, {} entries",
                    c.org,
                    entries.len()
                ));
            }
            let got: Vec<GateEntryCheck> = entries
                .iter()
                .map(|e| GateEntryCheck {
                    code: e.verdict.code.map(code_dto),
                    gate: (e.gate != org).then(|| e.gate.to_string()),
                    pallet: e.verdict.pallet.map(|p| p.as_str().to_string()),
                    accepted: e.verdict.accepted(),
                    reasons: e
                        .verdict
                        .reasons
                        .iter()
                        .map(|r| r.as_str().to_string())
                        .collect(),
                    mismatches: e
                        .verdict
                        .mismatches
                        .iter()
                        .map(|m| m.name.clone())
                        .collect(),
                })
                .collect();
            if got != c.entries {
                let lines = |entries: &[GateEntryCheck]| {
                    entries
                        .iter()
                        .map(|e| serde_json::to_string(e).expect("serialises"))
                        .collect::<Vec<_>>()
                        .join("\n      ")
                };
                self.errors.push(format!(
                    "gate log of {}:\n    expected:\n      {}\n    got:\n      {}",
                    c.org,
                    lines(&c.entries),
                    lines(&got)
                ));
            }
        }
        for c in &expect.recalls {
            let Some(org) = self.parsed(org_id(&c.org)) else {
                continue;
            };
            let what = format!("recall {} of {}", c.number, c.org);
            let got = get::<Recall>(state, &StateKey::Recall(org, c.number));
            let Some(recall) = self.presence(&what, c.exists, got) else {
                continue;
            };
            self.field(
                &format!("{what} closed"),
                c.closed,
                recall.closed_at.is_some(),
            );
            if let Some(scope) = &c.scope
                && let Some(want) = self.parsed(scope.to_scope())
            {
                self.field(&format!("{what} scope"), Some(want), recall.scope.clone());
            }
        }
        for c in &expect.trace_forward {
            let Some(scope) = self.parsed(c.scope.to_scope()) else {
                continue;
            };
            let (items, truncated) =
                trace::trace_forward(state, &scope).expect("a map reader never misses");
            if truncated {
                self.errors
                    .push(format!("forward trace of {scope:?}: truncated"));
            }
            let got: Vec<CodeIdDto> = items.iter().map(|s| code_dto(s.code)).collect();
            self.field(
                &format!("forward trace of {scope:?}"),
                Some(c.items.clone()),
                got,
            );
        }
        for c in &expect.trace_back {
            let Some(id) = self.parsed(c.code.to_id()) else {
                continue;
            };
            let what = format!("backward trace of {}/{}", c.code.gtin, c.code.serial);
            match trace::trace_back(state, &id).expect("a map reader never misses") {
                None => self.errors.push(format!("{what}: the code has no state")),
                Some((node, truncated)) => {
                    if truncated {
                        self.errors.push(format!("{what}: truncated"));
                    }
                    let mut lines = Vec::new();
                    trace_lines(&node, 0, &mut lines);
                    self.field(&what, Some(c.lines.clone()), lines);
                }
            }
        }
    }
}

fn code_dto(id: CodeId) -> CodeIdDto {
    CodeIdDto {
        gtin: id.gtin.to_string(),
        serial: id.serial,
    }
}

/// A backward trace, one line a node, depth-first: two spaces of indent a level, then
/// `"<gtin>/<serial> lot <lot> by <issuer>"`, and `" (lot record)"` when the lot has one.
fn trace_lines(node: &trace::TraceNode, depth: usize, out: &mut Vec<String>) {
    let s = &node.state;
    out.push(format!(
        "{}{}/{} lot {} by {}{}",
        "  ".repeat(depth),
        s.code.gtin,
        s.code.serial,
        s.lot,
        s.brand,
        if node.lot.is_some() {
            " (lot record)"
        } else {
            ""
        }
    ));
    for part in &node.parts {
        trace_lines(part, depth + 1, out);
    }
}

/// A brand's channel organisations, from its pages, in order of their first grant.
fn brand_channels(state: &State, brand: &OrgId) -> Vec<OrgId> {
    (0u32..)
        .map_while(|page| get::<OrgIndex>(state, &StateKey::BrandChannels(brand.clone(), page)))
        .flat_map(|p| p.0)
        .collect()
}

/// An event in a line: `"<org> <what>"` for an organisation's event (`"acme-wines
/// commissioned"`, `"xinyue shipped to jiuhe"`, `"jiuhe received from xinyue"`, `"jiuhe sold
/// (claim ticket)"`, `"jiuhe sold (owner alice, grey market)"`), `"<key name> <what>"` for an
/// owner's (`"alice claimed"`, `"bob took over"`, `"bob reported stolen"`, `"bob cleared
/// stolen"`); the assembly events are `"harbin-motors installed into <gtin>/<serial>"`,
/// `"... removed from <gtin>/<serial>"` (on the part) and `"harbin-motors assembled (+2 -1)"`
/// (on the item: parts added and removed).
fn event_summary(event: &CodeEventRecord, keys: &Keys) -> String {
    let actor = match &event.org {
        Some(org) => org.to_string(),
        None => keys.name_of(&event.signer),
    };
    let what = match &event.kind {
        CodeEventKind::Commissioned => "commissioned".to_string(),
        CodeEventKind::Packed => "packed".to_string(),
        CodeEventKind::Shipped { to } => format!("shipped to {to}"),
        CodeEventKind::Received { from } => format!("received from {from}"),
        CodeEventKind::Stored => "stored".to_string(),
        CodeEventKind::CustodyTransferred { to } => format!("handed over to {to}"),
        CodeEventKind::Sold { buyer, grey_market } => {
            let buyer = match buyer {
                jitrace_ledger::state::BuyerKind::Anonymous => "anonymous".to_string(),
                jitrace_ledger::state::BuyerKind::Owner(key) => {
                    format!("owner {}", keys.name_of(key))
                }
                jitrace_ledger::state::BuyerKind::ClaimTicket => "claim ticket".to_string(),
            };
            match grey_market {
                true => format!("sold ({buyer}, grey market)"),
                false => format!("sold ({buyer})"),
            }
        }
        CodeEventKind::Destroyed => "destroyed".to_string(),
        CodeEventKind::Decommissioned => "decommissioned".to_string(),
        CodeEventKind::OwnerChanged { ticket, .. } => match ticket {
            TicketKind::Claim => "claimed".to_string(),
            TicketKind::Transfer => "took over".to_string(),
        },
        CodeEventKind::ReportedStolen => "reported stolen".to_string(),
        CodeEventKind::StolenCleared => "cleared stolen".to_string(),
        CodeEventKind::Installed { into } => {
            format!("installed into {}/{}", into.gtin, into.serial)
        }
        CodeEventKind::Removed { from } => format!("removed from {}/{}", from.gtin, from.serial),
        CodeEventKind::Assembled { added, removed } => {
            format!("assembled (+{added} -{removed})")
        }
    };
    format!("{actor} {what}")
}

fn check_state(state: &State, expect: &ExpectState, keys: &Keys) -> Vec<String> {
    let mut checker = Checker {
        state,
        keys,
        errors: Vec::new(),
    };
    checker.run(expect);
    checker.errors
}

/// Cross-record invariants every reachable state keeps.
fn check_invariants(state: &State) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |e: String| errors.push(e);
    let mut params = None;
    let mut batch_totals_by_licence: BTreeMap<LicenceId, u64> = BTreeMap::new();
    let mut batch_totals_by_product: BTreeMap<Gtin, u64> = BTreeMap::new();
    let mut seen_products = BTreeSet::new();
    let index = org_index(state);
    for (key, bytes) in state {
        match key {
            StateKey::Params => params = Some(decode::<Params>(bytes)),
            StateKey::Account(pk) => {
                let account: Account = decode(bytes);
                if !account.orgs.windows(2).all(|w| w[0] < w[1]) {
                    err(format!("account {pk}: orgs not sorted and unique"));
                }
                for org in &account.orgs {
                    match get::<Org>(state, &StateKey::Org(org.clone())) {
                        Some(o) if o.members.contains(pk) => {}
                        _ => err(format!("account {pk} lists {org}, which does not list it")),
                    }
                }
            }
            StateKey::Org(id) => {
                let org: Org = decode(bytes);
                if &org.id != id {
                    err(format!("org {id} stored as {}", org.id));
                }
                if org.members.is_empty() || !org.members.windows(2).all(|w| w[0] < w[1]) {
                    err(format!("org {id}: members empty, unsorted or repeated"));
                }
                if org.roles.is_empty() || !org.roles.windows(2).all(|w| w[0] < w[1]) {
                    err(format!("org {id}: roles empty, unsorted or repeated"));
                }
                for member in &org.members {
                    match get::<Account>(state, &StateKey::Account(*member)) {
                        Some(a) if a.orgs.contains(id) => {}
                        _ => err(format!(
                            "org {id} lists member {member} without its account"
                        )),
                    }
                }
                for licence in &org.licences {
                    match get::<Licence>(state, &StateKey::Licence(licence.clone())) {
                        Some(l) if &l.org == id => {}
                        _ => err(format!("org {id} lists licence {licence} of another org")),
                    }
                }
                let mut seen = BTreeSet::new();
                if org_products(state, &org).len() as u64 != org.product_count {
                    err(format!(
                        "org {id}: product_count disagrees with its product pages"
                    ));
                }
                for g in &org_products(state, &org) {
                    if !seen_products.insert(*g) {
                        err(format!("product {g} is listed twice"));
                    }
                    match get::<Product>(state, &StateKey::Product(*g)) {
                        Some(p) if &p.info.org == id => {}
                        _ => err(format!("org {id} lists product {g} of another org")),
                    }
                }
                if index.iter().filter(|i| *i == id).count() != 1 {
                    err(format!("org {id} is not in the org index"));
                }
                for entry in &org.code_keys {
                    if !seen.insert(entry.key) {
                        err(format!("org {id} lists code key {} twice", entry.key));
                    }
                    match get::<CodeKeyOwner>(state, &StateKey::CodeKey(entry.key)) {
                        Some(o) if &o.org == id && o.revoked == entry.revoked_at.is_some() => {}
                        _ => err(format!("org {id}: code key {} disagrees", entry.key)),
                    }
                }
            }
            StateKey::Licence(id) => {
                let licence: Licence = decode(bytes);
                if &licence.id != id || licence.used > licence.quota {
                    err(format!("licence {id}: bad id or used > quota"));
                }
                match get::<Org>(state, &StateKey::Org(licence.org.clone())) {
                    Some(o) if o.licences.iter().filter(|l| *l == id).count() == 1 => {}
                    _ => err(format!("licence {id}: its org does not list it once")),
                }
            }
            StateKey::Product(g) => {
                let product: Product = decode(bytes);
                if &product.info.gtin != g {
                    err(format!("product {g} stored as {}", product.info.gtin));
                }
                match get::<Org>(state, &StateKey::Org(product.info.org.clone())) {
                    Some(o) if org_products(state, &o).contains(g) => {}
                    _ => err(format!("product {g}: its org does not list it")),
                }
            }
            StateKey::SerialRanges(g) => {
                let ranges: SerialRanges = decode(bytes);
                if get::<Product>(state, &StateKey::Product(*g)).is_none() {
                    err(format!("serial ranges of unregistered product {g}"));
                }
                if !ranges.0.windows(2).all(|w| w[0].end() <= w[1].first) {
                    err(format!("serial ranges of {g} unsorted or overlapping"));
                }
                for r in &ranges.0 {
                    match get::<Batch>(state, &StateKey::Batch(*g, r.lot.clone())) {
                        Some(b) if b.first_serial == r.first && b.count == r.count => {}
                        _ => err(format!(
                            "range {}+{} of {g}: no matching batch",
                            r.first, r.count
                        )),
                    }
                }
            }
            StateKey::Batch(g, lot) => {
                let batch: Batch = decode(bytes);
                if &batch.gtin != g || &batch.lot != lot || batch.count == 0 {
                    err(format!("batch {g}/{lot}: key and record disagree"));
                }
                let ranges =
                    get::<SerialRanges>(state, &StateKey::SerialRanges(*g)).unwrap_or_default();
                if !ranges.0.iter().any(|r| {
                    &r.lot == lot && r.first == batch.first_serial && r.count == batch.count
                }) {
                    err(format!("batch {g}/{lot}: not in the serial ranges"));
                }
                match get::<Licence>(state, &StateKey::Licence(batch.licence.clone())) {
                    Some(l) if l.org == batch.org => {}
                    _ => err(format!("batch {g}/{lot}: licence of another org")),
                }
                match get::<Product>(state, &StateKey::Product(*g)) {
                    Some(p) if p.info.org == batch.org => {}
                    _ => err(format!("batch {g}/{lot}: product of another org")),
                }
                *batch_totals_by_licence.entry(batch.licence).or_default() += batch.count;
                *batch_totals_by_product.entry(batch.gtin).or_default() += batch.count;
            }
            StateKey::CodeKey(k) => {
                let owner: CodeKeyOwner = decode(bytes);
                match get::<Org>(state, &StateKey::Org(owner.org.clone())) {
                    Some(o) if o.code_keys.iter().any(|e| e.key == *k) => {}
                    _ => err(format!("code key {k}: its org does not list it")),
                }
            }
            StateKey::OrgIndex(page) => {
                let ids = &decode::<OrgIndex>(bytes).0;
                if ids.is_empty() || ids.len() as u64 > PAGE_LEN {
                    err(format!("org index page {page} is empty or overfull"));
                }
                for id in ids {
                    if !state.contains_key(&StateKey::Org(id.clone())) {
                        err(format!("org index lists unknown org {id}"));
                    }
                }
            }
            StateKey::OrgProducts(org, page) => {
                let gtins = &decode::<ProductPage>(bytes).0;
                if gtins.is_empty() || gtins.len() as u64 > PAGE_LEN {
                    err(format!("product page {page} of {org} is empty or overfull"));
                }
            }
            StateKey::OrgCount => {
                let count = decode::<Count>(bytes).0;
                if count != index.len() as u64 {
                    err(format!(
                        "org count {count} but {} orgs indexed",
                        index.len()
                    ));
                }
            }
            StateKey::Receipt(h) => {
                let receipt: Receipt = decode(bytes);
                if &receipt.tx != h {
                    err(format!("receipt {h} stored as {}", receipt.tx));
                }
            }
            StateKey::ChannelGrants(brand, channel) => {
                let record: ChannelGrants = decode(bytes);
                if &record.brand != brand || &record.channel != channel {
                    err(format!("grants {brand}/{channel}: key and record disagree"));
                }
                if record.grants.is_empty() || record.grants.len() > MAX_GRANTS_PER_CHANNEL {
                    err(format!("grants {brand}/{channel}: empty or over the limit"));
                }
                if brand_channels(state, brand)
                    .iter()
                    .filter(|c| *c == channel)
                    .count()
                    != 1
                {
                    err(format!("grants {brand}/{channel}: not listed once"));
                }
                match get::<Org>(state, &StateKey::Org(channel.clone())) {
                    Some(org)
                        if record
                            .grants
                            .iter()
                            .all(|g| org.has_role(g.role.org_role())) => {}
                    _ => err(format!(
                        "grants {brand}/{channel}: channel lacks a granted role"
                    )),
                }
                for (i, g) in record.grants.iter().enumerate() {
                    if g.id as usize != i
                        || !g.territory.windows(2).all(|w| w[0] < w[1])
                        || !g.products.windows(2).all(|w| w[0] < w[1])
                        || g.valid_from >= g.valid_until
                    {
                        err(format!("grants {brand}/{channel}: grant {i} is malformed"));
                    }
                    for p in &g.products {
                        match get::<Product>(state, &StateKey::Product(*p)) {
                            Some(product) if &product.info.org == brand => {}
                            _ => err(format!("grant {brand}/{channel}/{i}: foreign product {p}")),
                        }
                    }
                }
            }
            StateKey::BrandChannels(brand, page) => {
                let ids = &decode::<OrgIndex>(bytes).0;
                if ids.is_empty() || ids.len() as u64 > PAGE_LEN {
                    err(format!(
                        "channel page {page} of {brand} is empty or overfull"
                    ));
                }
                for id in ids {
                    if !state.contains_key(&StateKey::ChannelGrants(brand.clone(), id.clone())) {
                        err(format!("channel page of {brand} lists {id} without grants"));
                    }
                }
            }
            StateKey::BrandChannelCount(brand) => {
                let count = decode::<Count>(bytes).0;
                if count != brand_channels(state, brand).len() as u64 {
                    err(format!("channel count of {brand} disagrees with its pages"));
                }
            }
            StateKey::VoidedCodes(g, lot) => {
                let voided: VoidedRanges = decode(bytes);
                let Some(batch) = get::<Batch>(state, &StateKey::Batch(*g, lot.clone())) else {
                    err(format!("voided codes of unknown batch {g}/{lot}"));
                    continue;
                };
                let batch_end = batch.first_serial + batch.count;
                let ok = !voided.0.is_empty()
                    && voided.0.len() <= MAX_VOIDED_RANGES
                    && voided
                        .0
                        .iter()
                        .all(|(f, n)| *n > 0 && *f >= batch.first_serial && f + n <= batch_end)
                    && voided.0.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0);
                if !ok {
                    err(format!(
                        "voided codes of {g}/{lot}: not sorted, merged, in the batch"
                    ));
                }
            }
            StateKey::Code(id) => check_code_invariants(state, id, &decode(bytes), &mut err),
            StateKey::CodeEvent(id, index) => {
                let event: CodeEventRecord = decode(bytes);
                match get::<CodeState>(state, &StateKey::Code(*id)) {
                    Some(code) if *index < code.event_count && event.index == *index => {}
                    _ => err(format!(
                        "event {index} of {}/{}: no such index",
                        id.gtin, id.serial
                    )),
                }
            }
            StateKey::Ticket(hash) => {
                let ticket: Ticket = decode(bytes);
                match get::<CodeState>(state, &StateKey::Code(ticket.code)) {
                    Some(code) => {
                        let pending = code.ticket.is_some_and(|t| t.hash == *hash);
                        if pending != (ticket.state == TicketState::Pending) {
                            err(format!("ticket {hash}: pending on chain iff on its code"));
                        }
                    }
                    None => err(format!("ticket {hash} of a code without state")),
                }
            }
            StateKey::SupplierAuth(manufacturer, part, supplier) => {
                let auth: SupplierAuthorisation = decode(bytes);
                if &auth.manufacturer != manufacturer
                    || &auth.part != part
                    || &auth.supplier != supplier
                    || auth.spec_hash != auth.spec.hash()
                    || auth.valid_from >= auth.valid_until
                    || !state.contains_key(&StateKey::Product(*part))
                    || !state.contains_key(&StateKey::Org(manufacturer.clone()))
                    || !state.contains_key(&StateKey::Org(supplier.clone()))
                {
                    err(format!(
                        "supplier authorisation {manufacturer}/{part}/{supplier}: malformed"
                    ));
                }
            }
            StateKey::Lot(g, lot) => {
                let entry: LotEntry = decode(bytes);
                if &entry.record.gtin != g
                    || &entry.record.lot != lot
                    || !state.contains_key(&StateKey::Batch(*g, lot.clone()))
                {
                    err(format!(
                        "lot record {g}/{lot}: key, record or batch disagree"
                    ));
                }
            }
            StateKey::Pallet(sscc) => {
                let pallet: Pallet = decode(bytes);
                if &pallet.sscc != sscc
                    || pallet.codes.is_empty()
                    || !state.contains_key(&StateKey::Org(pallet.org.clone()))
                    || pallet.codes.iter().any(|c| {
                        read::batch_of(state, &c.code)
                            .expect("a map reader never misses")
                            .is_none()
                    })
                {
                    err(format!("pallet {sscc}: malformed or holds unissued codes"));
                }
            }
            StateKey::GateLog(org, page) => {
                let entries = decode::<GatePage>(bytes).0;
                if entries.iter().any(|e| {
                    &e.gate != org && e.verdict.issuer.as_ref() != Some(org)
                        || e.verdict.accepted() != e.verdict.reasons.is_empty()
                        || !e.verdict.reasons.windows(2).all(|w| w[0] < w[1])
                        || e.verdict.mismatches.is_empty()
                            == e.verdict.reasons.contains(&GateReason::SpecMismatch)
                }) {
                    err(format!("gate log {org} page {page}: an entry is not its"));
                }
                check_list_page(
                    state,
                    &StateKey::GateCount(org.clone()),
                    *page,
                    entries.len(),
                    &mut err,
                );
            }
            StateKey::GateCount(org) => {
                let count = decode::<Count>(bytes).0;
                check_list_count(
                    state,
                    count,
                    |p| StateKey::GateLog(org.clone(), p),
                    &mut err,
                );
            }
            StateKey::Recall(org, number) => {
                let recall: Recall = decode(bytes);
                if &recall.org != org || recall.number != *number {
                    err(format!("recall {org}/{number}: key and record disagree"));
                }
                let count =
                    get::<Count>(state, &StateKey::RecallCount(org.clone())).map_or(0, |c| c.0);
                if u64::from(*number) >= count {
                    err(format!("recall {org}/{number}: beyond the count {count}"));
                }
                let on = get::<RecallRefs>(state, &StateKey::RecallsOn(recall.scope.clone()))
                    .unwrap_or_default();
                let listed = on.0.iter().filter(|(o, n)| o == org && n == number).count();
                if listed != usize::from(recall.closed_at.is_none()) {
                    err(format!(
                        "recall {org}/{number}: listed {listed} times on its scope"
                    ));
                }
            }
            StateKey::RecallCount(org) => {
                let count = decode::<Count>(bytes).0;
                for n in 0..count {
                    let n = u32::try_from(n).expect("few recalls");
                    if !state.contains_key(&StateKey::Recall(org.clone(), n)) {
                        err(format!("recall {org}/{n}: counted but missing"));
                    }
                }
            }
            StateKey::RecallsOn(scope) => {
                let refs: RecallRefs = decode(bytes);
                if refs.0.len() > MAX_RECALLS_ON_SCOPE {
                    err(format!("recalls on {scope:?}: over the limit"));
                }
                for (org, n) in &refs.0 {
                    match get::<Recall>(state, &StateKey::Recall(org.clone(), *n)) {
                        Some(r) if &r.scope == scope && r.closed_at.is_none() => {}
                        _ => err(format!(
                            "recalls on {scope:?}: {org}/{n} is not an open recall of it"
                        )),
                    }
                }
            }
        }
    }
    if !state.is_empty() {
        match params {
            Some(p) if state.contains_key(&StateKey::Org(p.platform_org.clone())) => {}
            _ => err("no params or no platform org".into()),
        }
    }
    for (key, bytes) in state {
        match key {
            StateKey::Licence(id) => {
                let used = decode::<Licence>(bytes).used;
                let issued = batch_totals_by_licence.get(id).copied().unwrap_or(0);
                if used != issued {
                    err(format!("licence {id}: used {used}, batches hold {issued}"));
                }
            }
            StateKey::Product(g) => {
                let codes = decode::<Product>(bytes).codes_issued;
                let issued = batch_totals_by_product.get(g).copied().unwrap_or(0);
                if codes != issued {
                    err(format!(
                        "product {g}: codes_issued {codes}, batches hold {issued}"
                    ));
                }
            }
            _ => {}
        }
    }
    errors
}

/// A page of a B2B list ([`LIST_PAGE_LEN`] entries a page) agrees with its count: full before
/// the last page, not empty, not beyond it.
fn check_list_page(
    state: &State,
    count_key: &StateKey,
    page: u32,
    len: usize,
    err: &mut dyn FnMut(String),
) {
    let count = get::<Count>(state, count_key).map_or(0, |c| c.0);
    let first = u64::from(page) * LIST_PAGE_LEN;
    let want = count.saturating_sub(first).min(LIST_PAGE_LEN);
    if want == 0 || len as u64 != want {
        err(format!(
            "{count_key:?}: page {page} holds {len} entries, the count {count} says {want}"
        ));
    }
}

/// Every page a B2B list's count implies is there.
fn check_list_count(
    state: &State,
    count: u64,
    page_key: impl Fn(u32) -> StateKey,
    err: &mut dyn FnMut(String),
) {
    for page in 0..count.div_ceil(LIST_PAGE_LEN) {
        let key = page_key(u32::try_from(page).expect("few pages"));
        if !state.contains_key(&key) {
            err(format!("{key:?}: counted but missing"));
        }
    }
}

/// A code's state agrees with itself, its batch, its events and its ticket.
fn check_code_invariants(
    state: &State,
    id: &CodeId,
    code: &CodeState,
    err: &mut dyn FnMut(String),
) {
    let name = format!("code {}/{}", id.gtin, id.serial);
    if &code.code != id {
        err(format!("{name}: stored as another code"));
    }
    match read::batch_of(state, id).expect("a map reader never misses") {
        Some(batch) if batch.lot == code.lot && batch.org == code.brand => {}
        _ => err(format!("{name}: not in its batch")),
    }
    for index in 0..code.event_count.saturating_add(1) {
        let present = state.contains_key(&StateKey::CodeEvent(*id, index));
        if present != (index < code.event_count) {
            err(format!("{name}: event {index} present = {present}"));
        }
    }
    let held = matches!(
        code.status,
        CodeStatus::Active | CodeStatus::InChannel | CodeStatus::InTransit | CodeStatus::InStock
    );
    let installed = code.status == CodeStatus::Retired(Retirement::Installed);
    let consistent = (code.custodian.is_some() == held
        || matches!(code.status, CodeStatus::Retired(_)) && !installed)
        && (code.status == CodeStatus::Active)
            == (code.custodian.as_ref() == Some(&code.brand)
                && matches!(code.status, CodeStatus::Active | CodeStatus::InChannel))
        && code.parent.is_some() == installed
        && code.parts.len() <= MAX_PARTS
        && code.in_transit_to.is_some() == (code.status == CodeStatus::InTransit)
        && code.owner.is_some() == (code.status == CodeStatus::Owned)
        && code.sale.is_some() == matches!(code.status, CodeStatus::Sold | CodeStatus::Owned)
        && code.flags.clone_suspected == code.clone.is_some()
        && code.flags.grey_market == code.sale.as_ref().is_some_and(|s| s.grey_market)
        && code.event_count <= MAX_EVENTS_PER_CODE
        && code.scans.devices.len() <= MAX_TRACKED_DEVICES
        && code.scans.devices.windows(2).all(|w| w[0] < w[1])
        && (code.status != CodeStatus::Issued || code.event_count == 0);
    if !consistent {
        err(format!("{name}: inconsistent state {code:?}"));
    }
    if let Some(parent) = code.parent {
        match get::<CodeState>(state, &StateKey::Code(parent)) {
            Some(p) if p.parts.iter().filter(|c| *c == id).count() == 1 => {}
            _ => err(format!("{name}: its parent does not list it once")),
        }
    }
    for part in &code.parts {
        match get::<CodeState>(state, &StateKey::Code(*part)) {
            Some(p) if p.parent == Some(*id) => {}
            _ => err(format!(
                "{name}: part {}/{} is not installed in it",
                part.gtin, part.serial
            )),
        }
    }
    if let Some(pending) = code.ticket {
        match get::<Ticket>(state, &StateKey::Ticket(pending.hash)) {
            Some(t)
                if t.code == *id && t.state == TicketState::Pending && t.kind == pending.kind => {}
            _ => err(format!(
                "{name}: its pending ticket is not pending on chain"
            )),
        }
    }
}

/// Everything a scenario must satisfy apart from its pinned digest; returns the run.
fn check_scenario(scenario: &Scenario) -> Result<Run, Vec<String>> {
    let compiled = scenario.compile().map_err(|e| vec![e])?;
    if scenario.compile().map_err(|e| vec![e])? != compiled {
        return Err(vec!["compiling twice gave different bytes".into()]);
    }
    let run = execute_deterministically(&compiled).map_err(|e| vec![e])?;
    let keys = scenario.keys().map_err(|e| vec![e])?;
    let mut errors = check_receipts(scenario, &run, &keys);
    errors.extend(check_state(&run.state, &scenario.expect_state, &keys));
    errors.extend(
        check_invariants(&run.state)
            .into_iter()
            .map(|e| format!("invariant: {e}")),
    );
    if errors.is_empty() {
        Ok(run)
    } else {
        Err(errors)
    }
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// The `*.json` files directly in `dir`, sorted by name.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn load_all() -> Vec<(PathBuf, Scenario)> {
    json_files(&scenario_dir())
        .into_iter()
        .map(|path| {
            let scenario = Scenario::load(&path)
                .unwrap_or_else(|e| panic!("scenario {}: {e}", path.display()));
            (path, scenario)
        })
        .collect()
}

fn report(failures: &[String]) {
    if !failures.is_empty() {
        panic!(
            "{} problem(s):\n\n{}\n",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

#[test]
fn scenarios() {
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some_and(|v| v == "1");
    let files = json_files(&scenario_dir());
    assert!(!files.is_empty(), "no scenario files found");
    let mut failures = Vec::new();
    for path in files {
        let name = name_of(&path);
        let mut scenario = match Scenario::load(&path) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("scenario {name}: {e}"));
                continue;
            }
        };
        let run = match check_scenario(&scenario) {
            Ok(run) => run,
            Err(errors) => {
                failures.push(format!("scenario {name}:\n  {}", errors.join("\n  ")));
                continue;
            }
        };
        let actual = run.digest.to_hex();
        if update {
            scenario.state_digest = Some(actual);
            let text = scenario.to_pretty();
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)
                    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                eprintln!("updated {}", path.display());
            }
        } else if scenario.state_digest.as_deref() != Some(actual.as_str()) {
            failures.push(format!(
                "scenario {name}: state digest mismatch\n  expected: {}\n  actual:   {actual}\n  \
                 If the change is intended, run\n    \
                 UPDATE_SCENARIOS=1 cargo test -p jitrace-ledger --test scenarios\n  \
                 and review the diff of {}",
                scenario.state_digest.as_deref().unwrap_or("<none pinned>"),
                path.display()
            ));
        }
    }
    report(&failures);
}

#[test]
fn every_reason_is_covered() {
    let mut seen = BTreeSet::new();
    for (path, scenario) in load_all() {
        for tx in scenario.blocks.iter().flat_map(|b| &b.txs) {
            match Expect::parse(&tx.expect) {
                Ok(Expect::Rejected(reason)) => {
                    seen.insert(reason);
                }
                Ok(Expect::Ok) => {}
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
    let missing: Vec<&str> = Reason::ALL
        .iter()
        .filter(|r| !seen.contains(r))
        .map(|r| r.code())
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario expects these reasons: {missing:?}"
    );
}

/// Every payload kind, by a match that stops compiling when a kind is added.
fn kind_slot(payload: &Payload) -> usize {
    match payload {
        Payload::RegisterOrg(_) => 0,
        Payload::AddMember { .. } => 1,
        Payload::RemoveMember { .. } => 2,
        Payload::IssueLicence(_) => 3,
        Payload::RevokeLicence { .. } => 4,
        Payload::RegisterProduct(_) => 5,
        Payload::UpdateProduct(_) => 6,
        Payload::RegisterCodeKey { .. } => 7,
        Payload::RevokeCodeKey { .. } => 8,
        Payload::IssueCodeBatch(_) => 9,
        Payload::AuthoriseChannel(_) => 10,
        Payload::RevokeChannel { .. } => 11,
        Payload::VoidCodes(_) => 12,
        Payload::RecordCodeEvent(_) => 13,
        Payload::RedeemTicket { .. } => 14,
        Payload::IssueTransferTicket { .. } => 15,
        Payload::CancelTicket { .. } => 16,
        Payload::ReportStolen { .. } => 17,
        Payload::ClearStolen { .. } => 18,
        Payload::RecordScans { .. } => 19,
        Payload::AuthoriseSupplier(_) => 20,
        Payload::RevokeSupplier { .. } => 21,
        Payload::RecordLot(_) => 22,
        Payload::PackPallet(_) => 23,
        Payload::GateReceive(_) => 24,
        Payload::Assemble(_) => 25,
        Payload::StartRecall(_) => 26,
        Payload::CloseRecall { .. } => 27,
    }
}
const KINDS: usize = 28;
/// [`Payload::kind`] of each slot of [`kind_slot`].
const KIND_NAMES: [&str; KINDS] = [
    "register_org",
    "add_member",
    "remove_member",
    "issue_licence",
    "revoke_licence",
    "register_product",
    "update_product",
    "register_code_key",
    "revoke_code_key",
    "issue_code_batch",
    "authorise_channel",
    "revoke_channel",
    "void_codes",
    "record_code_event",
    "redeem_ticket",
    "issue_transfer_ticket",
    "cancel_ticket",
    "report_stolen",
    "clear_stolen",
    "record_scans",
    "authorise_supplier",
    "revoke_supplier",
    "record_lot",
    "pack_pallet",
    "gate_receive",
    "assemble",
    "start_recall",
    "close_recall",
];

#[test]
fn every_payload_kind_succeeds_somewhere() {
    let mut ok = [false; KINDS];
    for (path, scenario) in load_all() {
        let keys = scenario.keys().expect("keys");
        for tx in scenario.blocks.iter().flat_map(|b| &b.txs) {
            let plain = tx.chain_id.is_none()
                && tx.sign_with.is_none()
                && tx.corrupt_gtin.is_none()
                && !tx.send_body_only;
            if let (Some(payload), "ok", true) = (&tx.payload, tx.expect.as_str(), plain) {
                let payload = payload
                    .to_payload(
                        &keys,
                        &scenario.genesis.chain_id,
                        &keys
                            .public(tx.signer.as_deref().expect("signer"))
                            .expect("key"),
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let slot = kind_slot(&payload);
                assert_eq!(
                    KIND_NAMES[slot],
                    payload.kind(),
                    "KIND_NAMES is out of date"
                );
                ok[slot] = true;
            }
        }
    }
    let missing: Vec<&str> = (0..KINDS)
        .filter(|&k| !ok[k])
        .map(|k| KIND_NAMES[k])
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario expects these payload kinds to succeed: {missing:?}"
    );
}

/// Runs the scenario file `name` and returns its final state and keys.
fn run_file(name: &str) -> (State, Keys, Scenario) {
    let path = scenario_dir().join(format!("{name}.json"));
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run = check_scenario(&scenario).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let keys = scenario.keys().expect("keys");
    (run.state, keys, scenario)
}

#[test]
fn read_helpers_answer_what_the_rules_decided() {
    let (state, keys, scenario) = run_file("12_code_authenticity");
    let chain = scenario.genesis.chain_id.as_str();
    let wine = gtin("09506000134352").unwrap();
    let printed = |serial: u64, key: &str| SignedCode {
        code: CodeId { gtin: wine, serial },
        signature: sign_code(keys.secret(key).unwrap(), chain, &wine, &serial.to_string()),
    };
    let check = |code: &SignedCode| read::check_code(&state, chain, code).unwrap();
    assert!(matches!(
        check(&printed(1000, "helan_codes")),
        read::CodeCheck::Genuine { voided: false, .. }
    ));
    assert!(matches!(
        check(&printed(1100, "helan_codes")),
        read::CodeCheck::Genuine { voided: true, .. }
    ));
    assert!(matches!(
        check(&printed(1001, "xihu_codes")),
        read::CodeCheck::SignatureInvalid { .. }
    ));
    assert_eq!(
        check(&printed(2000, "helan_codes")),
        read::CodeCheck::NotIssued
    );
    // The same code for another chain is a forgery here.
    let other_chain = SignedCode {
        signature: sign_code(
            keys.secret("helan_codes").unwrap(),
            "jitrace-other",
            &wine,
            "1000",
        ),
        ..printed(1000, "helan_codes")
    };
    assert!(matches!(
        check(&other_chain),
        read::CodeCheck::SignatureInvalid { .. }
    ));
    let id = CodeId {
        gtin: wine,
        serial: 1000,
    };
    let code = read::code_state(&state, &id).unwrap().expect("state");
    assert_eq!(code.status, CodeStatus::Active);
    assert_eq!(read::code_events(&state, &id, 0, 10).unwrap().len(), 1);
    assert!(read::code_events(&state, &id, 1, 10).unwrap().is_empty());
    assert!(
        read::code_state(
            &state,
            &CodeId {
                gtin: wine,
                serial: 1001
            }
        )
        .unwrap()
        .is_none()
    );

    let (state, _, _) = run_file("11_channels");
    let helan = org_id("helan-winery").unwrap();
    assert_eq!(read::channel_count(&state, &helan).unwrap(), 3);
    let channels: Vec<String> = read::channel_authorisations(&state, &helan, 0)
        .unwrap()
        .iter()
        .map(|g| format!("{}:{}", g.channel, g.grants.len()))
        .collect();
    assert_eq!(
        channels,
        [
            "huadong-wines:32",
            "jiuxian-shanghai:2",
            "ningxia-logistics:1"
        ]
    );
    assert!(
        read::channel_authorisations(&state, &helan, 1)
            .unwrap()
            .is_empty()
    );
    let jiuxian = read::channel_grants(&state, &helan, &org_id("jiuxian-shanghai").unwrap())
        .unwrap()
        .expect("grants");
    let now_s = 1_772_409_600 + 3_600;
    let chardonnay = gtin("09506000134376").unwrap();
    assert_eq!(read::grants_in_force(&jiuxian, &wine, now_s).count(), 2);
    assert_eq!(
        read::grants_in_force(&jiuxian, &chardonnay, now_s).count(),
        1
    );
    assert_eq!(
        read::grants_in_force(&jiuxian, &wine, 1_798_761_600).count(),
        0
    );
    let shanghai = GeoPoint {
        lat_micro: 31_230_400,
        lon_micro: 121_473_700,
    };
    let fenced = &jiuxian.grants[0];
    assert!(fenced.covers_place("CN-SH", Some(shanghai)));
    assert!(!fenced.covers_place("CN-ZJ", Some(shanghai)));
    assert!(
        !fenced.covers_place("CN-SH", None),
        "a geofence needs the point"
    );
    assert!(jiuxian.grants[1].covers_place("CN-ZJ", None));
}

#[test]
fn likely_reads_name_what_a_code_event_reads() {
    let keys = Keys::new(&BTreeMap::from([("codes".to_string(), 15)])).unwrap();
    let code = SignedCodeDto {
        gtin: "09506000134352".into(),
        serial: 7,
        signed_by: Some("codes".into()),
        signature: None,
    }
    .to_signed(&keys, "c")
    .unwrap();
    let tx = Transaction {
        chain_id: "c".into(),
        signer: keys.public("codes").unwrap(),
        nonce: 1,
        payload: Payload::RecordCodeEvent(CodeEvent {
            code: code.clone(),
            org: org_id("jiuxian-shanghai").unwrap(),
            action: CodeAction::Ship {
                to: org_id("huadong-wines").unwrap(),
            },
            place: Place::default(),
        }),
    };
    let reads = read::likely_reads(&tx);
    for key in [
        StateKey::SerialRanges(code.code.gtin),
        StateKey::Code(code.code),
        StateKey::Org(org_id("jiuxian-shanghai").unwrap()),
        StateKey::Org(org_id("huadong-wines").unwrap()),
    ] {
        assert!(reads.contains(&key), "{key:?} in {reads:?}");
    }
    let gtin = code.code.gtin;
    let update = Transaction {
        payload: Payload::UpdateProduct(ProductInfo {
            gtin,
            org: org_id("jiuxian-shanghai").unwrap(),
            name: "Wine".into(),
            description: String::new(),
            attributes: vec![],
            media: vec![],
        }),
        ..tx
    };
    assert_eq!(
        read::likely_reads(&update),
        vec![
            StateKey::Org(org_id("jiuxian-shanghai").unwrap()),
            StateKey::Product(gtin)
        ]
    );
}

/// The state a small chain builds, as a scenario, for the programmatic tests.
fn wine_brand_setup() -> serde_json::Value {
    serde_json::json!({
        "keys": { "operator": 1, "acme_admin": 10, "acme_codes": 1001 },
        "genesis": { "chain_id": "jitrace-devnet", "platform_org": "platform" },
        "blocks": [{
            "time_ms": 1_767_225_600_000_u64,
            "txs": [
                { "signer": "operator", "nonce": 1, "expect": "ok", "payload": {
                    "type": "register_org", "id": "acme-wines", "name": "Acme Wines",
                    "roles": ["brand"], "gs1_company_prefix": "9506000", "admin": "acme_admin" } },
                { "signer": "operator", "nonce": 2, "expect": "ok", "payload": {
                    "type": "issue_licence", "id": "acme-2026", "org": "acme-wines",
                    "quota": 5_000_000, "valid_from": 1_767_225_600_u64,
                    "valid_until": 1_798_761_600_u64 } },
                { "signer": "acme_admin", "nonce": 1, "expect": "ok", "payload": {
                    "type": "register_product", "gtin": "09506000134352", "org": "acme-wines",
                    "name": "Acme Cabernet Sauvignon 2022 750 ml" } },
                { "signer": "acme_admin", "nonce": 2, "expect": "ok", "payload": {
                    "type": "register_code_key", "org": "acme-wines", "key": "acme_codes" } }
            ]
        }]
    })
}

#[test]
fn a_million_codes_are_one_transaction_and_a_bounded_write() {
    let mut value = wine_brand_setup();
    value["blocks"]
        .as_array_mut()
        .expect("blocks")
        .push(serde_json::json!({
            "time_ms": 1_767_229_200_000_u64,
            "txs": [{ "signer": "acme_admin", "nonce": 3, "expect": "ok", "payload": {
                "type": "issue_code_batch", "org": "acme-wines", "licence": "acme-2026",
                "gtin": "09506000134352", "lot": "2026-MEGA", "first_serial": 1,
                "count": 1_000_000, "code_key": "acme_codes" } }]
        }));
    let scenario: Scenario = serde_json::from_value(value).expect("scenario");
    let run = check_scenario(&scenario).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let block = run.blocks.last().expect("a block");
    assert_eq!(block.receipts.len(), 1);
    assert!(block.receipts[0].is_ok());

    // One nonce, one licence, one product, one range list, one batch, one receipt.
    let kinds: Vec<u8> = block.writes.keys().map(StateKey::kind_tag).collect();
    assert_eq!(
        kinds,
        [1, 3, 4, 5, 6, 8],
        "writes: {:?}",
        block.writes.keys()
    );
    let bytes: usize = block
        .writes
        .iter()
        .map(|(k, v)| k.encode().len() + v.as_ref().map_or(0, Vec::len))
        .sum();
    assert!(bytes < 2_048, "the block wrote {bytes} bytes");

    let before = run.blocks[0].writes.len();
    assert_eq!(
        run.state.len(),
        before + 3,
        "range list, batch and receipt are new"
    );
    let licence: Licence = get(
        &run.state,
        &StateKey::Licence(licence_id("acme-2026").unwrap()),
    )
    .expect("licence");
    assert_eq!(licence.used, 1_000_000);
    let g = gtin("09506000134352").unwrap();
    let product: Product = get(&run.state, &StateKey::Product(g)).expect("product");
    assert_eq!(product.codes_issued, 1_000_000);
    let ranges: SerialRanges = get(&run.state, &StateKey::SerialRanges(g)).expect("ranges");
    assert_eq!(
        ranges.find(1_000_000).map(|r| r.lot.as_str()),
        Some("2026-MEGA")
    );
    assert_eq!(ranges.find(1_000_001), None);
}

// ------------------------------------------------------------------------------------------
// Randomized determinism
// ------------------------------------------------------------------------------------------

/// xorshift64: tiny, deterministic, good enough to shuffle test inputs.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const BASE_S: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY_S: u64 = 86_400;
const CHAIN: &str = "jitrace-random";

/// A pseudo-random chain of valid and invalid transactions.
struct RandomChain {
    rng: XorShift,
    nonces: BTreeMap<u64, u64>,
    sent: Vec<Vec<u8>>,
    /// The time of the block being generated (scans are made shortly before it).
    now_ms: u64,
}

/// Consumers' keys: members of nothing, they may only act as owners.
const CONSUMER_SEEDS: [u64; 4] = [200, 201, 202, 203];
/// Where random events and scans happen: Shanghai, Hangzhou, Beijing, Paris (cells).
const CELLS: [(i32, i32, &str); 4] = [
    (31_250_000, 121_450_000, "CN-SH"),
    (30_250_000, 120_150_000, "CN-ZJ"),
    (39_900_000, 116_400_000, "CN-BJ"),
    (48_850_000, 2_350_000, "FR-IDF"),
];

/// Member keys are seeds 1..=8 (1 is the operator, 8 never joins anything); code keys 100..=103.
const MEMBER_SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const CODE_KEY_SEEDS: [u64; 4] = [100, 101, 102, 103];
/// A test organisation and the things that usually go with it.
struct OrgProfile {
    id: &'static str,
    admin: u64,
    gtins: &'static [&'static str],
    licence: &'static str,
    code_key: u64,
}

const ORGS: [OrgProfile; 6] = [
    OrgProfile {
        id: "platform",
        admin: 1,
        gtins: &[],
        licence: "lic-1",
        code_key: 103,
    },
    OrgProfile {
        id: "acme-wines",
        admin: 2,
        gtins: &["09506000134352", "09506000134376"],
        licence: "lic-a",
        code_key: 100,
    },
    OrgProfile {
        id: "sunvale-oils",
        admin: 3,
        gtins: &["09506001134405", "09506001134412"],
        licence: "lic-s",
        code_key: 101,
    },
    OrgProfile {
        id: "cellar-shop",
        admin: 4,
        gtins: &[],
        licence: "lic-2",
        code_key: 103,
    },
    OrgProfile {
        id: "nomad-makers",
        admin: 6,
        gtins: &["04006381333931"],
        licence: "lic-3",
        code_key: 102,
    },
    OrgProfile {
        id: "ghost",
        admin: 7,
        gtins: &[],
        licence: "lic-2",
        code_key: 103,
    },
];
const GTINS: [&str; 5] = [
    "09506000134352",
    "09506000134376",
    "09506001134405",
    "09506001134412",
    "04006381333931",
];
const LICENCES: [&str; 5] = ["lic-a", "lic-s", "lic-1", "lic-2", "lic-3"];
const LOTS: [&str; 6] = ["L1", "L2", "L3", "L4", "L5", "L6"];

impl RandomChain {
    fn key(seed: u64) -> SecretKey {
        SecretKey::from_seed(seed)
    }

    fn pk(seed: u64) -> PublicKey {
        Self::key(seed).public_key()
    }

    fn next_nonce(&mut self, seed: u64) -> u64 {
        let n = self.nonces.entry(seed).or_insert(0);
        *n += 1;
        *n
    }

    fn signed(&mut self, seed: u64, payload: Payload) -> Vec<u8> {
        let nonce = self.next_nonce(seed);
        let tx = Transaction {
            chain_id: CHAIN.into(),
            signer: Self::pk(seed),
            nonce,
            payload,
        };
        tx.sign(&Self::key(seed)).encode()
    }

    /// Mostly what goes with the organisation, sometimes anything.
    fn gtin(&mut self, profile: &OrgProfile) -> Gtin {
        let gtin = match self.rng.chance(80) && !profile.gtins.is_empty() {
            true => *self.rng.pick(profile.gtins),
            false => *self.rng.pick(&GTINS),
        };
        Gtin::parse(gtin).unwrap()
    }

    fn product(&mut self, profile: &OrgProfile) -> ProductInfo {
        let n = self.rng.below(1000);
        ProductInfo {
            gtin: self.gtin(profile),
            org: OrgId::new(profile.id).unwrap(),
            name: format!("Product {n}"),
            description: String::new(),
            attributes: vec![Attribute {
                name: "volume_ml".into(),
                value: format!("{}", 250 * (1 + n % 4)),
            }],
            media: vec![],
        }
    }

    fn payload(&mut self) -> (Payload, u64) {
        let profile = self.rng.pick(&ORGS);
        let (org, admin) = (OrgId::new(profile.id).unwrap(), profile.admin);
        let licence = match self.rng.chance(80) {
            true => profile.licence,
            false => *self.rng.pick(&LICENCES),
        };
        let licence = LicenceId::new(licence).unwrap();
        let member = Self::pk(*self.rng.pick(&MEMBER_SEEDS));
        let code_key = match self.rng.chance(80) {
            true => profile.code_key,
            false => *self.rng.pick(&CODE_KEY_SEEDS),
        };
        let code_key = Self::pk(code_key);
        // Weighted towards products, batches and code events, where most rules live.
        let kind = *self.rng.pick(&[
            0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9, 9, 9, 9, 9, 10, 10, 11, 11, 11, 11, 11, 11, 12,
            12, 12, 13,
        ]);
        if kind >= 10 {
            // Mostly the brand that has a batch and a channel.
            let profile = match self.rng.chance(60) {
                true => &ORGS[1],
                false => profile,
            };
            return self.code_payload(kind, profile);
        }
        let platform_action = matches!(kind, 0 | 3 | 4);
        let payload = match kind {
            0 => {
                let roles = [
                    Role::Brand,
                    Role::Manufacturer,
                    Role::Retailer,
                    Role::Distributor,
                ];
                let mut picked: Vec<Role> =
                    roles.into_iter().filter(|_| self.rng.chance(40)).collect();
                if picked.is_empty() {
                    picked.push(Role::Brand);
                }
                Payload::RegisterOrg(RegisterOrg {
                    id: org,
                    name: "Random Org".into(),
                    roles: picked,
                    gs1_company_prefix: self
                        .rng
                        .chance(50)
                        .then(|| self.rng.pick(&["9506000", "9506001"]).to_string()),
                    region: None,
                    admin: member,
                })
            }
            1 => Payload::AddMember { org, key: member },
            2 => Payload::RemoveMember { org, key: member },
            3 => {
                let valid_from = BASE_S - 5 * DAY_S + self.rng.below(20 * DAY_S);
                Payload::IssueLicence(IssueLicence {
                    id: licence,
                    org,
                    quota: 1 + self.rng.below(20_000),
                    valid_from,
                    valid_until: valid_from + 1 + self.rng.below(30 * DAY_S),
                })
            }
            4 => Payload::RevokeLicence {
                // Rarely the two licences most batches use, or few batches would pass.
                licence: match self.rng.chance(15) {
                    true => licence,
                    false => LicenceId::new(*self.rng.pick(&LICENCES[2..])).unwrap(),
                },
                reason: "audit finding".into(),
            },
            5 => Payload::RegisterProduct(self.product(profile)),
            6 => Payload::UpdateProduct(self.product(profile)),
            7 => Payload::RegisterCodeKey { org, key: code_key },
            8 => Payload::RevokeCodeKey { org, key: code_key },
            _ => Payload::IssueCodeBatch(IssueCodeBatch {
                org,
                licence,
                gtin: self.gtin(profile),
                lot: self.rng.pick(&LOTS).to_string(),
                first_serial: self.rng.below(40) * 1_000,
                count: 1 + self.rng.below(3_000),
                code_key,
            }),
        };
        // Mostly the signer who may do it, sometimes anyone.
        let signer = match (self.rng.chance(85), platform_action) {
            (true, true) => 1,
            (true, false) => admin,
            (false, _) => *self.rng.pick(&MEMBER_SEEDS),
        };
        (payload, signer)
    }

    /// A code somewhere in (or near) the batches the generator issues.
    fn code_id(&mut self, profile: &OrgProfile) -> CodeId {
        // Few codes, so that some live long: commissioned, shipped, sold, owned, stolen.
        let serial = match self.rng.chance(80) {
            true => self.rng.below(12),
            false => self.rng.below(40) * 1_000 + self.rng.below(40),
        };
        let gtin = match self.rng.chance(75) {
            true => Gtin::parse(GTINS[0]).unwrap(),
            false => self.gtin(profile),
        };
        CodeId { gtin, serial }
    }

    /// The code signed, mostly with the organisation's own code key.
    fn signed_code(&mut self, profile: &OrgProfile) -> SignedCode {
        let code = self.code_id(profile);
        let own_key = match code.gtin.as_str() == GTINS[0] {
            true => 100,
            false => profile.code_key,
        };
        let key = match self.rng.chance(90) {
            true => own_key,
            false => *self.rng.pick(&CODE_KEY_SEEDS),
        };
        SignedCode {
            code,
            signature: sign_code(&Self::key(key), CHAIN, &code.gtin, &code.serial_text()),
        }
    }

    fn ticket(&mut self) -> TicketSecret {
        TicketSecret([self.rng.below(4) as u8; 32])
    }

    /// Channels, code events, owners' actions and scans, with the signer who (mostly) may.
    fn code_payload(&mut self, kind: u64, profile: &OrgProfile) -> (Payload, u64) {
        let brand = OrgId::new(profile.id).unwrap();
        let shop = OrgId::new("cellar-shop").unwrap();
        let (lat, lon, region) = *self.rng.pick(&CELLS);
        let point = GeoPoint {
            lat_micro: lat + self.rng.below(20_000) as i32,
            lon_micro: lon,
        };
        match kind {
            10 => {
                let valid_from = BASE_S - DAY_S + self.rng.below(10 * DAY_S);
                let grant = AuthoriseChannel {
                    brand,
                    channel: shop,
                    role: ChannelRole::Retailer,
                    products: match self.rng.chance(50) {
                        true => vec![],
                        false => vec![self.gtin(profile)],
                    },
                    territory: vec![self.rng.pick(&["CN", "CN-SH", "FR"]).to_string()],
                    geofence: self.rng.chance(30).then_some(Geofence {
                        centre: GeoPoint {
                            lat_micro: 31_230_400,
                            lon_micro: 121_473_700,
                        },
                        radius_m: 50_000,
                    }),
                    valid_from,
                    valid_until: valid_from + 1 + self.rng.below(90 * DAY_S),
                };
                (Payload::AuthoriseChannel(grant), profile.admin)
            }
            11 => {
                let code = self.signed_code(profile);
                let at_shop = self.rng.chance(45);
                let (org, signer) = match at_shop {
                    true => (shop.clone(), 4),
                    false => (brand.clone(), profile.admin),
                };
                let other = match at_shop {
                    true => brand,
                    false => shop,
                };
                let action = match self.rng.below(12) {
                    0 | 1 => CodeAction::Commission,
                    2 => CodeAction::Pack,
                    3 | 4 => CodeAction::Ship { to: other },
                    5 | 6 => CodeAction::Receive,
                    7 => CodeAction::TransferCustody { to: other },
                    8 => CodeAction::Store,
                    9 | 10 => CodeAction::Sell {
                        buyer: match self.rng.below(3) {
                            0 => Buyer::Anonymous,
                            1 => Buyer::Owner(Self::pk(*self.rng.pick(&CONSUMER_SEEDS))),
                            _ => Buyer::ClaimTicket(ticket_key(&self.ticket())),
                        },
                    },
                    _ => CodeAction::Destroy,
                };
                let place = Place {
                    point: self.rng.chance(90).then_some(point),
                    region: self.rng.chance(90).then(|| region.to_string()),
                    city: self.rng.chance(80).then(|| "City".to_string()),
                };
                let event = CodeEvent {
                    code,
                    org,
                    action,
                    place,
                };
                (Payload::RecordCodeEvent(event), signer)
            }
            12 => {
                let code = self.code_id(profile);
                let signer = *self.rng.pick(&CONSUMER_SEEDS);
                let payload = match self.rng.below(6) {
                    0 | 1 => {
                        let secret = self.ticket();
                        let device = self
                            .rng
                            .chance(50)
                            .then_some(Hash([self.rng.below(8) as u8; 32]));
                        let owner = Self::pk(signer);
                        Payload::RedeemTicket {
                            code,
                            ticket: ticket_key(&secret),
                            proof: secret.redeem(&code, &owner, device.as_ref()).expect("seed"),
                            device,
                        }
                    }
                    2 => Payload::IssueTransferTicket {
                        code,
                        ticket: ticket_key(&self.ticket()),
                    },
                    3 => Payload::CancelTicket { code },
                    4 => Payload::ReportStolen { code },
                    _ => Payload::ClearStolen { code },
                };
                (payload, signer)
            }
            _ => {
                let n = 1 + self.rng.below(3);
                let scans = (0..n)
                    .map(|_| {
                        let (lat, lon, _) = *self.rng.pick(&CELLS);
                        Scan {
                            code: self.signed_code(profile),
                            cell: GeoPoint {
                                lat_micro: lat,
                                lon_micro: lon,
                            },
                            device: Hash([self.rng.below(24) as u8; 32]),
                            time_ms: self.now_ms.saturating_sub(self.rng.below(DAY_S * 1_000)),
                        }
                    })
                    .collect();
                (Payload::RecordScans { scans }, 1)
            }
        }
    }

    fn tx(&mut self) -> Vec<u8> {
        let fault = self.rng.below(100);
        let (payload, signer) = self.payload();
        match fault {
            0..=2 => {
                let len = self.rng.below(120) as usize;
                (0..len).map(|_| self.rng.next() as u8).collect()
            }
            3..=5 if !self.sent.is_empty() => self.rng.pick(&self.sent).clone(),
            6..=7 => {
                let other = *self.rng.pick(&MEMBER_SEEDS);
                let nonce = self.next_nonce(signer);
                let tx = Transaction {
                    chain_id: CHAIN.into(),
                    signer: Self::pk(signer),
                    nonce,
                    payload,
                };
                tx.sign(&Self::key(other)).encode()
            }
            8 => {
                let nonce = self.next_nonce(signer);
                let tx = Transaction {
                    chain_id: "jitrace-other".into(),
                    signer: Self::pk(signer),
                    nonce,
                    payload,
                };
                tx.sign(&Self::key(signer)).encode()
            }
            9..=10 => {
                let stale = self.nonces.get(&signer).copied().unwrap_or(0);
                let nonce = self.rng.below(stale + 1);
                let tx = Transaction {
                    chain_id: CHAIN.into(),
                    signer: Self::pk(signer),
                    nonce,
                    payload,
                };
                tx.sign(&Self::key(signer)).encode()
            }
            _ => self.signed(signer, payload),
        }
    }

    fn generate(seed: u64, blocks: usize) -> Compiled {
        let mut chain = RandomChain {
            rng: XorShift::new(seed),
            nonces: BTreeMap::new(),
            sent: Vec::new(),
            now_ms: BASE_S * 1_000,
        };
        let org = |id: &str| OrgId::new(id).unwrap();
        let register = |id: &str, roles: Vec<Role>, prefix: Option<&str>, admin: u64| {
            Payload::RegisterOrg(RegisterOrg {
                id: org(id),
                name: id.to_string(),
                roles,
                gs1_company_prefix: prefix.map(str::to_string),
                region: None,
                admin: Self::pk(admin),
            })
        };
        let licence = |id: &str, o: &str| {
            Payload::IssueLicence(IssueLicence {
                id: LicenceId::new(id).unwrap(),
                org: org(o),
                quota: 30_000,
                valid_from: BASE_S - DAY_S,
                valid_until: BASE_S + 60 * DAY_S,
            })
        };
        let setup = vec![
            (
                1,
                register("acme-wines", vec![Role::Brand], Some("9506000"), 2),
            ),
            (
                1,
                register(
                    "sunvale-oils",
                    vec![Role::Brand, Role::Manufacturer],
                    Some("9506001"),
                    3,
                ),
            ),
            (1, register("cellar-shop", vec![Role::Retailer], None, 4)),
            (
                1,
                register("nomad-makers", vec![Role::Manufacturer], None, 6),
            ),
            (1, licence("lic-a", "acme-wines")),
            (1, licence("lic-s", "sunvale-oils")),
            (
                2,
                Payload::RegisterCodeKey {
                    org: org("acme-wines"),
                    key: Self::pk(100),
                },
            ),
            (
                3,
                Payload::RegisterCodeKey {
                    org: org("sunvale-oils"),
                    key: Self::pk(101),
                },
            ),
            (2, Payload::RegisterProduct(chain.product(&ORGS[1]))),
            (3, Payload::RegisterProduct(chain.product(&ORGS[2]))),
            // A batch and a channel, so that code events have codes to work on.
            (
                2,
                Payload::RegisterProduct(ProductInfo {
                    gtin: Gtin::parse(GTINS[0]).unwrap(),
                    ..chain.product(&ORGS[1])
                }),
            ),
            (
                2,
                Payload::IssueCodeBatch(IssueCodeBatch {
                    org: org("acme-wines"),
                    licence: LicenceId::new("lic-a").unwrap(),
                    gtin: Gtin::parse(GTINS[0]).unwrap(),
                    lot: "L0".into(),
                    first_serial: 0,
                    count: 40,
                    code_key: Self::pk(100),
                }),
            ),
            (
                2,
                Payload::AuthoriseChannel(AuthoriseChannel {
                    brand: org("acme-wines"),
                    channel: org("cellar-shop"),
                    role: ChannelRole::Retailer,
                    products: vec![],
                    territory: vec!["CN".into()],
                    geofence: None,
                    valid_from: BASE_S - DAY_S,
                    valid_until: BASE_S + 60 * DAY_S,
                }),
            ),
        ];
        let mut first = Vec::new();
        for (signer, payload) in setup {
            let raw = chain.signed(signer, payload);
            chain.sent.push(raw.clone());
            first.push(raw);
        }
        let mut out = vec![RawBlock {
            time_ms: BASE_S * 1_000,
            txs: first,
        }];
        let mut time_ms = BASE_S * 1_000;
        for _ in 1..blocks {
            time_ms += chain.rng.below(2 * DAY_S * 1_000);
            chain.now_ms = time_ms;
            let n = chain.rng.below(16);
            let mut txs = Vec::new();
            for _ in 0..n {
                let raw = chain.tx();
                chain.sent.push(raw.clone());
                txs.push(raw);
            }
            out.push(RawBlock { time_ms, txs });
        }
        Compiled {
            genesis: Genesis {
                chain_id: CHAIN.into(),
                operator: Self::pk(1),
                platform_org: org("platform"),
                platform_name: "Jitrace Platform".into(),
                validators: vec![Self::pk(1)],
                scan_rules: ScanRules::DEFAULT,
            },
            blocks: out,
        }
    }
}

#[test]
fn randomized_chains_are_deterministic() {
    let mut digests = BTreeSet::new();
    for seed in [1, 2, 3, 4, 5, 0xC0FFEE] {
        let compiled = RandomChain::generate(seed, 60);
        assert_eq!(
            RandomChain::generate(seed, 60),
            compiled,
            "seed {seed}: generation is not deterministic"
        );
        let run =
            execute_deterministically(&compiled).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // The invariants hold after every block, not only at the end.
        execute_with(
            &compiled.genesis,
            &compiled.blocks,
            ReaderKind::Full,
            &mut |height, state| {
                let broken = check_invariants(state);
                assert!(
                    broken.is_empty(),
                    "seed {seed}, height {height}: {broken:#?}"
                );
            },
        );

        let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
        let mut ok_kinds = BTreeSet::new();
        for receipt in run.blocks.iter().flat_map(|b| &b.receipts) {
            let code = match &receipt.outcome {
                Outcome::Ok => {
                    ok_kinds.insert(receipt.kind.clone());
                    "ok"
                }
                Outcome::Rejected { reason, .. } => reason.code(),
            };
            *outcomes.entry(code).or_default() += 1;
        }
        eprintln!("seed {seed}: {outcomes:?}");
        // The generator must produce a meaningful mix, or this test proves little.
        let total: usize = outcomes.values().sum();
        let ok = outcomes.get("ok").copied().unwrap_or(0);
        assert!(
            ok * 10 >= total && outcomes.len() >= 15 && ok_kinds.len() >= 8,
            "seed {seed}: poor mix of outcomes {outcomes:?}, ok kinds {ok_kinds:?}"
        );
        assert!(
            digests.insert(run.digest),
            "seed {seed}: same digest as another seed"
        );
    }
}
