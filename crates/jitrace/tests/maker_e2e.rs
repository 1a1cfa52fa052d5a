//! The manufacturer's and supplier's console screens in a real browser against the real binary
//! (`jitrace dev` with its B2B demo): the manufacturer authorises a supplier with a
//! specification, the receiving gate accepts a genuine part and rejects a forged code, a part
//! out of specification and an unauthorised supplier's part with their reasons, the part is
//! assembled into a car, traced back and forward, its lot recalled and the recall closed; the
//! gate on a phone in Chinese; the supplier registers a part type, issues a batch of its codes
//! and records a lot. The browser is driven by `web/e2e/maker.mjs`; screenshots go to
//! `$JITRACE_SCREENSHOTS` when set (README's `docs/screenshots/maker-*`). The ledger is then
//! checked through the CLI's signed B2B requests.

mod common;

use common::{cli, free_addr, run_browser_script, start, wait_demo};
use jitrace_client::Client;
use serde_json::Value;
use std::{collections::BTreeMap, path::PathBuf};

/// The password `jitrace dev` generated for console user `name`.
fn password(data_dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(data_dir.join("console-admin.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no console user {name}"))
        .to_string()
}

fn json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .next()
        .expect("JSON output")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_console_manufacturer_and_supplier_screens_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;
    common::eventually(
        "the console users",
        std::time::Duration::from_secs(30),
        || async {
            std::fs::read_to_string(data_dir.join("console-admin.txt"))
                .is_ok_and(|t| t.contains("supplier-admin "))
        },
    )
    .await;
    let codes: BTreeMap<String, String> = std::fs::read_to_string(data_dir.join("demo-b2b.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect();
    for name in ["bolt", "nut", "nut2", "forged-nut", "rogue-bolt", "car"] {
        assert!(codes.contains_key(name), "demo-b2b.txt lacks {name}");
    }

    let screenshots = std::env::var_os("JITRACE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("screenshots"));
    let result = run_browser_script(
        "e2e/maker.mjs",
        vec![
            ("NODE_URL", node.url.clone()),
            ("MAKER_PASSWORD", password(&data_dir, "maker-admin")),
            ("SUPPLIER_PASSWORD", password(&data_dir, "supplier-admin")),
            ("CODES", serde_json::to_string(&codes).unwrap()),
            ("SCREENSHOTS", screenshots.display().to_string()),
        ],
    )
    .await;
    assert_eq!(result["gate"]["genuine"], "accepted", "{result}");
    assert!(result["recall"]["affected"].as_u64().unwrap() >= 1);

    // The ledger agrees with what the console showed, read with the maker's key.
    let maker_key = data_dir.join("keys/maker-admin.key");
    let log = json(cli(
        &node.url,
        &maker_key,
        &["gate", "log", "--org", "nova-motors"],
    ));
    let verdicts: Vec<(bool, Vec<String>)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let v = &e["verdict"];
            (
                v["accepted"].as_bool().unwrap(),
                v["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let r = |s: &str| vec![s.to_string()];
    assert_eq!(
        verdicts[..4],
        [
            (true, vec![]),
            (false, r("code_forged")),
            (false, r("spec_mismatch")),
            (false, r("supplier_not_authorised")),
        ],
        "{log:#}"
    );
    let car = codes["car"].split("/01/").nth(1).unwrap()[..14].to_string();
    let nut = codes["nut"].split("/01/").nth(1).unwrap()[..14].to_string();
    let back = json(cli(&node.url, &maker_key, &["trace", "back", &car, "1"]));
    let part = &back["item"]["parts"][0];
    assert_eq!(
        (
            part["gtin"].as_str(),
            part["serial"].as_u64(),
            part["recalled"].as_bool()
        ),
        (Some(nut.as_str()), Some(1), Some(false)),
        "{back:#}"
    );
    let recall = json(cli(
        &node.url,
        &maker_key,
        &["recall", "show", "--org", "nova-motors", "0"],
    ));
    assert_eq!(
        (recall["scope"].as_str(), recall["closed"].as_bool()),
        (Some(format!("lot:{nut}:N-2026-01").as_str()), Some(true)),
        "{recall:#}"
    );
    // The supplier's new part and its batch, issued under its licence.
    let washer = jitrace_types::Gtin::parse(result["washer"].as_str().unwrap()).unwrap();
    let batches = client.batches(&washer).await.unwrap();
    assert_eq!(
        batches
            .iter()
            .map(|b| (b.lot.as_str(), b.count, b.org.as_str()))
            .collect::<Vec<_>>(),
        [("W-2026-01", 250, "apex-fasteners")]
    );
    drop(node);
}
