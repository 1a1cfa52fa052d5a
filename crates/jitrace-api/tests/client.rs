//! `jitrace_client::Client` against the real router served on loopback: the client and the
//! server agree on every DTO and error.

mod common;

use common::*;
use jitrace_client::{
    Client, ClientError,
    dto::{HistoryView, TxState},
};
use jitrace_types::{Gtin, Payload, SecretKey};
use std::time::Duration;

/// Serves the fixture's router on an ephemeral loopback port.
async fn serve(f: &Fixture) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = f.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Client::new(format!("http://{address}/"))
}

fn add_member(seed: u64) -> Payload {
    Payload::AddMember {
        org: org_id("platform"),
        key: SecretKey::from_seed(seed).public_key(),
    }
}

#[tokio::test]
async fn reads_every_resource() {
    let f = Fixture::new();
    let client = serve(&f).await;

    let status = client.status().await.unwrap();
    assert_eq!((status.chain_id.as_str(), status.height), (CHAIN_ID, 1));
    let block = client.block(1).await.unwrap();
    assert_eq!(block.hash, status.block_hash);
    assert_eq!(client.latest_block().await.unwrap(), block);
    assert_eq!(client.orgs().await.unwrap().orgs.len(), 2);
    assert_eq!(client.org("acme").await.unwrap().name, "Acme Wines");
    assert_eq!(client.licence("acme-2026").await.unwrap().remaining, 900);
    let gtin = Gtin::parse(GTIN12).unwrap();
    assert_eq!(client.product(&gtin).await.unwrap().gtin, GTIN14);
    let batches = client.batches(&gtin).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(client.batch(&gtin, "L1").await.unwrap(), batches[0]);
    let executed = client.tx(&f.executed[0].hash()).await.unwrap();
    assert_eq!(executed.status, TxState::Ok);

    let operator_account = client.account(&operator().public_key()).await.unwrap();
    assert_eq!(operator_account.map(|a| a.nonce), Some(2));
    let stranger = SecretKey::from_seed(77).public_key();
    assert_eq!(client.account(&stranger).await.unwrap(), None);
}

#[tokio::test]
async fn api_errors_carry_status_and_code() {
    let f = Fixture::new();
    let client = serve(&f).await;
    let err = client.org("nobody").await.unwrap_err();
    assert!(err.is_not_found());
    assert!(matches!(&err, ClientError::Api { status: 404, code, .. } if code == "not_found"));
    let err = client.org("Not An Id").await.unwrap_err();
    assert!(matches!(&err, ClientError::Api { status: 400, code, .. } if code == "bad_request"));
    // The lot is percent-encoded into one path segment.
    let gtin = Gtin::parse(GTIN14).unwrap();
    assert!(client.batch(&gtin, "A/B").await.unwrap_err().is_not_found());

    let err = client.submit(&f.executed[0]).await.unwrap_err();
    assert!(matches!(&err, ClientError::Api { status: 409, code, .. } if code == "duplicate"));
    assert!(err.to_string().contains("duplicate"), "{err}");
}

#[tokio::test]
async fn sign_submit_and_wait() {
    let f = Fixture::new();
    let client = serve(&f).await;
    let operator = operator();

    // The operator's last nonce is 2: the client signs with 3.
    let submitted = client
        .sign_and_submit(&operator, add_member(60))
        .await
        .unwrap();
    let hash = jitrace_types::Hash::from_hex(&submitted.hash).unwrap();
    assert_eq!(client.tx(&hash).await.unwrap().status, TxState::Pending);
    let waited = client.wait_for_tx(&hash, Duration::from_millis(250)).await;
    assert_eq!(waited, Err(ClientError::Timeout));

    f.finalise_next_block(BLOCK_TIME_MS + 5_000);
    let receipt = client
        .wait_for_tx(&hash, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxState::Ok, "{receipt:?}");
    assert_eq!(receipt.height, Some(2));
    let account = client.account(&operator.public_key()).await.unwrap();
    assert_eq!(account.map(|a| a.nonce), Some(3));

    // The next one picks nonce 4.
    let next = client
        .sign_and_submit(&operator, add_member(61))
        .await
        .unwrap();
    assert_ne!(next.hash, submitted.hash);
    f.finalise_next_block(BLOCK_TIME_MS + 10_000);
    let hash = jitrace_types::Hash::from_hex(&next.hash).unwrap();
    let receipt = client
        .wait_for_tx(&hash, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(receipt.status, TxState::Ok, "{receipt:?}");
}

#[tokio::test]
async fn an_unreachable_node_says_so() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::new(format!("http://{address}"))
        .status()
        .await
        .unwrap_err();
    let ClientError::Connect(text) = &err else {
        panic!("expected a connect error, got {err:?}");
    };
    assert!(text.contains(&address.to_string()), "{text}");
    assert!(
        err.to_string().contains("is `jitrace dev` running?"),
        "{err}"
    );
}

#[tokio::test]
async fn reads_histories_and_analytics() {
    let f = world::world_with(Options {
        indexer: true,
        ..Options::default()
    });
    let tip = f.tip.borrow().map_or(0, |t| t.height);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while f.index.indexed_height().unwrap() < tip {
        assert!(
            std::time::Instant::now() < deadline,
            "the indexer did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let client = serve(&f).await;
    let gtin = gtin();
    let sold = world::SOLD;
    let public = client
        .code_history(None, &gtin, sold, Some(&world::sig(sold)), 0)
        .await
        .unwrap();
    assert_eq!(public.view, HistoryView::Public);
    assert_eq!(public.events.len(), 4);
    let private = client
        .code_history(Some(&brand()), &gtin, sold, None, 2)
        .await
        .unwrap();
    assert_eq!(private.view, HistoryView::Private);
    assert_eq!(private.events[0].index, 2);
    assert!(private.events[0].signer.is_some());

    let day = ("2025-06-15", "2025-06-15");
    let volumes = client
        .channel_volumes(&world::shop(), "acme", day, None)
        .await
        .unwrap();
    assert_eq!(volumes.rows.len(), 2);
    assert!(volumes.rows.iter().all(|r| r.channel == "hz-cellar"));
    let scans = client
        .scan_analytics(&brand(), "acme", day, None)
        .await
        .unwrap();
    assert!(scans.rows.is_empty());
    let refused = client
        .scan_analytics(&world::shop(), "acme", day, None)
        .await
        .unwrap_err();
    assert!(matches!(&refused, ClientError::Api { status: 403, code, .. } if code == "forbidden"));
}
