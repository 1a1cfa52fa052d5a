//! Scanning codes end to end through `router(..).oneshot(..)`: the verdict (JSON and the
//! consumer page), bad links, and scans recorded through the scan gateway into the ledger.

mod common;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use common::{world::*, *};
use jitrace_types::{
    Payload, SecretKey, SignedTransaction,
    code::sign_code,
    tx::{GeoPoint, ProductInfo},
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get_with(router: &Router, uri: &str, accept: &str) -> Answer {
    send(
        router,
        Request::get(uri)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The verdict JSON of the printed link `uri`, optionally scanned at `at`.
async fn verdict(router: &Router, uri: &str, at: Option<(f64, f64)>) -> Value {
    let uri = match at {
        Some((lat, lon)) => format!("{uri}&lat={lat}&lon={lon}"),
        None => uri.to_string(),
    };
    let answer = get_with(router, &uri, "application/json").await;
    assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
    answer.json()
}

fn reason_codes(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_genuine_unsold_code() {
    let f = world(false);
    let v = verdict(&f.router, &link(UNSOLD), Some(NEAR)).await;
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["reasons"], json!([]));
    assert_eq!(v["status"], "active");
    assert_eq!(
        v["code"],
        json!({"gtin": GTIN14, "serial": "11", "signed": true})
    );
    assert_eq!(v["product"]["name"], "Acme Red 2024");
    assert_eq!(v["product"]["attributes"][0]["value"], "750");
    assert_eq!(
        v["product"]["media"][0]["url"],
        format!("/v1/media/{}", f.media_hash.to_hex())
    );
    assert_eq!(v["brand"]["id"], "acme");
    assert_eq!(v["brand"]["name"], "Acme Wines");
    assert_eq!(v["custodian"]["id"], "acme");
    // The path at city level: GPS rounded to 0.1°.
    let path = v["path"].as_array().unwrap();
    assert_eq!(path.len(), 1);
    assert_eq!(path[0]["event"], "commissioned");
    assert_eq!(path[0]["biz_step"], "commissioning");
    assert_eq!(path[0]["org_name"], "Acme Wines");
    assert_eq!(path[0]["place"]["city"], "银川");
    assert_eq!(path[0]["place"]["lat"], 38.5);
    assert_eq!(path[0]["place"]["lon"], 106.2);
    assert_eq!(v["latest_location"]["region"], "CN-NX");
    // Yinchuan to Hangzhou is about 1,570 km.
    let km = v["distance_km"].as_u64().unwrap();
    assert!((1_500..1_650).contains(&km), "{km}");
    let sellers = v["authorised_sellers"].as_array().unwrap();
    assert_eq!(sellers.len(), 1);
    assert_eq!(sellers[0]["org"], "hz-cellar");
    assert_eq!(sellers[0]["name"], "杭州酒窖 Hangzhou Cellar");
    assert_eq!(sellers[0]["role"], "retailer");
    assert_eq!(sellers[0]["territory"], json!(["CN-ZJ"]));
    assert_eq!(sellers[0]["distance_km"], 2);
    assert_eq!(v["height"], 3);
    assert!(v.get("scan_queued").is_none());

    // A code of the batch that never had an event: genuine, issued.
    let v = verdict(&f.router, &link(UNTOUCHED), None).await;
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["status"], "issued");
    assert_eq!(v["path"], json!([]));
    assert_eq!(v["distance_km"], Value::Null);
}

#[tokio::test]
async fn a_sold_code_scanned_near_and_far() {
    let f = world(false);
    let near = verdict(&f.router, &link(SOLD), Some(NEAR)).await;
    assert_eq!(near["verdict"], "genuine", "{near}");
    assert_eq!(reason_codes(&near), ["already_sold"]);
    assert_eq!(near["reasons"][0]["severity"], "info");
    assert_eq!(near["status"], "sold");
    assert_eq!(near["sale"]["seller"], "hz-cellar");
    assert_eq!(near["sale"]["city"], "杭州");
    assert_eq!(near["sale"]["grey_market"], false);
    assert_eq!(near["custodian"], Value::Null);
    let events: Vec<&str> = near["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["commissioned", "shipped", "received", "sold"]);
    assert_eq!(near["path"][1]["counterparty"], "hz-cellar");
    assert_eq!(near["distance_km"], 2);

    let far = verdict(&f.router, &link(SOLD), Some(FAR)).await;
    assert_eq!(far["verdict"], "warning", "{far}");
    let codes = reason_codes(&far);
    assert!(
        codes.contains(&"location_mismatch".to_string()),
        "{codes:?}"
    );
    assert!(codes.contains(&"already_sold".to_string()), "{codes:?}");
    let km = far["distance_km"].as_u64().unwrap();
    assert!((1_000..1_300).contains(&km), "{km}");
    let reason = &far["reasons"][0];
    assert!(!reason["en"].as_str().unwrap().is_empty());
    assert!(!reason["zh"].as_str().unwrap().is_empty());

    // The same through /v1/verdict with the link URL-encoded.
    let uri = format!(
        "/v1/verdict?uri={}&lat={}&lon={}",
        encode_component(&format!("https://id.example.com{}", link(SOLD))),
        FAR.0,
        FAR.1
    );
    let answer = get_with(&f.router, &uri, "*/*").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["verdict"], "warning");
}

#[tokio::test]
async fn forged_unissued_and_unsigned_codes_are_counterfeit() {
    let f = world(false);
    // Signed by a key that is not the batch's.
    let forged = sign_code(&SecretKey::from_seed(666), CHAIN_ID, &gtin(), "11");
    let v = verdict(
        &f.router,
        &format!("/01/{GTIN14}/21/11?8030={forged}"),
        None,
    )
    .await;
    assert_eq!(v["verdict"], "counterfeit", "{v}");
    assert_eq!(reason_codes(&v), ["signature_invalid"]);
    assert_eq!(v["status"], Value::Null);
    assert_eq!(v["path"], json!([]));
    assert_eq!(v["brand"]["id"], "acme");
    assert_eq!(v["product"]["name"], "Acme Red 2024");

    // A genuine signature for another serial.
    let v = verdict(
        &f.router,
        &format!("/01/{GTIN14}/21/11?8030={}", sig(10)),
        None,
    )
    .await;
    assert_eq!(reason_codes(&v), ["signature_invalid"]);

    // A serial outside every batch, correctly signed by the brand's key.
    let v = verdict(&f.router, &link(500), None).await;
    assert_eq!(v["verdict"], "counterfeit", "{v}");
    assert_eq!(reason_codes(&v), ["serial_not_issued"]);

    // No signature at all.
    let v = verdict(&f.router, &format!("/01/{GTIN14}/21/11?x=1"), None).await;
    assert_eq!(v["verdict"], "counterfeit", "{v}");
    assert_eq!(reason_codes(&v), ["no_signature"]);
    assert_eq!(v["code"]["signed"], false);

    // A GTIN nobody registered.
    let uri = format!(
        "/01/{UNKNOWN_GTIN}/21/1?8030={}",
        sign_code(
            &code_key(),
            CHAIN_ID,
            &jitrace_types::Gtin::parse(UNKNOWN_GTIN).unwrap(),
            "1"
        )
    );
    let v = verdict(&f.router, &uri, None).await;
    assert_eq!(reason_codes(&v), ["serial_not_issued"]);
    assert_eq!(v["product"], Value::Null);
}

#[tokio::test]
async fn voided_and_stolen_codes() {
    let f = world(false);
    let v = verdict(&f.router, &link(VOIDED), None).await;
    assert_eq!(v["verdict"], "counterfeit", "{v}");
    assert_eq!(reason_codes(&v), ["code_voided"]);

    let v = verdict(&f.router, &link(STOLEN), Some(NEAR)).await;
    assert_eq!(v["verdict"], "warning", "{v}");
    let codes = reason_codes(&v);
    assert_eq!(codes[0], "stolen", "{codes:?}");
    assert!(codes.contains(&"already_sold".to_string()));
    assert_eq!(v["status"], "owned");
    assert_eq!(v["flags"], json!(["stolen"]));
    assert_eq!(v["ownership"]["owner"], alice().public_key().to_hex());
    let last = v["path"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "reported_stolen");
    assert_eq!(last["org"], Value::Null);
}

#[tokio::test]
async fn malformed_links_are_400() {
    let f = world(false);
    let good = sig(11);
    let cases = [
        // Wrong check digit.
        "/01/00614141000013/21/11?8030=".to_string() + &good,
        // Truncated signature.
        format!("/01/{GTIN14}/21/11?8030={}", &good[..80]),
        // Not base64url ('+' and '/' are base64, not base64url).
        format!("/01/{GTIN14}/21/11?8030={}++", &good[..84]),
        format!("/01/{GTIN14}/21/11?8030={}**", &good[..84]),
        // Extra data the signature does not cover.
        format!("/01/{GTIN14}/21/11?17=251231&8030={good}"),
    ];
    for uri in &cases {
        let answer = get_with(&f.router, uri, "application/json").await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["code"], "bad_code", "{uri}");

        let page = get_with(&f.router, uri, "text/html").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            page.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("Cannot read"), "{}", page.body);

        let query = format!("/v1/verdict?uri={}", encode_component(uri));
        let answer = get_with(&f.router, &query, "*/*").await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["code"], "bad_code");
    }
    // A bad position.
    let answer = get_with(
        &f.router,
        &format!("{}&lat=95&lon=1", link(11)),
        "application/json",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let answer = get_with(
        &f.router,
        &format!("{}&lat=abc", link(11)),
        "application/json",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let answer = get_with(&f.router, "/v1/verdict?lat=1", "*/*").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
}

#[tokio::test]
async fn the_consumer_page_shows_the_verdict_and_escapes_text() {
    let f = world(false);
    let page = get_with(&f.router, &link(UNSOLD), "text/html,application/xhtml+xml").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // Scripts: this node's files and the one inline import map, by hash; nothing inline else.
    let scripts = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or_default();
    assert!(scripts.contains("'self' 'sha256-"), "{csp}");
    assert!(!scripts.contains("unsafe"), "{csp}");
    assert!(
        page.body
            .contains(">正品</span><span class=\"en\" lang=\"en\">Genuine<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Acme Red 2024"));
    assert!(page.body.contains("银川"));
    assert!(page.body.contains("杭州酒窖 Hangzhou Cellar"));
    assert!(
        page.body
            .contains(&format!("/v1/media/{}", f.media_hash.to_hex()))
    );
    assert_eq!(
        our_scripts(&page.body),
        2,
        "the import map and the consumer module"
    );
    check_assets(&f.router, &page.body).await;

    let page = get_with(&f.router, &link(500), "text/html").await;
    assert!(
        page.body
            .contains(">假冒</span><span class=\"en\" lang=\"en\">Counterfeit<")
    );
    assert!(page.body.contains("品牌方从未发行过此序列号"));
    let page = get_with(&f.router, &link(SOLD), "text/html").await;
    assert!(page.body.contains("Sold"));
    let page = get_with(&f.router, &link(STOLEN), "text/html").await;
    assert!(
        page.body
            .contains(">请注意</span><span class=\"en\" lang=\"en\">Warning<")
    );

    // A malicious product name.
    let evil = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    block(
        &f,
        BLOCK_TIME_MS + 10 * HOUR_MS,
        &[signed(
            &brand(),
            BRAND_NEXT_NONCE,
            Payload::UpdateProduct(ProductInfo {
                gtin: gtin(),
                org: org_id("acme"),
                name: evil.into(),
                description: "<b>bold</b> & \"quoted\"".into(),
                attributes: vec![],
                media: vec![],
            }),
        )],
    );
    let page = get_with(&f.router, &link(UNSOLD), "text/html").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(our_scripts(&page.body), 2, "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(!page.body.contains("<b>bold"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    );
}

/// How many `<script` tags a page has (ours: the import map and one module).
fn our_scripts(body: &str) -> usize {
    body.matches("<script").count()
}

/// The page's import map and module point at embedded files, served as immutable JavaScript.
async fn check_assets(router: &Router, body: &str) {
    let tag = "<script type=\"importmap\">";
    let start = body.find(tag).expect("an import map") + tag.len();
    let map: Value =
        serde_json::from_str(&body[start..start + body[start..].find("</script>").unwrap()])
            .expect("the import map is JSON");
    let module = body
        .split("<script type=\"module\" src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a module script");
    let mut urls: Vec<String> = map["imports"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    urls.push(module.to_string());
    for ours in [
        "ownership.js",
        "tx.js",
        "i18n.js",
        "scan.js",
        "backup.js",
        "map.js",
    ] {
        urls.push(module.replace("consumer.js", ours));
    }
    for url in &urls {
        let answer = get_with(router, url, "*/*").await;
        assert_eq!(answer.status, StatusCode::OK, "{url}");
        assert_eq!(
            answer.headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8",
            "{url}"
        );
        assert!(
            answer.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{url}"
        );
    }
    let missing = get_with(router, &module.replace("consumer.js", "nope.js"), "*/*").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let escape = get_with(
        router,
        &module.replace("js/consumer.js", "../Cargo.toml"),
        "*/*",
    )
    .await;
    assert_ne!(escape.status, StatusCode::OK);
    let stale = get_with(router, "/assets/000000000000/js/tx.js", "*/*").await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.headers[header::CACHE_CONTROL], "no-cache");
}

async fn post_scan(router: &Router, body: Value) -> Answer {
    send(
        router,
        Request::post("/v1/scans")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn scans_are_disabled_without_a_gateway() {
    let f = world(false);
    let answer = post_scan(
        &f.router,
        json!({"uri": link(SOLD), "lat": NEAR.0, "lon": NEAR.1, "device": "phone"}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["error"]["code"], "scans_disabled");
}

#[tokio::test]
async fn scans_reach_the_ledger_and_expose_a_clone() {
    let f = world(true);
    let gateway = f.gateway.clone().unwrap();
    // Someone else's phone in Beijing scans a code sold in Hangzhou.
    let answer = post_scan(
        &f.router,
        json!({"uri": format!("https://id.example.com{}", link(CLONED)), "lat": FAR.0, "lon": FAR.1, "device": "phone-1"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let v = answer.json();
    assert_eq!(v["scan_queued"], true);
    assert_eq!(v["verdict"], "warning");
    // A forged code is answered but never queued (it would make the ledger refuse the batch);
    // nor is a scan without a position.
    let forged = sign_code(&SecretKey::from_seed(666), CHAIN_ID, &gtin(), "13");
    let answer = post_scan(
        &f.router,
        json!({"uri": format!("/01/{GTIN14}/21/13?8030={forged}"), "lat": FAR.0, "lon": FAR.1, "device": "phone-1"}),
    )
    .await;
    assert_eq!(answer.json()["verdict"], "counterfeit");
    assert_eq!(answer.json()["scan_queued"], false);
    let answer = post_scan(&f.router, json!({"uri": link(UNSOLD), "device": "phone-2"})).await;
    assert_eq!(answer.json()["scan_queued"], false);
    // A voided code's scan is evidence: the ledger takes it.
    let answer = post_scan(
        &f.router,
        json!({"uri": link(VOIDED), "lat": NEAR.0, "lon": NEAR.1, "device": "phone-3"}),
    )
    .await;
    assert_eq!(answer.json()["scan_queued"], true);
    // Bad requests.
    let answer = post_scan(&f.router, json!({"uri": link(SOLD), "device": ""})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = post_scan(&f.router, json!({"uri": "/01/123/21/1", "device": "x"})).await;
    assert_eq!(answer.json()["error"]["code"], "bad_code");
    assert_eq!(gateway.pending(), 2);

    let hash = gateway.flush().await.unwrap().expect("a transaction");
    assert!(f.mempool.contains(&hash));
    assert_eq!(gateway.pending(), 0);
    assert_eq!(gateway.flush().await.unwrap(), None);
    let tx = SignedTransaction::decode(&f.mempool.take(now_ms() - 10_000, 10, 1 << 20)[0]).unwrap();
    let body = tx.transaction().unwrap();
    assert_eq!(body.signer, gateway_key().public_key());
    assert_eq!(body.nonce, 1);
    let Payload::RecordScans { scans } = &body.payload else {
        panic!("not a RecordScans: {:?}", body.payload);
    };
    assert_eq!(scans.len(), 2);
    // Only the cell and the device's hash are recorded.
    assert_eq!(
        scans[0].cell,
        GeoPoint {
            lat_micro: 39_900_000,
            lon_micro: 116_400_000
        }
    );
    assert_eq!(
        scans[0].device,
        jitrace_api::device_pseudonym(CHAIN_ID, "phone-1")
    );
    assert!(!tx.encode().windows(7).any(|w| w == b"phone-1"));

    // The node executes the block: the scan is accepted and the clone is flagged.
    f.finalise_next_block(now_ms());
    assert_receipt_ok(hash, &f.state.snapshot());
    let v = verdict(&f.router, &link(CLONED), Some(NEAR)).await;
    assert_eq!(v["verdict"], "warning", "{v}");
    assert_eq!(reason_codes(&v), ["clone_suspected", "already_sold"]);
    assert_eq!(v["flags"], json!(["clone_suspected"]));

    // The next batch counts its nonce up.
    post_scan(
        &f.router,
        json!({"uri": link(SOLD), "lat": NEAR.0, "lon": NEAR.1, "device": "phone-4"}),
    )
    .await;
    let hash = gateway.flush().await.unwrap().unwrap();
    f.finalise_next_block(now_ms());
    assert_receipt_ok(hash, &f.state.snapshot());
}

#[tokio::test]
async fn the_flusher_sends_scans_by_itself() {
    let f = world(true);
    let gateway = f.gateway.clone().unwrap();
    let flusher = gateway.clone().spawn_flusher();
    let answer = post_scan(
        &f.router,
        json!({"uri": link(SOLD), "lat": NEAR.0, "lon": NEAR.1, "device": "phone"}),
    )
    .await;
    assert_eq!(answer.json()["scan_queued"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.mempool.is_empty() {
        assert!(Instant::now() < deadline, "the flusher sent nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.pending(), 0);
    flusher.abort();
}

#[tokio::test]
async fn the_openapi_document_describes_scanning() {
    let doc = serde_json::to_value(jitrace_api::openapi()).unwrap();
    let paths = &doc["paths"];
    assert!(
        paths["/01/{gtin}/21/{serial}"]["get"].is_object(),
        "{paths}"
    );
    assert!(paths["/v1/verdict"]["get"].is_object());
    assert!(paths["/v1/scans"]["post"].is_object());
    for schema in [
        "Verdict",
        "VerdictReason",
        "ScanRequest",
        "PathStep",
        "AuthorisedSeller",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "no schema {schema}"
        );
    }
}
