//! End-to-end tests of the real `jitrace` binary: a dev node as its own process, killed with
//! SIGKILL and restarted, checked with `verify-chain`, and fed malformed input.

mod common;

use common::{BIN, cli, demo_code, eventually, free_addr, start, wait_demo};
use jitrace_client::Client;
use jitrace_types::Hash;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

async fn wait_serving(client: &Client) {
    eventually("the node to serve", Duration::from_secs(60), || async {
        client.status().await.map(|s| s.height > 0).unwrap_or(false)
    })
    .await;
}

/// The secret key the dev node wrote to `keys/<name>.key`.
fn key_file(data_dir: &Path, name: &str) -> jitrace_types::SecretKey {
    let path = data_dir.join(format!("keys/{name}.key"));
    jitrace_types::SecretKey::from_hex(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn verify(data_dir: &Path) -> Output {
    Command::new(BIN)
        .arg("verify-chain")
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_survives_sigkill_and_verify_chain_catches_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = tmp.path().join("chain");
    let addr = free_addr();
    let operator_key = data_dir.join("keys/operator.key");

    let mut node = start(&data_dir, &addr);
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;

    // Finalise transactions through the CLI, which signs locally.
    let mut finalised = Vec::new();
    for i in 0..4 {
        let id = format!("e2e-licence-{i}");
        let out = cli(
            &node.url,
            &operator_key,
            &[
                "licence",
                "issue",
                "--id",
                &id,
                "--org",
                "jade-valley",
                "--quota",
                "100",
                "--days",
                "30",
            ],
        );
        assert!(
            out.status.success(),
            "licence issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(receipt["status"], "ok");
        finalised.push((
            receipt["hash"].as_str().unwrap().to_string(),
            receipt["height"].as_u64().unwrap(),
        ));
    }
    // The demo's clone alert, raised by the indexer from finalised blocks.
    let brand_key = key_file(&data_dir, "brand-admin");
    eventually("the clone alert", Duration::from_secs(30), || async {
        client
            .alerts(&brand_key, "jade-valley", 0)
            .await
            .is_ok_and(|l| l.alerts.iter().any(|a| a.kind == "clone_suspected"))
    })
    .await;
    let alerts_before = client
        .alerts(&brand_key, "jade-valley", 0)
        .await
        .unwrap()
        .alerts;
    let before = client.status().await.unwrap();
    let tip_block = client.block(before.height).await.unwrap();

    // SIGKILL, then restart on the same data directory.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    drop(node);
    let node = start(&data_dir, &addr);
    let client = Client::new(&node.url);
    wait_serving(&client).await;
    eventually(
        "the chain to pass its old tip",
        Duration::from_secs(60),
        || async {
            client
                .status()
                .await
                .map(|s| s.height >= before.height)
                .unwrap_or(false)
        },
    )
    .await;
    for (hash, height) in &finalised {
        let status = client.tx(&Hash::from_hex(hash).unwrap()).await.unwrap();
        assert_eq!(status.status, "ok", "tx {hash} survived");
        assert_eq!(status.height, Some(*height), "tx {hash} kept its height");
    }
    let same = client.block(before.height).await.unwrap();
    assert_eq!(same.hash, tip_block.hash, "the finalised tip is unchanged");
    assert_eq!(
        same.state_root, before.state_root,
        "the state root at the old tip is unchanged"
    );
    assert_eq!(client.licence("e2e-licence-3").await.unwrap().quota, 100);
    // Alerts survive the restart with their numbers, and re-reading the blocks repeats none.
    let alerts_after = client
        .alerts(&brand_key, "jade-valley", 0)
        .await
        .unwrap()
        .alerts;
    assert_eq!(
        alerts_after[..alerts_before.len()],
        alerts_before[..],
        "the alerts before the restart, unchanged"
    );
    let mut raised: Vec<_> = alerts_after
        .iter()
        .map(|a| (&a.kind, a.serial, a.height))
        .filter(|(_, _, height)| *height > 0)
        .collect();
    let all = raised.len();
    raised.sort();
    raised.dedup();
    assert_eq!(raised.len(), all, "no chain alert twice: {alerts_after:?}");

    // The chain goes on after the restart.
    let out = cli(
        &node.url,
        &operator_key,
        &[
            "licence",
            "issue",
            "--id",
            "e2e-after-restart",
            "--org",
            "jade-valley",
            "--quota",
            "7",
            "--days",
            "1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(node);

    // verify-chain passes on the stopped node ...
    let out = verify(&data_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify-chain failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("chain verified"), "{stdout}");

    // ... and reports corruption after a byte of a stored block is flipped.
    let file = data_dir.join("blocks.redb");
    let mut bytes = std::fs::read(&file).unwrap();
    let marker = b"e2e-licence-2";
    let mut flipped = 0;
    for i in 0..bytes.len().saturating_sub(marker.len()) {
        if &bytes[i..i + marker.len()] == marker {
            bytes[i] ^= 0x01;
            flipped += 1;
        }
    }
    assert!(flipped > 0, "the marker is stored in the block file");
    std::fs::write(&file, &bytes).unwrap();
    let out = verify(&data_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "verify-chain must fail on a corrupt block"
    );
    assert!(
        stderr.contains("FAILED at height"),
        "names the failing height: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_rejected_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let addr = free_addr();
    let node = start(&data_dir, &addr);
    let client = Client::new(&node.url);
    wait_demo(&client, &data_dir).await;

    // The printed demo URLs give every verdict: a consumer's scan through the real node.
    let http = reqwest::Client::new();
    for (kind, verdict, reason) in [
        ("sold", "genuine", Some("already_sold")),
        ("unsold", "genuine", None),
        ("cloned", "warning", Some("clone_suspected")),
        ("forged", "counterfeit", Some("signature_invalid")),
    ] {
        let path = demo_code(&data_dir, kind);
        let answer: serde_json::Value = http
            .get(format!("{}{path}&lat=31.23&lon=121.47", node.url))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["verdict"], verdict, "{kind}: {answer}");
        let reasons: Vec<&str> = answer["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["code"].as_str())
            .collect();
        if let Some(reason) = reason {
            assert!(reasons.contains(&reason), "{kind}: {reasons:?}");
        }
        let page = http
            .get(format!("{}{path}", node.url))
            .send()
            .await
            .unwrap();
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }

    // The brand sees the clone alert, raised from the finalised scans; others may not look.
    let brand_key = key_file(&data_dir, "brand-admin");
    eventually("the clone alert", Duration::from_secs(30), || async {
        let alerts = client
            .alerts(&brand_key, "jade-valley", 0)
            .await
            .map(|l| l.alerts)
            .unwrap_or_default();
        alerts
            .iter()
            .any(|a| a.kind == "clone_suspected" && a.serial == 3)
    })
    .await;
    // Live: the stream starts with the backlog as `alert` events.
    let path = "/v1/alerts/stream?brand=jade-valley";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let auth = jitrace_types::keys::authorization_header(&brand_key, "GET", path, now, b"");
    let mut stream = http
        .get(format!("{}{path}", node.url))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.contains("event: alert") && first.contains("clone_suspected"),
        "{first}"
    );
    drop(stream);
    let retailer_key = key_file(&data_dir, "retailer");
    let refused = client
        .alerts(&retailer_key, "jade-valley", 0)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("forbidden"), "{refused}");
    let unsigned = http
        .get(format!("{}/v1/alerts?brand=jade-valley", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), reqwest::StatusCode::UNAUTHORIZED);

    let before = client.status().await.unwrap();
    let orgs_before = client.orgs().await.unwrap().orgs.len();

    let url = |path: &str| format!("{}{path}", node.url);
    let json = |body: &'static str| {
        http.post(url("/v1/tx"))
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("not json", json("{not json")),
        ("wrong type", json(r#"{"tx": 42}"#)),
        ("missing field", json(r#"{}"#)),
        ("bad hex", json(r#"{"tx": "zz"}"#)),
        ("garbage tx", json(r#"{"tx": "deadbeef"}"#)),
        ("empty tx", json(r#"{"tx": ""}"#)),
        (
            "raw garbage",
            http.post(url("/v1/tx"))
                .header("content-type", "application/octet-stream")
                .body(vec![0xff; 100]),
        ),
        (
            "oversized body",
            http.post(url("/v1/tx"))
                .header("content-type", "application/json")
                .body(vec![b'a'; 300 * 1024]),
        ),
        ("bad tx hash", http.get(url("/v1/tx/xyz"))),
        ("bad height", http.get(url("/v1/blocks/minus-one"))),
        ("bad gtin", http.get(url("/v1/products/12345678901234"))),
        ("bad key", http.get(url("/v1/accounts/nothex"))),
        (
            "traversal",
            http.get(url("/v1/media/..%2F..%2Fetc%2Fpasswd")),
        ),
    ];
    for (name, request) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = response.status();
        assert!(
            status.is_client_error(),
            "{name}: expected 4xx, got {status}"
        );
        let body: serde_json::Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: JSON error body: {e}"));
        assert!(
            body["error"]["code"].is_string(),
            "{name}: typed error {body}"
        );
        assert!(
            body["error"]["message"].is_string(),
            "{name}: message {body}"
        );
    }

    // A 10 MiB body: the node answers 413 as soon as the limit is passed and may close the
    // connection while the client is still sending; either way nothing is accepted.
    let huge = http
        .post(url("/v1/tx"))
        .header("content-type", "application/json")
        .body(vec![b'a'; 10 * 1024 * 1024])
        .send()
        .await;
    if let Ok(response) = huge {
        assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    }

    // Nothing changed and the node still serves and finalises.
    let after = client.status().await.unwrap();
    assert_eq!(after.tx_count, before.tx_count);
    assert_eq!(after.mempool_size, 0);
    assert_eq!(client.orgs().await.unwrap().orgs.len(), orgs_before);
    eventually("a new block", Duration::from_secs(30), || async {
        client
            .status()
            .await
            .map(|s| s.height > after.height)
            .unwrap_or(false)
    })
    .await;
}
