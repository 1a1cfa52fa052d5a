//! The B2B scenario through the real binary against a `jitrace dev` node: two suppliers (one
//! authorised), parts with and without codes, a forged code, a copied code with a different
//! specification, a pallet; gate verdicts; assembly three levels deep; a recall of one lot
//! traced forward to exactly the finished items that contain it, and backward from one item to
//! its suppliers.
//!
//! Setup (organisations, products, batches, shipments) goes through the typed client; the
//! B2B steps under test go through the CLI (`gate`, `assemble`, `recall`, `trace`).

mod common;

use common::{cli, eventually, free_addr, start, wait_demo};
use jitrace_client::Client;
use jitrace_types::{
    Gtin, LicenceId, OrgId, Payload, Role, SecretKey, Sscc, Transaction,
    code::{code_uri, sign_code},
    gs1::gs1_check_digit,
    parts::{Allowed, AuthoriseSupplier, LotRecord, PackPallet, PartSpec, SpecRule},
    tx::{
        Attribute, CodeAction, CodeEvent, CodeId, GeoPoint, IssueCodeBatch, IssueLicence, Place,
        ProductInfo, RegisterOrg, SignedCode,
    },
};
use serde_json::Value;
use std::{collections::BTreeSet, path::Path, time::Duration};

const MAKER: &str = "auto-maker";
const SUPPLIER: &str = "bolt-works";
const ROGUE: &str = "cheap-parts";
const LOT1: &str = "B-2026-01";
const LOT2: &str = "B-2026-02";

/// A GTIN-13 (as 14 digits) from a 12-digit stem.
fn gtin(stem: &str) -> Gtin {
    let digits: Vec<u8> = format!("0{stem}").bytes().map(|b| b - b'0').collect();
    Gtin::parse(&format!("0{stem}{}", gs1_check_digit(&digits))).unwrap()
}

fn sscc(stem: &str) -> Sscc {
    let digits: Vec<u8> = stem.bytes().map(|b| b - b'0').collect();
    Sscc::parse(&format!("{stem}{}", gs1_check_digit(&digits))).unwrap()
}

fn org(id: &str) -> OrgId {
    OrgId::new(id).unwrap()
}

struct Setup {
    client: Client,
    chain_id: String,
}

impl Setup {
    /// Signs `payloads` with consecutive nonces, submits them at once, waits for the last, and
    /// checks that every one executed.
    async fn run(&self, key: &SecretKey, payloads: Vec<Payload>) {
        let first = self
            .client
            .account(&key.public_key())
            .await
            .unwrap()
            .map_or(1, |a| a.nonce + 1);
        let txs: Vec<_> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                Transaction {
                    chain_id: self.chain_id.clone(),
                    signer: key.public_key(),
                    nonce: first + i as u64,
                    payload,
                }
                .sign(key)
            })
            .collect();
        let response = self.client.submit_many(&txs).await.unwrap();
        for tx in &txs {
            let status = self
                .client
                .wait_for_tx(&tx.hash(), Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(
                status.status,
                "ok",
                "{}: {:?} {:?} ({response:?})",
                status.kind.unwrap_or_default(),
                status.reason,
                status.detail
            );
        }
    }

    fn code(&self, key: &SecretKey, gtin: Gtin, serial: u64) -> (SignedCode, String) {
        let signature = sign_code(key, &self.chain_id, &gtin, &serial.to_string());
        let url = code_uri(
            "https://id.example.com",
            &gtin,
            &serial.to_string(),
            &signature,
        );
        (
            SignedCode {
                code: CodeId { gtin, serial },
                signature,
            },
            url,
        )
    }
}

fn product(gtin: Gtin, owner: &str, name: &str) -> Payload {
    Payload::RegisterProduct(ProductInfo {
        gtin,
        org: org(owner),
        name: name.into(),
        description: String::new(),
        attributes: vec![],
        media: vec![],
    })
}

fn batch(owner: &str, gtin: Gtin, lot: &str, first: u64, count: u64, key: &SecretKey) -> Payload {
    Payload::IssueCodeBatch(IssueCodeBatch {
        org: org(owner),
        licence: LicenceId::new(format!("{owner}-2026")).unwrap(),
        gtin,
        lot: lot.into(),
        first_serial: first,
        count,
        code_key: key.public_key(),
    })
}

fn event(code: &SignedCode, by: &str, action: CodeAction) -> Payload {
    Payload::RecordCodeEvent(CodeEvent {
        code: code.clone(),
        org: org(by),
        action,
        place: Place {
            point: Some(GeoPoint {
                lat_micro: 31_230_400,
                lon_micro: 121_473_700,
            }),
            region: Some("CN-SH".into()),
            city: Some("上海".into()),
        },
    })
}

fn attr(name: &str, value: &str) -> Attribute {
    Attribute {
        name: name.into(),
        value: value.into(),
    }
}

/// Runs a CLI command that must succeed; its first JSON document.
fn ok(node: &str, key: &Path, args: &[&str]) -> Value {
    let out = cli(node, key, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .next()
        .expect("JSON output")
        .unwrap()
}

/// A command that must fail with the ledger's `reason`.
fn refused(node: &str, key: &Path, args: &[&str], reason: &str) {
    let out = cli(node, key, args);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{args:?} should fail with {reason}");
    assert!(all.contains(reason), "{args:?}: wanted {reason}, got {all}");
}

fn reasons(verdict: &Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

fn codes_of(items: &Value) -> BTreeSet<(String, u64)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["gtin"].as_str().unwrap().to_string(),
                i["serial"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn suppliers_gate_assembly_recall_and_traces() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let addr = free_addr();
    let node = start(&data, &addr);
    let client = Client::new(&node.url);
    wait_demo(&client, &data).await;
    let chain_id = client.status().await.unwrap().chain_id;
    let setup = Setup {
        client: client.clone(),
        chain_id,
    };
    let operator = jitrace_types::SecretKey::from_hex(
        std::fs::read_to_string(data.join("keys/operator.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();

    // Keys, written where the CLI reads them.
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = |name: &str, seed: u64| {
        let k = SecretKey::from_seed(seed);
        std::fs::write(keys.join(format!("{name}.key")), k.to_hex()).unwrap();
        k
    };
    let maker = key("maker", 9_001);
    let maker_codes = key("maker-codes", 9_002);
    let supplier = key("supplier", 9_003);
    let supplier_codes = key("supplier-codes", 9_004);
    let rogue = key("rogue", 9_005);
    let rogue_codes = key("rogue-codes", 9_006);
    let maker_file = keys.join("maker.key");
    let supplier_file = keys.join("supplier.key");

    let bolt = gtin("950700100001");
    let rogue_bolt = gtin("950700200001");
    let module = gtin("950700300001");
    let car = gtin("950700300002");

    // The platform registers the three organisations and licenses them.
    let now_s = jitrace_chain::app::wall_clock_ms() / 1000;
    let mut onboarding = Vec::new();
    for (id, roles, prefix, admin) in [
        (
            MAKER,
            vec![Role::Manufacturer, Role::Brand],
            "9507003",
            &maker,
        ),
        (SUPPLIER, vec![Role::Supplier], "9507001", &supplier),
        (ROGUE, vec![Role::Supplier], "9507002", &rogue),
    ] {
        onboarding.push(Payload::RegisterOrg(RegisterOrg {
            id: org(id),
            name: id.into(),
            roles,
            gs1_company_prefix: Some(prefix.into()),
            region: Some("CN-SH".into()),
            admin: admin.public_key(),
        }));
        onboarding.push(Payload::IssueLicence(IssueLicence {
            id: LicenceId::new(format!("{id}-2026")).unwrap(),
            org: org(id),
            quota: 10_000,
            valid_from: now_s - 86_400,
            valid_until: now_s + 365 * 86_400,
        }));
    }
    setup.run(&operator, onboarding).await;

    // Products, code keys, batches, lot records.
    setup
        .run(
            &supplier,
            vec![
                product(bolt, SUPPLIER, "M10 bolt"),
                Payload::RegisterCodeKey {
                    org: org(SUPPLIER),
                    key: supplier_codes.public_key(),
                },
                batch(SUPPLIER, bolt, LOT1, 1, 20, &supplier_codes),
                batch(SUPPLIER, bolt, LOT2, 100, 10, &supplier_codes),
                Payload::RecordLot(LotRecord {
                    gtin: bolt,
                    lot: LOT1.into(),
                    attributes: vec![attr("diameter_mm", "50.01"), attr("material", "42CrMo4")],
                    produced_at: Some(now_s - 7 * 86_400),
                    tests: vec![],
                    documents: vec![],
                }),
                Payload::RecordLot(LotRecord {
                    gtin: bolt,
                    lot: LOT2.into(),
                    attributes: vec![attr("diameter_mm", "49.98"), attr("material", "42CrMo4")],
                    produced_at: Some(now_s - 3 * 86_400),
                    tests: vec![],
                    documents: vec![],
                }),
            ],
        )
        .await;
    setup
        .run(
            &rogue,
            vec![
                product(rogue_bolt, ROGUE, "M10 bolt (unauthorised)"),
                Payload::RegisterCodeKey {
                    org: org(ROGUE),
                    key: rogue_codes.public_key(),
                },
                batch(ROGUE, rogue_bolt, "X1", 1, 5, &rogue_codes),
            ],
        )
        .await;
    setup
        .run(
            &maker,
            vec![
                product(module, MAKER, "Engine module"),
                product(car, MAKER, "Car"),
                Payload::RegisterCodeKey {
                    org: org(MAKER),
                    key: maker_codes.public_key(),
                },
                batch(MAKER, module, "M-1", 1, 10, &maker_codes),
                batch(MAKER, car, "C-1", 1, 10, &maker_codes),
                Payload::AuthoriseSupplier(AuthoriseSupplier {
                    manufacturer: org(MAKER),
                    supplier: org(SUPPLIER),
                    part: bolt,
                    spec: PartSpec {
                        rules: vec![
                            SpecRule {
                                name: "diameter_mm".into(),
                                allowed: Allowed::Range {
                                    min_milli: 49_950,
                                    max_milli: 50_050,
                                },
                            },
                            SpecRule {
                                name: "material".into(),
                                allowed: Allowed::OneOf(vec!["42CrMo4".into()]),
                            },
                        ],
                        document: None,
                    },
                    valid_from: now_s - 60,
                    valid_until: now_s + 86_400,
                }),
            ],
        )
        .await;

    // The suppliers commission and ship parts to the manufacturer; four go on a pallet.
    let bolts: Vec<(SignedCode, String)> = [1, 2, 3, 4, 5, 6, 7, 100]
        .iter()
        .map(|s| setup.code(&supplier_codes, bolt, *s))
        .collect();
    let ship = CodeAction::Ship { to: org(MAKER) };
    let mut shipping = Vec::new();
    for (code, _) in &bolts {
        shipping.push(event(code, SUPPLIER, CodeAction::Commission));
        shipping.push(event(code, SUPPLIER, ship.clone()));
    }
    let pallet = sscc("10950700100000001");
    shipping.push(Payload::PackPallet(PackPallet {
        org: org(SUPPLIER),
        sscc: pallet,
        codes: bolts[3..6].iter().map(|(c, _)| c.clone()).collect(),
    }));
    setup.run(&supplier, shipping).await;
    let (rogue_code, rogue_url) = setup.code(&rogue_codes, rogue_bolt, 1);
    setup
        .run(
            &rogue,
            vec![
                event(&rogue_code, ROGUE, CodeAction::Commission),
                event(&rogue_code, ROGUE, ship.clone()),
            ],
        )
        .await;
    let url = |i: usize| bolts[i].1.clone();
    // A forged label: bolt 8's serial with bolt 1's signature.
    let forged = url(0).replace("/21/1?", "/21/8?");
    let node_url = node.url.clone();

    // The gate: every verdict with its reasons.
    let pallet_text = pallet.to_string();
    let report = ok(
        &node_url,
        &maker_file,
        &[
            "gate",
            "receive",
            "--org",
            MAKER,
            "--observe",
            "diameter_mm=50.00",
            &url(0),
            &url(1),
            &url(2),
            &url(7),
            "",
            "not a code",
            &forged,
            &rogue_url,
            &pallet_text,
        ],
    );
    let verdicts = report["verdicts"].as_array().unwrap();
    let got: Vec<(bool, Vec<String>)> = verdicts
        .iter()
        .map(|v| (v["accepted"].as_bool().unwrap(), reasons(v)))
        .collect();
    let want: Vec<(bool, Vec<&str>)> = vec![
        (true, vec![]),
        (true, vec![]),
        (true, vec![]),
        (true, vec![]),
        (false, vec!["no_code"]),
        (false, vec!["code_unreadable"]),
        (false, vec!["code_forged"]),
        (false, vec!["supplier_not_authorised"]),
        (true, vec![]),
        (true, vec![]),
        (true, vec![]),
    ];
    assert_eq!(
        got,
        want.into_iter()
            .map(|(a, r)| (a, r.into_iter().map(String::from).collect()))
            .collect::<Vec<_>>(),
        "{report:#}"
    );
    assert_eq!(verdicts[8]["pallet"], pallet_text.as_str());
    assert_eq!(report["accepted"], 7);

    // A counterfeit with a copy of bolt 1's code and the wrong diameter.
    let copy = ok(
        &node_url,
        &maker_file,
        &[
            "gate",
            "receive",
            "--org",
            MAKER,
            "--observe",
            "diameter_mm=48.70",
            &url(0),
        ],
    );
    let verdict = &copy["verdicts"][0];
    assert_eq!(
        reasons(verdict),
        ["spec_mismatch", "already_received"],
        "{copy:#}"
    );
    assert_eq!(verdict["mismatches"][0]["name"], "diameter_mm");
    // The manufacturer's gate log keeps all of it, and the supplier sees its parts' verdicts.
    let log = ok(&node_url, &maker_file, &["gate", "log", "--org", MAKER]);
    assert_eq!(log["total"], 12, "{log:#}");
    let supplier_log = ok(
        &node_url,
        &supplier_file,
        &["gate", "log", "--org", SUPPLIER],
    );
    assert_eq!(supplier_log["total"], 9, "{supplier_log:#}");

    // Assembly, three levels: bolts into modules, modules into cars.
    let modules: Vec<String> = (1..=3)
        .map(|s| setup.code(&maker_codes, module, s).1)
        .collect();
    let cars: Vec<String> = (1..=3)
        .map(|s| setup.code(&maker_codes, car, s).1)
        .collect();
    let part = |g: Gtin, s: u64| format!("{g}:{s}");
    let assemble = |parent: &str, add: &[String]| {
        let mut args = vec!["assemble", "--org", MAKER, "--parent", parent];
        for a in add {
            args.push("--add");
            args.push(a);
        }
        cli(&node_url, &maker_file, &args)
    };
    for (parent, parts) in [
        (&modules[0], vec![part(bolt, 1), part(bolt, 2)]),
        (&modules[1], vec![part(bolt, 100)]),
        (&modules[2], vec![part(bolt, 4)]),
        (&cars[0], vec![part(module, 1)]),
        (&cars[1], vec![part(module, 2)]),
        (&cars[2], vec![part(module, 3), part(bolt, 3)]),
    ] {
        let out = assemble(parent, &parts);
        assert!(
            out.status.success(),
            "assemble {parent}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A part is in one item at a time.
    refused(
        &node_url,
        &maker_file,
        &[
            "assemble",
            "--org",
            MAKER,
            "--parent",
            &cars[1],
            "--add",
            &part(bolt, 1),
        ],
        "already_installed",
    );

    // The supplier recalls lot 1: the forward trace is exactly the cars holding its bolts.
    ok(
        &node_url,
        &supplier_file,
        &[
            "recall",
            "start",
            "--org",
            SUPPLIER,
            "--gtin",
            bolt.as_ref(),
            "--lot",
            LOT1,
            "--reason",
            "thread defect",
        ],
    );
    let forward = ok(
        &node_url,
        &supplier_file,
        &["trace", "forward", "--gtin", bolt.as_ref(), "--lot", LOT1],
    );
    // Cars 1 and 3 hold lot-1 bolts; bolts 5 and 6 wait in stock and bolt 7 is on its way:
    // they are to be found too. Car 2 (a lot-2 bolt) and bolts never shipped are not.
    let expected: BTreeSet<(String, u64)> = [(car, 1), (car, 3), (bolt, 5), (bolt, 6), (bolt, 7)]
        .iter()
        .map(|(g, s)| (g.to_string(), *s))
        .collect();
    assert_eq!(codes_of(&forward["items"]), expected, "{forward:#}");
    let recall = ok(
        &node_url,
        &supplier_file,
        &["recall", "show", "--org", SUPPLIER, "0"],
    );
    let progress = &recall["progress"];
    assert_eq!(
        (
            progress["affected"].as_u64(),
            progress["located"].as_u64(),
            progress["in_transit"].as_u64()
        ),
        (Some(5), Some(4), Some(1)),
        "{recall:#}"
    );
    assert_eq!(codes_of(&recall["items"]), expected);
    // The manufacturer's alert stream tells it about the recall, and how many of its items.
    eventually("the recall alert", Duration::from_secs(30), || async {
        client.alerts(&maker, MAKER, 0).await.is_ok_and(|list| {
            list.alerts
                .iter()
                .any(|a| a.kind == "recall" && a.detail.contains("2 of your items"))
        })
    })
    .await;
    // The manufacturer sees the cars that are its own.
    let maker_view = ok(
        &node_url,
        &maker_file,
        &["trace", "forward", "--gtin", bolt.as_ref(), "--lot", LOT1],
    );
    let own: BTreeSet<(String, u64)> = [1, 3].iter().map(|s| (car.to_string(), *s)).collect();
    assert_eq!(codes_of(&maker_view["items"]), own, "{maker_view:#}");
    // A recalled part cannot be installed; bolt 5 (lot 1, in stock from the pallet).
    refused(
        &node_url,
        &maker_file,
        &[
            "assemble",
            "--org",
            MAKER,
            "--parent",
            &cars[1],
            "--add",
            &part(bolt, 5),
        ],
        "recalled",
    );
    // The consumer's verdict on car 1 says recalled; car 2 (lot 2 bolts only) does not.
    let v1 = client.verdict(&cars[0], None).await.unwrap();
    assert!(v1.reasons.iter().any(|r| r.code == "recalled"), "{v1:?}");
    let v2 = client.verdict(&cars[1], None).await.unwrap();
    assert!(!v2.reasons.iter().any(|r| r.code == "recalled"), "{v2:?}");

    // Backward from car 1: module 1, bolts 1 and 2, their lot and supplier.
    let back = ok(
        &node_url,
        &maker_file,
        &["trace", "back", car.as_ref(), "1"],
    );
    let item = &back["item"];
    assert_eq!(back["codes"], 4, "{back:#}");
    let module1 = &item["parts"][0];
    assert_eq!(module1["gtin"], module.to_string());
    let bolts_in: Vec<(&str, &str, &str, bool)> = module1["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["issuer"].as_str().unwrap(),
                p["lot"].as_str().unwrap(),
                p["lot_record"]["attributes"][0]["value"].as_str().unwrap(),
                p["recalled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bolts_in,
        [
            (SUPPLIER, LOT1, "50.01", true),
            (SUPPLIER, LOT1, "50.01", true)
        ]
    );
    // Only the item's brand or holder traces it.
    refused(
        &node_url,
        &supplier_file,
        &["trace", "back", car.as_ref(), "1"],
        "forbidden",
    );

    // Once the recall closes, the verdict clears.
    ok(
        &node_url,
        &supplier_file,
        &["recall", "close", "--org", SUPPLIER, "0"],
    );
    eventually("the recall to clear", Duration::from_secs(30), || async {
        let v = client.verdict(&cars[0], None).await.unwrap();
        !v.reasons.iter().any(|r| r.code == "recalled")
    })
    .await;
}
