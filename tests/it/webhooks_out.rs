//! Outgoing webhooks: an endpoint chosen for `conversion.created` receives the event signed with its secret (checked
//! with the README's own verification snippet, run by Python), a failing endpoint is retried until it answers 2xx,
//! and a replay sends the same event id again.

use std::sync::{Arc, Mutex};

use crate::harness::TestApp;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use reqwest::StatusCode;

#[derive(Clone, Default)]
struct Receiver {
    /// (signature header, event header, body) of every request.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    failures_left: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(failures: usize) -> (Self, String) {
        let receiver = Receiver {
            failures_left: Arc::new(Mutex::new(failures)),
            ..Default::default()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hooks",
            listener.local_addr().unwrap().port()
        );
        let shared = receiver.clone();
        let server = HttpServer::new(move || {
            let receiver = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let receiver = receiver.clone();
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    receiver.seen.lock().unwrap().push((
                        header("concord-signature"),
                        header("concord-event"),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    let mut left = receiver.failures_left.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        HttpResponse::ServiceUnavailable().body("try later")
                    } else {
                        HttpResponse::Ok().body("thanks")
                    }
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        (receiver, url)
    }
}

/// Runs the README's verification snippet with Python: "valid" or "invalid".
fn readme_snippet_says(secret: &str, header: &str, body: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("<!-- verify-snippet -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /verify-snippet -->").next())
        .expect("the README has the snippet");
    let code = block
        .trim()
        .trim_start_matches("```python")
        .trim_end_matches("```");
    let program = format!(
        "{code}\nimport sys\nprint('valid' if verify_concord_signature(sys.argv[1], sys.argv[2], sys.stdin.buffer.read()) else 'invalid')\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verify.py");
    std::fs::write(&path, program).unwrap();
    let mut child = std::process::Command::new("python3")
        .arg(&path)
        .arg(secret)
        .arg(header)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn signed_events_are_retried_until_delivered_and_verify_with_the_readme_snippet() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let (receiver, url) = Receiver::start(2).await;
    // A bad address and no events are refused with the form kept.
    let refused = admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("url", "not a url")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .assert_contains("full address")
        .assert_contains("Choose at least one event");
    let created = admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[
                ("url", &url),
                ("events", "conversion.created"),
                ("events", "payout.paid"),
            ],
        )
        .await;
    let endpoint_page = created.location.clone().expect("created");
    let secret = {
        let page = admin.get(&endpoint_page).await;
        let start = page.body.find("whsec_").expect("the secret is shown");
        page.body[start..].split('<').next().unwrap().to_string()
    };

    // A conversion arrives through the API: the event is queued in the same transaction.
    let key = app.api_key().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/conversions", app.address))
        .bearer_auth(&key)
        .json(&serde_json::json!({"external_id": "order-1", "kind": "sale", "amount": 1_000, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    assert_eq!(app.run_job("webhooks").await, "0 delivered, 1 failed");
    assert_eq!(
        app.run_job("webhooks").await,
        "",
        "not due again before its backoff"
    );
    for expected in ["0 delivered, 1 failed", "1 delivered, 0 failed"] {
        app.db(|conn| {
            use concord::platform::db::schema::webhook_deliveries::dsl::*;
            use diesel::prelude::*;
            diesel::update(webhook_deliveries)
                .set(next_attempt_at.eq(concord::platform::db::now()))
                .execute(conn)
                .unwrap()
        })
        .await;
        assert_eq!(app.run_job("webhooks").await, expected);
    }
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let (signature, event, body) = seen.last().unwrap().clone();
    assert_eq!(event, "conversion.created");
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            payload["type"].as_str(),
            payload["data"]["external_id"].as_str()
        ),
        (Some("conversion.created"), Some("order-1"))
    );
    assert_eq!(readme_snippet_says(&secret, &signature, &body), "valid");
    assert_eq!(
        readme_snippet_says("whsec_wrong", &signature, &body),
        "invalid"
    );
    assert_eq!(
        readme_snippet_says(&secret, &signature, &body.replace("order-1", "order-2")),
        "invalid"
    );
    admin
        .get(&endpoint_page)
        .await
        .assert_contains("delivered")
        .assert_contains("HTTP 200")
        .assert_contains("<td>3</td>");

    // Replay: the same event id once more.
    let delivery_id: i64 = app
        .db(|conn| {
            use concord::platform::db::schema::webhook_deliveries::dsl::*;
            use diesel::prelude::*;
            webhook_deliveries.select(id).first(conn).unwrap()
        })
        .await;
    let replay = format!("/admin/webhooks/deliveries/{delivery_id}/replay");
    admin
        .submit(&endpoint_page, &replay, &[])
        .await
        .assert_redirect(&endpoint_page);
    assert_eq!(app.run_job("webhooks").await, "1 delivered, 0 failed");
    let seen = receiver.seen.lock().unwrap().clone();
    let ids: Vec<String> = seen
        .iter()
        .map(|(_, _, body)| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|i| *i == ids[0]), "one event id: {ids:?}");
}

#[tokio::test]
async fn a_commission_is_announced_when_its_hold_ends() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let (_receiver, url) = Receiver::start(0).await;
    admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("url", &url), ("events", "commission.approved")],
        )
        .await
        .assert_redirect("/admin/webhooks/1");
    let crate::fixtures::AffiliateProgram { org, key, .. } =
        crate::fixtures::affiliate_program(&app)
            .hold_days(0)
            .sales_rule(1_000)
            .await;
    crate::fixtures::sale(
        &app,
        &key,
        "o-7",
        5_000,
        serde_json::json!({"coupon": "BO"}),
    )
    .await;
    let released = app.run_job("hold_release").await;
    let entries = crate::payouts::ledger(&app, org).await;
    let events: Vec<(String, String)> = app
        .db(|conn| {
            use concord::platform::db::schema::webhook_deliveries::dsl::*;
            use diesel::prelude::*;
            webhook_deliveries
                .select((event_type, payload))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(events.len(), 1, "{events:?} {released:?} {entries:?}");
    assert_eq!(events[0].0, "commission.approved");
    let payload: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        (
            payload["data"]["partner_id"].as_i64(),
            payload["data"]["amount"].as_i64()
        ),
        (Some(org), Some(500))
    );
}

#[tokio::test]
async fn a_disabled_endpoint_gets_no_retry_until_it_is_enabled_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let (receiver, url) = Receiver::start(1).await;
    admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("url", &url), ("events", "conversion.created")],
        )
        .await
        .assert_redirect("/admin/webhooks/1");
    let key = app.api_key().await;
    crate::fixtures::sale(&app, &key, "order-1", 1_000, serde_json::json!({})).await;
    assert_eq!(app.run_job("webhooks").await, "0 delivered, 1 failed");

    // Disabled, the endpoint gets nothing, however long the delivery has waited.
    admin
        .submit(
            "/admin/webhooks/1",
            "/admin/webhooks/1/active",
            &[("active", "off")],
        )
        .await
        .assert_redirect("/admin/webhooks/1");
    let make_due = || {
        app.db(|conn| {
            use concord::platform::db::schema::webhook_deliveries::dsl::*;
            use diesel::prelude::*;
            diesel::update(webhook_deliveries)
                .set(next_attempt_at.eq(concord::platform::db::now() - chrono::Duration::hours(1)))
                .execute(conn)
                .unwrap()
        })
    };
    make_due().await;
    assert_eq!(app.run_job("webhooks").await, "");
    assert_eq!(receiver.seen.lock().unwrap().len(), 1);

    // Enabled again, the waiting delivery goes out.
    admin
        .submit(
            "/admin/webhooks/1",
            "/admin/webhooks/1/active",
            &[("active", "on")],
        )
        .await
        .assert_redirect("/admin/webhooks/1");
    make_due().await;
    assert_eq!(app.run_job("webhooks").await, "1 delivered, 0 failed");
    assert_eq!(receiver.seen.lock().unwrap().len(), 2);
}

/// Issue 21 (L3): every spelling of an internal address is refused when the endpoint is added, a name that resolves
/// inside the network is refused again when each delivery connects, and a failed delivery says nothing that would
/// map internal ports.
#[tokio::test]
async fn webhooks_never_reach_the_servers_own_network() {
    let app = TestApp::spawn_with(|s| s.webhook_allow_private = false).await;
    let admin = app.admin_browser().await;
    let (receiver, url) = Receiver::start(0).await;
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    for spelling in [
        format!("http://127.0.0.1:{port}/hooks"),
        format!("http://localhost:{port}/hooks"),
        format!("http://0.0.0.0:{port}/hooks"),
        format!("http://2130706433:{port}/hooks"),
        format!("http://0x7f000001:{port}/hooks"),
        format!("http://127.1:{port}/hooks"),
        format!("http://0177.0.0.1:{port}/hooks"),
        format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        format!("http://[::1]:{port}/hooks"),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.7/hooks".to_string(),
        "http://192.168.0.1/hooks".to_string(),
    ] {
        let refused = admin
            .submit(
                "/admin/webhooks",
                "/admin/webhooks",
                &[("url", &spelling), ("events", "conversion.created")],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{spelling}"
        );
        refused
            .assert_contains("inside this server&#39;s network")
            .assert_contains(&spelling.replace('&', "&amp;"));
    }
    let with_credentials = admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[
                ("url", &format!("http://user:pw@127.0.0.1:{port}/hooks")),
                ("events", "conversion.created"),
            ],
        )
        .await;
    assert_eq!(with_credentials.status, StatusCode::UNPROCESSABLE_ENTITY);
    with_credentials.assert_contains("Leave the user name and password out");
    let endpoints: i64 = app
        .db(|conn| {
            use concord::platform::db::schema::webhook_endpoints::dsl::*;
            use diesel::prelude::*;
            webhook_endpoints.count().get_result(conn).unwrap()
        })
        .await;
    assert_eq!(endpoints, 0, "nothing refused was kept");

    // An endpoint whose name resolved publicly when it was added and resolves to 127.0.0.1 now (written straight
    // to the database, as a rebinding name would be): the resolver that opens the connection refuses it.
    let rebound = format!("http://localhost:{port}/hooks");
    let endpoint = app
        .db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::webhooks::store::insert_endpoint(
                conn,
                program.id,
                &rebound,
                "whsec_test",
                &["conversion.created"],
            )
            .unwrap()
        })
        .await;
    let key = app.api_key().await;
    crate::fixtures::sale(&app, &key, "order-1", 1_000, serde_json::json!({})).await;
    assert_eq!(app.run_job("webhooks").await, "0 delivered, 1 failed");
    assert!(receiver.seen.lock().unwrap().is_empty(), "nothing arrived");
    admin
        .get(&format!("/admin/webhooks/{endpoint}"))
        .await
        .assert_contains("refused: the address resolves inside this server&#39;s network");
}

/// Issue 21 (L3): a connection failure is reported as "could not connect", never with the system's words that tell
/// a closed port from a filtered one.
#[tokio::test]
async fn a_failed_connection_reveals_nothing_about_the_port() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    // A port nothing listens on: bind, note it, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[
                ("url", &format!("http://127.0.0.1:{closed}/hooks")),
                ("events", "conversion.created"),
            ],
        )
        .await
        .assert_redirect("/admin/webhooks/1");
    let key = app.api_key().await;
    crate::fixtures::sale(&app, &key, "order-1", 1_000, serde_json::json!({})).await;
    assert_eq!(app.run_job("webhooks").await, "0 delivered, 1 failed");
    let page = admin.get("/admin/webhooks/1").await;
    page.assert_contains("could not connect");
    let lower = page.body.to_lowercase();
    for revealing in ["refused", "tcp", "os error", "connect error", "reset"] {
        assert!(!lower.contains(revealing), "the page says {revealing:?}");
    }
}
