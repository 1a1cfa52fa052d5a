//! An item's whole life through the real binary against a `jitrace dev` node: channel grants,
//! custody events, a sale with a claim link, ownership by tickets, clone suspicion from scans,
//! and the ledger's reasons for every refusal.

mod common;

use common::{RIESLING, cli, eventually, free_addr, start, wait_demo};
use jitrace_client::Client;
use serde_json::Value;
use std::{path::Path, process::Output, time::Duration};

const BRAND: &str = "jade-valley";
const DISTRIBUTOR: &str = "east-china-distribution";
const RETAILER: &str = "shanghai-fine-wines";
/// Where things happen: (lat, lon, region, city).
const YINCHUAN: [&str; 4] = ["38.4872", "106.2309", "CN-NX", "银川"];
const SHANGHAI: [&str; 4] = ["31.2304", "121.4737", "CN-SH", "上海"];
const BEIJING: [&str; 2] = ["39.9042", "116.4074"];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first JSON document a command printed (a rejected transaction prints its receipt, then
/// the error).
fn first_json(out: &Output) -> Value {
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON in the output; stderr: {}", stderr(out)))
        .unwrap()
}

/// `--lat .. --lon .. --region .. --city ..` for a place.
fn at(place: [&str; 4]) -> [&str; 8] {
    let [lat, lon, region, city] = place;
    [
        "--lat", lat, "--lon", lon, "--region", region, "--city", city,
    ]
}

struct Chain {
    node: String,
    keys: std::path::PathBuf,
}

impl Chain {
    fn key(&self, name: &str) -> std::path::PathBuf {
        self.keys.join(format!("{name}.key"))
    }

    /// Runs a command that must succeed; its JSON output.
    fn ok(&self, key: &Path, args: &[&str]) -> Value {
        let out = cli(&self.node, key, args);
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        let json = first_json(&out);
        // A receipt (a verdict has a `status` too, but no `hash`).
        if json.get("hash").is_some() {
            assert_eq!(json["status"], "ok", "{args:?}: {json}");
        }
        json
    }

    /// Runs a transaction the ledger must reject with `reason`; the receipt.
    fn rejected(&self, key: &Path, args: &[&str], reason: &str) -> Value {
        let out = cli(&self.node, key, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let receipt = first_json(&out);
        assert_eq!(receipt["status"], "rejected", "{args:?}: {receipt}");
        assert_eq!(receipt["reason"], reason, "{args:?}: {receipt}");
        assert!(
            stderr(&out).is_empty() || !stderr(&out).contains("panicked"),
            "{}",
            stderr(&out)
        );
        receipt
    }

    /// `jitrace verify URL --lat --lon --json`.
    fn verify(&self, url: &str, place: [&str; 2]) -> Value {
        let key = self.key("operator");
        let out = cli(
            &self.node,
            &key,
            &["verify", url, "--lat", place[0], "--lon", place[1]],
        );
        assert!(out.status.success(), "verify failed: {}", stderr(&out));
        first_json(&out)
    }

    /// `item event` at a place, by `signer` for `org`.
    fn event(&self, signer: &str, url: &str, org: &str, action: &[&str], place: [&'static str; 4]) {
        let mut args = vec!["item", "event", url, "--org", org, "--action"];
        args.extend(action);
        args.extend(at(place));
        self.ok(&self.key(signer), &args);
    }
}

fn reasons(verdict: &Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

fn flags(verdict: &Value) -> Vec<String> {
    verdict["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_from_its_brand_to_its_second_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;
    let chain = Chain {
        node: node.url.clone(),
        keys: data_dir.join("keys"),
    };
    let brand = chain.key("brand-admin");

    // Print three Riesling codes of the demo batch (the demo gives its Riesling no channel).
    let labels = tmp.path().join("labels");
    chain.ok(
        &brand,
        &[
            "codes",
            "issue",
            "--product",
            RIESLING,
            "--first",
            "1",
            "--count",
            "3",
            "--code-key",
            chain.key("brand-code").to_str().unwrap(),
            "--resolver",
            &node.url,
            "--pdf",
            "none",
            "--out",
            labels.to_str().unwrap(),
        ],
    );
    let csv = std::fs::read_to_string(labels.join("codes.csv")).unwrap();
    let url = csv.lines().nth(1).unwrap().rsplit(',').next().unwrap();
    assert!(url.starts_with(&format!("{}/01/{RIESLING}/21/1?8030=", node.url)));
    let url = url.to_string();
    let url = url.as_str();

    // Channels: the distributor for the whole country; a logistics grant made and revoked.
    let grant = |channel: &str, role: &str, extra: &[&str]| {
        let mut args = vec![
            "channel",
            "grant",
            "--brand",
            BRAND,
            "--channel",
            channel,
            "--role",
            role,
            "--product",
            RIESLING,
            "--from",
            "2026-01-01",
            "--until",
            "2099-01-01",
        ];
        args.extend(extra);
        chain.ok(&brand, &args)
    };
    grant(DISTRIBUTOR, "distributor", &["--territory", "CN"]);
    grant(DISTRIBUTOR, "logistics", &["--territory", "CN-SH,CN-ZJ"]);
    // The demo granted the distributor one grant (0); these are 1 and 2.
    let revoke = [
        "channel",
        "revoke",
        "--brand",
        BRAND,
        "--channel",
        DISTRIBUTOR,
    ];
    chain.ok(
        &brand,
        &[&revoke[..], &["--grant", "2", "--reason", "test"]].concat(),
    );
    chain.rejected(
        &brand,
        &[&revoke[..], &["--grant", "2"]].concat(),
        "channel_revoked",
    );
    chain.rejected(
        &brand,
        &[&revoke[..], &["--grant", "9"]].concat(),
        "unknown_channel",
    );
    // Anyone can list a brand's channels: the distributor's three grants (the demo's, then
    // these two), the logistics one revoked.
    let list = chain.ok(&brand, &["channel", "list", "--brand", BRAND]);
    let distributor = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == DISTRIBUTOR)
        .unwrap_or_else(|| panic!("no {DISTRIBUTOR} in {list:#}"));
    let grants = distributor["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 3, "{list:#}");
    assert_eq!(grants[2]["role"], "logistics");
    assert!(grants[2]["revoked"].is_object() && grants[1]["revoked"].is_null());

    // Before its first event the code is genuine but has no life yet.
    let shanghai = [SHANGHAI[0], SHANGHAI[1]];
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["verdict"], "genuine");
    assert_eq!(verdict["status"], "issued");

    // Only its brand commissions it; the retailer's key is no member of the brand.
    let retailer = chain.key("retailer");
    let commission = ["item", "event", url, "--action", "commission"];
    chain.rejected(
        &retailer,
        &[&commission[..], &["--org", RETAILER]].concat(),
        "not_custodian",
    );
    chain.rejected(
        &retailer,
        &[&commission[..], &["--org", BRAND]].concat(),
        "not_a_member",
    );
    chain.event("brand-admin", url, BRAND, &["commission"], YINCHUAN);
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["verdict"], "genuine");
    assert_eq!(verdict["status"], "active");
    assert_eq!(verdict["custodian"]["id"], BRAND);

    // Brand → distributor.
    chain.event(
        "brand-admin",
        url,
        BRAND,
        &["ship", "--to", DISTRIBUTOR],
        YINCHUAN,
    );
    assert_eq!(chain.verify(url, shanghai)["status"], "in_transit");
    chain.event("distributor", url, DISTRIBUTOR, &["receive"], SHANGHAI);
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["status"], "in_channel");
    assert_eq!(verdict["custodian"]["id"], DISTRIBUTOR);

    // Distributor → retailer, who holds no grant for the Riesling yet.
    chain.event(
        "distributor",
        url,
        DISTRIBUTOR,
        &["ship", "--to", RETAILER],
        SHANGHAI,
    );
    assert_eq!(chain.verify(url, shanghai)["status"], "in_transit");
    let receive: Vec<&str> = [
        &[
            "item", "event", url, "--org", RETAILER, "--action", "receive",
        ][..],
        &at(SHANGHAI),
    ]
    .concat();
    let receipt = chain.rejected(&retailer, &receive, "channel_not_authorised");
    assert!(
        receipt["detail"].as_str().unwrap().contains(RETAILER),
        "{receipt}"
    );
    grant(
        RETAILER,
        "retailer",
        &["--territory", "CN-SH", "--geofence", "31.23,121.47,50000"],
    );
    chain.ok(&retailer, &receive);
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["status"], "in_channel");
    assert_eq!(verdict["custodian"]["id"], RETAILER);

    // The sale in Shanghai, with a claim ticket: the secret rides in the link's fragment.
    let sale = chain.ok(
        &retailer,
        &[
            &["item", "sell", url, "--org", RETAILER, "--claim-ticket"][..],
            &at(SHANGHAI),
        ]
        .concat(),
    );
    let claim_link = sale["link"].as_str().unwrap().to_string();
    let secret = claim_link
        .strip_prefix(&format!("{url}#claim="))
        .unwrap_or_else(|| panic!("{claim_link}"));
    assert_eq!(secret.len(), 43);
    let verdict = chain.verify(&claim_link, shanghai);
    assert_eq!(verdict["verdict"], "genuine");
    assert_eq!(verdict["status"], "sold");
    assert_eq!(verdict["sale"]["seller"], RETAILER);
    assert_eq!(verdict["sale"]["region"], "CN-SH");
    assert_eq!(verdict["sale"]["grey_market"], false);
    assert_eq!(verdict["ownership"]["owner"], Value::Null);
    assert_eq!(verdict["ownership"]["pending_ticket"], "claim");
    assert!(reasons(&verdict).contains(&"already_sold".to_string()));
    // Sold: custody events are over.
    chain.rejected(
        &retailer,
        &[
            &["item", "event", url, "--org", RETAILER, "--action", "store"][..],
            &at(SHANGHAI),
        ]
        .concat(),
        "already_sold",
    );

    // Consumers' keys.
    let new_key = |name: &str| {
        let path = tmp.path().join(format!("{name}.key"));
        let out = chain.ok(&brand, &["keys", "new", "--out", path.to_str().unwrap()]);
        (path, out["public_key"].as_str().unwrap().to_string())
    };
    let (alice, alice_pub) = new_key("alice");
    let (bob, bob_pub) = new_key("bob");

    // Alice claims; the same link again fails, for anyone.
    chain.ok(
        &alice,
        &["item", "claim", &claim_link, "--device-id", "alice-phone"],
    );
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["status"], "owned");
    assert_eq!(verdict["ownership"]["owner"], alice_pub);
    assert_eq!(verdict["ownership"]["pending_ticket"], Value::Null);
    chain.rejected(&bob, &["item", "claim", &claim_link], "ticket_used");
    chain.rejected(
        &bob,
        // (another device, so not the very same transaction again)
        &[
            "item",
            "claim",
            url,
            "--secret",
            secret,
            "--device-id",
            "bob-phone",
        ],
        "ticket_used",
    );

    // Only the owner offers it on; Bob is not the owner.
    chain.rejected(&bob, &["item", "transfer", url], "not_owner");
    chain.rejected(&bob, &["item", "stolen", url], "not_owner");
    let offer = chain.ok(&alice, &["item", "transfer", url]);
    let transfer_link = offer["link"].as_str().unwrap().to_string();
    assert!(transfer_link.starts_with(&format!("{url}#transfer=")));
    assert_eq!(
        chain.verify(url, shanghai)["ownership"]["pending_ticket"],
        "transfer"
    );
    // A cancelled offer is dead; a new one works.
    chain.ok(&alice, &["item", "cancel-ticket", url]);
    chain.rejected(&bob, &["item", "claim", &transfer_link], "ticket_invalid");
    let offer = chain.ok(&alice, &["item", "transfer", url]);
    let transfer_link = offer["link"].as_str().unwrap().to_string();
    chain.ok(
        &bob,
        &["item", "claim", &transfer_link, "--device-id", "bob-phone"],
    );
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["ownership"]["owner"], bob_pub);
    let events: Vec<&str> = verdict["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "commissioned",
            "shipped",
            "received",
            "shipped",
            "received",
            "sold",
            "owner_changed",
            "owner_changed"
        ]
    );
    chain.rejected(&alice, &["item", "transfer", url], "not_owner");

    // Stolen, and found again.
    chain.ok(&bob, &["item", "stolen", url]);
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["verdict"], "warning");
    assert!(flags(&verdict).contains(&"stolen".to_string()));
    chain.rejected(&bob, &["item", "transfer", url], "code_stolen");
    chain.ok(&bob, &["item", "stolen", url, "--clear"]);
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["verdict"], "genuine");
    assert!(flags(&verdict).is_empty(), "{verdict}");

    // Scans: Bob's phone in Shanghai, then a stranger's in Beijing minutes later.
    let scan = |place: [&str; 2], device: &str| {
        chain.ok(
            &bob,
            &[
                "item", "scan", url, "--lat", place[0], "--lon", place[1], "--device", device,
            ],
        )
    };
    let verdict = scan(shanghai, "bob-phone");
    assert_eq!(verdict["scan_queued"], true);
    assert_eq!(verdict["verdict"], "genuine");
    let verdict = scan(BEIJING, "stranger-phone");
    assert_eq!(verdict["scan_queued"], true);
    assert_eq!(verdict["verdict"], "warning");
    assert!(
        reasons(&verdict).contains(&"location_mismatch".to_string()),
        "{verdict}"
    );
    // Once the gateway's batch is final, the chain suspects a clone.
    eventually("the clone suspicion", Duration::from_secs(30), || async {
        flags(&chain.verify(url, shanghai)).contains(&"clone_suspected".to_string())
    })
    .await;
    let verdict = chain.verify(url, shanghai);
    assert_eq!(verdict["verdict"], "warning");
    assert!(reasons(&verdict).contains(&"clone_suspected".to_string()));

    // `item show` is `verify`.
    let shown = chain.ok(
        &bob,
        &[
            "item",
            "show",
            url,
            "--lat",
            shanghai[0],
            "--lon",
            shanghai[1],
        ],
    );
    assert_eq!(shown["status"], verdict["status"]);
    assert_eq!(shown["ownership"], verdict["ownership"]);
}
