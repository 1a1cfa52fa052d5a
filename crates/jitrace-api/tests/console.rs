//! The console's HTTP side with `oneshot`: the page, sign-in and its cookie, sessions required
//! on every console route, CSRF and Origin checks on writes, role checks on signing and on
//! creating users, signing through normal admission, and the server-side paged reads.

mod common;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use common::{CHAIN_ID, Fixture, brand, operator, org_id};
use jitrace_console::{ConsoleRole, NewUser};
use jitrace_types::{LicenceId, Payload, SecretKey, Transaction, tx::IssueLicence};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const HOST: &str = "127.0.0.1:8080";
const ORIGIN: &str = "http://127.0.0.1:8080";
const PASSWORD: &str = "a long test password";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

/// A request as the console page sends it: same origin, with the cookie and CSRF token given.
fn request(
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, format!("jitrace_session={cookie}"));
    }
    if let Some(csrf) = csrf {
        builder = builder.header("x-csrf-token", csrf);
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn add_user(f: &Fixture, name: &str, org: &str, role: ConsoleRole, key: Option<SecretKey>) {
    f.console
        .create_user(
            NewUser {
                name,
                display_name: name,
                org: org_id(org),
                role,
                password: PASSWORD,
                key,
            },
            1,
        )
        .unwrap();
}

/// Signs `name` in; returns the cookie value and the CSRF token.
async fn sign_in(f: &Fixture, name: &str) -> (String, String) {
    let answer = send(
        &f.router,
        request(
            "POST",
            "/console/api/session",
            None,
            None,
            Some(json!({"name": name, "password": PASSWORD})),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let token = cookie
        .strip_prefix("jitrace_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (token, answer.body["csrf"].as_str().unwrap().to_string())
}

/// A fixture with a platform admin (the operator's key), a brand admin (the brand's key) and a
/// platform viewer (a key that is no member).
fn fixture() -> Fixture {
    let f = Fixture::new();
    add_user(
        &f,
        "admin",
        "platform",
        ConsoleRole::Admin,
        Some(operator()),
    );
    add_user(&f, "acme-admin", "acme", ConsoleRole::Admin, Some(brand()));
    add_user(
        &f,
        "acme-viewer",
        "acme",
        ConsoleRole::Viewer,
        Some(brand()),
    );
    f
}

async fn body_for(f: &Fixture, key: &SecretKey, payload: Payload) -> String {
    let nonce = send(
        &f.router,
        request(
            "GET",
            &format!("/v1/accounts/{}/nonce", key.public_key()),
            None,
            None,
            None,
        ),
    )
    .await
    .body["next_nonce"]
        .as_u64()
        .unwrap();
    hex::encode(
        Transaction {
            chain_id: CHAIN_ID.into(),
            signer: key.public_key(),
            nonce,
            payload,
        }
        .body(),
    )
}

/// `POST /console/api/tx` of a body, as the page sends it.
async fn send_tx(f: &Fixture, cookie: &str, csrf: &str, body: &str) -> Answer {
    send(
        &f.router,
        request(
            "POST",
            "/console/api/tx",
            Some(cookie),
            Some(csrf),
            Some(json!({"body": body})),
        ),
    )
    .await
}

/// `POST /console/api/users`.
async fn create_user(f: &Fixture, cookie: &str, csrf: &str, user: Value) -> Answer {
    send(
        &f.router,
        request(
            "POST",
            "/console/api/users",
            Some(cookie),
            Some(csrf),
            Some(user),
        ),
    )
    .await
}

fn licence(id: &str) -> Payload {
    Payload::IssueLicence(IssueLicence {
        id: LicenceId::new(id).unwrap(),
        org: org_id("acme"),
        quota: 10,
        valid_from: 0,
        valid_until: 4_000_000_000,
    })
}

#[tokio::test]
async fn the_page_is_the_console_with_a_strict_csp() {
    let f = fixture();
    let page = send(&f.router, request("GET", "/", None, None, None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("js/console/app.js") && html.contains("importmap"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    // The camera scanners' QR decoder runs in a worker the vendored module makes from a blob.
    assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
    let whoami = send(
        &f.router,
        request("GET", "/console/api/session", None, None, None),
    )
    .await;
    assert_eq!(whoami.body, json!({"signed_in": false}));
}

#[tokio::test]
async fn console_routes_need_a_session() {
    let f = fixture();
    for uri in [
        "/console/api/orgs",
        "/console/api/blocks",
        "/console/api/blocks/1",
        "/console/api/node",
        "/console/api/users",
        "/console/api/licences?org=acme",
        "/console/api/search?q=acme",
    ] {
        let answer = send(&f.router, request("GET", uri, None, None, None)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
        let forged = send(
            &f.router,
            request("GET", uri, Some(&"ab".repeat(32)), None, None),
        )
        .await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let tx = send(
        &f.router,
        request(
            "POST",
            "/console/api/tx",
            None,
            Some("x"),
            Some(json!({"body": ""})),
        ),
    )
    .await;
    assert_eq!(tx.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_fails_alike() {
    let f = fixture();
    let answer = send(
        &f.router,
        request(
            "POST",
            "/console/api/session",
            None,
            None,
            Some(json!({"name": "admin", "password": PASSWORD})),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "loopback http gets no Secure cookie"
    );
    assert_eq!(answer.body["org_roles"], json!(["platform"]));
    assert_eq!(answer.body["key"], operator().public_key().to_hex());
    assert!(
        answer.body["may_send"]
            .as_array()
            .unwrap()
            .contains(&json!("issue_licence"))
    );

    // Behind a proxy with a real host name the cookie is Secure.
    let mut behind = request(
        "POST",
        "/console/api/session",
        None,
        None,
        Some(json!({"name": "admin", "password": PASSWORD})),
    );
    behind
        .headers_mut()
        .insert(header::HOST, "console.example.com".parse().unwrap());
    behind.headers_mut().insert(
        header::ORIGIN,
        "https://console.example.com".parse().unwrap(),
    );
    let answer = send(&f.router, behind).await;
    assert!(
        answer.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );

    let wrong = |name: &str, password: &str| {
        request(
            "POST",
            "/console/api/session",
            None,
            None,
            Some(json!({"name": name, "password": password})),
        )
    };
    let a = send(&f.router, wrong("admin", "not the password")).await;
    let b = send(&f.router, wrong("nobody", "not the password")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (a.status, &a.body),
        (b.status, &b.body),
        "unknown users look alike"
    );
    assert!(!a.headers.contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn writes_need_the_csrf_token_and_the_same_origin() {
    let f = fixture();
    let (cookie, csrf) = sign_in(&f, "admin").await;
    let body = body_for(&f, &operator(), licence("acme-2027")).await;
    let without = send(
        &f.router,
        request(
            "POST",
            "/console/api/tx",
            Some(&cookie),
            None,
            Some(json!({"body": body})),
        ),
    )
    .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert_eq!(without.body["error"]["code"], "csrf");
    let wrong = send(
        &f.router,
        request(
            "POST",
            "/console/api/tx",
            Some(&cookie),
            Some(&"0".repeat(64)),
            Some(json!({"body": body})),
        ),
    )
    .await;
    assert_eq!(wrong.body["error"]["code"], "csrf");
    let mut elsewhere = request(
        "POST",
        "/console/api/tx",
        Some(&cookie),
        Some(&csrf),
        Some(json!({"body": body})),
    );
    elsewhere
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let elsewhere = send(&f.router, elsewhere).await;
    assert_eq!(elsewhere.body["error"]["code"], "csrf");
    let mut no_origin = request(
        "POST",
        "/console/api/tx",
        Some(&cookie),
        Some(&csrf),
        Some(json!({"body": body})),
    );
    no_origin.headers_mut().remove(header::ORIGIN);
    assert_eq!(
        send(&f.router, no_origin).await.status,
        StatusCode::FORBIDDEN
    );
    // Signing out needs the token too, and ends the session.
    let out = send(
        &f.router,
        request("DELETE", "/console/api/session", Some(&cookie), None, None),
    )
    .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let out = send(
        &f.router,
        request(
            "DELETE",
            "/console/api/session",
            Some(&cookie),
            Some(&csrf),
            None,
        ),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = send(
        &f.router,
        request("GET", "/console/api/orgs", Some(&cookie), None, None),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_node_signs_with_the_users_key_through_admission() {
    let f = fixture();
    let (cookie, csrf) = sign_in(&f, "admin").await;
    let body = body_for(&f, &operator(), licence("acme-2027")).await;
    let sent = send_tx(&f, &cookie, &csrf, &body).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    assert_eq!(sent.body["kind"], "issue_licence");
    let hash = jitrace_types::Hash::from_hex(sent.body["hash"].as_str().unwrap()).unwrap();
    assert!(f.mempool.contains(&hash));
    // The same body again is a duplicate for admission, as on `POST /v1/tx`.
    let again = send_tx(&f, &cookie, &csrf, &body).await;
    assert_eq!(again.body["error"]["code"], "duplicate");
    // Another signer than the user's key.
    let other = body_for(&f, &brand(), licence("acme-2028")).await;
    let refused = send_tx(&f, &cookie, &csrf, &other).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Garbage.
    let garbage = send_tx(&f, &cookie, &csrf, "00ff").await;
    assert_eq!(garbage.body["error"]["code"], "malformed");
}

#[tokio::test]
async fn roles_decide_what_a_user_may_send_and_create() {
    let f = fixture();
    // A brand admin may not issue licences (a platform payload).
    let (cookie, csrf) = sign_in(&f, "acme-admin").await;
    let body = body_for(&f, &brand(), licence("acme-2027")).await;
    let refused = send_tx(&f, &cookie, &csrf, &body).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"]["code"], "forbidden");
    // …nor create users of another organisation, nor list platform screens' users.
    let user = |org: &str| json!({"name": "new-user", "display_name": "New", "org": org, "role": "operator", "password": PASSWORD});
    let other = create_user(&f, &cookie, &csrf, user("platform")).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let own = create_user(&f, &cookie, &csrf, user("acme")).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    let listed = send(
        &f.router,
        request("GET", "/console/api/users", Some(&cookie), None, None),
    )
    .await;
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme-admin", "acme-viewer", "new-user"]);
    // A viewer may send nothing, even with the brand's member key.
    let (cookie, csrf) = sign_in(&f, "acme-viewer").await;
    let product = body_for(
        &f,
        &brand(),
        Payload::RegisterCodeKey {
            org: org_id("acme"),
            key: SecretKey::from_seed(77).public_key(),
        },
    )
    .await;
    let refused = send_tx(&f, &cookie, &csrf, &product).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let created = create_user(&f, &cookie, &csrf, user("acme")).await;
    assert_eq!(created.status, StatusCode::FORBIDDEN);
    // The platform admin creates the first user of a new organisation.
    let (cookie, csrf) = sign_in(&f, "admin").await;
    let first = json!({"name": "tea-admin", "display_name": "Tea", "org": "tea-house", "role": "admin", "password": PASSWORD});
    let created = create_user(&f, &cookie, &csrf, first.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["key"].as_str().unwrap().len(), 64);
    let again = create_user(&f, &cookie, &csrf, first).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn reads_page_sort_filter_and_search_on_the_server() {
    let f = fixture();
    let (cookie, _) = sign_in(&f, "admin").await;
    let get = |uri: String| {
        let router = f.router.clone();
        let cookie = cookie.clone();
        async move { send(&router, request("GET", &uri, Some(&cookie), None, None)).await }
    };
    let all = get("/console/api/orgs?sort=id".into()).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let ids: Vec<&str> = all.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "platform"]);
    let desc = get("/console/api/orgs?sort=id&order=desc&limit=1".into()).await;
    assert_eq!(desc.body["rows"][0]["id"], "platform");
    assert_eq!(
        (desc.body["total"].as_u64(), desc.body["limit"].as_u64()),
        (Some(2), Some(1))
    );
    let second = get("/console/api/orgs?sort=id&order=desc&limit=1&offset=1".into()).await;
    assert_eq!(second.body["rows"][0]["id"], "acme");
    let filtered = get("/console/api/orgs?q=WINES".into()).await;
    assert_eq!(filtered.body["total"], 1);
    assert_eq!(filtered.body["rows"][0]["licences"], 1);
    let by_role = get("/console/api/orgs?role=platform".into()).await;
    assert_eq!(by_role.body["rows"][0]["id"], "platform");
    assert_eq!(
        get("/console/api/orgs?sort=nope".into()).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get("/console/api/orgs?limit=100000".into()).await.body["limit"],
        100
    );

    let licences = get("/console/api/licences?org=acme".into()).await;
    assert_eq!(licences.body["rows"][0]["id"], "acme-2026");

    let blocks = get("/console/api/blocks".into()).await;
    assert_eq!(blocks.body["tip"], 1);
    assert_eq!(blocks.body["rows"][0]["height"], 1);
    let block = get("/console/api/blocks/1?limit=2".into()).await;
    assert_eq!(block.body["txs"]["rows"].as_array().unwrap().len(), 2);
    let first_tx = block.body["txs"]["rows"][0]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(block.body["txs"]["rows"][0]["kind"], "register_org");
    assert_eq!(
        get("/console/api/blocks/9".into()).await.status,
        StatusCode::NOT_FOUND
    );

    let found = get(format!("/console/api/search?q={first_tx}")).await;
    assert_eq!(
        (
            found.body["kind"].as_str(),
            found.body["tx"]["status"].as_str()
        ),
        (Some("tx"), Some("ok"))
    );
    assert_eq!(
        get("/console/api/search?q=1".into()).await.body["kind"],
        "block"
    );
    assert_eq!(
        get("/console/api/search?q=acme".into()).await.body,
        json!({"kind": "org", "id": "acme"})
    );
    let code = get("/console/api/search?q=00614141000012%20123".into()).await;
    assert_eq!(code.body["path"], "/01/00614141000012/21/123");
    let link = get("/console/api/search?q=https%3A%2F%2Fid.example%2F01%2F00614141000012%2F21%2F5%3F8030%3Dabc".into()).await;
    assert_eq!(link.body["kind"], "code", "{}", link.body);
    assert_eq!(
        get("/console/api/search?q=nobody-here".into()).await.status,
        StatusCode::NOT_FOUND
    );

    let node = get("/console/api/node".into()).await;
    assert_eq!(node.body["status"]["height"], 1);
    assert_eq!(node.body["status"]["peers"], 3);
}

// ---- the manufacturer's and supplier's routes (`/console/api/b2b/…`) ----

const B2B_READS: [&str; 6] = [
    "/console/api/b2b/suppliers",
    "/console/api/b2b/gate/log",
    "/console/api/b2b/recalls",
    "/console/api/b2b/recalls/0",
    "/console/api/b2b/trace/back/00614141000012/5",
    "/console/api/b2b/trace/forward?issuer=acme",
];

/// Registers `motor-works`, a manufacturer whose first member is `key`, through the platform
/// admin's console session, in the next block; and a console user `motor-admin` with that key.
async fn register_manufacturer(f: &Fixture, key: &SecretKey) {
    let (cookie, csrf) = sign_in(f, "admin").await;
    let register = Payload::RegisterOrg(jitrace_types::tx::RegisterOrg {
        id: org_id("motor-works"),
        name: "Motor Works".into(),
        roles: vec![jitrace_types::Role::Manufacturer],
        gs1_company_prefix: None,
        region: None,
        admin: key.public_key(),
    });
    let body = body_for(f, &operator(), register).await;
    let sent = send_tx(f, &cookie, &csrf, &body).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    f.finalise_next_block(common::BLOCK_TIME_MS + 1_000);
    add_user(
        f,
        "motor-admin",
        "motor-works",
        ConsoleRole::Operator,
        Some(key.clone()),
    );
}

fn gate_check(cookie: &str, csrf: Option<&str>, body: Value) -> Request<Body> {
    request(
        "POST",
        "/console/api/b2b/gate/check",
        Some(cookie),
        csrf,
        Some(body),
    )
}

#[tokio::test]
async fn b2b_routes_need_a_session_csrf_and_the_right_role() {
    let f = fixture();
    for uri in B2B_READS {
        let answer = send(&f.router, request("GET", uri, None, None, None)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let anonymous = send(
        &f.router,
        request(
            "POST",
            "/console/api/b2b/gate/check",
            None,
            Some("x"),
            Some(json!({"org": "acme", "items": []})),
        ),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // A brand (no manufacturer, no supplier role) has no gate and no supplier list, but reads
    // its own recalls and gate log.
    let (cookie, csrf) = sign_in(&f, "acme-admin").await;
    let suppliers = send(
        &f.router,
        request("GET", B2B_READS[0], Some(&cookie), None, None),
    )
    .await;
    assert_eq!(
        suppliers.status,
        StatusCode::FORBIDDEN,
        "{}",
        suppliers.body
    );
    let item = json!({"org": "acme", "items": [{"scanned": "", "observed": []}]});
    let check = send(&f.router, gate_check(&cookie, Some(&csrf), item.clone())).await;
    assert_eq!(check.status, StatusCode::FORBIDDEN, "{}", check.body);
    for uri in ["/console/api/b2b/recalls", "/console/api/b2b/gate/log"] {
        let answer = send(&f.router, request("GET", uri, Some(&cookie), None, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        assert_eq!(answer.body["total"], 0, "{uri}");
    }
    let none = send(
        &f.router,
        request("GET", B2B_READS[3], Some(&cookie), None, None),
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);

    // A user whose key is no member of the organisation reads nothing.
    let (admin, _) = sign_in(&f, "admin").await;
    let platform = send(
        &f.router,
        request("GET", B2B_READS[0], Some(&admin), None, None),
    )
    .await;
    assert_eq!(platform.status, StatusCode::FORBIDDEN);

    // The manufacturer's gate: CSRF first, its own gate only, 1 to 500 items.
    let maker = SecretKey::from_seed(4_242);
    register_manufacturer(&f, &maker).await;
    let (cookie, csrf) = sign_in(&f, "motor-admin").await;
    let own = json!({"org": "motor-works", "items": [{"scanned": "", "observed": []}]});
    let no_csrf = send(&f.router, gate_check(&cookie, None, own.clone())).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "{}", no_csrf.body);
    assert_eq!(no_csrf.body["error"]["code"], "csrf");
    let theirs = send(&f.router, gate_check(&cookie, Some(&csrf), item)).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.body);
    let empty = json!({"org": "motor-works", "items": []});
    let empty = send(&f.router, gate_check(&cookie, Some(&csrf), empty)).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
}

#[tokio::test]
async fn a_manufacturers_gate_check_gives_every_verdict_and_records_nothing() {
    let f = fixture();
    let maker = SecretKey::from_seed(4_243);
    register_manufacturer(&f, &maker).await;
    let (cookie, csrf) = sign_in(&f, "motor-admin").await;
    let link = format!("{ORIGIN}/01/00614141000012/21/5?8030=AAAA");
    let body = json!({"org": "motor-works", "items": [
        {"scanned": "", "observed": []},
        {"scanned": "not a code", "observed": []},
        {"scanned": link, "observed": [{"name": "diameter_mm", "value": "50.0"}]},
    ]});
    let report = send(&f.router, gate_check(&cookie, Some(&csrf), body)).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let reasons: Vec<Value> = report.body["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["reasons"][0].clone())
        .collect();
    assert_eq!(
        reasons[..2],
        [json!("no_code"), json!("code_unreadable")],
        "{}",
        report.body
    );
    assert_eq!(report.body["accepted"], 0);
    assert_eq!(report.body["rejected"], 3);
    assert!(report.body["tx"].is_null());
    // A dry run: the gate log stays empty; the manufacturer has no authorisations yet.
    for uri in ["/console/api/b2b/gate/log", "/console/api/b2b/suppliers"] {
        let answer = send(&f.router, request("GET", uri, Some(&cookie), None, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        assert_eq!(answer.body["total"], 0, "{uri}: {}", answer.body);
    }
    for (sort, status) in [
        ("part", StatusCode::OK),
        ("valid_until", StatusCode::OK),
        ("bogus", StatusCode::BAD_REQUEST),
    ] {
        let uri = format!("/console/api/b2b/suppliers?sort={sort}&order=desc");
        let answer = send(&f.router, request("GET", &uri, Some(&cookie), None, None)).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
    }
    // A forward trace of another brand's product shows none of its items.
    let forward = send(
        &f.router,
        request(
            "GET",
            "/console/api/b2b/trace/forward?gtin=00614141000012",
            Some(&cookie),
            None,
            None,
        ),
    )
    .await;
    assert_eq!(forward.status, StatusCode::OK, "{}", forward.body);
    assert_eq!(forward.body["visible"], 0, "{}", forward.body);
}

/// The brand and channel screens' reads: the world of `common::world` (brand `acme`, its
/// retailer `hz-cellar`) with a console user for each.
fn brand_world() -> Fixture {
    let f = common::world::world(false);
    add_user(&f, "acme-admin", "acme", ConsoleRole::Admin, Some(brand()));
    add_user(
        &f,
        "shop-admin",
        "hz-cellar",
        ConsoleRole::Admin,
        Some(common::world::shop()),
    );
    f
}

#[tokio::test]
async fn signed_reads_answer_as_the_users_key_with_the_v1_rules() {
    let f = brand_world();
    let (brand_cookie, _) = sign_in(&f, "acme-admin").await;
    let (shop_cookie, _) = sign_in(&f, "shop-admin").await;
    let get = |uri: String, cookie: Option<String>| {
        let router = f.router.clone();
        async move { send(&router, request("GET", &uri, cookie.as_deref(), None, None)).await }
    };
    let brand = || Some(brand_cookie.clone());

    let no_session = get("/console/api/signed/alerts?brand=acme".into(), None).await;
    assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
    let alerts = get("/console/api/signed/alerts?brand=acme".into(), brand()).await;
    assert_eq!(alerts.status, StatusCode::OK, "{}", alerts.body);
    assert!(alerts.body["alerts"].is_array());
    // The /v1 handler decides who reads what: the retailer is no member of the brand.
    let foreign = get(
        "/console/api/signed/alerts?brand=acme".into(),
        Some(shop_cookie.clone()),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.body);

    let history = get(
        format!(
            "/console/api/signed/codes/{}/{}/events",
            common::gtin(),
            common::world::SOLD
        ),
        brand(),
    )
    .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    assert_eq!(history.body["view"], "private");
    assert_eq!(history.body["events"][0]["biz_step"], "commissioning");

    let scans = get(
        "/console/api/signed/analytics/scans?brand=acme&from=2020-01-01&to=2020-12-31".into(),
        brand(),
    )
    .await;
    assert_eq!(scans.status, StatusCode::OK, "{}", scans.body);

    // Only the listed reads pass; writes and other paths are not proxied.
    for path in ["tx", "orgs", "media", "codes/../tx"] {
        let answer = get(format!("/console/api/signed/{path}"), brand()).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn the_channel_list_pages_the_brands_grants() {
    let f = brand_world();
    let (cookie, _) = sign_in(&f, "acme-admin").await;
    let get = |uri: &str| send(&f.router, request("GET", uri, Some(&cookie), None, None));
    let page = get("/console/api/channels").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["total"], 1);
    let row = &page.body["rows"][0];
    assert_eq!(row["channel"], "hz-cellar");
    assert_eq!(row["name"], "杭州酒窖 Hangzhou Cellar");
    assert_eq!(row["grants"][0]["role"], "retailer");
    assert_eq!(row["grants"][0]["territory"], json!(["CN-ZJ"]));
    assert_eq!(row["grants"][0]["revoked"], Value::Null);
    let past = get("/console/api/channels?offset=1").await;
    assert_eq!(past.body["rows"], json!([]));
    assert_eq!(past.body["total"], 1);
    assert_eq!(
        send(
            &f.router,
            request("GET", "/console/api/channels", None, None, None)
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn media_upload_is_a_csrf_checked_signed_write() {
    let f = brand_world();
    let (cookie, csrf) = sign_in(&f, "acme-admin").await;
    let upload = |csrf: Option<String>, cookie: String| {
        let mut builder = Request::builder()
            .method("POST")
            .uri("/console/api/media")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "image/png")
            .header(header::COOKIE, format!("jitrace_session={cookie}"));
        if let Some(csrf) = csrf {
            builder = builder.header("x-csrf-token", csrf);
        }
        send(
            &f.router,
            builder.body(Body::from(&b"a photo"[..])).unwrap(),
        )
    };
    let without = upload(None, cookie.clone()).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert_eq!(without.body["error"]["code"], "csrf");
    let stored = upload(Some(csrf), cookie).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    assert_eq!(
        stored.body["hash"],
        jitrace_types::Hash::of(&[b"a photo"]).to_hex()
    );
    // A retailer registers no products, so the /v1 handler refuses its upload.
    let (shop_cookie, shop_csrf) = sign_in(&f, "shop-admin").await;
    let refused = upload(Some(shop_csrf), shop_cookie).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
}

#[tokio::test]
async fn label_files_are_signed_with_the_code_key_sealed_for_the_user() {
    let f = brand_world();
    let get =
        |uri: &str, cookie: &str| send(&f.router, request("GET", uri, Some(cookie), None, None));
    // No code key sealed for the user yet: the CLI prints these labels.
    let (cookie, _) = sign_in(&f, "acme-admin").await;
    let refused = get("/console/api/labels/00614141000012/L1.csv", &cookie).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    f.console
        .seal_code_key("acme-admin", PASSWORD, &common::code_key(), 2)
        .unwrap();
    let (cookie, _) = sign_in(&f, "acme-admin").await;
    let file = get("/console/api/labels/00614141000012/L1.csv", &cookie).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert!(
        file.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("00614141000012-L1.csv")
    );
    let text = file.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 101);
    assert_eq!(lines[0], "gtin,serial,lot,uri");
    let signature =
        jitrace_types::code::sign_code(&common::code_key(), CHAIN_ID, &common::gtin(), "1");
    assert_eq!(
        lines[1],
        format!("00614141000012,1,L1,http://{HOST}/01/00614141000012/21/1?8030={signature}")
    );
    let part = get(
        "/console/api/labels/00614141000012/L1.csv?offset=10&limit=5",
        &cookie,
    )
    .await;
    let part: Vec<&str> = part.body.as_str().unwrap().lines().collect();
    assert_eq!(part.len(), 6);
    assert!(part[1].starts_with("00614141000012,11,L1,"), "{}", part[1]);
    // Another organisation's batch, and a batch that is not there.
    let (shop_cookie, _) = sign_in(&f, "shop-admin").await;
    assert_eq!(
        get("/console/api/labels/00614141000012/L1.csv", &shop_cookie)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get("/console/api/labels/00614141000012/L9.csv", &cookie)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The text of a PDF, by poppler's `pdftotext` (which `.ci/run` installs).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!("pdftotext: {e}; apt-get install poppler-utils (.ci/run installs it)")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn label_pdfs_are_drawn_by_the_node_for_the_users_own_batches() {
    let f = brand_world();
    f.console
        .seal_code_key("acme-admin", PASSWORD, &common::code_key(), 2)
        .unwrap();
    let (cookie, _) = sign_in(&f, "acme-admin").await;
    let get_raw = |uri: String, cookie: String| {
        let router = f.router.clone();
        async move {
            let response = router
                .oneshot(request("GET", &uri, Some(&cookie), None, None))
                .await
                .unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, headers, bytes)
        }
    };
    let base = "/console/api/labels/00614141000012/L1.pdf";
    let (status, headers, a4) = get_raw(format!("{base}?layout=a4"), cookie.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&a4));
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("00614141000012-L1-a4-1-100.pdf")
    );
    assert!(a4.starts_with(b"%PDF-"));
    let text = pdf_text(&a4);
    // 100 labels: the product's name, the serials, GTIN and lot on five A4 pages.
    assert!(text.contains("Acme Red 2024"), "{text}");
    assert!(text.contains("SN 1\n") && text.contains("SN 100"), "{text}");
    assert!(text.contains("GTIN 00614141000012") && text.contains("LOT L1"));
    assert_eq!(text.matches('\u{c}').count(), 5, "pages");

    // A part, on roll labels: one label a page.
    let (status, _, roll) = get_raw(
        format!("{base}?layout=roll&offset=10&limit=3"),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = pdf_text(&roll);
    assert_eq!(text.matches('\u{c}').count(), 3, "pages");
    assert!(text.contains("SN 11") && text.contains("SN 13") && !text.contains("SN 14"));

    // A layout it does not draw; another organisation's batch; a batch that is not there.
    let (status, _, _) = get_raw(format!("{base}?layout=letter"), cookie.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (shop_cookie, _) = sign_in(&f, "shop-admin").await;
    let (status, _, _) = get_raw(base.to_string(), shop_cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get_raw(
        "/console/api/labels/00614141000012/L9.pdf".to_string(),
        cookie,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_code_key_is_made_for_a_brand_admin_and_sealed_under_their_password() {
    let f = brand_world();
    let (cookie, csrf) = sign_in(&f, "acme-admin").await;
    let post = |cookie: &str, csrf: Option<&str>, password: &str| {
        send(
            &f.router,
            request(
                "POST",
                "/console/api/code-key",
                Some(cookie),
                csrf,
                Some(json!({ "password": password })),
            ),
        )
    };
    assert_eq!(
        post(&cookie, None, PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&cookie, Some(&csrf), "not the password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let made = post(&cookie, Some(&csrf), PASSWORD).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let key = made.body["code_key"].as_str().unwrap();
    // The live session holds it at once, and so does the next sign-in.
    let whoami = send(
        &f.router,
        request("GET", "/console/api/session", Some(&cookie), None, None),
    )
    .await;
    assert_eq!(whoami.body["code_key"], key);
    let (again, _) = sign_in(&f, "acme-admin").await;
    let whoami = send(
        &f.router,
        request("GET", "/console/api/session", Some(&again), None, None),
    )
    .await;
    assert_eq!(whoami.body["code_key"], key);
    // A retailer issues no codes.
    let (shop_cookie, shop_csrf) = sign_in(&f, "shop-admin").await;
    assert_eq!(
        post(&shop_cookie, Some(&shop_csrf), PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
}

/// An Acme GTIN-14 (company prefix 0614141) for item reference `item`.
fn acme_gtin(item: u32) -> jitrace_types::Gtin {
    let body = format!("00614141{item:05}");
    let check = jitrace_types::gs1::gs1_check_digit(body.as_bytes());
    jitrace_types::Gtin::parse(&format!("{body}{check}")).unwrap()
}

#[tokio::test]
async fn products_and_batches_page_sort_and_filter_on_the_server() {
    use common::world::{HOUR_MS, block};
    use jitrace_types::tx::{IssueCodeBatch, ProductInfo};
    let f = brand_world();
    let nonce = send(
        &f.router,
        request(
            "GET",
            &format!("/v1/accounts/{}/nonce", brand().public_key()),
            None,
            None,
            None,
        ),
    )
    .await
    .body["next_nonce"]
        .as_u64()
        .unwrap();
    let product = |item: u32, name: &str| {
        Payload::RegisterProduct(ProductInfo {
            gtin: acme_gtin(item),
            org: org_id("acme"),
            name: name.into(),
            description: String::new(),
            attributes: vec![],
            media: vec![],
        })
    };
    let batch = |lot: &str, first_serial, count| {
        Payload::IssueCodeBatch(IssueCodeBatch {
            org: org_id("acme"),
            licence: LicenceId::new("acme-2026").unwrap(),
            gtin: common::gtin(),
            lot: lot.into(),
            first_serial,
            count,
            code_key: common::code_key().public_key(),
        })
    };
    let payloads = [
        product(2, "Acme White 2025"),
        product(3, "acme rosé"),
        batch("L3", 200, 10),
        batch("L4", 300, 50),
        batch("M5", 150, 5),
    ];
    let txs: Vec<_> = payloads
        .into_iter()
        .zip(nonce..)
        .map(|(payload, n)| common::signed(&brand(), n, payload))
        .collect();
    block(&f, common::BLOCK_TIME_MS + 10 * HOUR_MS, &txs);

    let (cookie, _) = sign_in(&f, "acme-admin").await;
    let get = |uri: String| {
        let router = f.router.clone();
        let cookie = cookie.clone();
        async move { send(&router, request("GET", &uri, Some(&cookie), None, None)).await }
    };
    let column = |answer: &Answer, key: &str| -> Vec<String> {
        answer.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| match &r[key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    };

    // Products: registration order, paged.
    let first = get("/console/api/products?limit=2".into()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        (first.body["total"].as_u64(), first.body["limit"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        column(&first, "gtin"),
        [common::gtin().to_string(), acme_gtin(2).to_string()]
    );
    assert_eq!(first.body["rows"][0]["name"], "Acme Red 2024");
    let rest = get("/console/api/products?limit=2&offset=2".into()).await;
    assert_eq!(column(&rest, "gtin"), [acme_gtin(3).to_string()]);
    assert_eq!(rest.body["offset"], 2);
    // Sorted by name, descending; filtered by name (any case) and by GTIN digits.
    let by_name = get("/console/api/products?sort=name&order=desc".into()).await;
    assert_eq!(
        column(&by_name, "name"),
        ["Acme White 2025", "acme rosé", "Acme Red 2024"]
    );
    let codes = get("/console/api/products?sort=codes&order=desc&limit=1".into()).await;
    assert_eq!(column(&codes, "gtin"), [common::gtin().to_string()]);
    let white = get("/console/api/products?q=WHITE".into()).await;
    assert_eq!(white.body["total"], 1);
    assert_eq!(column(&white, "gtin"), [acme_gtin(2).to_string()]);
    let digits = get(format!(
        "/console/api/products?q={}&sort=gtin&order=desc",
        &acme_gtin(3).to_string()[8..]
    ))
    .await;
    assert_eq!(column(&digits, "gtin"), [acme_gtin(3).to_string()]);
    assert_eq!(
        get("/console/api/products?limit=100000".into()).await.body["limit"],
        100
    );
    assert_eq!(
        get("/console/api/products?sort=nope".into()).await.status,
        StatusCode::BAD_REQUEST
    );

    // Batches of a product: by first serial, paged; sorted and filtered by lot.
    let batches =
        |params: &str| format!("/console/api/products/{}/batches{params}", common::gtin());
    let page = get(batches("?limit=2")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["total"], 4);
    assert_eq!(column(&page, "lot"), ["L1", "M5"]);
    assert_eq!(page.body["rows"][1]["first_serial"], 150);
    let next = get(batches("?limit=2&offset=2")).await;
    assert_eq!(column(&next, "lot"), ["L3", "L4"]);
    let by_lot = get(batches("?sort=lot&order=desc")).await;
    assert_eq!(column(&by_lot, "lot"), ["M5", "L4", "L3", "L1"]);
    let by_count = get(batches("?sort=count")).await;
    assert_eq!(column(&by_count, "lot"), ["M5", "L3", "L4", "L1"]);
    // L1 was issued in block 1, the others together later (ties go by first serial).
    let issued = get(batches("?sort=issued")).await;
    assert_eq!(column(&issued, "lot"), ["L1", "M5", "L3", "L4"]);
    let newest = get(batches("?sort=issued&order=desc&limit=1")).await;
    assert_eq!(newest.body["total"], 4);
    assert_eq!(column(&newest, "lot"), ["L4"]);
    let filtered = get(batches("?q=l")).await;
    assert_eq!(filtered.body["total"], 3);
    assert_eq!(column(&filtered, "lot"), ["L1", "L3", "L4"]);
    let empty = get(format!("/console/api/products/{}/batches", acme_gtin(2))).await;
    assert_eq!(
        (empty.status, empty.body["total"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    assert_eq!(
        get(batches("?sort=nope")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(format!("/console/api/products/{}/batches", acme_gtin(9)))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Another organisation sees none of it: its own (empty) products, and no batches of Acme's.
    let (shop_cookie, _) = sign_in(&f, "shop-admin").await;
    let shop = |uri: String| {
        let router = f.router.clone();
        let cookie = shop_cookie.clone();
        async move { send(&router, request("GET", &uri, Some(&cookie), None, None)).await }
    };
    let own = shop("/console/api/products".into()).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["total"], 0);
    assert_eq!(shop(batches("")).await.status, StatusCode::FORBIDDEN);
    // And nobody without a session.
    for uri in ["/console/api/products".to_string(), batches("")] {
        assert_eq!(
            send(&f.router, request("GET", &uri, None, None, None))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}
