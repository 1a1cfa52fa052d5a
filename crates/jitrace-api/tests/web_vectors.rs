//! The browser builds transactions itself (`web/js/tx.js`). This test pins the Rust encoding of
//! every payload the consumer page signs and every body the console sends in `web/test/vectors.json` and runs the JS test
//! (`web/test/tx.test.js`, `node --test`) against the same file, so neither side can change
//! the bytes without the other failing.
//!
//! After a deliberate change of the encoding: `JITRACE_UPDATE_VECTORS=1 cargo nextest run -p
//! jitrace-api --test web_vectors`, then review the diff of `vectors.json`.

use jitrace_api::device_pseudonym;
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, Role, SecretKey, SignedTransaction, Transaction,
    parts::{RecallScope, StartRecall},
    tx::{
        Attribute, AuthoriseChannel, Buyer, ChannelRole, CodeAction, CodeEvent, CodeId, GeoPoint,
        Geofence, IssueCodeBatch, IssueLicence, MediaRef, Payload, Place, ProductInfo, RegisterOrg,
        SignedCode, TicketSecret, VoidCodes,
    },
};
use serde_json::json;
use std::{path::PathBuf, process::Command};

const CHAIN_ID: &str = "jitrace-dev";
const NONCE: u64 = 7;
/// Above 2^53, so the JS side must use BigInt.
const SERIAL: u64 = 9_007_199_254_740_993;
const DEVICE: &str = "phone-1";

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Hex of the body of a valid transaction of `owner`'s, as the console sends it unsigned.
fn unsigned_body(owner: &SecretKey, payload: Payload) -> String {
    let tx = Transaction {
        chain_id: CHAIN_ID.into(),
        signer: owner.public_key(),
        nonce: NONCE,
        payload,
    };
    tx.validate().unwrap();
    hex::encode(tx.body())
}

fn vectors() -> serde_json::Value {
    let owner = SecretKey::from_bytes([0x11; 32]).unwrap();
    let ticket = TicketSecret([0x22; 32]);
    let ticket_key = ticket.public_key().unwrap();
    let code = CodeId {
        gtin: Gtin::parse("09506000134352").unwrap(),
        serial: SERIAL,
    };
    let device = device_pseudonym(CHAIN_ID, DEVICE);
    let proof = |device: Option<&Hash>| ticket.redeem(&code, &owner.public_key(), device).unwrap();
    let signed = |payload: Payload| {
        let tx = Transaction {
            chain_id: CHAIN_ID.into(),
            signer: owner.public_key(),
            nonce: NONCE,
            payload,
        };
        let signed = tx.sign(&owner);
        // What the API will do with it: decode, validate, verify.
        let back = SignedTransaction::decode(&signed.encode()).unwrap();
        assert_eq!(back.transaction().unwrap(), tx);
        assert!(back.verify_signature(&owner.public_key()));
        hex::encode(signed.encode())
    };
    let body = |payload: Payload| unsigned_body(&owner, payload);
    let org = OrgId::new("new-brand").unwrap();
    let brand_bodies = brand_bodies(&body, code, ticket_key);
    json!({
        "note": "Written by crates/jitrace-api/tests/web_vectors.rs; checked by web/test/tx.test.js.",
        "chain_id": CHAIN_ID,
        "nonce": NONCE,
        "owner_seed": hex::encode([0x11; 32]),
        "owner_public_key": owner.public_key().to_hex(),
        "ticket_seed": hex::encode(ticket.0),
        "ticket_public_key": ticket_key.to_hex(),
        "gtin": code.gtin.to_string(),
        "serial": SERIAL.to_string(),
        "device": DEVICE,
        "device_pseudonym": device.to_string(),
        "ticket_proof": proof(Some(&device)).to_hex(),
        "transactions": {
            "redeem_ticket": signed(Payload::RedeemTicket {
                code,
                ticket: ticket_key,
                proof: proof(Some(&device)),
                device: Some(device),
            }),
            "redeem_ticket_without_device": signed(Payload::RedeemTicket {
                code,
                ticket: ticket_key,
                proof: proof(None),
                device: None,
            }),
            "issue_transfer_ticket": signed(Payload::IssueTransferTicket { code, ticket: ticket_key }),
            "cancel_ticket": signed(Payload::CancelTicket { code }),
            "report_stolen": signed(Payload::ReportStolen { code }),
            "clear_stolen": signed(Payload::ClearStolen { code }),
        },
        "console_bodies": {
            "register_org": body(Payload::RegisterOrg(RegisterOrg {
                id: org.clone(),
                name: "New Brand 新品牌".into(),
                roles: vec![Role::Brand, Role::Manufacturer],
                gs1_company_prefix: Some("6901234".into()),
                region: Some("CN-SH".into()),
                admin: ticket_key,
            })),
            "register_org_minimal": body(Payload::RegisterOrg(RegisterOrg {
                id: org.clone(),
                name: "Shop".into(),
                roles: vec![Role::Retailer],
                gs1_company_prefix: None,
                region: None,
                admin: ticket_key,
            })),
            "add_member": body(Payload::AddMember { org: org.clone(), key: ticket_key }),
            "remove_member": body(Payload::RemoveMember { org: org.clone(), key: ticket_key }),
            "issue_licence": body(Payload::IssueLicence(IssueLicence {
                id: LicenceId::new("new-brand-2026").unwrap(),
                org,
                quota: SERIAL,
                valid_from: 1_780_000_000,
                valid_until: 1_811_536_000,
            })),
            "revoke_licence": body(Payload::RevokeLicence {
                licence: LicenceId::new("new-brand-2026").unwrap(),
                reason: "licence fee unpaid 未缴费".into(),
            }),
        },
        "brand_bodies": brand_bodies,
    })
}

/// The brand's and channels' console bodies (`brandPayload` in `web/js/tx.js`).
fn brand_bodies(
    body: &dyn Fn(Payload) -> String,
    code: CodeId,
    key: jitrace_types::PublicKey,
) -> serde_json::Value {
    let brand = OrgId::new("jade-valley").unwrap();
    let shop = OrgId::new("shanghai-fine-wines").unwrap();
    let gtin = code.gtin;
    let product = ProductInfo {
        gtin,
        org: brand.clone(),
        name: "Jade Valley Cabernet 玉谷赤霞珠".into(),
        description: "Dry red".into(),
        attributes: vec![Attribute {
            name: "volume_ml".into(),
            value: "750".into(),
        }],
        media: vec![MediaRef {
            hash: Hash::of(&[b"photo"]),
            mime: "image/png".into(),
            size: 1234,
            caption: "Front label 正面".into(),
        }],
    };
    let signed_code = SignedCode {
        code,
        signature: "A".repeat(86),
    };
    let event = |action: CodeAction, place: Place| {
        body(Payload::RecordCodeEvent(CodeEvent {
            code: signed_code.clone(),
            org: shop.clone(),
            action,
            place,
        }))
    };
    let shanghai = Place {
        point: Some(GeoPoint {
            lat_micro: 31_230_400,
            lon_micro: -121_473_700,
        }),
        region: Some("CN-SH".into()),
        city: Some("上海".into()),
    };
    let receive = event(CodeAction::Receive, shanghai.clone());
    let receive_hash = Hash::of(&[&hex::decode(&receive).unwrap()]).to_hex();
    json!({
        "media_hash": Hash::of(&[b"photo"]).to_hex(),
        "receive_hash": receive_hash,
        "code_signature": "A".repeat(86),
        "register_product": body(Payload::RegisterProduct(product.clone())),
        "update_product": body(Payload::UpdateProduct(ProductInfo {
            attributes: vec![],
            media: vec![],
            ..product
        })),
        "register_code_key": body(Payload::RegisterCodeKey { org: brand.clone(), key }),
        "issue_code_batch": body(Payload::IssueCodeBatch(IssueCodeBatch {
            org: brand.clone(),
            licence: LicenceId::new("jade-valley-2026").unwrap(),
            gtin,
            lot: "L2026-009".into(),
            first_serial: SERIAL,
            count: 5000,
            code_key: key,
        })),
        "authorise_channel": body(Payload::AuthoriseChannel(AuthoriseChannel {
            brand: brand.clone(),
            channel: shop.clone(),
            role: ChannelRole::Retailer,
            products: vec![gtin],
            territory: vec!["CN-SH".into(), "CN-ZJ".into()],
            geofence: Some(Geofence {
                centre: GeoPoint {
                    lat_micro: 31_230_400,
                    lon_micro: 121_473_700,
                },
                radius_m: 50_000,
            }),
            valid_from: 1_780_000_000,
            valid_until: 1_811_536_000,
        })),
        "authorise_channel_minimal": body(Payload::AuthoriseChannel(AuthoriseChannel {
            brand: brand.clone(),
            channel: shop.clone(),
            role: ChannelRole::Distributor,
            products: vec![],
            territory: vec!["CN".into()],
            geofence: None,
            valid_from: 1_780_000_000,
            valid_until: 1_811_536_000,
        })),
        "revoke_channel": body(Payload::RevokeChannel {
            brand: brand.clone(),
            channel: shop.clone(),
            grant: 3,
            reason: "contract ended 合同到期".into(),
        }),
        "void_codes": body(Payload::VoidCodes(VoidCodes {
            org: brand.clone(),
            gtin,
            first_serial: 10,
            count: 20,
            reason: "spoiled labels".into(),
        })),
        "receive": receive,
        "ship": event(CodeAction::Ship { to: brand.clone() }, shanghai.clone()),
        "store": event(CodeAction::Store, Place { point: None, region: None, city: None }),
        "sell": event(CodeAction::Sell { buyer: Buyer::Anonymous }, shanghai.clone()),
        "sell_to_owner": event(CodeAction::Sell { buyer: Buyer::Owner(key) }, shanghai),
        "decommission": event(CodeAction::Decommission, Place { point: None, region: Some("CN".into()), city: None }),
        "start_recall_lot": body(Payload::StartRecall(StartRecall {
            org: brand.clone(),
            scope: RecallScope::Lot { gtin, lot: "L2026-001".into() },
            reason: "cork taint 木塞污染".into(),
        })),
        "start_recall_product": body(Payload::StartRecall(StartRecall {
            org: brand.clone(),
            scope: RecallScope::Product(gtin),
            reason: "recall".into(),
        })),
        "close_recall": body(Payload::CloseRecall { org: brand, recall: 2 }),
    })
}

#[test]
fn browser_transactions_match_the_rust_encoding() {
    check_pinned(
        "vectors.json",
        &vectors(),
        &["test/tx.test.js", "test/i18n.test.js"],
    );
}

/// Fails unless `web/test/{file}` holds `vectors` (rewriting it first with
/// `JITRACE_UPDATE_VECTORS` set), then runs the JS `tests` against it with `node --test`.
fn check_pinned(file: &str, vectors: &serde_json::Value, tests: &[&str]) {
    let path = web_dir().join("test").join(file);
    let expected = serde_json::to_string_pretty(vectors).unwrap() + "\n";
    if std::env::var_os("JITRACE_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        pinned == expected,
        "{} differs from the Rust encoding; if the change is deliberate, rerun with \
         JITRACE_UPDATE_VECTORS=1 and review the diff",
        path.display()
    );

    let web = web_dir();
    assert!(
        web.join("node_modules/@noble/ed25519").is_dir(),
        "web/node_modules is missing: run `npm ci` in web/ (.ci/run does)"
    );
    let out = Command::new("node")
        .arg("--test")
        .args(tests)
        .current_dir(&web)
        .output()
        .expect("node is not installed: the browser encoding is tested with `node --test`");
    assert!(
        out.status.success(),
        "{tests:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The B2B payloads of the manufacturer and supplier screens (`web/js/tx-parts.js`), pinned in
/// `web/test/vectors-parts.json` and checked by `web/test/tx-parts.test.js`.
fn parts_vectors() -> serde_json::Value {
    use jitrace_types::parts::{
        Allowed, Assemble, AuthoriseSupplier, GateItem, GateReceive, LotRecord, PartSpec,
        RecallScope, SpecRule, StartRecall, TestResult,
    };
    use jitrace_types::tx::{Attribute, SignedCode};
    let owner = SecretKey::from_bytes([0x11; 32]).unwrap();
    let body = |payload: Payload| unsigned_body(&owner, payload);
    let maker = OrgId::new("auto-maker").unwrap();
    let supplier = OrgId::new("bolt-works").unwrap();
    let part = Gtin::parse("09507001000011").unwrap();
    let code = |serial| CodeId { gtin: part, serial };
    let attr = |name: &str, value: &str| Attribute {
        name: name.into(),
        value: value.into(),
    };
    json!({
        "note": "Written by crates/jitrace-api/tests/web_vectors.rs; checked by web/test/tx-parts.test.js.",
        "chain_id": CHAIN_ID,
        "nonce": NONCE,
        "owner_seed": hex::encode([0x11; 32]),
        "serial": SERIAL.to_string(),
        "bodies": {
            "register_part": body(Payload::RegisterProduct(jitrace_types::tx::ProductInfo {
                gtin: part,
                org: supplier.clone(),
                name: "M10 nut 螺母".into(),
                description: "zinc plated".into(),
                attributes: vec![attr("thread", "M10")],
                media: vec![],
            })),
            "issue_batch": body(Payload::IssueCodeBatch(jitrace_types::tx::IssueCodeBatch {
                org: supplier.clone(),
                licence: LicenceId::new("bolt-works-2026").unwrap(),
                gtin: part,
                lot: "N-2026-01".into(),
                first_serial: SERIAL,
                count: 500,
                code_key: owner.public_key(),
            })),
            "authorise_supplier": body(Payload::AuthoriseSupplier(AuthoriseSupplier {
                manufacturer: maker.clone(),
                supplier: supplier.clone(),
                part,
                spec: PartSpec {
                    rules: vec![
                        SpecRule { name: "thread".into(), allowed: Allowed::Exactly("M10".into()) },
                        SpecRule {
                            name: "strength".into(),
                            allowed: Allowed::OneOf(vec!["8.8".into(), "10.9 级".into()]),
                        },
                        SpecRule {
                            name: "diameter_mm".into(),
                            allowed: Allowed::Range { min_milli: -1_005, max_milli: 50_050 },
                        },
                    ],
                    document: Some(Hash::of(&[b"spec sheet"])),
                },
                valid_from: 1_780_000_000,
                valid_until: 1_811_536_000,
            })),
            "authorise_supplier_no_rules": body(Payload::AuthoriseSupplier(AuthoriseSupplier {
                manufacturer: maker.clone(),
                supplier: supplier.clone(),
                part,
                spec: PartSpec::default(),
                valid_from: 1,
                valid_until: 2,
            })),
            "revoke_supplier": body(Payload::RevokeSupplier {
                manufacturer: maker.clone(),
                supplier: supplier.clone(),
                part,
                reason: "audit failed 审核未通过".into(),
            }),
            "record_lot": body(Payload::RecordLot(LotRecord {
                gtin: part,
                lot: "N-2026-01".into(),
                attributes: vec![attr("thread", "M10"), attr("torque_nm", "50")],
                produced_at: Some(1_780_000_000),
                tests: vec![
                    TestResult { name: "salt spray".into(), value: "480 h".into(), passed: true },
                    TestResult { name: "hardness".into(), value: "HRC 30".into(), passed: false },
                ],
                documents: vec![],
            })),
            "record_lot_minimal": body(Payload::RecordLot(LotRecord {
                gtin: part,
                lot: "N-2026-02".into(),
                attributes: vec![],
                produced_at: None,
                tests: vec![],
                documents: vec![],
            })),
            "gate_receive": body(Payload::GateReceive(GateReceive {
                org: maker.clone(),
                items: vec![
                    GateItem {
                        scanned: "https://id.example.com/01/09507001000011/21/1?8030=abc".into(),
                        observed: vec![attr("torque_nm", "50"), attr("thread", "M10")],
                    },
                    GateItem { scanned: String::new(), observed: vec![] },
                ],
            })),
            "assemble": body(Payload::Assemble(Assemble {
                org: maker.clone(),
                parent: SignedCode { code: code(SERIAL), signature: "c2lnbmF0dXJl".into() },
                remove: vec![code(2)],
                add: vec![code(3), code(4)],
            })),
            "start_recall_lot": body(Payload::StartRecall(StartRecall {
                org: maker.clone(),
                scope: RecallScope::Lot { gtin: part, lot: "N-2026-01".into() },
                reason: "thread defect 螺纹缺陷".into(),
            })),
            "start_recall_product": body(Payload::StartRecall(StartRecall {
                org: maker.clone(),
                scope: RecallScope::Product(part),
                reason: "recall".into(),
            })),
            "start_recall_issuer": body(Payload::StartRecall(StartRecall {
                org: maker.clone(),
                scope: RecallScope::Issuer(supplier),
                reason: "recall".into(),
            })),
            "close_recall": body(Payload::CloseRecall { org: maker, recall: 7 }),
        },
    })
}

#[test]
fn browser_parts_transactions_match_the_rust_encoding() {
    check_pinned(
        "vectors-parts.json",
        &parts_vectors(),
        &["test/tx-parts.test.js"],
    );
}
