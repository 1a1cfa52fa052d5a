//! Demo data for `jitrace dev`: a licensed wine brand with two products and photos, a
//! distributor and a retailer, all submitted as ordinary signed transactions through the API;
//! the B2B demo (a manufacturer and its suppliers) is in `demo_b2b.rs`.

use crate::{
    genesis::{read_key, write_key},
    node::{DataDir, display_path},
};
use anyhow::{Result, bail};
use jitrace_client::Client;
use jitrace_console::{Console, ConsoleRole, NewUser};
use jitrace_types::{
    Gtin, Hash, LicenceId, OrgId, Payload, Role, SecretKey,
    code::sign_code,
    tx::{
        Attribute, AuthoriseChannel, Buyer, ChannelRole, CodeAction, CodeEvent, CodeId, GeoPoint,
        IssueCodeBatch, IssueLicence, MediaRef, Place, ProductInfo, RegisterOrg, Scan, SignedCode,
    },
};
use std::{path::Path, time::Duration};

const CABERNET_SVG: &[u8] = include_bytes!("../assets/demo/jade-valley-cabernet.svg");
const RIESLING_SVG: &[u8] = include_bytes!("../assets/demo/jade-valley-riesling.svg");

/// The demo brand.
pub const BRAND: &str = "jade-valley";
pub const DISTRIBUTOR: &str = "east-china-distribution";
pub const RETAILER: &str = "shanghai-fine-wines";
pub const LICENCE: &str = "jade-valley-2026";
pub const CABERNET_GTIN: &str = "09506000134352";
pub const RIESLING_GTIN: &str = "09506000134376";

async fn submit(client: &Client, key: &SecretKey, payload: Payload) -> Result<()> {
    let kind = payload.kind();
    let submitted = client.sign_and_submit(key, payload).await?;
    let hash = Hash::from_hex(&submitted.hash)?;
    let status = client.wait_for_tx(&hash, Duration::from_secs(30)).await?;
    if status.status != "ok" {
        bail!(
            "demo transaction {kind} was rejected: {} {}",
            status.reason.unwrap_or_default(),
            status.detail.unwrap_or_default()
        );
    }
    Ok(())
}

fn product(
    gtin: &str,
    name: &str,
    description: &str,
    attrs: &[(&str, &str)],
    photo: (Hash, u64, &str),
) -> Result<ProductInfo> {
    Ok(ProductInfo {
        gtin: Gtin::parse(gtin)?,
        org: OrgId::new(BRAND)?,
        name: name.into(),
        description: description.into(),
        attributes: attrs
            .iter()
            .map(|(n, v)| Attribute {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        media: vec![MediaRef {
            hash: photo.0,
            mime: "image/svg+xml".into(),
            size: photo.1,
            caption: photo.2.into(),
        }],
    })
}

/// Seeds the demo organisations, licence, products and code batches, and writes their keys.
pub async fn seed(url: &str, dir: &DataDir) -> Result<()> {
    let client = Client::new(url);
    let operator = read_key(&dir.key("operator"))?;
    // The scan gateway signs consumers' scans: a member of the platform organisation.
    let gateway = read_key(&dir.key("gateway"))?;
    submit(
        &client,
        &operator,
        Payload::AddMember {
            org: OrgId::new("platform")?,
            key: gateway.public_key(),
        },
    )
    .await?;
    let brand_admin = SecretKey::generate();
    let code_key = SecretKey::generate();
    let distributor = SecretKey::generate();
    let retailer = SecretKey::generate();
    write_key(&dir.key("brand-admin"), &brand_admin)?;
    write_key(&dir.key("brand-code"), &code_key)?;
    write_key(&dir.key("distributor"), &distributor)?;
    write_key(&dir.key("retailer"), &retailer)?;

    let org = |id: &str,
               name: &str,
               roles: Vec<Role>,
               prefix: Option<&str>,
               region: &str,
               admin: &SecretKey|
     -> Result<Payload> {
        Ok(Payload::RegisterOrg(RegisterOrg {
            id: OrgId::new(id)?,
            name: name.into(),
            roles,
            gs1_company_prefix: prefix.map(Into::into),
            region: Some(region.into()),
            admin: admin.public_key(),
        }))
    };
    submit(
        &client,
        &operator,
        org(
            BRAND,
            "Jade Valley Winery 玉谷酒庄",
            vec![Role::Brand, Role::Manufacturer],
            Some("9506000"),
            "CN-NX",
            &brand_admin,
        )?,
    )
    .await?;
    submit(
        &client,
        &operator,
        org(
            DISTRIBUTOR,
            "East China Distribution Co. 华东经销",
            vec![Role::Distributor, Role::Logistics],
            None,
            "CN-SH",
            &distributor,
        )?,
    )
    .await?;
    submit(
        &client,
        &operator,
        org(
            RETAILER,
            "Shanghai Fine Wines 上海佳酿",
            vec![Role::Retailer],
            None,
            "CN-SH",
            &retailer,
        )?,
    )
    .await?;

    let now_s = jitrace_chain::app::wall_clock_ms() / 1000;
    submit(
        &client,
        &operator,
        Payload::IssueLicence(IssueLicence {
            id: LicenceId::new(LICENCE)?,
            org: OrgId::new(BRAND)?,
            quota: 1_000_000,
            valid_from: now_s.saturating_sub(86_400),
            valid_until: now_s + 365 * 86_400,
        }),
    )
    .await?;

    let media = dir.media();
    let cabernet_photo = jitrace_api::store_media(&media, CABERNET_SVG, "image/svg+xml")?;
    let riesling_photo = jitrace_api::store_media(&media, RIESLING_SVG, "image/svg+xml")?;
    submit(&client, &brand_admin, Payload::RegisterProduct(product(
        CABERNET_GTIN,
        "Jade Valley Cabernet Sauvignon 2022",
        "Dry red wine from the eastern foothills of the Helan Mountains, Ningxia. 14 months in French oak.",
        &[("volume_ml", "750"), ("alcohol_pct", "14.0"), ("vintage", "2022"), ("grape", "Cabernet Sauvignon"), ("region", "CN-NX")],
        (cabernet_photo, CABERNET_SVG.len() as u64, "Front label"),
    )?))
    .await?;
    submit(
        &client,
        &brand_admin,
        Payload::RegisterProduct(product(
            RIESLING_GTIN,
            "Jade Valley Riesling 2023",
            "Off-dry white wine, cool-fermented in stainless steel.",
            &[
                ("volume_ml", "750"),
                ("alcohol_pct", "11.5"),
                ("vintage", "2023"),
                ("grape", "Riesling"),
                ("region", "CN-NX"),
            ],
            (riesling_photo, RIESLING_SVG.len() as u64, "Front label"),
        )?),
    )
    .await?;
    submit(
        &client,
        &brand_admin,
        Payload::RegisterCodeKey {
            org: OrgId::new(BRAND)?,
            key: code_key.public_key(),
        },
    )
    .await?;
    for (gtin, lot, first, count) in [
        (CABERNET_GTIN, "L2026-001", 1, 1000),
        (RIESLING_GTIN, "L2026-002", 1, 500),
    ] {
        submit(
            &client,
            &brand_admin,
            Payload::IssueCodeBatch(IssueCodeBatch {
                org: OrgId::new(BRAND)?,
                licence: LicenceId::new(LICENCE)?,
                gtin: Gtin::parse(gtin)?,
                lot: lot.into(),
                first_serial: first,
                count,
                code_key: code_key.public_key(),
            }),
        )
        .await?;
    }
    let codes = seed_code_lives(
        &client,
        &brand_admin,
        &code_key,
        &distributor,
        &retailer,
        &operator,
    )
    .await?;
    crate::demo_b2b::seed(&client, url, dir, &operator).await?;
    std::fs::write(
        dir.0.join("demo-codes.txt"),
        format!(
            "sold    {}\nunsold  {}\ncloned  {}\nforged  {}\n",
            codes.sold, codes.unsold, codes.cloned, codes.forged
        ),
    )?;
    Ok(())
}

/// The printed code of one demo item of each kind (paths, to join to the node's URL).
pub struct DemoCodes {
    pub sold: String,
    pub unsold: String,
    pub cloned: String,
    pub forged: String,
}

/// Places of the demo, in micro-degrees.
const YINCHUAN: (i32, i32) = (38_487_200, 106_230_900);
const SHANGHAI: (i32, i32) = (31_230_400, 121_473_700);
const BEIJING: (i32, i32) = (39_904_200, 116_407_400);

fn place(point: (i32, i32), region: &str, city: &str) -> Place {
    Place {
        point: Some(GeoPoint {
            lat_micro: point.0,
            lon_micro: point.1,
        }),
        region: Some(region.into()),
        city: Some(city.into()),
    }
}

/// Gives demo codes lives: one sold, one still in the channel, one sold and then cloned (scanned
/// in Shanghai and, minutes later, in Beijing by another phone), and one forged.
async fn seed_code_lives(
    client: &Client,
    brand_admin: &SecretKey,
    code_key: &SecretKey,
    distributor: &SecretKey,
    retailer: &SecretKey,
    operator: &SecretKey,
) -> Result<DemoCodes> {
    let chain_id = client.status().await?.chain_id;
    let gtin = Gtin::parse(CABERNET_GTIN)?;
    let (brand, dist, shop) = (
        OrgId::new(BRAND)?,
        OrgId::new(DISTRIBUTOR)?,
        OrgId::new(RETAILER)?,
    );
    let now_s = jitrace_chain::app::wall_clock_ms() / 1000;
    for (channel, role, territory) in [
        (&dist, ChannelRole::Distributor, "CN"),
        (&shop, ChannelRole::Retailer, "CN-SH"),
    ] {
        submit(
            client,
            brand_admin,
            Payload::AuthoriseChannel(AuthoriseChannel {
                brand: brand.clone(),
                channel: channel.clone(),
                role,
                products: vec![gtin],
                territory: vec![territory.into()],
                geofence: None,
                valid_from: now_s.saturating_sub(86_400),
                valid_until: now_s + 365 * 86_400,
            }),
        )
        .await?;
    }
    let signed = |serial: u64| SignedCode {
        code: CodeId { gtin, serial },
        signature: sign_code(code_key, &chain_id, &gtin, &serial.to_string()),
    };
    let event = |serial: u64, org: &OrgId, action: CodeAction, at: Place| {
        Payload::RecordCodeEvent(CodeEvent {
            code: signed(serial),
            org: org.clone(),
            action,
            place: at,
        })
    };
    let yinchuan = || place(YINCHUAN, "CN-NX", "Yinchuan");
    let shanghai = || place(SHANGHAI, "CN-SH", "Shanghai");
    // Each demo code's journey, step by step: (codes, signer, acting org, action, place).
    let to_distributor = || CodeAction::Ship { to: dist.clone() };
    let to_shop = || CodeAction::Ship { to: shop.clone() };
    let sell = || CodeAction::Sell {
        buyer: Buyer::Anonymous,
    };
    let journey: [(&[u64], &SecretKey, &OrgId, CodeAction, Place); 6] = [
        (
            &[1, 2, 3],
            brand_admin,
            &brand,
            CodeAction::Commission,
            yinchuan(),
        ),
        (
            &[1, 2, 3],
            brand_admin,
            &brand,
            to_distributor(),
            yinchuan(),
        ),
        (
            &[1, 2, 3],
            distributor,
            &dist,
            CodeAction::Receive,
            shanghai(),
        ),
        (&[1, 3], distributor, &dist, to_shop(), shanghai()),
        (&[1, 3], retailer, &shop, CodeAction::Receive, shanghai()),
        (&[1, 3], retailer, &shop, sell(), shanghai()),
    ];
    for (serials, key, org, action, at) in journey {
        for &serial in serials {
            submit(client, key, event(serial, org, action.clone(), at.clone())).await?;
        }
    }
    // The clone: the same code scanned by two phones, in Shanghai and then in Beijing.
    let now_ms = jitrace_chain::app::wall_clock_ms();
    let scan = |point: (i32, i32), device: &[u8], time_ms: u64| Scan {
        code: signed(3),
        cell: jitrace_ledger::geo::cell_of(GeoPoint {
            lat_micro: point.0,
            lon_micro: point.1,
        }),
        device: Hash::of(&[device]),
        time_ms,
    };
    submit(
        client,
        operator,
        Payload::RecordScans {
            scans: vec![
                scan(
                    SHANGHAI,
                    b"demo-phone-a",
                    now_ms.saturating_sub(20 * 60_000),
                ),
                scan(BEIJING, b"demo-phone-b", now_ms.saturating_sub(5 * 60_000)),
            ],
        },
    )
    .await?;
    let path = |serial: u64, sig: &str| format!("/01/{gtin}/21/{serial}?8030={sig}");
    let forged_sig = sign_code(&SecretKey::generate(), &chain_id, &gtin, "4");
    Ok(DemoCodes {
        sold: path(1, &signed(1).signature),
        unsold: path(2, &signed(2).signature),
        cloned: path(3, &signed(3).signature),
        forged: path(4, &forged_sig),
    })
}

/// The console's platform admin user that `jitrace dev` creates.
pub const CONSOLE_ADMIN: &str = "admin";

/// Creates the console users of a new dev chain, each with a generated password, and writes
/// them to `console-admin.txt` (mode 0600): the platform admin (its key is the operator's, the
/// platform organisation's first member) and, with the demo, one admin per demo organisation
/// whose sealed key is the demo's member key of that organisation.
pub fn bootstrap_console(console: &Console, dir: &DataDir, demo: bool) -> Result<()> {
    let mut users = vec![(
        CONSOLE_ADMIN,
        "Platform admin 平台管理员",
        "platform",
        "operator",
    )];
    if demo {
        users.extend([
            (
                "jade-valley-admin",
                "Jade Valley admin 玉谷管理员",
                BRAND,
                "brand-admin",
            ),
            (
                "distributor-admin",
                "East China admin 华东管理员",
                DISTRIBUTOR,
                "distributor",
            ),
            (
                "retailer-admin",
                "Shanghai Fine Wines admin 上海佳酿管理员",
                RETAILER,
                "retailer",
            ),
        ]);
        users.extend(crate::demo_b2b::CONSOLE_USERS);
    }
    let mut text = String::from(
        "# Console users of this dev chain (sign in at the node's URL). Keep this file private.\n",
    );
    let now_ms = jitrace_chain::app::wall_clock_ms();
    for (name, display_name, org, key) in users {
        if console.user(name)?.is_some() {
            continue;
        }
        let password = hex::encode(rand::random::<[u8; 12]>());
        console.create_user(
            NewUser {
                name,
                display_name,
                org: OrgId::new(org)?,
                role: ConsoleRole::Admin,
                password: &password,
                key: Some(read_key(&dir.key(key))?),
            },
            now_ms,
        )?;
        if key == "brand-admin" {
            // The brand admin prints labels in the console: the demo's code-signing key,
            // sealed under their password like their member key.
            console.seal_code_key(name, &password, &read_key(&dir.key("brand-code"))?, now_ms)?;
        }
        text.push_str(&format!("{name} {password}\n"));
    }
    let path = dir.console_admin();
    std::fs::write(&path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The console users and passwords `jitrace dev` wrote, in file order.
pub fn console_users(data_dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(data_dir.join("console-admin.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect()
}

/// What a new user sees once the node serves.
pub fn print_welcome(url: &str, data_dir: &Path, fresh: bool) {
    let dir = display_path(data_dir);
    let keys = Path::new(&dir).join("keys");
    let k = |name: &str| keys.join(format!("{name}.key")).display().to_string();
    println!();
    println!("Jitrace dev node is running — a one-validator chain finalising through simplex BFT.");
    println!();
    println!("  API            {url}/v1/status");
    println!("  API reference  {url}/docs      (OpenAPI: {url}/openapi.json)");
    println!("  Metrics        {url}/metrics");
    println!("  Console        {url}/");
    for (name, password) in console_users(Path::new(&dir)) {
        println!("    sign in as   {name:<18} password {password}");
    }
    if Path::new(&dir).join("console-admin.txt").exists() {
        println!(
            "    (kept in {}, mode 0600)",
            Path::new(&dir).join("console-admin.txt").display()
        );
    }
    println!("  Data           {dir}");
    if let Ok(codes) = std::fs::read_to_string(Path::new(&dir).join("demo-codes.txt")) {
        println!();
        println!(
            "Scan these demo codes (each shows a different verdict; add ?lat=..&lon=.. for distance):"
        );
        for line in codes.lines() {
            if let Some((kind, path)) = line.split_once(char::is_whitespace) {
                println!("  {kind:<7} {url}{}", path.trim());
            }
        }
    }
    if fresh {
        println!();
        println!("Demo data: brand '{BRAND}' (licence '{LICENCE}', 1,000,000 codes), products");
        println!(
            "{CABERNET_GTIN} and {RIESLING_GTIN} with 1,500 codes in two batches, distributor"
        );
        println!(
            "'{DISTRIBUTOR}', retailer '{RETAILER}'. Their keys are in {}.",
            keys.display()
        );
    }
    crate::demo_b2b::print_gate_hint(Path::new(&dir));
    println!();
    println!("Try, in another terminal:");
    println!("  jitrace status");
    println!("  jitrace org list");
    println!("  jitrace product show {CABERNET_GTIN}");
    println!("  jitrace batch show {CABERNET_GTIN}");
    println!("  curl {url}/v1/blocks/latest");
    println!(
        "  jitrace --key {} licence issue --id demo-2 --org {BRAND} --quota 5000 --days 30",
        k("operator")
    );
    println!("  jitrace verify-chain --data-dir {dir}   (after stopping the node)");
    println!();
    println!(
        "(`jitrace` is target/release/jitrace; or use `cargo run --release --` in its place.)"
    );
    println!("Press Ctrl-C to stop. Run the same command again to continue this chain.");
}
