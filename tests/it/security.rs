//! Issue 11, security checks. The routes come from the application's own router (actix's resource map), so a route
//! added later is checked without anyone listing it here:
//! - every state-changing route refuses a request without a valid CSRF token;
//! - every `/portal` route with an id refuses another org's id (a property test over generated orgs and ids);
//! - every page carries the security headers, and no page or form answers a probe with a 500;
//! - the session cookie's flags, argon2 hashes and passwords kept out of the log;
//! - no open redirect through `/r/{code}` or `next=`, and uploads are never served as HTML.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reqwest::StatusCode;

use crate::fixtures::{self, fund, Partner};
use crate::harness::{Browser, Page, TestApp, PASSWORD};
use crate::mdf::{allocate, claim, request, request_id, PDF};

/// Every route pattern the application registers, read off actix's resource map (scopes joined to their routes).
pub(crate) async fn route_patterns() -> Vec<String> {
    use actix_web::{test, web, App, HttpRequest, HttpResponse};
    let app = test::init_service(App::new().configure(concord::web::routes).default_service(
        web::to(|req: HttpRequest| async move {
            HttpResponse::Ok().body(format!("{:#?}", req.resource_map()))
        }),
    ))
    .await;
    let request = test::TestRequest::get()
        .uri("/no-route-has-this-path")
        .to_request();
    let dump = String::from_utf8(test::call_and_read_body(&app, request).await.to_vec()).unwrap();

    // The dump nests `ResourceMap { pattern: ResourceDef { patterns: Single("…") … }, nodes: Some([…]) | None }`.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut patterns = Vec::new();
    let mut lines = dump.lines();
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        match line.trim() {
            "ResourceMap {" => {
                stack.retain(|(depth, _)| *depth < indent);
                stack.push((indent, String::new()));
            }
            "patterns: Single(" => {
                let pattern = lines.next().unwrap().trim().trim_end_matches(',');
                stack.last_mut().unwrap().1 = serde_json::from_str(pattern).unwrap();
            }
            "nodes: None," => {
                patterns.push(stack.iter().map(|(_, p)| p.as_str()).collect::<String>());
            }
            other => assert!(
                !other.starts_with("patterns: Multi"),
                "a route with several patterns: teach route_patterns to read it"
            ),
        }
    }
    patterns.sort();
    patterns.dedup();
    assert!(patterns.len() > 100, "{patterns:?}");
    patterns
}

/// `pattern` with every `{param}` replaced by `value`.
fn fill(pattern: &str, value: &str) -> String {
    let mut path = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        path.push_str(value);
        rest = &rest[open + rest[open..].find('}').unwrap() + 1..];
    }
    path.push_str(rest);
    path
}

/// Machine endpoints: authenticated by API key or signature instead of a session, so exempt from CSRF.
fn machine_endpoint(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/webhooks/")
}

fn assert_security_headers(path: &str, response: &reqwest::Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{path}: no {name} header"))
    };
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{path}: {policy}"
    );
    assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    assert!(!header("referrer-policy").is_empty(), "{path}");
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_request_without_a_valid_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let patterns = route_patterns().await;
    let token = admin.get("/admin").await.csrf_token();

    let mut checked = 0;
    let mut machine_routes = Vec::new();
    // Sign-out last: it ends the session the other probes use.
    let mut ordered: Vec<&String> = patterns.iter().filter(|p| *p != "/logout").collect();
    ordered.push(patterns.iter().find(|p| *p == "/logout").unwrap());
    for pattern in ordered {
        let path = fill(pattern, "1");
        if machine_endpoint(&path) {
            machine_routes.push(pattern.clone());
            continue;
        }
        for fields in [
            vec![("note", "x")],
            vec![("csrf_token", "forged"), ("note", "x")],
        ] {
            let refused = admin.post_raw(&path, &fields).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{path} without a valid token"
            );
            refused.assert_contains("This form has expired or did not come from Concord");
        }
        // A file upload form carries the token in its query string; a forged one there is refused too.
        let refused = admin
            .client
            .post(format!("{}{path}?csrf_token=forged", admin.base))
            .header("content-type", "multipart/form-data; boundary=x")
            .body("--x--\r\n")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path} multipart");
        // With the right token the middleware lets the request through to the route (if it takes POST).
        let answer = admin
            .post_raw(&path, &[("csrf_token", token.as_str())])
            .await;
        assert!(
            answer.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {}",
            answer.body
        );
        assert!(
            !answer.body.contains("did not come from Concord") || pattern == "/logout",
            "{path} refused a valid token"
        );
        checked += 1;
    }
    assert!(checked > 100, "{checked} routes");
    // The exempt endpoints are the machine API and Stripe's webhook, and they refuse a caller without credentials.
    assert_eq!(
        machine_routes,
        [
            "/api/v1/commissions",
            "/api/v1/conversions",
            "/api/v1/partners/{id}/balance",
            "/api/v1/program",
            "/api/v1/refunds",
            "/webhooks/stripe"
        ],
        "a new machine endpoint: check how it authenticates"
    );
    let anonymous = app.browser();
    for route in &machine_routes {
        let path = fill(route, "1");
        // The method the route takes answers 401 (or 400 for a bad signature); the other one finds no route.
        let answers = [
            anonymous.get(&path).await.status,
            anonymous.post_raw(&path, &[("x", "1")]).await.status,
        ];
        assert!(
            answers.iter().all(|status| [
                StatusCode::UNAUTHORIZED,
                StatusCode::BAD_REQUEST,
                StatusCode::NOT_FOUND
            ]
            .contains(status))
                && answers
                    .iter()
                    .any(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::BAD_REQUEST),
            "{path} without credentials: {answers:?}"
        );
    }
}

/// Two or more approved resellers, each with a deal, an MDF request with a proof file, a payout and a colleague.
struct Estate {
    app: TestApp,
    admin: Browser,
    orgs: Vec<Org>,
}

struct Org {
    name: String,
    partner: Partner,
    /// Object ids per kind: "deal", "mdf", "proof", "payout", "user".
    ids: BTreeMap<&'static str, Vec<i64>>,
}

async fn estate(names: &[&str]) -> Estate {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let fund_id = fund(&admin, "Shared fund", -30, 60, "").await;
    let mut orgs = Vec::new();
    for name in names {
        let partner = fixtures::reseller(&app, name).with_rep().await;
        let mut ids: BTreeMap<&'static str, Vec<i64>> = BTreeMap::new();
        let deal = crate::deals::registered(
            &partner.admin,
            &format!("{name} Customer GmbH"),
            &format!("{}-customer.example", name.to_lowercase()),
        )
        .await;
        ids.insert("deal", vec![deal]);
        allocate(
            &admin,
            fund_id,
            &format!("partner:{}", partner.org),
            "1,000.00",
        )
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund_id}"));
        let mdf = request_id(&request(&partner.admin, fund_id, "400.00", &[]).await);
        crate::mdf::decide(&admin, mdf, "approve", "400.00", "").await;
        claim(
            &partner.admin,
            mdf,
            &[
                ("actual_cost", "800.00"),
                ("claimed", "400.00"),
                ("results", "12 leads"),
            ],
            &[("invoice.pdf", PDF.to_vec())],
        )
        .await;
        ids.insert("mdf", vec![mdf]);
        ids.insert("proof", crate::mdf::proof_ids(&app, mdf).await);
        ids.insert("user", vec![partner.admin_id, partner.rep_id()]);
        let org = partner.org;
        app.db(move |conn| {
            crate::payouts::earn(
                conn,
                org,
                &[(concord::ledger::rules::EntryKind::Commission, 10_000)],
            )
        })
        .await;
        orgs.push(Org {
            name: name.to_string(),
            partner,
            ids,
        });
    }
    // One manual batch gives every org a payout.
    let run = crate::payouts::start(&admin, "manual").await;
    assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
    for org in &mut orgs {
        let org_id = org.partner.org;
        let payouts = app
            .db(move |conn| {
                use concord::platform::db::schema::payouts;
                use diesel::prelude::*;
                payouts::table
                    .filter(payouts::partner_org_id.eq(org_id))
                    .select(payouts::id)
                    .load::<i64>(conn)
                    .unwrap()
            })
            .await;
        assert_eq!(payouts.len(), 1);
        org.ids.insert("payout", payouts);
    }
    for org in &orgs {
        for (kind, ids) in &org.ids {
            assert!(!ids.is_empty(), "{} has no {kind}", org.name);
        }
    }
    Estate { app, admin, orgs }
}

/// A form that every portal POST route can parse, so a probe reaches the ownership check.
fn probe_form(token: &str) -> Vec<(&str, &str)> {
    vec![
        ("csrf_token", token),
        ("reason", "probe"),
        ("active", "false"),
        ("stage", "1"),
        ("amount", "1"),
    ]
}

/// Which kind of id a `/portal` route takes, or `None` for program-wide content that every partner may open.
fn portal_id_kind(pattern: &str) -> Option<&'static str> {
    [
        ("/portal/deals/", Some("deal")),
        ("/portal/mdf/proof/", Some("proof")),
        ("/portal/mdf/", Some("mdf")),
        ("/portal/payouts/", Some("payout")),
        ("/portal/team/", Some("user")),
        // Courses and content assets belong to the program, gated by tier, not to an org.
        ("/portal/training/", None),
        ("/portal/assets/", None),
    ]
    .iter()
    .find(|(prefix, _)| pattern.starts_with(prefix))
    .map(|(_, kind)| *kind)
    .unwrap_or_else(|| panic!("{pattern}: say which kind of id it takes in portal_id_kind"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_route_with_an_id_refuses_another_orgs_id() {
    let estate = estate(&["Northwind", "Contoso", "Fabrikam"]).await;
    let routes: Vec<(String, &'static str)> = route_patterns()
        .await
        .into_iter()
        .filter(|p| p.starts_with("/portal/") && p.contains('{'))
        .filter_map(|p| portal_id_kind(&p).map(|kind| (p, kind)))
        .collect();
    println!("portal routes with an org's id: {routes:?}");
    assert!(routes.len() >= 10, "{routes:?}");

    // Each route works with the viewer's own id (so a refusal below means something): GET routes open, POST routes
    // (which answer GET with the not-found page) take the request.
    for (pattern, kind) in &routes {
        let own = &estate.orgs[0];
        let path = fill(pattern, &own.ids[kind][0].to_string());
        let page = own.partner.admin.get(&path).await;
        if page.status == StatusCode::OK || page.status == StatusCode::SEE_OTHER {
            continue;
        }
        let token = own.partner.admin.get("/portal").await.csrf_token();
        let posted = own.partner.admin.post_raw(&path, &probe_form(&token)).await;
        assert!(
            posted.status != StatusCode::NOT_FOUND && posted.status != StatusCode::FORBIDDEN,
            "{path} with the org's own id: GET {}, POST {}",
            page.status,
            posted.status
        );
    }

    // ... and refuses, for any viewer, any id that is not the viewer's: another org's, or one that does not exist.
    let handle = tokio::runtime::Handle::current();
    let estate = &estate;
    let routes = &routes;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 96,
        failure_persistence: None,
        ..Default::default()
    });
    let strategy = (
        0..estate.orgs.len(),
        0..estate.orgs.len(),
        0..routes.len(),
        any::<prop::sample::Index>(),
        prop_oneof![3 => Just(None), 1 => (1i64..5_000).prop_map(Some)],
    );
    tokio::task::block_in_place(|| {
        runner
            .run(&strategy, |(viewer, owner, route, pick, random_id)| {
                let (pattern, kind) = &routes[route];
                let viewer = &estate.orgs[viewer];
                let id = match random_id {
                    Some(id) => id,
                    None => *pick.get(&estate.orgs[owner].ids[kind]),
                };
                if viewer.ids[kind].contains(&id) {
                    return Ok(());
                }
                let path = fill(pattern, &id.to_string());
                let browser = &viewer.partner.admin;
                let answers = handle.block_on(async {
                    let token = browser.get("/portal").await.csrf_token();
                    [
                        ("GET", browser.get(&path).await),
                        ("POST", browser.post_raw(&path, &probe_form(&token)).await),
                    ]
                });
                for (method, page) in answers {
                    // 400: the form did not even parse (a POST route's own fields); nothing was read or changed.
                    prop_assert!(
                        page.status == StatusCode::NOT_FOUND
                            || page.status == StatusCode::FORBIDDEN
                            || (method == "POST" && page.status == StatusCode::BAD_REQUEST),
                        "{} got {method} {path} ({kind} {id}): {}",
                        viewer.name,
                        page.status
                    );
                    for other in &estate.orgs {
                        if other.name != viewer.name {
                            prop_assert!(
                                !page.body.contains(&other.name),
                                "{path} named {}",
                                other.name
                            );
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
    });
    // Nothing a refused POST touched changed: each org's deal and request are as they were.
    for org in &estate.orgs {
        let deal = org.ids["deal"][0];
        org.partner
            .admin
            .get(&format!("/portal/deals/{deal}"))
            .await
            .assert_contains(&format!("{} Customer GmbH", org.name));
    }
    let _ = &estate.admin;
}

/// Probe strings: SQL injection, markup, and a field far beyond any limit.
fn probes() -> Vec<String> {
    vec![
        "' OR '1'='1'; DROP TABLE users; --".to_string(),
        "\"><script>alert(1)</script>".to_string(),
        "x".repeat(20_000),
    ]
}

/// The POST forms on a page: (action, fields with their values as served).
fn forms(page: &str) -> Vec<(String, Vec<(String, String)>)> {
    let attribute = |tag: &str, name: &str| {
        crate::harness::html_attribute(tag, name).map(|v| v.replace("&amp;", "&"))
    };
    let mut found = Vec::new();
    for chunk in page.split("<form").skip(1) {
        let Some(end) = chunk.find("</form>") else {
            continue;
        };
        let (tag, body) = chunk[..end].split_once('>').unwrap_or(("", ""));
        if attribute(tag, "method").as_deref() != Some("post") || tag.contains("multipart") {
            continue;
        }
        let Some(action) = attribute(tag, "action") else {
            continue;
        };
        let mut fields = Vec::new();
        for kind in ["<input", "<textarea", "<select"] {
            for element in body.split(kind).skip(1) {
                let element = element.split('>').next().unwrap_or("");
                if let Some(name) = attribute(element, "name") {
                    fields.push((name, attribute(element, "value").unwrap_or_default()));
                }
            }
        }
        found.push((action, fields));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_the_security_headers_and_no_form_answers_a_probe_with_a_500() {
    let estate = estate(&["Northwind", "Contoso"]).await;
    let own = &estate.orgs[0];
    let id_for = |pattern: &str| -> String {
        let kind = if !pattern.contains('{') {
            None
        } else if pattern.starts_with("/portal/") {
            portal_id_kind(pattern)
        } else if pattern.starts_with("/admin/deals") {
            Some("deal")
        } else if pattern.starts_with("/admin/mdf/proof") {
            Some("proof")
        } else if pattern.starts_with("/admin/mdf/") && !pattern.contains("budgets") {
            Some("mdf")
        } else if pattern.starts_with("/admin/partners/") {
            return own.partner.org.to_string();
        } else {
            None
        };
        kind.map(|k| own.ids[k][0].to_string())
            .unwrap_or_else(|| "1".to_string())
    };
    let patterns = route_patterns().await;
    let mut visited = 0;
    let mut form_pages = Vec::new();
    for (who, browser) in [("admin", &estate.admin), ("partner", &own.partner.admin)] {
        for pattern in &patterns {
            if pattern == "/logout" || machine_endpoint(pattern) {
                continue;
            }
            let path = fill(pattern, &id_for(pattern));
            let response = browser.response(&path).await;
            assert_security_headers(&path, &response);
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(status.as_u16() < 500, "{who} GET {path}: {status}\n{body}");
            visited += 1;
            if status == StatusCode::OK && body.contains("method=\"post\"") {
                form_pages.push((who, browser, path, body));
            }
        }
    }
    println!(
        "{visited} GETs checked; {} pages with forms",
        form_pages.len()
    );

    let mut submitted = 0;
    for (who, browser, path, body) in &form_pages {
        for (action, fields) in forms(body) {
            if action == "/logout" {
                continue;
            }
            for probe in probes() {
                // A fresh token each time: some forms change the page's state.
                let token = browser.get(path).await;
                if token.status != StatusCode::OK {
                    continue;
                }
                let token = token.csrf_token();
                let filled: Vec<(String, String)> = fields
                    .iter()
                    .map(|(name, value)| {
                        if name == "csrf_token" {
                            (name.clone(), token.clone())
                        } else if value.is_empty() || !name.ends_with("_id") {
                            (name.clone(), probe.clone())
                        } else {
                            (name.clone(), value.clone())
                        }
                    })
                    .collect();
                let refs: Vec<(&str, &str)> = filled
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let answer: Page = browser.post_raw(&action, &refs).await;
                submitted += 1;
                assert!(
                    answer.status.as_u16() < 500,
                    "{who}: {action} (form on {path}) answered {} to {:.40}…:\n{}",
                    answer.status,
                    probe,
                    answer.body
                );
                // A refusal says why, in words, on a page.
                if answer.status.is_client_error() {
                    assert!(answer.body.contains("<title>"), "{action}: {}", answer.body);
                }
            }
        }
    }
    println!("{submitted} probe submissions");
    assert!(submitted > 50, "{submitted}");
    // The tables the injection aimed at are all still there.
    let users = estate
        .app
        .db(|conn| {
            use concord::platform::db::schema::users;
            use diesel::prelude::*;
            users::table.count().get_result::<i64>(conn).unwrap()
        })
        .await;
    assert!(users >= 5, "{users}");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_under_https() {
    for https in [false, true] {
        let app = TestApp::spawn_with(|s| {
            if https {
                // What `CONCORD_BASE_URL=https://…` sets; the test still talks plain HTTP to the socket.
                s.cookie_secure = true;
            }
        })
        .await;
        let response = reqwest::Client::new()
            .get(format!("{}/login", app.address))
            .send()
            .await
            .unwrap();
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("concord_session="))
            .expect("the login page starts a session for its CSRF token");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert_eq!(cookie.contains("Secure"), https, "{cookie}");
    }
    let settings = concord::config::Settings::from_map(&std::collections::HashMap::from([(
        "CONCORD_BASE_URL".to_string(),
        "https://partners.example.com".to_string(),
    )]))
    .unwrap();
    assert!(
        settings.cookie_secure,
        "an https base URL makes the cookie Secure"
    );
}

#[tokio::test]
async fn passwords_are_argon2_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::harness::TestDatabase::create();
    let secret = "Unmistakable-Pa55phrase-7781";
    let output = crate::cli::concord(dir.path())
        .args([
            "create-admin",
            "--email",
            "ops@example.test",
            "--password",
            secret,
            "--name",
            "Ops",
        ])
        .env("DATABASE_URL", database.url())
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut command = crate::cli::concord(dir.path());
    command
        .arg("serve")
        .env("CONCORD_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", database.url())
        .env("CONCORD_JOBS", "off")
        .env("RUST_LOG", "trace");
    let mut server = crate::cli::Server::start(command);
    let line = server.wait_for("listening on");
    let base = &line[line.find("http://").expect("the address")..];
    let browser = Browser::new(base.trim_end_matches(')'));
    browser.login("ops@example.test", "wrong-but-logged?").await;
    browser
        .login("ops@example.test", secret)
        .await
        .assert_redirect("/admin");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = server.output_so_far();
    assert!(
        log.contains("POST /login") || log.contains("/login"),
        "the log is on: {log}"
    );
    for leaked in [secret, "wrong-but-logged?"] {
        assert!(!log.contains(leaked), "the log holds a password:\n{log}");
    }
    let pool =
        concord::platform::db::pool(&concord::config::DatabaseUrl::parse(database.url()).unwrap())
            .unwrap();
    let hash = tokio::task::spawn_blocking(move || {
        use concord::platform::db::schema::users;
        use diesel::prelude::*;
        users::table
            .select(users::password_hash)
            .first::<String>(&mut pool.get().unwrap())
            .unwrap()
    })
    .await
    .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn redirects_go_only_to_the_stored_destination_or_a_local_path() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (_, code) = app
        .affiliate_with_link("Redirect Media", "redirect@media.test", "safe-link")
        .await;
    for query in [
        "",
        "?url=https://evil.test/",
        "?next=//evil.test",
        "?destination=https://evil.test&to=https://evil.test",
        "?sub=%0d%0aLocation:%20https://evil.test",
        "/../../evil.test",
    ] {
        let page = app.browser().get(&format!("/r/{code}{query}")).await;
        if page.status == StatusCode::NOT_FOUND {
            continue;
        }
        assert_eq!(page.status, StatusCode::FOUND, "{query}");
        let location = url::Url::parse(page.location.as_deref().unwrap()).unwrap();
        assert_eq!(
            location.host_str(),
            Some("shop.test"),
            "{query}: {location}"
        );
        assert_eq!(location.path(), "/pricing", "{query}: {location}");
    }

    app.create_user(
        "next@example.test",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    for (next, expected) in [
        ("/admin/tiers", "/admin/tiers"),
        ("//evil.test/", "/admin"),
        ("https://evil.test/", "/admin"),
        ("/\\evil.test", "/admin"),
        ("/\t/evil.test", "/admin"),
        ("javascript:alert(1)", "/admin"),
    ] {
        let browser = app.browser();
        let token = browser
            .get(&format!(
                "/login?next={}",
                concord::platform::http::url_encode(next)
            ))
            .await
            .csrf_token();
        browser
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", "next@example.test"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await
            .assert_redirect(expected);
    }
}

#[tokio::test]
async fn uploads_are_never_served_as_html() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let fund_id = fund(&admin, "Upload fund", -30, 60, "").await;
    let partner = fixtures::reseller(&app, "Uploader").await;
    allocate(
        &admin,
        fund_id,
        &format!("partner:{}", partner.org),
        "1,000.00",
    )
    .await;
    let mdf = request_id(&request(&partner.admin, fund_id, "400.00", &[]).await);
    crate::mdf::decide(&admin, mdf, "approve", "400.00", "").await;
    let html = b"<!doctype html><html><script>alert(document.cookie)</script></html>".to_vec();
    let refused = claim(
        &partner.admin,
        mdf,
        &[("actual_cost", "800.00"), ("claimed", "400.00")],
        &[("invoice.html", html.clone())],
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(crate::mdf::proof_ids(&app, mdf).await.is_empty());

    // A real PDF that carries markup inside is kept, and served as a PDF that the browser may not sniff.
    let mut polyglot = PDF.to_vec();
    polyglot.extend_from_slice(&html);
    claim(
        &partner.admin,
        mdf,
        &[("actual_cost", "800.00"), ("claimed", "400.00")],
        &[("invoice.html", polyglot)],
    )
    .await;
    let proof = crate::mdf::proof_ids(&app, mdf).await[0];
    for (browser, path) in [
        (&partner.admin, format!("/portal/mdf/proof/{proof}")),
        (&admin, format!("/admin/mdf/proof/{proof}")),
    ] {
        let response = browser.response(&path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_security_headers(&path, &response);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("content-type"), "application/pdf");
        assert!(
            !header("content-disposition").contains(".html\""),
            "{}",
            header("content-disposition")
        );
    }
}
