//! The B2B part of `jitrace dev`'s demo: a car maker, an authorised parts supplier and an
//! unauthorised one, parts shipped to the maker (some on a pallet), a lot's technical record,
//! and the printed codes to try at the console's receiving gate (`demo-b2b.txt`).
//!
//! Each organisation's transactions go in one batch with consecutive nonces, and the three
//! organisations' batches run side by side, so the whole demo costs a few blocks.

use crate::{
    genesis::write_key,
    node::{DataDir, display_path},
};
use anyhow::{Result, bail};
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
use std::{path::Path, time::Duration};

/// The demo manufacturer (a car maker, also the brand of its cars).
pub const MAKER: &str = "nova-motors";
/// Its authorised supplier (bolts; nuts not yet authorised).
pub const SUPPLIER: &str = "apex-fasteners";
/// A supplier it never authorised.
pub const ROGUE: &str = "shadow-parts";
/// The lots of the supplier's bolts and nuts.
pub const BOLT_LOT: &str = "B-2026-01";
pub const NUT_LOT: &str = "N-2026-01";

/// Console users of the B2B demo: (name, display name, organisation, key file).
pub const CONSOLE_USERS: [(&str, &str, &str, &str); 2] = [
    (
        "maker-admin",
        "Nova Motors admin 新星汽车管理员",
        MAKER,
        "maker-admin",
    ),
    (
        "supplier-admin",
        "Apex Fasteners admin 精锐管理员",
        SUPPLIER,
        "supplier-admin",
    ),
];

/// A GTIN-13 (as 14 digits) from its 12-digit stem.
pub fn gtin(stem: &str) -> Result<Gtin> {
    let digits: Vec<u8> = format!("0{stem}").bytes().map(|b| b - b'0').collect();
    Ok(Gtin::parse(&format!(
        "0{stem}{}",
        gs1_check_digit(&digits)
    ))?)
}

fn sscc(stem: &str) -> Result<Sscc> {
    let digits: Vec<u8> = stem.bytes().map(|b| b - b'0').collect();
    Ok(Sscc::parse(&format!("{stem}{}", gs1_check_digit(&digits)))?)
}

/// Signs `payloads` with consecutive nonces, submits them at once and waits until every one
/// executed successfully.
async fn run(
    client: &Client,
    chain_id: &str,
    key: &SecretKey,
    payloads: Vec<Payload>,
) -> Result<()> {
    let first = client
        .account(&key.public_key())
        .await?
        .map_or(1, |a| a.nonce + 1);
    let txs: Vec<_> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            Transaction {
                chain_id: chain_id.to_string(),
                signer: key.public_key(),
                nonce: first + i as u64,
                payload,
            }
            .sign(key)
        })
        .collect();
    client.submit_many(&txs).await?;
    for tx in &txs {
        let status = client
            .wait_for_tx(&tx.hash(), Duration::from_secs(60))
            .await?;
        if status.status != "ok" {
            bail!(
                "B2B demo transaction {} was rejected: {} {}",
                status.kind.unwrap_or_default(),
                status.reason.unwrap_or_default(),
                status.detail.unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn attr(name: &str, value: &str) -> Attribute {
    Attribute {
        name: name.into(),
        value: value.into(),
    }
}

fn product(gtin: Gtin, owner: &str, name: &str, attributes: &[(&str, &str)]) -> Result<Payload> {
    Ok(Payload::RegisterProduct(ProductInfo {
        gtin,
        org: OrgId::new(owner)?,
        name: name.into(),
        description: String::new(),
        attributes: attributes.iter().map(|(n, v)| attr(n, v)).collect(),
        media: vec![],
    }))
}

fn batch(owner: &str, gtin: Gtin, lot: &str, count: u64, key: &SecretKey) -> Result<Payload> {
    Ok(Payload::IssueCodeBatch(IssueCodeBatch {
        org: OrgId::new(owner)?,
        licence: LicenceId::new(format!("{owner}-2026"))?,
        gtin,
        lot: lot.into(),
        first_serial: 1,
        count,
        code_key: key.public_key(),
    }))
}

fn at_shanghai() -> Place {
    Place {
        point: Some(GeoPoint {
            lat_micro: 31_230_400,
            lon_micro: 121_473_700,
        }),
        region: Some("CN-SH".into()),
        city: Some("Shanghai".into()),
    }
}

/// Seeds the B2B demo and writes `demo-b2b.txt`: one printed code or pallet per line, named.
pub async fn seed(client: &Client, url: &str, dir: &DataDir, operator: &SecretKey) -> Result<()> {
    let chain_id = client.status().await?.chain_id;
    let keys: Vec<SecretKey> = (0..6).map(|_| SecretKey::generate()).collect();
    let [
        maker,
        maker_codes,
        supplier,
        supplier_codes,
        rogue,
        rogue_codes,
    ] = &keys[..]
    else {
        unreachable!("six keys")
    };
    for (name, key) in [
        ("maker-admin", maker),
        ("maker-code", maker_codes),
        ("supplier-admin", supplier),
        ("supplier-code", supplier_codes),
        ("rogue-admin", rogue),
        ("rogue-code", rogue_codes),
    ] {
        write_key(&dir.key(name), key)?;
    }
    let now_s = jitrace_chain::app::wall_clock_ms() / 1000;
    let mut onboarding = Vec::new();
    for (id, name, roles, prefix, admin) in [
        (
            MAKER,
            "Nova Motors 新星汽车",
            vec![Role::Manufacturer, Role::Brand],
            "9507011",
            maker,
        ),
        (
            SUPPLIER,
            "Apex Fasteners 精锐紧固件",
            vec![Role::Supplier],
            "9507012",
            supplier,
        ),
        (
            ROGUE,
            "Shadow Parts 无名配件",
            vec![Role::Supplier],
            "9507013",
            rogue,
        ),
    ] {
        onboarding.push(Payload::RegisterOrg(RegisterOrg {
            id: OrgId::new(id)?,
            name: name.into(),
            roles,
            gs1_company_prefix: Some(prefix.into()),
            region: Some("CN-SH".into()),
            admin: admin.public_key(),
        }));
        onboarding.push(Payload::IssueLicence(IssueLicence {
            id: LicenceId::new(format!("{id}-2026"))?,
            org: OrgId::new(id)?,
            quota: 100_000,
            valid_from: now_s.saturating_sub(86_400),
            valid_until: now_s + 365 * 86_400,
        }));
    }
    run(client, &chain_id, operator, onboarding).await?;

    let (bolt, nut, rogue_bolt, car) = (
        gtin("950701200001")?,
        gtin("950701200002")?,
        gtin("950701300001")?,
        gtin("950701100002")?,
    );
    let code = |key: &SecretKey, gtin: Gtin, serial: u64| SignedCode {
        code: CodeId { gtin, serial },
        signature: sign_code(key, &chain_id, &gtin, &serial.to_string()),
    };
    let printed =
        |c: &SignedCode| code_uri(url, &c.code.gtin, &c.code.serial.to_string(), &c.signature);
    let event = |c: &SignedCode, by: &str, action: CodeAction| -> Result<Payload> {
        Ok(Payload::RecordCodeEvent(CodeEvent {
            code: c.clone(),
            org: OrgId::new(by)?,
            action,
            place: at_shanghai(),
        }))
    };
    let ship = || CodeAction::Ship {
        to: OrgId::new(MAKER).unwrap_or_else(|_| unreachable!("a valid id")),
    };

    // The supplier: bolts (authorised) and nuts (not yet), a lot record each, eight bolts and
    // three nuts shipped to the maker, bolts 5 to 8 on a pallet.
    let bolts: Vec<SignedCode> = (1..=8).map(|s| code(supplier_codes, bolt, s)).collect();
    let nuts: Vec<SignedCode> = (1..=3).map(|s| code(supplier_codes, nut, s)).collect();
    let pallet = sscc("19507012000000001")?;
    let mut supplying = vec![
        product(bolt, SUPPLIER, "M10 bolt 螺栓", &[("material", "42CrMo4")])?,
        product(nut, SUPPLIER, "M10 nut 螺母", &[("thread", "M10")])?,
        Payload::RegisterCodeKey {
            org: OrgId::new(SUPPLIER)?,
            key: supplier_codes.public_key(),
        },
        batch(SUPPLIER, bolt, BOLT_LOT, 100, supplier_codes)?,
        batch(SUPPLIER, nut, NUT_LOT, 100, supplier_codes)?,
        Payload::RecordLot(LotRecord {
            gtin: bolt,
            lot: BOLT_LOT.into(),
            attributes: vec![attr("diameter_mm", "50.01"), attr("material", "42CrMo4")],
            produced_at: Some(now_s.saturating_sub(7 * 86_400)),
            tests: vec![],
            documents: vec![],
        }),
        Payload::RecordLot(LotRecord {
            gtin: nut,
            lot: NUT_LOT.into(),
            attributes: vec![
                attr("thread", "M10"),
                attr("strength", "10.9"),
                attr("torque_nm", "50"),
            ],
            produced_at: Some(now_s.saturating_sub(5 * 86_400)),
            tests: vec![],
            documents: vec![],
        }),
    ];
    for c in bolts.iter().chain(&nuts) {
        supplying.push(event(c, SUPPLIER, CodeAction::Commission)?);
        supplying.push(event(c, SUPPLIER, ship())?);
    }
    supplying.push(Payload::PackPallet(PackPallet {
        org: OrgId::new(SUPPLIER)?,
        sscc: pallet,
        codes: bolts[4..8].to_vec(),
    }));

    // The rogue supplier ships a bolt of its own.
    let rogue_code = code(rogue_codes, rogue_bolt, 1);
    let roguery = vec![
        product(rogue_bolt, ROGUE, "M10 bolt (unauthorised) 螺栓", &[])?,
        Payload::RegisterCodeKey {
            org: OrgId::new(ROGUE)?,
            key: rogue_codes.public_key(),
        },
        batch(ROGUE, rogue_bolt, "X-1", 10, rogue_codes)?,
        event(&rogue_code, ROGUE, CodeAction::Commission)?,
        event(&rogue_code, ROGUE, ship())?,
    ];

    // The maker: its cars and the bolt supplier's authorisation with the bolt's specification.
    let making = vec![
        product(car, MAKER, "Compact car 小型轿车", &[])?,
        Payload::RegisterCodeKey {
            org: OrgId::new(MAKER)?,
            key: maker_codes.public_key(),
        },
        batch(MAKER, car, "C-2026-01", 100, maker_codes)?,
    ];
    // Parts exist before the maker authorises them.
    let (a, b, c) = tokio::join!(
        run(client, &chain_id, supplier, supplying),
        run(client, &chain_id, rogue, roguery),
        run(client, &chain_id, maker, making),
    );
    a?;
    b?;
    c?;
    run(
        client,
        &chain_id,
        maker,
        vec![Payload::AuthoriseSupplier(AuthoriseSupplier {
            manufacturer: OrgId::new(MAKER)?,
            supplier: OrgId::new(SUPPLIER)?,
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
            valid_from: now_s.saturating_sub(60),
            valid_until: now_s + 365 * 86_400,
        })],
    )
    .await?;

    // A forged label: serial 9's code with bolt 1's signature (and nut 9's with nut 1's).
    let forged = |c: &SignedCode, serial: u64| {
        printed(&SignedCode {
            code: CodeId {
                gtin: c.code.gtin,
                serial,
            },
            signature: c.signature.clone(),
        })
    };
    let lines = [
        ("bolt", printed(&bolts[0])),
        ("bolt2", printed(&bolts[1])),
        ("bolt3", printed(&bolts[2])),
        ("pallet", pallet.to_string()),
        ("forged-bolt", forged(&bolts[0], 99)),
        ("rogue-bolt", printed(&rogue_code)),
        ("nut", printed(&nuts[0])),
        ("nut2", printed(&nuts[1])),
        ("forged-nut", forged(&nuts[0], 99)),
        ("car", printed(&code(maker_codes, car, 1))),
        ("car2", printed(&code(maker_codes, car, 2))),
    ];
    let text: String = lines
        .iter()
        .map(|(name, code)| format!("{name} {code}\n"))
        .collect();
    std::fs::write(dir.0.join("demo-b2b.txt"), text)?;
    Ok(())
}

/// The codes `seed` wrote, by name.
pub fn demo_codes(data_dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(data_dir.join("demo-b2b.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect()
}

/// Tells a new user how to try the receiving gate.
pub fn print_gate_hint(data_dir: &Path) {
    let codes = demo_codes(data_dir);
    if codes.is_empty() {
        return;
    }
    println!();
    println!(
        "B2B demo: maker '{MAKER}' authorised '{SUPPLIER}' for bolts (not yet for nuts); \
         '{ROGUE}' is not authorised."
    );
    println!(
        "Sign in as maker-admin, open Receiving gate and scan (paste + Enter) — each gives a verdict:"
    );
    for (name, code) in &codes {
        println!("  {name:<12} {code}");
    }
    println!(
        "  (codes in {})",
        display_path(&data_dir.join("demo-b2b.txt"))
    );
}
