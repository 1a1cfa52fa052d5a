//! The HTTP API end to end through `router(..).oneshot(..)`: admission, every read endpoint,
//! media, documents and error shapes.

mod common;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use common::*;
use jitrace_types::{Hash, Payload, SecretKey, Signature, SignedTransaction};
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a JSON error with `status` and `code`; returns its message.
    fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let json = self.json();
        assert_eq!(json["error"]["code"], code, "body: {json}");
        json["error"]["message"].as_str().unwrap().to_string()
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(router: &Router, uri: &str) -> Answer {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// Asserts a 200 JSON answer and returns it.
async fn get_ok(router: &Router, uri: &str) -> Value {
    let answer = get(router, uri).await;
    assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    answer.json()
}

async fn post(router: &Router, content_type: &str, body: impl Into<Body>) -> Answer {
    let request = Request::post("/v1/tx")
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap();
    send(router, request).await
}

async fn submit(router: &Router, tx: &SignedTransaction) -> Answer {
    let body = json!({ "tx": hex::encode(tx.encode()) }).to_string();
    post(router, "application/json", body).await
}

// ---- status ----

#[tokio::test]
async fn status_reports_the_tip_and_the_mempool() {
    let f = Fixture::new();
    let status = get_ok(&f.router, "/v1/status").await;
    let tip = f.store.tip().unwrap().unwrap();
    assert_eq!(status["chain_id"], CHAIN_ID);
    assert_eq!(status["height"], 1);
    assert_eq!(status["block_hash"], tip.block_hash.to_hex());
    assert_eq!(status["state_root"], tip.state_root.to_hex());
    assert_eq!(status["time_ms"], BLOCK_TIME_MS);
    assert_eq!(
        status["validators"],
        json!([validator().public_key().to_hex()])
    );
    assert_eq!(status["tx_count"], 6);
    assert_eq!(status["mempool_size"], 0);

    assert_eq!(
        submit(&f.router, &register_retailer("shop", 3))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(get_ok(&f.router, "/v1/status").await["mempool_size"], 1);
}

#[tokio::test]
async fn status_before_the_first_block_is_zero() {
    let f = Fixture::with(Options {
        with_block: false,
        ..Options::default()
    });
    let status = get_ok(&f.router, "/v1/status").await;
    let zero = Hash::ZERO.to_hex();
    assert_eq!(status["height"], 0);
    assert_eq!(status["block_hash"], zero);
    assert_eq!(status["state_root"], zero);
    assert_eq!(status["tx_count"], 0);
    get(&f.router, "/v1/blocks/latest")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

// ---- submission ----

#[tokio::test]
async fn submit_admits_then_reports_pending() {
    let f = Fixture::new();
    let tx = register_retailer("shop", 3);
    let answer = submit(&f.router, &tx).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert_eq!(answer.json(), json!({ "hash": tx.hash().to_hex() }));
    assert!(f.mempool.contains(&tx.hash()));

    let status = get_ok(&f.router, &format!("/v1/tx/{}", tx.hash())).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["hash"], tx.hash().to_hex());
    assert_eq!(status["height"], Value::Null);

    // Once a block executes it, the receipt answers.
    f.finalise_next_block(BLOCK_TIME_MS + 5_000);
    let status = get_ok(&f.router, &format!("/v1/tx/{}", tx.hash())).await;
    assert_eq!(status["status"], "ok");
    assert_eq!(status["height"], 2);
    assert!(f.mempool.is_empty());
}

#[tokio::test]
async fn submit_accepts_raw_bytes() {
    let f = Fixture::new();
    let tx = register_retailer("shop", 3);
    let answer = post(&f.router, "application/octet-stream", tx.encode()).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert_eq!(answer.json()["hash"], tx.hash().to_hex());
}

#[tokio::test]
async fn submit_leaves_ledger_rules_to_the_ledger() {
    // An unknown signer acting without any role: admitted; the receipt will say why not.
    let f = Fixture::new();
    let stranger = SecretKey::from_seed(77);
    let tx = signed(
        &stranger,
        1,
        Payload::AddMember {
            org: org_id("acme"),
            key: stranger.public_key(),
        },
    );
    assert_eq!(submit(&f.router, &tx).await.status, StatusCode::ACCEPTED);
    f.finalise_next_block(BLOCK_TIME_MS + 5_000);
    let status = get_ok(&f.router, &format!("/v1/tx/{}", tx.hash())).await;
    assert_eq!(status["status"], "rejected");
    assert_eq!(status["reason"], "unknown_signer");
}

/// Submits `body` and asserts the rejection and that the mempool did not change.
async fn assert_refused(
    f: &Fixture,
    content_type: &str,
    body: impl Into<Body>,
    status: StatusCode,
    code: &str,
) -> String {
    let before = f.mempool.len();
    let message = post(&f.router, content_type, body)
        .await
        .error(status, code);
    assert_eq!(
        f.mempool.len(),
        before,
        "a refused submission changed the mempool"
    );
    message
}

fn json_tx(tx: &SignedTransaction) -> String {
    json!({ "tx": hex::encode(tx.encode()) }).to_string()
}

const JSON: &str = "application/json";

#[tokio::test]
async fn submit_refuses_duplicates() {
    let f = Fixture::new();
    let tx = register_retailer("shop", 3);
    assert_eq!(submit(&f.router, &tx).await.status, StatusCode::ACCEPTED);
    let message = assert_refused(&f, JSON, json_tx(&tx), StatusCode::CONFLICT, "duplicate").await;
    assert!(message.contains("mempool"), "{message}");

    let executed = &f.executed[0];
    let message = assert_refused(
        &f,
        JSON,
        json_tx(executed),
        StatusCode::CONFLICT,
        "duplicate",
    )
    .await;
    assert!(message.contains("executed"), "{message}");
}

#[tokio::test]
async fn submit_refuses_replayed_nonces() {
    let f = Fixture::new();
    // The operator's last nonce is 2: a new transaction with nonce 2 or 1 replays it.
    for nonce in [1, 2] {
        let message = assert_refused(
            &f,
            JSON,
            json_tx(&register_retailer("shop", nonce)),
            StatusCode::BAD_REQUEST,
            "nonce_replayed",
        )
        .await;
        assert!(message.contains("last accepted nonce 2"), "{message}");
    }
}

#[tokio::test]
async fn submit_refuses_another_chain() {
    let f = Fixture::new();
    let tx = signed_for(
        "other-chain",
        &operator(),
        3,
        Payload::AddMember {
            org: org_id("acme"),
            key: SecretKey::from_seed(9).public_key(),
        },
    );
    let message = assert_refused(
        &f,
        JSON,
        json_tx(&tx),
        StatusCode::BAD_REQUEST,
        "wrong_chain_id",
    )
    .await;
    assert!(
        message.contains("other-chain") && message.contains(CHAIN_ID),
        "{message}"
    );
}

#[tokio::test]
async fn submit_refuses_bad_signatures() {
    let f = Fixture::new();
    // Claims to be the operator, signed by the brand.
    let forged = jitrace_types::Transaction {
        chain_id: CHAIN_ID.into(),
        signer: operator().public_key(),
        nonce: 3,
        payload: Payload::AddMember {
            org: org_id("platform"),
            key: brand().public_key(),
        },
    }
    .sign(&brand());
    assert_refused(
        &f,
        JSON,
        json_tx(&forged),
        StatusCode::BAD_REQUEST,
        "bad_signature",
    )
    .await;

    let mut zeroed = register_retailer("shop", 3);
    zeroed.signature = Signature([0; 64]);
    assert_refused(
        &f,
        JSON,
        json_tx(&zeroed),
        StatusCode::BAD_REQUEST,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn submit_refuses_bad_encodings() {
    let f = Fixture::new();
    let bad = StatusCode::BAD_REQUEST;

    let message = assert_refused(&f, JSON, r#"{"tx":"zz"}"#, bad, "bad_request").await;
    assert!(message.contains("hex"), "{message}");
    assert_refused(&f, JSON, r#"{"tx":"abc"}"#, bad, "bad_request").await;

    let bytes = register_retailer("shop", 3).encode();
    let truncated = json!({ "tx": hex::encode(&bytes[..bytes.len() - 5]) }).to_string();
    let message = assert_refused(&f, JSON, truncated, bad, "malformed").await;
    assert!(message.contains("decode"), "{message}");
    assert_refused(
        &f,
        "application/octet-stream",
        bytes[..10].to_vec(),
        bad,
        "malformed",
    )
    .await;
    assert_refused(&f, JSON, r#"{"tx":""}"#, bad, "malformed").await;

    // A well-formed envelope around a body that is not a transaction.
    let envelope = SignedTransaction {
        body: b"not a transaction".to_vec(),
        signature: Signature([1; 64]),
    };
    assert_refused(&f, JSON, json_tx(&envelope), bad, "malformed").await;

    // A transaction that breaks a syntactic rule (an empty name).
    let invalid = signed(
        &operator(),
        3,
        Payload::RegisterOrg(jitrace_types::tx::RegisterOrg {
            id: org_id("shop"),
            name: "  ".into(),
            roles: vec![jitrace_types::Role::Retailer],
            gs1_company_prefix: None,
            region: None,
            admin: brand().public_key(),
        }),
    );
    let message = assert_refused(&f, JSON, json_tx(&invalid), bad, "malformed").await;
    assert!(message.contains("name"), "{message}");
}

#[tokio::test]
async fn submit_refuses_bodies_that_are_not_the_request() {
    let f = Fixture::new();
    let bad = StatusCode::BAD_REQUEST;
    let message = assert_refused(&f, JSON, r#"{"tx": 5}"#, bad, "bad_request").await;
    assert!(message.contains("invalid type"), "{message}");
    let message = assert_refused(&f, JSON, "hello", bad, "bad_request").await;
    assert!(!message.is_empty());
    let message = assert_refused(&f, JSON, "{}", bad, "bad_request").await;
    assert!(message.contains("missing field `tx`"), "{message}");
    assert_refused(&f, JSON, "", bad, "bad_request").await;
    assert_refused(&f, "text/plain", "tx=00", bad, "bad_request").await;
    // Without a content type, the body is read as JSON.
    let tx = register_retailer("shop", 3);
    let request = Request::post("/v1/tx")
        .body(Body::from(json_tx(&tx)))
        .unwrap();
    assert_eq!(send(&f.router, request).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn submit_refuses_large_bodies() {
    let f = Fixture::new();
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    let huge = vec![b'0'; 10 * 1024 * 1024];
    assert_refused(&f, JSON, huge.clone(), too_large, "payload_too_large").await;
    assert_refused(
        &f,
        "application/octet-stream",
        huge,
        too_large,
        "payload_too_large",
    )
    .await;
    let just_over = format!(r#"{{"tx":"{}"}}"#, "00".repeat(128 * 1024));
    assert_refused(&f, JSON, just_over, too_large, "payload_too_large").await;

    // Under the body limit but over the transaction limit: the transaction is refused.
    let under = format!(r#"{{"tx":"{}"}}"#, "00".repeat(100 * 1024));
    let message = assert_refused(&f, JSON, under, StatusCode::BAD_REQUEST, "malformed").await;
    assert!(message.contains("limit"), "{message}");

    // A streamed body without a length is capped too.
    let stream =
        futures::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![b'0'; 16 * 1024])));
    let request = Request::post("/v1/tx")
        .header(header::CONTENT_TYPE, JSON)
        .body(Body::from_stream(stream))
        .unwrap();
    send(&f.router, request)
        .await
        .error(too_large, "payload_too_large");
}

#[tokio::test]
async fn submit_refuses_when_the_mempool_is_full() {
    let f = Fixture::with(Options {
        max_txs: 1,
        ..Options::default()
    });
    assert_eq!(
        submit(&f.router, &register_retailer("shop", 3))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let before = f.mempool.len();
    let answer = submit(&f.router, &register_retailer("shop-2", 4)).await;
    answer.error(StatusCode::SERVICE_UNAVAILABLE, "mempool_full");
    assert_eq!(answer.header(header::RETRY_AFTER), "1");
    assert_eq!(f.mempool.len(), before);
}

// ---- transactions ----

#[tokio::test]
async fn tx_status_from_receipts() {
    let f = Fixture::new();
    let first = &f.executed[0];
    let status = get_ok(&f.router, &format!("/v1/tx/{}", first.hash())).await;
    assert_eq!(
        status,
        json!({
            "hash": first.hash().to_hex(), "status": "ok", "reason": null, "detail": null,
            "height": 1, "index": 0, "signer": operator().public_key().to_hex(),
            "kind": "register_org",
        })
    );
    let over_quota = &f.executed[5];
    let status = get_ok(&f.router, &format!("/v1/tx/{}", over_quota.hash())).await;
    assert_eq!(status["status"], "rejected");
    assert_eq!(status["reason"], "quota_exceeded");
    assert_eq!(status["index"], 5);
    assert!(status["detail"].as_str().unwrap().contains("left"));

    let unknown = Hash::of(&[b"nothing"]);
    get(&f.router, &format!("/v1/tx/{unknown}"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let message = get(&f.router, "/v1/tx/xyz")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("hash"), "{message}");
}

// ---- blocks ----

#[tokio::test]
async fn blocks_by_height_and_latest() {
    let f = Fixture::new();
    let block = get_ok(&f.router, "/v1/blocks/1").await;
    let tip = f.store.tip().unwrap().unwrap();
    assert_eq!(block["height"], 1);
    assert_eq!(block["hash"], tip.block_hash.to_hex());
    assert_eq!(block["time_ms"], BLOCK_TIME_MS);
    let ids: Vec<String> = f.executed.iter().map(|t| t.hash().to_hex()).collect();
    assert_eq!(block["txs"], json!(ids));
    assert_eq!(block["certificate"], hex::encode(CERTIFICATE));
    assert_eq!(block["parent"].as_str().unwrap().len(), 64);
    assert_eq!(block["tx_root"].as_str().unwrap().len(), 64);
    assert_eq!(get_ok(&f.router, "/v1/blocks/latest").await, block);

    get(&f.router, "/v1/blocks/2")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(&f.router, "/v1/blocks/0")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
        get(&f.router, &format!("/v1/blocks/{bad}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

// ---- registry ----

#[tokio::test]
async fn accounts() {
    let f = Fixture::new();
    let op = operator().public_key().to_hex();
    let account = get_ok(&f.router, &format!("/v1/accounts/{op}")).await;
    assert_eq!(
        account,
        json!({ "key": op, "nonce": 2, "orgs": ["platform"] })
    );
    let stranger = SecretKey::from_seed(77).public_key();
    get(&f.router, &format!("/v1/accounts/{stranger}"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(&f.router, "/v1/accounts/not-a-key")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");

    // Every key has a next nonce, with or without an account.
    let nonce = get_ok(&f.router, &format!("/v1/accounts/{op}/nonce")).await;
    assert_eq!(nonce, json!({ "key": op, "nonce": 2, "next_nonce": 3 }));
    let nonce = get_ok(&f.router, &format!("/v1/accounts/{stranger}/nonce")).await;
    assert_eq!(
        nonce,
        json!({ "key": stranger.to_hex(), "nonce": 0, "next_nonce": 1 })
    );
    get(&f.router, "/v1/accounts/not-a-key/nonce")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn orgs() {
    let f = Fixture::new();
    let list = get_ok(&f.router, "/v1/orgs").await;
    let ids: Vec<&str> = list["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["platform", "acme"], "registration order");
    assert_eq!(list["next_page"], Value::Null);

    let acme = get_ok(&f.router, "/v1/orgs/acme").await;
    assert_eq!(
        acme,
        json!({
            "id": "acme", "name": "Acme Wines", "roles": ["brand"],
            "gs1_company_prefix": "0614141", "region": "CN-SH",
            "members": [brand().public_key().to_hex()],
            "code_keys": [{
                "key": code_key().public_key().to_hex(), "registered_height": 1,
                "revoked": false, "revoked_height": null,
            }],
            "licences": ["acme-2026"], "products": [GTIN14], "product_count": 1,
            "registered_height": 1, "registered_time_ms": BLOCK_TIME_MS,
        })
    );
    assert_eq!(list["orgs"][1], acme);
    get(&f.router, "/v1/orgs/nobody")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let message = get(&f.router, "/v1/orgs/Not%20An%20Id")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("org id"), "{message}");
}

#[tokio::test]
async fn licences() {
    let f = Fixture::new();
    let licence = get_ok(&f.router, "/v1/licences/acme-2026").await;
    assert_eq!(
        licence,
        json!({
            "id": "acme-2026", "org": "acme", "quota": 1000, "used": 100, "remaining": 900,
            "valid_from": BLOCK_TIME_MS / 1000 - 10, "valid_until": BLOCK_TIME_MS / 1000 + 1_000_000,
            "issued_height": 1, "revoked": null,
        })
    );
    get(&f.router, "/v1/licences/none-such")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(&f.router, "/v1/licences/UPPER")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn products() {
    let f = Fixture::new();
    let product = get_ok(&f.router, &format!("/v1/products/{GTIN14}")).await;
    let media = f.media_hash.to_hex();
    assert_eq!(
        product,
        json!({
            "gtin": GTIN14, "org": "acme", "name": "Acme Red 2024", "description": "A red wine",
            "attributes": [{ "name": "volume_ml", "value": "750" }],
            "media": [{
                "hash": media, "mime": "image/png", "size": MEDIA.len(), "caption": "Label",
                "url": format!("/v1/media/{media}"),
            }],
            "codes_issued": 100, "registered_height": 1, "updated_height": 1,
        })
    );
    // GTIN-12 (and -13, -8) address the same product.
    assert_eq!(
        get_ok(&f.router, &format!("/v1/products/{GTIN12}")).await,
        product
    );
    assert_eq!(
        get_ok(&f.router, "/v1/products/0614141000012").await,
        product
    );

    get(&f.router, &format!("/v1/products/{UNKNOWN_GTIN}"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let message = get(&f.router, "/v1/products/614141000013")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("check digit"), "{message}");
    let message = get(&f.router, "/v1/products/12345")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("digits"), "{message}");
}

#[tokio::test]
async fn batches() {
    let f = Fixture::new();
    let list = get_ok(&f.router, &format!("/v1/products/{GTIN12}/batches")).await;
    let batch = json!({
        "gtin": GTIN14, "lot": "L1", "org": "acme", "licence": "acme-2026",
        "first_serial": 1, "count": 100, "code_key": code_key().public_key().to_hex(),
        "issued_height": 1, "issued_time_ms": BLOCK_TIME_MS, "tx": f.executed[4].hash().to_hex(),
    });
    assert_eq!(list, json!({ "gtin": GTIN14, "batches": [batch.clone()] }));
    assert_eq!(
        get_ok(&f.router, &format!("/v1/products/{GTIN14}/batches/L1")).await,
        batch
    );

    // L2 was over quota: never issued.
    get(&f.router, &format!("/v1/products/{GTIN14}/batches/L2"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(&f.router, &format!("/v1/products/{UNKNOWN_GTIN}/batches"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(
        &f.router,
        &format!("/v1/products/{UNKNOWN_GTIN}/batches/L1"),
    )
    .await
    .error(StatusCode::NOT_FOUND, "not_found");
    get(&f.router, "/v1/products/614141000013/batches")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    let long_lot = "L".repeat(21);
    let message = get(
        &f.router,
        &format!("/v1/products/{GTIN14}/batches/{long_lot}"),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("lot"), "{message}");
}

// ---- media ----

#[tokio::test]
async fn media_is_served_immutably() {
    let f = Fixture::new();
    let answer = get(&f.router, &format!("/v1/media/{}", f.media_hash)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, MEDIA);
    assert_eq!(answer.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(
        answer.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");

    // Without its sidecar a file is served as bytes.
    let hash = jitrace_api::store_media(&f.media_dir, b"doc", "application/pdf").unwrap();
    std::fs::remove_file(f.media_dir.join(format!("{hash}.mime"))).unwrap();
    let answer = get(&f.router, &format!("/v1/media/{hash}")).await;
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "application/octet-stream"
    );

    get(&f.router, &format!("/v1/media/{}", Hash::of(&[b"absent"])))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    get(
        &f.router,
        &format!("/v1/media/{}", f.media_hash.to_hex().to_uppercase()),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn media_paths_cannot_escape() {
    let f = Fixture::new();
    std::fs::write(f.media_dir.join("secret.txt"), b"secret").unwrap();
    for path in [
        "/v1/media/..%2F..%2Fetc%2Fpasswd",
        "/v1/media/../../etc/passwd",
        "/v1/media/%2E%2E%2Fsecret.txt",
        "/v1/media/secret.txt",
        "/v1/media/..",
        "/v1/media/%00",
    ] {
        let answer = get(&f.router, path).await;
        assert!(
            matches!(
                answer.status,
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
            ),
            "{path}: {}",
            answer.status
        );
        assert!(answer.json()["error"]["code"].is_string(), "{path}");
        assert!(!answer.text().contains("secret"), "{path}");
    }
    // The sidecar is not a media file.
    get(&f.router, &format!("/v1/media/{}.mime", f.media_hash))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

// ---- documents, pages and error shapes ----

#[tokio::test]
async fn openapi_lists_every_endpoint() {
    let f = Fixture::new();
    let doc = get_ok(&f.router, "/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/status",
        "/v1/tx",
        "/v1/tx/{hash}",
        "/v1/blocks/{height}",
        "/v1/accounts/{key}",
        "/v1/accounts/{key}/nonce",
        "/v1/orgs",
        "/v1/orgs/{id}",
        "/v1/licences/{id}",
        "/v1/products/{gtin}",
        "/v1/products/{gtin}/batches",
        "/v1/products/{gtin}/batches/{lot}",
        "/v1/media/{sha256}",
        "/v1/alerts",
        "/v1/alerts/stream",
        "/v1/codes/{gtin}/{serial}/events",
        "/v1/analytics/scans",
        "/v1/analytics/channels",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert!(
        paths["/v1/tx"]["post"]["requestBody"]["content"]["application/octet-stream"].is_object()
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Status",
        "SubmitRequest",
        "Submitted",
        "TxStatus",
        "TxState",
        "BlockView",
        "AccountView",
        "OrgView",
        "OrgList",
        "LicenceView",
        "ProductView",
        "BatchView",
        "BatchList",
        "ErrorBody",
        "CodeHistory",
        "ScanAnalytics",
        "ChannelVolumes",
    ] {
        assert!(schemas.contains_key(schema), "{schema} is not documented");
    }
    assert_eq!(jitrace_api::openapi().paths.paths.len(), paths.len());
}

#[tokio::test]
async fn landing_page_docs_and_metrics() {
    let f = Fixture::new();
    let page = get(&f.router, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
    for link in ["/docs", "/openapi.json", "/v1/status", CHAIN_ID] {
        assert!(page.text().contains(link), "{link}");
    }

    let docs = get(&f.router, "/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text().contains("swagger"), "{}", docs.text());
    assert_ne!(get(&f.router, "/docs").await.status, StatusCode::NOT_FOUND);

    let metrics = get(&f.router, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .header(header::CONTENT_TYPE)
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for line in [
        "# TYPE jitrace_height gauge",
        "jitrace_height 1\n",
        "jitrace_mempool_size 0\n",
        "jitrace_tx_total 6\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let f = Fixture::new();
    let message = get(&f.router, "/v1/nothing")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    assert!(message.contains("/v1/nothing"), "{message}");
    get(&f.router, "/v2/status")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");

    let delete = Request::delete("/v1/status").body(Body::empty()).unwrap();
    send(&f.router, delete)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let answer = get(&f.router, "/v1/tx").await;
    answer.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(answer.header(header::ALLOW), "POST");
    let put = Request::put(format!("/v1/products/{GTIN14}"))
        .body(Body::empty())
        .unwrap();
    send(&f.router, put)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn cors_allows_any_origin_to_read_submit_and_sign() {
    let f = Fixture::new();
    let request = Request::get("/v1/status")
        .header(header::ORIGIN, "https://partner.example")
        .body(Body::empty())
        .unwrap();
    let answer = send(&f.router, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/orgs")
        .header(header::ORIGIN, "https://partner.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap();
    let answer = send(&f.router, preflight).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    assert!(
        answer
            .header(header::ACCESS_CONTROL_ALLOW_METHODS)
            .contains("GET")
    );

    // A partner's page submits signed transactions and makes signed reads.
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/tx")
        .header(header::ORIGIN, "https://partner.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .unwrap();
    let answer = send(&f.router, preflight).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let methods = answer
        .header(header::ACCESS_CONTROL_ALLOW_METHODS)
        .to_string();
    assert!(
        methods.contains("POST") && methods.contains("OPTIONS"),
        "{methods}"
    );
    let headers = answer
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS)
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
}

// ---- bulk submission ----

async fn submit_many(router: &Router, txs: &[String]) -> Answer {
    let body = json!({ "txs": txs }).to_string();
    let request = Request::post("/v1/txs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    send(router, request).await
}

#[tokio::test]
async fn bulk_submit_admits_each_transaction_on_its_own() {
    let f = Fixture::new();
    let good = [
        register_retailer("shop-a", 3),
        register_retailer("shop-b", 4),
    ];
    let mut forged = register_retailer("shop-c", 5);
    forged.signature = brand().sign(jitrace_types::keys::domain::TRANSACTION, &forged.body);
    let txs: Vec<String> = good
        .iter()
        .chain([&forged])
        .map(|tx| hex::encode(tx.encode()))
        .chain(["00ff".to_string()])
        .collect();
    let answer = submit_many(&f.router, &txs).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let results = answer.json()["results"].clone();
    assert_eq!(results[0]["hash"], good[0].hash().to_hex());
    assert_eq!(results[0]["error"], Value::Null);
    assert_eq!(results[1]["error"], Value::Null);
    assert_eq!(results[2]["error"]["code"], "bad_signature");
    assert_eq!(results[3]["error"]["code"], "malformed");
    assert!(f.mempool.contains(&good[0].hash()) && f.mempool.contains(&good[1].hash()));
    assert_eq!(f.mempool.len(), 2, "refused transactions stay out");

    // Resubmitting is a duplicate; over 1,000 transactions or bad hex refuses the request.
    let again = submit_many(&f.router, &txs[..1]).await.json();
    assert_eq!(again["results"][0]["error"]["code"], "duplicate");
    let too_many = vec!["00".to_string(); 1_001];
    submit_many(&f.router, &too_many)
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    submit_many(&f.router, &["zz".to_string()])
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

// ---- media upload and range requests ----

fn signed_upload(key: &SecretKey, body: &[u8], mime: &str, time_ms: u64) -> Request<Body> {
    let auth = jitrace_types::keys::authorization_header(key, "POST", "/v1/media", time_ms, body);
    Request::post("/v1/media")
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, mime)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn media_upload_is_signed_typed_bounded_and_served_with_ranges() {
    let f = Fixture::new();
    let video = vec![7u8; 4096];
    let answer = send(
        &f.router,
        signed_upload(&brand(), &video, "video/mp4", now_ms()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let stored = answer.json();
    let hash = Hash::of(&[&video]).to_hex();
    assert_eq!(stored["hash"], hash);
    assert_eq!(stored["size"], 4096);

    // Range requests serve part of the file (video seeking).
    let request = Request::get(format!("/v1/media/{hash}"))
        .header(header::RANGE, "bytes=100-199")
        .body(Body::empty())
        .unwrap();
    let part = send(&f.router, request).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body.len(), 100);

    // Refusals store nothing.
    let files = || {
        std::fs::read_dir(&f.media_dir)
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = files();
    let unsigned = Request::post("/v1/media")
        .header(header::CONTENT_TYPE, "image/png")
        .body(Body::from(vec![1u8; 10]))
        .unwrap();
    send(&f.router, unsigned)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorised");
    send(
        &f.router,
        signed_upload(&brand(), b"<x/>", "text/html", now_ms()),
    )
    .await
    .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    send(
        &f.router,
        signed_upload(&brand(), b"png", "image/png", now_ms() - 3_600_000),
    )
    .await
    .error(StatusCode::UNAUTHORIZED, "unauthorised");
    let stranger = SecretKey::from_seed(4242);
    send(
        &f.router,
        signed_upload(&stranger, b"png", "image/png", now_ms()),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    let mut tampered = signed_upload(&brand(), b"png", "image/png", now_ms());
    *tampered.body_mut() = Body::from(b"gif".to_vec());
    send(&f.router, tampered)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorised");
    let svg_limit = vec![b' '; (2 << 20) + 1];
    send(
        &f.router,
        signed_upload(&brand(), &svg_limit, "image/svg+xml", now_ms()),
    )
    .await
    .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(files(), before, "refused uploads leave no file behind");
}
