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
    let body = |payload: Payload| {
        let tx = Transaction {
            chain_id: CHAIN_ID.into(),
            signer: owner.public_key(),
            nonce: NONCE,
            payload,
        };
        tx.validate().unwrap();
        hex::encode(tx.body())
    };
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
    let path = web_dir().join("test/vectors.json");
    let expected = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
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
        .args(["--test", "test/tx.test.js", "test/i18n.test.js"])
        .current_dir(&web)
        .output()
        .expect("node is not installed: the browser encoding is tested with `node --test`");
    assert!(
        out.status.success(),
        "web/test/tx.test.js failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
