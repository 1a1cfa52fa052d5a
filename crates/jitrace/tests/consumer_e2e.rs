//! The consumer app in a real browser against the real binary: the demo's genuine (unsold),
//! sold, cloned and forged codes with their verdicts and reasons in both languages at 390 and
//! 1440 px, the map, the distance after opting in to geolocation, a label read through
//! Chromium's fake camera, the installable app (manifest, icons, service worker that never
//! caches a verdict), and the owner's key backed up in one browser and restored in others.
//! The browser is driven by `web/e2e/consumer.mjs`; screenshots go to `$JITRACE_SCREENSHOTS`
//! when set (the README's are made so), else to a temporary directory.

mod common;

use base64::Engine as _;
use common::{
    browser, chromium, demo_code, free_addr, label_video, sell_with_claim_ticket, start, wait_demo,
};
use jitrace_client::Client;
use jitrace_types::{SecretKey, tx::TicketSecret};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consumer_app_in_chromium() {
    let chromium = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    wait_demo(&Client::new(&node.url), &data_dir).await;

    let screenshots = std::env::var_os("JITRACE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("screenshots"));
    let code = |kind| demo_code(&data_dir, kind);
    let scanned = code("sold");
    let y4m = label_video(&format!("{}{scanned}", node.url), tmp.path());
    let common = vec![
        ("BASE", node.url.clone()),
        ("CHROMIUM", chromium),
        ("SCREENSHOTS", screenshots.display().to_string()),
    ];

    let mut envs = common.clone();
    envs.extend([
        ("PHASE", "verdicts".to_string()),
        ("SOLD", code("sold")),
        ("UNSOLD", code("unsold")),
        ("CLONED", code("cloned")),
        ("FORGED", code("forged")),
        ("SCANNED", scanned.clone()),
        ("Y4M", y4m.display().to_string()),
    ]);
    let result = browser("e2e/consumer.mjs", envs).await;
    assert!(result["distance_km"].as_u64().is_some(), "{result}");

    // The unsold item is sold with a claim ticket: its buyer claims it in one browser, backs the
    // key up, and two other browsers restore it.
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&hex::decode(SecretKey::generate().to_hex()).unwrap());
    let ticket = TicketSecret(seed);
    let path = sell_with_claim_ticket(&node, &data_dir, &ticket).await;
    let mut envs = common;
    envs.extend([
        ("PHASE", "backup".to_string()),
        (
            "CLAIM_URL",
            format!(
                "{}{path}#claim={}",
                node.url,
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ticket.0)
            ),
        ),
    ]);
    let result = browser("e2e/consumer.mjs", envs).await;
    let verdict = Client::new(&node.url)
        .verdict(&format!("{}{path}", node.url), None)
        .await
        .unwrap();
    assert_eq!(
        verdict.ownership.owner.as_deref(),
        result["key"].as_str(),
        "the restored browsers' key owns the item"
    );
    drop(node);
}
