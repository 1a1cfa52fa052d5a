//! The consumer page's ownership actions in a real browser against the real binary: a sale
//! with a claim ticket, the claim link opened in Chromium, a transfer to a second browser (its
//! own key), lost/stolen and back, a stale ticket refused by the ledger. The browser is driven
//! by `web/e2e/ownership.mjs` (playwright-core with Debian's Chromium); screenshots go to
//! `$JITRACE_SCREENSHOTS` when set (the README's are made so), else to a temporary directory.

mod common;

use base64::Engine as _;
use common::{Node, demo_code, free_addr, run_browser_script, start, wait_demo};
use jitrace_client::{Client, dto::TxState};
use jitrace_types::{
    Gtin, OrgId, SecretKey,
    tx::{
        Buyer, CodeAction, CodeEvent, CodeId, GeoPoint, Payload, Place, SignedCode, TicketSecret,
    },
};
use std::{path::PathBuf, time::Duration};

/// The distributor sells the demo's unsold code with a claim ticket; returns the code's path.
async fn sell_with_claim_ticket(
    node: &Node,
    data_dir: &std::path::Path,
    ticket: &TicketSecret,
) -> String {
    let path = demo_code(data_dir, "unsold");
    // `/01/{gtin}/21/{serial}?8030={signature}`
    let (link, signature) = path.split_once("?8030=").unwrap();
    let parts: Vec<&str> = link.split('/').collect();
    let code = CodeId {
        gtin: Gtin::parse(parts[2]).unwrap(),
        serial: parts[4].parse().unwrap(),
    };
    let distributor = SecretKey::from_hex(
        std::fs::read_to_string(data_dir.join("keys/distributor.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let client = Client::new(&node.url);
    let sale = Payload::RecordCodeEvent(CodeEvent {
        code: SignedCode {
            code,
            signature: signature.to_string(),
        },
        org: OrgId::new("east-china-distribution").unwrap(),
        action: CodeAction::Sell {
            buyer: Buyer::ClaimTicket(ticket.public_key().unwrap()),
        },
        place: Place {
            point: Some(GeoPoint {
                lat_micro: 31_230_400,
                lon_micro: 121_473_700,
            }),
            region: Some("CN-SH".into()),
            city: Some("Shanghai".into()),
        },
    });
    let submitted = client.sign_and_submit(&distributor, sale).await.unwrap();
    let hash = submitted.hash.parse().unwrap();
    let receipt = client
        .wait_for_tx(&hash, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxState::Ok, "the sale: {receipt:?}");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_claim_and_transfer_in_chromium() {
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
    let result = run_browser_script(
        "e2e/ownership.mjs",
        vec![
            ("CLAIM_URL", claim_url),
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
