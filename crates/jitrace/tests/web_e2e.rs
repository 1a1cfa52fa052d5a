//! The consumer page's ownership actions in a real browser against the real binary: a sale
//! with a claim ticket, the claim link opened in Chromium, a transfer to a second browser (its
//! own key), lost/stolen and back, a stale ticket refused by the ledger. The browser is driven
//! by `web/e2e/ownership.mjs` (playwright-core with Debian's Chromium); screenshots go to
//! `$JITRACE_SCREENSHOTS` when set (the README's are made so), else to a temporary directory.

mod common;

use base64::Engine as _;
use common::{browser, chromium, free_addr, sell_with_claim_ticket, start, wait_demo};
use jitrace_client::Client;
use jitrace_types::{SecretKey, tx::TicketSecret};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_claim_and_transfer_in_chromium() {
    let chromium = chromium();

    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let node = start(&data_dir, &free_addr());
    wait_demo(&Client::new(&node.url), &data_dir).await;

    let mut seed = [0u8; 32];
    seed.copy_from_slice(&hex::decode(SecretKey::generate().to_hex()).unwrap());
    let ticket = TicketSecret(seed);
    let path = sell_with_claim_ticket(&node, &data_dir, &ticket).await;
    let claim_url = format!(
        "{}{path}#claim={}",
        node.url,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ticket.0)
    );

    let screenshots = std::env::var_os("JITRACE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("screenshots"));
    let result = browser(
        "e2e/ownership.mjs",
        vec![
            ("CLAIM_URL", claim_url),
            ("CHROMIUM", chromium),
            ("SCREENSHOTS", screenshots.display().to_string()),
        ],
    )
    .await;

    // The ledger agrees with what the second browser showed: its key owns the item.
    let verdict = Client::new(&node.url)
        .verdict(&format!("{}{path}", node.url), None)
        .await
        .unwrap();
    let second_key = result["second_key"].as_str().unwrap();
    assert_eq!(verdict.ownership.owner.as_deref(), Some(second_key));
    assert_ne!(result["first_key"], result["second_key"]);
    assert_eq!(verdict.ownership.pending_ticket, None);
    drop(node);
}
