//! The brand's console and the channels' phone screen in a real browser against the real
//! binary (`jitrace dev` with the demo): the brand registers a product with a photo, issues a
//! batch and downloads its labels, authorises and revokes a channel, and sees a counterfeit-scan
//! alert appear live; the distributor receives and ships items, part of it offline, and the
//! retailer receives and sells. Driven by `web/e2e/brand.mjs`; screenshots go to `$JITRACE_SCREENSHOTS` when set
//! (README's `docs/screenshots/brand-*` and `channel-*`). The ledger is then checked through
//! the API: every queued event recorded exactly once.

mod common;

use common::{
    console_password as password, demo_code, free_addr, label_video, run_browser_script,
    screenshots_dir, start, wait_demo,
};
use jitrace_client::Client;
use jitrace_types::{
    Gtin, Hash, OrgId, SecretKey,
    code::sign_code,
    tx::{CodeAction, CodeEvent, CodeId, GeoPoint, Payload, Place, SignedCode},
};
use std::time::Duration;

/// The demo's first product, whose channels the demo authorised.
const CABERNET: &str = "09506000134352";

fn key(data_dir: &std::path::Path, name: &str) -> SecretKey {
    SecretKey::from_hex(
        std::fs::read_to_string(data_dir.join(format!("keys/{name}.key")))
            .unwrap()
            .trim(),
    )
    .unwrap()
}

async fn submit(client: &Client, key: &SecretKey, payload: Payload) {
    let submitted = client.sign_and_submit(key, payload).await.unwrap();
    let status = client
        .wait_for_tx(
            &Hash::from_hex(&submitted.hash).unwrap(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(status.status, "ok", "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_brand_console_and_channel_phone_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;
    common::eventually("the console users", Duration::from_secs(30), || async {
        data_dir.join("console-admin.txt").exists()
    })
    .await;

    // Two fresh items the brand commissions and ships to the distributor, for it to receive.
    let chain_id = client.status().await.unwrap().chain_id;
    let gtin = Gtin::parse(CABERNET).unwrap();
    let (brand_admin, code_key) = (key(&data_dir, "brand-admin"), key(&data_dir, "brand-code"));
    let yinchuan = Place {
        point: Some(GeoPoint {
            lat_micro: 38_487_200,
            lon_micro: 106_230_900,
        }),
        region: Some("CN-NX".into()),
        city: Some("Yinchuan".into()),
    };
    let mut fresh = Vec::new();
    for serial in [20u64, 21] {
        let signature = sign_code(&code_key, &chain_id, &gtin, &serial.to_string());
        for action in [
            CodeAction::Commission,
            CodeAction::Ship {
                to: OrgId::new("east-china-distribution").unwrap(),
            },
        ] {
            let event = CodeEvent {
                code: SignedCode {
                    code: CodeId { gtin, serial },
                    signature: signature.clone(),
                },
                org: OrgId::new("jade-valley").unwrap(),
                action,
                place: yinchuan.clone(),
            };
            submit(&client, &brand_admin, Payload::RecordCodeEvent(event)).await;
        }
        fresh.push(format!("/01/{gtin}/21/{serial}?8030={signature}"));
    }

    let screenshots = screenshots_dir(tmp.path());
    let unsold = demo_code(&data_dir, "unsold");
    let result = run_browser_script(
        "e2e/brand.mjs",
        vec![
            ("NODE_URL", node.url.clone()),
            ("BRAND_PASSWORD", password(&data_dir, "jade-valley-admin")),
            ("DIST_PASSWORD", password(&data_dir, "distributor-admin")),
            ("SHOP_PASSWORD", password(&data_dir, "retailer-admin")),
            ("UNSOLD", unsold.clone()),
            ("FRESH1", fresh[0].clone()),
            ("FRESH2", fresh[1].clone()),
            // FRESH1's label, which the retailer's phone reads through Chromium's fake camera.
            (
                "Y4M",
                label_video(&format!("{}{}", node.url, fresh[0]), tmp.path())
                    .display()
                    .to_string(),
            ),
            ("FORGED", demo_code(&data_dir, "forged")),
            ("SCREENSHOTS", screenshots.display().to_string()),
        ],
    )
    .await;

    // The brand's product, with its photo, and its batch are on the ledger.
    let product = client
        .product(&Gtin::parse(result["gtin"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(product.org, "jade-valley");
    assert_eq!(product.media.len(), 1, "{product:?}");
    assert_eq!(product.media[0].mime, "image/png");
    let batches = client
        .batches(&Gtin::parse(&product.gtin).unwrap())
        .await
        .unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].count, 5000);
    // The downloaded labels carry genuine codes of that batch.
    let label = result["label"].as_str().unwrap();
    assert!(
        label.starts_with(&format!("{}/01/{}/21/1?8030=", node.url, product.gtin)),
        "{label}"
    );
    let verdict = client.verdict(label, None).await.unwrap();
    assert_ne!(
        verdict.verdict,
        jitrace_client::dto::VerdictKind::Counterfeit,
        "{verdict:?}"
    );

    // Every event the phones queued was recorded once: the demo's three events of the unsold
    // item, then ship (distributor), receive and sell (retailer) — no repeat.
    let recorded: Vec<&str> = result["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut unique = recorded.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), recorded.len(), "an event was recorded twice");
    for id in &recorded {
        let status = client.tx(&Hash::from_hex(id).unwrap()).await.unwrap();
        assert_eq!(status.status, "ok", "{status:?}");
        assert_eq!(status.kind.as_deref(), Some("record_code_event"));
    }
    let signature = unsold.split("8030=").nth(1).unwrap();
    let history = client
        .code_history(None, &gtin, 2, Some(signature), 0)
        .await
        .unwrap();
    let steps: Vec<Option<&str>> = history
        .events
        .iter()
        .map(|e| e.biz_step.as_deref())
        .collect();
    assert_eq!(
        steps,
        [
            Some("commissioning"),
            Some("shipping"),
            Some("receiving"),
            Some("shipping"),
            Some("receiving"),
            Some("retail_selling")
        ],
        "{history:?}"
    );
    drop(node);
}
