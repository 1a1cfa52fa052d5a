//! Private reads through `router(..).oneshot(..)`: a code's history in its public and private
//! views, scan analytics, channel volumes and flows of goods from the index of finalised blocks,
//! the alerts kept there, and who may read what.

mod common;

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use common::{world::*, *};
use jitrace_api::views::date_of_day;
use jitrace_ledger::geo;
use jitrace_store::index::day_of;
use jitrace_types::{
    Payload, SecretKey,
    keys::authorization_header,
    parts::Assemble,
    tx::{CodeAction, CodeId, GeoPoint},
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

/// A member of `other-shop`, a retailer the brand never authorised.
fn stranger() -> SecretKey {
    SecretKey::from_seed(50)
}

/// The day of the world's blocks (2025-06-15).
const WORLD_DAY: &str = "2025-06-15";

async fn get(router: &Router, path: &str, key: Option<&SecretKey>) -> (StatusCode, Value) {
    let auth = key.map(|key| authorization_header(key, "GET", path, now_ms(), b""));
    get_with(router, path, auth).await
}

async fn get_with(router: &Router, path: &str, auth: Option<String>) -> (StatusCode, Value) {
    let mut request = Request::get(path);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

fn error_code(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

/// The world, with `other-shop` registered and the indexer running.
async fn indexed_world() -> Fixture {
    let f = world_with(Options {
        gateway_key: Some(gateway_key()),
        indexer: true,
        ..Options::default()
    });
    block(
        &f,
        BLOCK_TIME_MS + 3 * HOUR_MS,
        &[register_retailer("other-shop", 5)],
    );
    wait_indexed(&f).await;
    f
}

/// Polls until the indexer has caught up with the tip.
async fn wait_indexed(f: &Fixture) {
    let tip = f.tip.borrow().map_or(0, |t| t.height);
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.index.indexed_height().unwrap() < tip {
        assert!(Instant::now() < deadline, "the indexer did not reach {tip}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn events_path(serial: u64, query: &str) -> String {
    format!("/v1/codes/{GTIN14}/{serial}/events{query}")
}

#[tokio::test]
async fn history_is_public_for_holders_of_the_code_and_private_for_the_entitled() {
    let f = indexed_world().await;
    let public_query = format!("?8030={}", sig(SOLD));

    // Anyone holding the printed code: the public view.
    let (status, public) = get(&f.router, &events_path(SOLD, &public_query), None).await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(public["view"], "public");
    assert_eq!(public["brand"], "acme");
    assert_eq!(public["event_count"], 4);
    let names: Vec<&str> = public["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["commissioned", "shipped", "received", "sold"]);
    let first = &public["events"][0];
    assert_eq!(first["place"]["city"], "银川");
    assert_eq!(first["place"]["lat"], 38.5);
    for private_field in ["signer", "tx", "disposition", "detail"] {
        assert!(
            first.get(private_field).is_none(),
            "{private_field}: {first}"
        );
    }
    assert!(first["place"].get("lat_micro").is_none());
    assert!(public["events"][3].get("detail").is_none());

    // Without the code's signature, or with another, nobody unentitled reads it.
    let no_sig = get(&f.router, &events_path(SOLD, ""), None).await;
    assert_eq!(error_code(&no_sig), (StatusCode::FORBIDDEN, "forbidden"));
    let wrong = format!("?8030={}", sig(UNSOLD));
    let wrong_sig = get(&f.router, &events_path(SOLD, &wrong), None).await;
    assert_eq!(error_code(&wrong_sig), (StatusCode::FORBIDDEN, "forbidden"));
    let garbled = get(&f.router, &events_path(SOLD, "?8030=abc"), None).await;
    assert_eq!(error_code(&garbled), (StatusCode::BAD_REQUEST, "bad_code"));

    // The brand: the private view, without the printed signature.
    let (status, private) = get(&f.router, &events_path(SOLD, ""), Some(&brand())).await;
    assert_eq!(status, StatusCode::OK, "{private}");
    assert_eq!(private["view"], "private");
    let first = &private["events"][0];
    assert_eq!(first["place"]["lat_micro"], YINCHUAN.lat_micro);
    assert_eq!(first["place"]["lon_micro"], YINCHUAN.lon_micro);
    assert_eq!(first["signer"], brand().public_key().to_hex());
    assert_eq!(first["tx"].as_str().unwrap().len(), 64);
    assert_eq!(private["events"][3]["detail"], "buyer: anonymous");

    // The channel that recorded events on the code, and the same channel on a code it never
    // touched (its grant covers every product of the brand).
    let (_, shop_view) = get(&f.router, &events_path(SOLD, ""), Some(&shop())).await;
    assert_eq!(shop_view["view"], "private");
    let (_, untouched) = get(&f.router, &events_path(UNSOLD, ""), Some(&shop())).await;
    assert_eq!(untouched["view"], "private");
    assert_eq!(untouched["event_count"], 1);

    // Anyone else who signs: the public view, not an error (with the code's signature).
    let (status, other) = get(
        &f.router,
        &events_path(SOLD, &public_query),
        Some(&stranger()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["view"], "public");
    assert!(other["events"][0]["place"].get("lat_micro").is_none());
    // A key in no organisation (the item's owner) too.
    let (_, owner) = get(
        &f.router,
        &events_path(STOLEN, &format!("?8030={}", sig(STOLEN))),
        Some(&alice()),
    )
    .await;
    assert_eq!(owner["view"], "public");

    // A signature that does not verify is an error, not a quiet downgrade.
    let path = events_path(SOLD, &public_query);
    let forged = authorization_header(&brand(), "GET", "/elsewhere", now_ms(), b"");
    let answer = get_with(&f.router, &path, Some(forged)).await;
    assert_eq!(
        error_code(&answer),
        (StatusCode::UNAUTHORIZED, "unauthorised")
    );
}

#[tokio::test]
async fn history_pages_and_refuses_bad_input() {
    let f = indexed_world().await;
    let (_, page) = get(&f.router, &events_path(SOLD, "?limit=3"), Some(&brand())).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 3);
    assert_eq!(page["next"], 3);
    let (_, rest) = get(
        &f.router,
        &events_path(SOLD, "?from=3&limit=3"),
        Some(&brand()),
    )
    .await;
    assert_eq!(rest["events"][0]["event"], "sold");
    assert_eq!(rest["events"][0]["index"], 3);
    assert!(rest["next"].is_null());
    // An issued code with no events yet has an empty history.
    let (_, fresh) = get(&f.router, &events_path(UNTOUCHED, ""), Some(&brand())).await;
    assert_eq!(fresh["event_count"], 0);
    assert!(fresh["events"].as_array().unwrap().is_empty());

    let cases = [
        (events_path(999_999, ""), StatusCode::NOT_FOUND, "not_found"),
        (
            "/v1/codes/12345678901234/10/events".to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            format!("/v1/codes/{GTIN14}/ten/events"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            events_path(SOLD, "?limit=0"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            events_path(SOLD, "?limit=101"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (path, status, code) in cases {
        let answer = get(&f.router, &path, Some(&brand())).await;
        assert_eq!(error_code(&answer), (status, code), "{path}: {}", answer.1);
    }
}

#[tokio::test]
async fn channel_volumes_are_the_brands_and_each_channel_sees_its_own() {
    let f = indexed_world().await;
    let path = |query: &str| {
        format!("/v1/analytics/channels?brand=acme&from={WORLD_DAY}&to={WORLD_DAY}{query}")
    };
    let rows = |v: &Value| -> Vec<(String, String, u64)> {
        v["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|r| {
                assert_eq!(r["day"], WORLD_DAY);
                assert_eq!(r["gtin"], GTIN14);
                (
                    r["channel"].as_str().unwrap().to_string(),
                    r["action"].as_str().unwrap().to_string(),
                    r["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let owned = |rows: &[(&str, &str, u64)]| -> Vec<(String, String, u64)> {
        rows.iter()
            .map(|(c, a, n)| (c.to_string(), a.to_string(), *n))
            .collect()
    };

    let (status, brand_view) = get(&f.router, &path(""), Some(&brand())).await;
    assert_eq!(status, StatusCode::OK, "{brand_view}");
    assert_eq!(
        rows(&brand_view),
        owned(&[
            ("acme", "commissioned", 4),
            ("acme", "shipped", 3),
            ("hz-cellar", "received", 3),
            ("hz-cellar", "sold", 3),
        ])
    );
    assert!(brand_view["next"].is_null());
    let (_, filtered) = get(&f.router, &path("&channel=hz-cellar"), Some(&brand())).await;
    assert_eq!(rows(&filtered).len(), 2);
    let (_, other_product) = get(&f.router, &path("&gtin=614141000029"), Some(&brand())).await;
    assert!(rows(&other_product).is_empty());
    let (_, other_day) = get(
        &f.router,
        "/v1/analytics/channels?brand=acme&from=2025-06-16&to=2025-06-20",
        Some(&brand()),
    )
    .await;
    assert!(rows(&other_day).is_empty());

    // The channel reads only its own volumes.
    let (_, shop_view) = get(&f.router, &path(""), Some(&shop())).await;
    assert_eq!(
        rows(&shop_view),
        owned(&[("hz-cellar", "received", 3), ("hz-cellar", "sold", 3)])
    );
    let peek = get(&f.router, &path("&channel=acme"), Some(&shop())).await;
    assert_eq!(error_code(&peek), (StatusCode::FORBIDDEN, "forbidden"));
    let stranger_view = get(&f.router, &path(""), Some(&stranger())).await;
    assert_eq!(
        error_code(&stranger_view),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let unsigned = get(&f.router, &path(""), None).await;
    assert_eq!(
        error_code(&unsigned),
        (StatusCode::UNAUTHORIZED, "unauthorised")
    );

    // Pages: one row at a time, following `next`.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = get(
            &f.router,
            &path(&format!("&limit=1{after}")),
            Some(&brand()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(rows(&page));
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, rows(&brand_view));

    for query in [
        "&limit=0",
        "&limit=1001",
        "&after=zz",
        "&gtin=123",
        "&channel=NOT%20AN%20ID",
    ] {
        let answer = get(&f.router, &path(query), Some(&brand())).await;
        assert_eq!(
            error_code(&answer),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{query}"
        );
    }
    for (from, to) in [
        ("2025-06-16", "2025-06-15"),
        ("2024-01-01", "2025-06-15"),
        ("15/06/2025", "2025-06-15"),
    ] {
        let answer = get(
            &f.router,
            &format!("/v1/analytics/channels?brand=acme&from={from}&to={to}"),
            Some(&brand()),
        )
        .await;
        assert_eq!(
            error_code(&answer),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{from}..{to}"
        );
    }
}

#[tokio::test]
async fn scans_are_counted_by_cell_and_outcome_and_alerts_are_kept() {
    let f = indexed_world().await;
    let gateway = f.gateway.clone().unwrap();
    let post_scan = |serial_link: String, at: (f64, f64), device: &str| {
        let body = json!({"uri": serial_link, "lat": at.0, "lon": at.1, "device": device});
        let router = f.router.clone();
        async move {
            let response = router
                .oneshot(
                    Request::post("/v1/scans")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    // A copy of a code sold in Hangzhou scanned in Beijing, a voided code near Hangzhou, and a
    // forgery in Beijing (answered here, never on chain).
    post_scan(link(CLONED), FAR, "phone-1").await;
    post_scan(link(VOIDED), NEAR, "phone-2").await;
    let forged =
        jitrace_types::code::sign_code(&SecretKey::from_seed(666), CHAIN_ID, &gtin(), "13");
    post_scan(format!("/01/{GTIN14}/21/13?8030={forged}"), FAR, "phone-3").await;
    gateway.flush().await.unwrap().expect("a transaction");
    let time_ms = now_ms();
    f.finalise_next_block(time_ms);
    wait_indexed(&f).await;

    let today = date_of_day(day_of(time_ms));
    let path = format!("/v1/analytics/scans?brand=acme&from={today}&to={today}");
    let (status, scans) = get(&f.router, &path, Some(&brand())).await;
    assert_eq!(status, StatusCode::OK, "{scans}");
    let cell = |at: (f64, f64)| {
        geo::cell_of(GeoPoint {
            lat_micro: (at.0 * 1e6) as i32,
            lon_micro: (at.1 * 1e6) as i32,
        })
    };
    let (near, far) = (cell(NEAR), cell(FAR));
    let got: Vec<(i32, i32, String, u64)> = scans["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["cell_lat_micro"].as_i64().unwrap() as i32,
                r["cell_lon_micro"].as_i64().unwrap() as i32,
                r["outcome"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (near.lat_micro, near.lon_micro, "counterfeit".to_string(), 1),
            (far.lat_micro, far.lon_micro, "counterfeit".to_string(), 1),
            (far.lat_micro, far.lon_micro, "warning".to_string(), 1),
        ]
    );
    let (_, by_gtin) = get(&f.router, &format!("{path}&gtin={GTIN12}"), Some(&brand())).await;
    assert_eq!(by_gtin["rows"].as_array().unwrap().len(), 3);
    // Only the brand reads its scans.
    let shop_view = get(&f.router, &path, Some(&shop())).await;
    assert_eq!(error_code(&shop_view), (StatusCode::FORBIDDEN, "forbidden"));

    // The alerts, each once: the voided code's and the forgery's counterfeit scans as they were
    // answered, then the clone from the finalised scans.
    let (_, alerts) = get(&f.router, "/v1/alerts?brand=acme", Some(&brand())).await;
    let kinds: Vec<(u64, &str)> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["seq"].as_u64().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "counterfeit_scan"),
            (2, "counterfeit_scan"),
            (3, "clone_suspected")
        ]
    );
    // Indexing the same blocks again adds nothing.
    assert!(
        f.index
            .apply_block(&jitrace_store::index::BlockIndex {
                height: 1,
                ..Default::default()
            })
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn scoped_tokens_read_only_their_scope_for_their_organisation() {
    use jitrace_types::token::{ApiToken, Scope, authorization_header_with_token};
    let f = indexed_world().await;
    let server = SecretKey::from_seed(300);
    let hour_ahead = now_ms() + HOUR_MS;
    let send = |token: ApiToken, signer: SecretKey, path: String| {
        let router = f.router.clone();
        async move {
            let auth =
                authorization_header_with_token(&signer, &token, "GET", &path, now_ms(), b"");
            get_with(&router, &path, Some(auth)).await
        }
    };
    let grant = |grantor: &SecretKey, scope, expires_ms| {
        ApiToken::issue(
            grantor,
            org_id("acme"),
            server.public_key(),
            scope,
            expires_ms,
        )
    };
    let channels = format!("/v1/analytics/channels?brand=acme&from={WORLD_DAY}&to={WORLD_DAY}");
    let analytics = grant(&brand(), Scope::ReadAnalytics, hour_ahead);

    // A read:analytics token reads what the brand's member reads, and nothing else.
    let (status, by_token) = send(analytics.clone(), server.clone(), channels.clone()).await;
    assert_eq!(status, StatusCode::OK, "{by_token}");
    let (_, by_member) = get(&f.router, &channels, Some(&brand())).await;
    assert_eq!(by_token, by_member);
    let alerts = send(
        analytics.clone(),
        server.clone(),
        "/v1/alerts?brand=acme".into(),
    )
    .await;
    assert_eq!(error_code(&alerts), (StatusCode::FORBIDDEN, "forbidden"));
    // For a code's history it is just another caller: the public view.
    let (_, history) = send(
        analytics.clone(),
        server.clone(),
        events_path(SOLD, &format!("?8030={}", sig(SOLD))),
    )
    .await;
    assert_eq!(history["view"], "public");
    let history_token = grant(&brand(), Scope::ReadHistory, hour_ahead);
    let (_, history) = send(history_token, server.clone(), events_path(SOLD, "")).await;
    assert_eq!(history["view"], "private");

    // Expired, used by another key, or granted by someone who is not a member: refused.
    let expired = send(
        grant(&brand(), Scope::ReadAnalytics, now_ms() - 1),
        server.clone(),
        channels.clone(),
    )
    .await;
    assert_eq!(
        error_code(&expired),
        (StatusCode::UNAUTHORIZED, "unauthorised")
    );
    let borrowed = send(analytics, SecretKey::from_seed(301), channels.clone()).await;
    assert_eq!(
        error_code(&borrowed),
        (StatusCode::UNAUTHORIZED, "unauthorised")
    );
    let self_granted = send(
        grant(&stranger(), Scope::ReadAnalytics, hour_ahead),
        server.clone(),
        channels,
    )
    .await;
    assert_eq!(
        error_code(&self_granted),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}

/// An organisation's flow counts as (role, status, codes).
fn flow_counts(v: &Value) -> Vec<(String, String, u64)> {
    v["counts"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| {
            (
                c["role"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["codes"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn counts_of(rows: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    rows.iter()
        .map(|(r, s, n)| (r.to_string(), s.to_string(), *n))
        .collect()
}

fn serials_of(v: &Value) -> Vec<u64> {
    v["codes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| c["serial"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn flows_follow_codes_and_the_parts_inside_items() {
    let f = indexed_world().await;
    // The world: the brand holds UNSOLD; SOLD and CLONED are sold, STOLEN is owned by alice.
    let (status, acme) = get(&f.router, "/v1/flows/acme", Some(&brand())).await;
    assert_eq!(status, StatusCode::OK, "{acme}");
    assert_eq!(
        flow_counts(&acme),
        counts_of(&[
            ("holder", "held", 1),
            ("issuer", "active", 1),
            ("issuer", "owned", 1),
            ("issuer", "sold", 2),
        ])
    );
    assert!(acme["codes"].as_array().unwrap().is_empty());
    let (status, shop_view) = get(&f.router, "/v1/flows/hz-cellar", Some(&shop())).await;
    assert_eq!(status, StatusCode::OK, "{shop_view}");
    assert!(flow_counts(&shop_view).is_empty());

    // Only members read an organisation's flows, with a known role and status.
    let other = get(&f.router, "/v1/flows/acme", Some(&stranger())).await;
    assert_eq!(error_code(&other), (StatusCode::FORBIDDEN, "forbidden"));
    let shop_on_brand = get(&f.router, "/v1/flows/acme", Some(&shop())).await;
    assert_eq!(
        error_code(&shop_on_brand),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let unsigned = get(&f.router, "/v1/flows/acme", None).await;
    assert_eq!(error_code(&unsigned).0, StatusCode::UNAUTHORIZED);
    for bad in [
        "?role=owner",
        "?status=held",
        "?role=holder&status=sold",
        "?role=issuer&status=held",
        "?role=holder&after=zz",
        "?role=holder&limit=0",
        "?role=holder&limit=1001",
    ] {
        let answer = get(&f.router, &format!("/v1/flows/acme{bad}"), Some(&brand())).await;
        assert_eq!(
            error_code(&answer),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad}"
        );
    }

    // The brand installs UNSOLD into a new item (serial 30) and ships three codes to the shop.
    let (b, s) = (brand(), shop());
    let mut nonce = BRAND_NEXT_NONCE;
    let mut next = || {
        nonce += 1;
        nonce - 1
    };
    let mut txs = vec![signed(
        &b,
        next(),
        Payload::Assemble(Assemble {
            org: org_id("acme"),
            parent: signed_code(30),
            remove: vec![],
            add: vec![CodeId {
                gtin: gtin(),
                serial: UNSOLD,
            }],
        }),
    )];
    let to_shop = CodeAction::Ship {
        to: org_id("hz-cellar"),
    };
    for serial in [40, 41, 42] {
        txs.push(event(&b, next(), "acme", serial, CodeAction::Commission));
        txs.push(event(&b, next(), "acme", serial, to_shop.clone()));
    }
    block(&f, BLOCK_TIME_MS + 4 * HOUR_MS, &txs);
    wait_indexed(&f).await;
    let (_, acme) = get(&f.router, "/v1/flows/acme", Some(&brand())).await;
    assert_eq!(
        flow_counts(&acme),
        counts_of(&[
            ("holder", "held", 1),
            ("holder", "installed", 1),
            ("issuer", "active", 1),
            ("issuer", "in_transit", 3),
            ("issuer", "installed", 1),
            ("issuer", "owned", 1),
            ("issuer", "sold", 2),
        ])
    );
    let (_, installed) = get(
        &f.router,
        "/v1/flows/acme?role=holder&status=installed",
        Some(&brand()),
    )
    .await;
    assert_eq!(installed["role"], "holder");
    let part = &installed["codes"][0];
    assert_eq!(
        (
            &part["gtin"],
            &part["serial"],
            &part["holder"],
            &part["issuer"],
            &part["lot"]
        ),
        (
            &json!(GTIN14),
            &json!(UNSOLD),
            &json!("acme"),
            &json!("acme"),
            &json!("L1")
        ),
        "{installed}"
    );

    // The shop pages through what is on its way to it.
    let path = "/v1/flows/hz-cellar?role=holder&status=in_transit&limit=2";
    let (_, first) = get(&f.router, path, Some(&shop())).await;
    assert_eq!(serials_of(&first), [40, 41], "{first}");
    let cursor = first["next"].as_str().expect("a next cursor").to_string();
    let (_, second) = get(&f.router, &format!("{path}&after={cursor}"), Some(&shop())).await;
    assert_eq!(serials_of(&second), [42], "{second}");
    assert!(second["next"].is_null());
    let (_, mixed) = get(
        &f.router,
        &format!("/v1/flows/hz-cellar?role=holder&status=held&after={cursor}"),
        Some(&shop()),
    )
    .await;
    assert!(mixed["error"].is_object(), "{mixed}");

    // The item goes to the shop, and its part with it; the shop receives it and bolt 40.
    let txs = [
        event(&b, next(), "acme", 30, to_shop.clone()),
        event(&s, 7, "hz-cellar", 30, CodeAction::Receive),
        event(&s, 8, "hz-cellar", 40, CodeAction::Receive),
    ];
    block(&f, BLOCK_TIME_MS + 5 * HOUR_MS, &txs);
    wait_indexed(&f).await;
    let (_, shop_view) = get(&f.router, "/v1/flows/hz-cellar", Some(&shop())).await;
    assert_eq!(
        flow_counts(&shop_view),
        counts_of(&[
            ("holder", "held", 2),
            ("holder", "in_transit", 2),
            ("holder", "installed", 1),
        ])
    );
    let (_, parts) = get(
        &f.router,
        "/v1/flows/hz-cellar?role=holder&status=installed",
        Some(&shop()),
    )
    .await;
    assert_eq!(serials_of(&parts), [UNSOLD]);
    assert_eq!(parts["codes"][0]["holder"], "hz-cellar");
    let (_, acme) = get(&f.router, "/v1/flows/acme?role=issuer", Some(&brand())).await;
    assert_eq!(
        flow_counts(&acme),
        counts_of(&[
            ("issuer", "in_channel", 2),
            ("issuer", "in_transit", 2),
            ("issuer", "installed", 1),
            ("issuer", "owned", 1),
            ("issuer", "sold", 2),
        ])
    );
    // Every status of the role, in status order.
    assert_eq!(
        serials_of(&acme),
        [30, 40, 41, 42, UNSOLD, STOLEN, SOLD, CLONED]
    );
}
