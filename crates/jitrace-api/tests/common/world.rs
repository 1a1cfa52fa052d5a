//! The world of the scanning and private-read tests: block 1 of the fixture, then a retailer
//! authorised by the brand, the scan gateway, and codes in every state.

use super::*;
use jitrace_ledger::state::{Receipt, StateKey};
use jitrace_types::{
    Payload, Role, SecretKey, SignedTransaction,
    code::sign_code,
    tx::{
        AuthoriseChannel, Buyer, ChannelRole, CodeAction, CodeEvent, CodeId, GeoPoint, Geofence,
        Place, RegisterOrg, SignedCode, VoidCodes,
    },
};

pub const HOUR_MS: u64 = 3_600_000;
pub const YINCHUAN: GeoPoint = GeoPoint {
    lat_micro: 38_487_200,
    lon_micro: 106_230_900,
};
pub const HANGZHOU: GeoPoint = GeoPoint {
    lat_micro: 30_259_000,
    lon_micro: 120_130_000,
};
/// Near the Hangzhou shop, and Beijing (about 1,100 km away), in decimal degrees.
pub const NEAR: (f64, f64) = (30.27, 120.15);
pub const FAR: (f64, f64) = (39.9, 116.4);

/// Serials of the world built by [`world`].
pub const SOLD: u64 = 10;
pub const UNSOLD: u64 = 11;
pub const STOLEN: u64 = 12;
pub const CLONED: u64 = 13;
pub const VOIDED: u64 = 20;
pub const UNTOUCHED: u64 = 5;
/// The brand's next nonce after [`world`].
pub const BRAND_NEXT_NONCE: u64 = 14;

pub fn shop() -> SecretKey {
    SecretKey::from_seed(60)
}
pub fn alice() -> SecretKey {
    SecretKey::from_seed(1001)
}
pub fn gateway_key() -> SecretKey {
    SecretKey::from_seed(200)
}

pub fn sig(serial: u64) -> String {
    sign_code(&code_key(), CHAIN_ID, &gtin(), &serial.to_string())
}

pub fn link(serial: u64) -> String {
    format!("/01/{GTIN14}/21/{serial}?8030={}", sig(serial))
}

pub fn signed_code(serial: u64) -> SignedCode {
    SignedCode {
        code: CodeId {
            gtin: gtin(),
            serial,
        },
        signature: sig(serial),
    }
}

pub fn event(
    key: &SecretKey,
    nonce: u64,
    org: &str,
    serial: u64,
    action: CodeAction,
) -> SignedTransaction {
    let place = match org {
        "acme" => Place {
            point: Some(YINCHUAN),
            region: Some("CN-NX".into()),
            city: Some("银川".into()),
        },
        _ => Place {
            point: Some(HANGZHOU),
            region: Some("CN-ZJ".into()),
            city: Some("杭州".into()),
        },
    };
    signed(
        key,
        nonce,
        Payload::RecordCodeEvent(CodeEvent {
            code: signed_code(serial),
            org: org_id(org),
            action,
            place,
        }),
    )
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Puts `txs` into a block at `time_ms`, executes it, and asserts every one took effect.
pub fn block(f: &Fixture, time_ms: u64, txs: &[SignedTransaction]) {
    for tx in txs {
        f.mempool.insert(tx.hash(), tx.encode()).unwrap();
    }
    f.finalise_next_block(time_ms);
    let state = f.state.snapshot();
    for tx in txs {
        assert_receipt_ok(tx.hash(), &state);
    }
}

pub fn assert_receipt_ok(
    hash: jitrace_types::Hash,
    state: &std::collections::BTreeMap<StateKey, Vec<u8>>,
) {
    let receipt: Receipt =
        borsh::from_slice(state.get(&StateKey::Receipt(hash)).expect("a receipt")).unwrap();
    assert!(receipt.is_ok(), "{:?}: {:?}", receipt.kind, receipt.outcome);
}

/// Block 1 of the fixture, then: a Hangzhou retailer authorised for the brand's products in
/// CN-ZJ within 50 km of Hangzhou, the scan gateway in the platform organisation; codes
/// sold ([`SOLD`], [`CLONED`]), commissioned only ([`UNSOLD`]), sold to alice who reported it
/// stolen ([`STOLEN`]), and voided ([`VOIDED`]).
pub fn world(gateway: bool) -> Fixture {
    world_with(Options {
        gateway_key: gateway.then(gateway_key),
        ..Options::default()
    })
}

/// [`world`] over a fixture with `options`.
pub fn world_with(options: Options) -> Fixture {
    let f = Fixture::with(options);
    let t2 = BLOCK_TIME_MS + HOUR_MS;
    block(
        &f,
        t2,
        &[
            signed(
                &operator(),
                3,
                Payload::RegisterOrg(RegisterOrg {
                    id: org_id("hz-cellar"),
                    name: "杭州酒窖 Hangzhou Cellar".into(),
                    roles: vec![Role::Retailer],
                    gs1_company_prefix: None,
                    region: Some("CN-ZJ".into()),
                    admin: shop().public_key(),
                }),
            ),
            signed(
                &operator(),
                4,
                Payload::AddMember {
                    org: org_id("platform"),
                    key: gateway_key().public_key(),
                },
            ),
            signed(
                &brand(),
                5,
                Payload::AuthoriseChannel(AuthoriseChannel {
                    brand: org_id("acme"),
                    channel: org_id("hz-cellar"),
                    role: ChannelRole::Retailer,
                    products: vec![],
                    territory: vec!["CN-ZJ".into()],
                    geofence: Some(Geofence {
                        centre: HANGZHOU,
                        radius_m: 50_000,
                    }),
                    valid_from: BLOCK_TIME_MS / 1000 - 10,
                    valid_until: 4_000_000_000,
                }),
            ),
        ],
    );
    let (b, s) = (brand(), shop());
    let mut brand_nonce = 6;
    let mut shop_nonce = 1;
    let mut txs = Vec::new();
    let mut brand_tx = |serial, action, txs: &mut Vec<SignedTransaction>| {
        txs.push(event(&b, brand_nonce, "acme", serial, action));
        brand_nonce += 1;
    };
    for (serial, buyer) in [
        (SOLD, Buyer::Anonymous),
        (STOLEN, Buyer::Owner(alice().public_key())),
        (CLONED, Buyer::Anonymous),
    ] {
        brand_tx(serial, CodeAction::Commission, &mut txs);
        brand_tx(
            serial,
            CodeAction::Ship {
                to: org_id("hz-cellar"),
            },
            &mut txs,
        );
        txs.push(event(
            &s,
            shop_nonce,
            "hz-cellar",
            serial,
            CodeAction::Receive,
        ));
        txs.push(event(
            &s,
            shop_nonce + 1,
            "hz-cellar",
            serial,
            CodeAction::Sell { buyer },
        ));
        shop_nonce += 2;
    }
    brand_tx(UNSOLD, CodeAction::Commission, &mut txs);
    txs.push(signed(
        &b,
        brand_nonce,
        Payload::VoidCodes(VoidCodes {
            org: org_id("acme"),
            gtin: gtin(),
            first_serial: VOIDED,
            count: 1,
            reason: "labels spoiled".into(),
        }),
    ));
    assert_eq!(brand_nonce + 1, BRAND_NEXT_NONCE);
    txs.push(signed(
        &alice(),
        1,
        Payload::ReportStolen {
            code: CodeId {
                gtin: gtin(),
                serial: STOLEN,
            },
        },
    ));
    block(&f, t2 + HOUR_MS, &txs);
    f
}
