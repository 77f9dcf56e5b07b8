//! Issue 21, security hardening, over real HTTP on both databases: bounded memory for anonymous traffic, the org's
//! status checked on every partner page, client IPs, and the headers every page carries.

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::harness::TestApp;
use concord::affiliate::tracking::{MAX_CACHED_LINKS, MAX_CACHED_MISSES};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends GET `paths` sixteen at a time; returns how many answered 404.
async fn not_found(client: &reqwest::Client, base: &str, paths: Vec<String>) -> usize {
    futures_util::stream::iter(paths)
        .map(|path| {
            let request = client.get(format!("{base}{path}")).send();
            async move { request.await.unwrap().status() == StatusCode::NOT_FOUND }
        })
        .buffer_unordered(16)
        .filter(|missing| std::future::ready(*missing))
        .count()
        .await
}

#[tokio::test]
async fn made_up_and_overlong_codes_keep_the_link_cache_bounded_and_real_links_keep_working() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let client = no_redirects();

    // Codes of 64,000 characters, as in the audit: 404 before any lookup, and nothing kept.
    let long: Vec<String> = (0..40)
        .map(|i| format!("/r/{i}{}", "x".repeat(64_000)))
        .collect();
    assert_eq!(not_found(&client, &app.address, long).await, 40);
    assert_eq!(
        app.link_cache.size().code_bytes,
        0,
        "overlong codes were cached"
    );

    // More made-up codes than the cache keeps for misses: every one is a 404 and the misses stay within their share.
    let made_up: Vec<String> = (0..MAX_CACHED_MISSES + 600)
        .map(|i| format!("/r/made-up-{i}"))
        .collect();
    let count = made_up.len();
    assert_eq!(not_found(&client, &app.address, made_up).await, count);
    let size = app.link_cache.size();
    assert!(size.misses <= MAX_CACHED_MISSES, "{size:?}");
    assert!(
        size.misses > MAX_CACHED_MISSES / 2,
        "misses are cached: {size:?}"
    );
    assert!(size.links <= MAX_CACHED_LINKS);
    assert!(
        size.code_bytes <= (size.links + size.misses) * concord::affiliate::tracking::MAX_CODE_LEN
    );

    // The real link still redirects, and is cached apart from the misses.
    let answer = client
        .get(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(app.link_cache.size().links, 1);
}

/// A reseller-only course and a link asset for everyone, as an admin would add them; returns (course, asset).
async fn course_and_asset(app: &TestApp) -> (i64, i64) {
    app.db(|conn| {
        let program = concord::programs::current(conn).unwrap();
        let actor = concord::platform::audit::Actor::system("test");
        let course = concord::training::create_course(
            conn,
            program.id,
            &concord::training::store::NewCourse {
                title: "Selling Concord",
                summary: "",
                pass_mark_percent: 100,
                validity_months: 12,
                retake_cooldown_hours: 0,
                partner_kinds: "",
                min_tier_rank: 0,
            },
            &actor,
        )
        .unwrap();
        let asset = concord::assets::create(
            conn,
            program.id,
            &concord::assets::store::NewAsset {
                title: "Logo pack",
                description: "",
                category: "",
                min_tier_rank: 0,
                partner_kinds: "",
                required_course_id: None,
                link_url: "https://cdn.example/logos.zip",
                file: None,
            },
            &actor,
        )
        .unwrap();
        (course, asset)
    })
    .await
}

/// A certificate for `user` of `org`, valid for a year; returns its code.
async fn certificate(app: &TestApp, org: i64, user: i64, course: i64, code: &'static str) {
    app.db(move |conn| {
        use concord::platform::db::schema::certifications as c;
        use diesel::prelude::*;
        let now = concord::platform::db::now();
        diesel::insert_into(c::table)
            .values((
                c::code.eq(code),
                c::user_id.eq(user),
                c::partner_org_id.eq(org),
                c::course_id.eq(course),
                c::passed_at.eq(now),
                c::expires_at.eq(now + chrono::Duration::days(365)),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
}

async fn set_status(app: &TestApp, org: i64, status: concord::domain::partner::PartnerStatus) {
    app.db(move |conn| {
        use concord::platform::db::schema::partner_orgs as p;
        use diesel::prelude::*;
        diesel::update(p::table.find(org))
            .set(p::status.eq(status))
            .execute(conn)
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn applicants_and_suspended_orgs_get_no_asset_course_or_valid_certificate() {
    use concord::domain::partner::PartnerStatus;
    let app = TestApp::spawn().await;
    let (course, asset) = course_and_asset(&app).await;
    let northwind = crate::fixtures::reseller(&app, "Northwind").await;
    let pages = [
        "/portal/assets".to_string(),
        format!("/portal/assets/{asset}/download"),
        "/portal/training".to_string(),
        format!("/portal/training/{course}"),
        "/portal/earnings".to_string(),
        "/portal/deals".to_string(),
    ];
    // Approved, the org reaches all of them.
    for page in &pages {
        let status = northwind.admin.get(page).await.status;
        assert!(
            status.is_success() || status.is_redirection(),
            "{page}: {status}"
        );
    }
    certificate(
        &app,
        northwind.org,
        northwind.admin_id,
        course,
        "CERT-NORTH",
    )
    .await;
    let anonymous = app.browser();
    anonymous
        .get("/certificates/CERT-NORTH")
        .await
        .assert_contains("Valid");

    for (status, says) in [
        (PartnerStatus::Applied, "under review"),
        (PartnerStatus::Suspended, "suspended"),
        (PartnerStatus::Rejected, "not approved"),
    ] {
        set_status(&app, northwind.org, status).await;
        for page in &pages {
            let answer = northwind.admin.get(page).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{status} {page}");
            answer.assert_contains(says);
        }
        // The status page itself still opens and says where the org stands.
        assert_eq!(northwind.admin.get("/portal").await.status, StatusCode::OK);
        // Taking the quiz (with a valid CSRF token, so only the gate can refuse) issues nothing.
        let token = northwind.admin.get("/portal").await.csrf_token();
        let quiz = northwind
            .admin
            .post_raw(
                &format!("/portal/training/{course}/quiz"),
                &[("csrf_token", &token)],
            )
            .await;
        assert_eq!(
            quiz.status,
            StatusCode::FORBIDDEN,
            "{status}: the quiz answered"
        );
        quiz.assert_contains(says);
    }

    // A suspended org's certificate is not shown as valid; an applicant's is not shown at all.
    set_status(&app, northwind.org, PartnerStatus::Suspended).await;
    let page = anonymous.get("/certificates/CERT-NORTH").await;
    page.assert_contains("organisation is suspended");
    assert!(!page.body.contains(">Valid<"), "{}", page.body);
    set_status(&app, northwind.org, PartnerStatus::Applied).await;
    assert_eq!(
        anonymous.get("/certificates/CERT-NORTH").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The addresses recorded for sign-in attempts, oldest first.
async fn login_ips(app: &TestApp) -> Vec<String> {
    app.db(|conn| {
        use concord::platform::db::schema::login_attempts as l;
        use diesel::prelude::*;
        l::table.order(l::id).select(l::ip).load(conn).unwrap()
    })
    .await
}

/// Signs in from `forwarded_for` (believed behind a proxy); the status and the page.
async fn sign_in_from(
    app: &TestApp,
    forwarded_for: &str,
    email: &str,
    password: &str,
) -> (StatusCode, String) {
    let browser = app.browser();
    let token = browser.get("/login").await.csrf_token();
    let answer = browser
        .client
        .post(format!("{}/login", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (answer.status(), answer.text().await.unwrap())
}

async fn wrong_password_from(app: &TestApp, forwarded_for: &str) {
    let (status, _) =
        sign_in_from(app, forwarded_for, "admin@example.test", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Issue 21 (L1): throttling is keyed on (email, IP) plus a limit per IP across emails: an attacker is stopped
/// without locking the owner out, and concurrent guesses are counted exactly.
#[tokio::test]
async fn an_attacker_is_throttled_while_the_owner_signs_in_from_elsewhere() {
    use concord::accounts::login_throttle::{MAX_FAILURES, MAX_FAILURES_PER_IP};
    use concord::accounts::role::Role;
    let app = TestApp::spawn_with(|s| s.behind_proxy = true).await;
    app.create_user("admin@example.test", Role::Admin, None)
        .await;
    let attacker = "203.0.113.9";
    for _ in 0..MAX_FAILURES {
        wrong_password_from(&app, attacker).await;
    }
    let (status, page) = sign_in_from(&app, attacker, "admin@example.test", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed sign-in attempts for this email from your network"));
    let (status, _) = sign_in_from(
        &app,
        attacker,
        "admin@example.test",
        crate::harness::PASSWORD,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address stays shut"
    );
    let (status, _) = sign_in_from(
        &app,
        "198.51.100.7",
        "admin@example.test",
        crate::harness::PASSWORD,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the owner signs in from elsewhere"
    );

    // 24 simultaneous wrong guesses for another account from one address: exactly MAX_FAILURES are checked.
    app.create_user("ops@example.test", Role::Admin, None).await;
    let guesses = (0..24).map(|_| sign_in_from(&app, "192.0.2.44", "ops@example.test", "guess"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, MAX_FAILURES);
    assert!(answers.iter().all(|(status, _)| [
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS
    ]
    .contains(status)));
    let recorded: i64 = app
        .db(|conn| {
            use concord::platform::db::schema::login_attempts as l;
            use diesel::prelude::*;
            l::table
                .filter(l::email.eq("ops@example.test"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(recorded, MAX_FAILURES as i64);

    // One address trying many emails is stopped for every email, others are not.
    let sprayer = "198.51.100.99";
    for i in 0..MAX_FAILURES_PER_IP {
        let (status, _) =
            sign_in_from(&app, sprayer, &format!("user{i}@example.test"), "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "email {i}");
    }
    let (status, page) = sign_in_from(&app, sprayer, "fresh@example.test", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed sign-in attempts from your network"));
    let (status, _) = sign_in_from(&app, "198.51.100.100", "fresh@example.test", "guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_behind_a_proxy() {
    let direct = TestApp::spawn().await;
    direct
        .create_user(
            "admin@example.test",
            concord::accounts::role::Role::Admin,
            None,
        )
        .await;
    wrong_password_from(&direct, "203.0.113.9").await;
    assert_eq!(login_ips(&direct).await, ["127.0.0.1"]);

    let proxied = TestApp::spawn_with(|s| s.behind_proxy = true).await;
    proxied
        .create_user(
            "admin@example.test",
            concord::accounts::role::Role::Admin,
            None,
        )
        .await;
    wrong_password_from(&proxied, "203.0.113.9").await;
    assert_eq!(login_ips(&proxied).await, ["203.0.113.9"]);
}

#[tokio::test]
async fn hsts_under_https_and_no_store_on_signed_in_pages_and_downloads() {
    let plain = TestApp::spawn().await;
    let login = reqwest::get(format!("{}/login", plain.address))
        .await
        .unwrap();
    assert!(login.headers().get("strict-transport-security").is_none());

    let app = TestApp::spawn_with(|s| s.base_url = "https://partners.example.com".into()).await;
    let login = reqwest::get(format!("{}/login", app.address))
        .await
        .unwrap();
    assert_eq!(
        login.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );

    let admin = app.admin_browser().await;
    for path in [
        "/admin",
        "/admin/partners",
        "/admin/payouts",
        "/admin/reports.csv",
        "/admin/deals.csv",
    ] {
        let answer = admin.response(path).await;
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        assert_eq!(answer.headers()["cache-control"], "no-store", "{path}");
        assert!(
            answer.headers().get("strict-transport-security").is_some(),
            "{path}"
        );
    }
    // Fingerprinted static assets stay cacheable.
    let page = admin.get("/admin").await;
    let css = page
        .body
        .split("href=\"")
        .find_map(|rest| {
            rest.split('"')
                .next()
                .filter(|h| h.starts_with("/static/concord.css"))
        })
        .expect("the page links its stylesheet")
        .to_string();
    let asset = admin.response(&css).await;
    assert!(asset.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
}

#[tokio::test]
async fn with_reps_kept_to_their_own_deals_the_mdf_claim_form_offers_and_takes_only_theirs() {
    use crate::mdf::{allocate, claim, decide, request, request_id, PDF};
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    crate::deals::deal_settings(&admin, "", false).await;
    let northwind = crate::fixtures::reseller(&app, "Northwind")
        .with_rep()
        .await;
    let org = northwind.org;
    let boss_deal =
        crate::fixtures::won_deal(&app, org, northwind.admin_id, "Boss Customer", 50_000, 3).await;
    crate::fixtures::won_deal(&app, org, northwind.rep_id(), "Rep Customer", 40_000, 3).await;
    let fund = crate::fixtures::fund(&admin, "Spring MDF", -30, 30, "0").await;
    allocate(&admin, fund, &format!("partner:{org}"), "1,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    let id = request_id(&request(&northwind.admin, fund, "400", &[]).await);
    decide(&admin, id, "approve", "400", "")
        .await
        .assert_redirect(&format!("/admin/mdf/{id}"));

    let page = format!("/portal/mdf/{id}");
    let rep_view = northwind.rep().get(&page).await;
    rep_view.assert_contains("Rep Customer");
    assert!(
        !rep_view.body.contains("Boss Customer"),
        "{}",
        rep_view.body
    );
    northwind
        .admin
        .get(&page)
        .await
        .assert_contains("Rep Customer")
        .assert_contains("Boss Customer");

    // Naming the colleague's deal by id is refused too.
    let refused = claim(
        northwind.rep(),
        id,
        &[
            ("actual_cost", "800"),
            ("claimed", "400"),
            ("deal_ids", &boss_deal.to_string()),
        ],
        &[("invoice.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    refused.assert_contains("Link only deals you registered.");
}

/// The peak resident set of this process (the app under test runs in it), after the peak is reset.
fn reset_peak_memory() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("the peak resident set can be reset");
    peak_memory()
}

fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Posts a claim form whose `files` proof files of `file_bytes` each are made as they are sent, so the test holds
/// none of them in memory.
async fn streamed_claim(
    partner: &crate::harness::Browser,
    id: i64,
    files: usize,
    file_bytes: usize,
) -> Result<reqwest::Response, reqwest::Error> {
    const CHUNK: usize = 64 * 1024;
    let token = partner.get(&format!("/portal/mdf/{id}")).await.csrf_token();
    let boundary = "concord-test-boundary";
    let head = ["actual_cost", "claimed"]
        .iter()
        .zip(["1500", "700"])
        .map(|(name, value)| {
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        })
        .collect::<String>()
        .into_bytes();
    let file = move |i: usize| {
        let part_head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"proof\"; filename=\"scan-{i}.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n"
        );
        std::iter::once(part_head.into_bytes())
            .chain((0..file_bytes / CHUNK).map(|_| vec![b' '; CHUNK]))
            .chain(std::iter::once(b"\r\n".to_vec()))
    };
    let body = std::iter::once(head)
        .chain((0..files).flat_map(file))
        .chain(std::iter::once(format!("--{boundary}--\r\n").into_bytes()))
        .map(Ok::<_, std::io::Error>);
    partner
        .client
        .post(format!(
            "{}/portal/mdf/{id}/claim?csrf_token={token}",
            partner.base
        ))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(body)))
        .send()
        .await
}

/// Issue 21 (M2): a claim form takes at most 10 files and 40 MiB at a time, streamed to disk rather than held in
/// memory; a refused form leaves no file behind, and a form past 80 MiB is not read to its end.
#[tokio::test]
async fn claim_uploads_are_limited_streamed_to_disk_and_gone_when_refused() {
    use crate::mdf::{claim, proof_ids, PDF};
    const MIB: usize = 1024 * 1024;
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = crate::fixtures::reseller(&app, "Northwind").await;
    let id = crate::fixtures::approved_mdf_request(&admin, &northwind, "1,000").await;
    let uploads = app.mail_dir.path().join("data").join("uploads");
    let left_on_disk = || {
        std::fs::read_dir(&uploads)
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            .unwrap_or_default()
    };

    // Eleven files at once: the eleventh is refused by name, and nothing of the form is kept.
    let names: Vec<String> = (1..=11).map(|i| format!("invoice-{i}.pdf")).collect();
    let files: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (n.as_str(), PDF.to_vec())).collect();
    let page = claim(
        &northwind.admin,
        id,
        &[("actual_cost", "1500"), ("claimed", "700")],
        &files,
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("invoice-11.pdf was not taken: attach at most 10 files at a time.")
        .assert_contains("Nothing from a refused form is kept")
        .assert_contains("value=\"1500\"");
    assert!(proof_ids(&app, id).await.is_empty());
    assert_eq!(left_on_disk(), Vec::<std::ffi::OsString>::new());

    // Nine files of 8.5 MiB, each under the 10 MiB limit but 76 MiB together: refused past 40 MiB. The files go to
    // disk as they arrive, so the peak memory grows by far less than the form (which the old code held whole).
    let before = reset_peak_memory();
    let response = streamed_claim(&northwind.admin, id, 9, 8 * MIB + MIB / 2)
        .await
        .unwrap();
    let growth = peak_memory().saturating_sub(before);
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("scan-4.pdf was not taken: the files of one form may be 40 MiB together."),
        "{body}"
    );
    assert!(
        growth < 40 * MIB as u64,
        "peak memory grew by {} MiB for a 76 MiB form",
        growth / MIB as u64
    );
    assert!(proof_ids(&app, id).await.is_empty());
    assert_eq!(left_on_disk(), Vec::<std::ffi::OsString>::new());

    // Past 80 MiB in all the form is not read to its end: 413, or the connection is closed mid-upload.
    match streamed_claim(&northwind.admin, id, 10, 9 * MIB).await {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    assert_eq!(left_on_disk(), Vec::<std::ffi::OsString>::new());

    // A claim within the limits is filed with its proof kept.
    claim(
        &northwind.admin,
        id,
        &[("actual_cost", "1500"), ("claimed", "700")],
        &[("invoice.pdf", PDF.to_vec())],
    )
    .await
    .assert_redirect(&format!("/portal/mdf/{id}"));
    assert_eq!(proof_ids(&app, id).await.len(), 1);
    assert_eq!(left_on_disk().len(), 1);
}

async fn ask_for_reset(browser: &crate::harness::Browser, email: &str) -> crate::harness::Page {
    browser
        .submit("/password-reset", "/password-reset", &[("email", email)])
        .await
}

/// Issue 21 (M4): using one reset link ends every other link the user was sent (and every session), and once the
/// emails are sent the outbox keeps no usable link.
#[tokio::test]
async fn a_reset_ends_every_other_reset_link_and_sent_mail_keeps_no_usable_link() {
    let sink = crate::smtp_sink::SmtpSink::start();
    let target = concord::config::SmtpTarget::parse(&sink.url()).unwrap();
    let app = TestApp::spawn_with(|s| s.smtp = Some(target)).await;
    app.create_user(
        "ann@example.test",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let visitor = app.browser();
    ask_for_reset(&visitor, "ann@example.test").await;
    ask_for_reset(&visitor, "ann@example.test").await;
    assert_eq!(app.run_job("outbox").await, "2 sent, 0 failed, 0 dead");
    let links: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.link(&app.address))
        .collect();
    assert_eq!(links.len(), 2);
    assert_ne!(links[0], links[1]);
    for message in app.outbox().await {
        for link in &links {
            let token = link.rsplit('/').next().unwrap();
            assert!(
                !message.body_text.contains(token) && !message.body_html.contains(token),
                "a sent email keeps its link"
            );
        }
        assert!(message.body_text.contains("/password-reset/[redacted]"));
    }

    let (first, second) = (
        &links[0][app.address.len()..],
        &links[1][app.address.len()..],
    );
    let new_password = "a brand new passphrase";
    visitor
        .submit(
            first,
            first,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await
        .assert_redirect("/login");
    let second_page = app.browser().get(second).await;
    assert_eq!(second_page.status, StatusCode::GONE);
    second_page.assert_contains("expired or was already used");
}

/// Issue 21 (M4): reset requests are limited per address (quietly: the answer is the same, nothing more is sent)
/// and per IP (429), alike for known and unknown addresses.
#[tokio::test]
async fn reset_requests_are_limited_per_address_and_per_ip_answering_alike() {
    use concord::accounts::{RESETS_PER_ADDRESS_PER_HOUR, RESETS_PER_IP_PER_HOUR};
    let app = TestApp::spawn().await;
    app.create_user(
        "ann@example.test",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let visitor = app.browser();
    let strip = |body: &str, email: &str| {
        body.replace(email, "EMAIL")
            .split("name=\"csrf_token\"")
            .next()
            .unwrap()
            .to_string()
    };
    let mut asked = 0;
    for _ in 0..RESETS_PER_ADDRESS_PER_HOUR + 1 {
        let known = ask_for_reset(&visitor, "ann@example.test").await;
        let unknown = ask_for_reset(&visitor, "nobody@example.test").await;
        asked += 2;
        assert_eq!(known.status, StatusCode::OK);
        assert_eq!(unknown.status, StatusCode::OK);
        assert_eq!(
            strip(&known.body, "ann@example.test"),
            strip(&unknown.body, "nobody@example.test")
        );
    }
    let queued = app
        .outbox()
        .await
        .iter()
        .filter(|m| m.recipient == "ann@example.test")
        .count();
    assert_eq!(queued as i64, RESETS_PER_ADDRESS_PER_HOUR);

    // The network's hourly allowance runs out for every address alike.
    for _ in asked..RESETS_PER_IP_PER_HOUR {
        assert_eq!(
            ask_for_reset(&visitor, "someone@example.test").await.status,
            StatusCode::OK
        );
    }
    for email in ["ann@example.test", "nobody@example.test"] {
        let refused = ask_for_reset(&visitor, email).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        refused.assert_contains("Too many reset requests from your network");
    }
}

/// Issue 21 (M4): the request log names reset, invitation and setup links without their tokens.
#[tokio::test]
async fn tokens_never_reach_the_request_log() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::harness::TestDatabase::create();
    let mut server = crate::cli::serve(dir.path(), database.url(), 0, &[("RUST_LOG", "info")]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let token = concord::platform::auth::token::new_token();
    let client = no_redirects();
    for path in [
        format!("/password-reset/{token}"),
        format!("/invitations/{token}"),
        format!("/setup?token={token}"),
    ] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    server.wait_for("/setup?token=[redacted]");
    let log = server.output_so_far();
    assert!(log.contains("/password-reset/[redacted]"), "{log}");
    assert!(log.contains("/invitations/[redacted]"), "{log}");
    assert!(!log.contains(&token), "a token reached the log:\n{log}");
}

/// Issue 21 (L5): the invitation form does not tell which addresses have accounts elsewhere (staff included), and
/// invitations are limited per address and per org each day.
#[tokio::test]
async fn invitations_reveal_no_accounts_and_are_limited() {
    use concord::accounts::role::Role;
    use concord::domain::partner::{PartnerKind, PartnerStatus};
    use concord::partners::team::{INVITATIONS_PER_ADDRESS_PER_DAY, INVITATIONS_PER_ORG_PER_DAY};
    let app = TestApp::spawn().await;
    app.create_user("admin@example.test", Role::Admin, None)
        .await;
    let northwind = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let contoso = app
        .create_partner("Contoso", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    app.create_user("nia@northwind.test", Role::PartnerAdmin, Some(northwind))
        .await;
    app.create_user("raj@northwind.test", Role::PartnerUser, Some(northwind))
        .await;
    app.create_user("cy@contoso.test", Role::PartnerAdmin, Some(contoso))
        .await;
    let nia = app.browser();
    nia.login("nia@northwind.test", crate::harness::PASSWORD)
        .await;
    let invite = |email: String| {
        let nia = &nia;
        async move {
            nia.submit(
                "/portal/team",
                "/portal/team/invitations",
                &[("email", email.as_str()), ("role", "partner_user")],
            )
            .await
        }
    };

    // Staff, another org's user and a new address are all answered alike.
    for email in [
        "admin@example.test",
        "cy@contoso.test",
        "lee@northwind.test",
    ] {
        invite(email.to_string())
            .await
            .assert_redirect("/portal/team");
        nia.get("/portal/team")
            .await
            .assert_contains(&format!("Invitation sent to {email}."));
    }
    // A colleague already on the team is named as such (the admin sees the team anyway).
    let page = invite("raj@northwind.test".into()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("raj@northwind.test is already on your team.");
    // Following the link sent to a staff address says to sign in instead; no account is made.
    let link = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == "admin@example.test")
        .expect("the invitation went out like any other");
    let start = link.body_text.find("/invitations/").unwrap();
    let path: String = link.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let page = app
        .browser()
        .submit(
            &path,
            &path,
            &[
                ("name", "Mallory"),
                ("password", crate::harness::PASSWORD),
                ("password_confirm", crate::harness::PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::GONE);
    page.assert_contains("An account with this email exists already. Sign in instead.");

    // One address a few times a day; one org a bounded number a day.
    for _ in 1..INVITATIONS_PER_ADDRESS_PER_DAY {
        invite("lee@northwind.test".into())
            .await
            .assert_redirect("/portal/team");
    }
    let page = invite("lee@northwind.test".into()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("One address can be invited 3 times a day; try again in");
    // Counted against the org so far: the three answered alike, the colleague's, and Lee's further ones.
    let sent_so_far = 3 + 1 + (INVITATIONS_PER_ADDRESS_PER_DAY - 1);
    let fresh: Vec<String> = (sent_so_far..INVITATIONS_PER_ORG_PER_DAY + 1)
        .map(|i| format!("new{i}@northwind.test"))
        .collect();
    let (last, allowed) = fresh.split_last().unwrap();
    for email in allowed {
        invite(email.clone()).await.assert_redirect("/portal/team");
    }
    let page = invite(last.clone()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Your team can send 20 invitations a day; try again in")
        .assert_contains(&format!("value=\"{last}\""));
}

/// Issue 21 (L7): an affiliate may have as many links as the program allows (set on the settings page), and the
/// links page shows them a page at a time.
#[tokio::test]
async fn links_are_capped_per_affiliate_and_listed_a_page_at_a_time() {
    use concord::affiliate::store::links::{self, NewLink};
    use concord::platform::http::pager::PAGE_SIZE;
    let app = TestApp::spawn().await;
    let program = crate::fixtures::affiliate_program(&app).await;
    let org = program.org;
    let count = || app.db(move |conn| links::count_for(conn, org).unwrap());
    let existing = count().await;
    let admin = app.admin_browser().await;
    let cap = (existing + 2).to_string();
    admin
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("cookie_window_days", "30"),
                ("attribution_model", "last_click"),
                ("allowed_domains", "shop.test"),
                ("default_landing_url", "https://shop.test/welcome"),
                ("terms_text", "Be honest."),
                ("auto_approve_affiliates", "on"),
                ("min_seconds_to_convert", "0"),
                ("max_conversions_per_ip_hour", "1000"),
                ("max_links_per_partner", &cap),
                ("hold_days", "30"),
            ],
        )
        .await
        .assert_redirect("/admin/settings");
    let new_link = |code: &'static str| {
        let partner = &program.partner;
        async move {
            partner
                .submit(
                    "/portal/links",
                    "/portal/links",
                    &[
                        ("destination_url", "https://shop.test/spring"),
                        ("code", code),
                    ],
                )
                .await
        }
    };
    new_link("spring-1").await.assert_redirect("/portal/links");
    new_link("spring-2").await.assert_redirect("/portal/links");
    let refused = new_link("spring-3").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .assert_contains(&format!(
            "You have {cap} links, as many as the program allows."
        ))
        .assert_contains("value=\"spring-3\"");
    assert_eq!(count().await, existing + 2);

    // With room for more, a long list comes a page at a time, and every link is on some page.
    app.db(move |conn| {
        use diesel::prelude::*;
        diesel::update(concord::platform::db::schema::programs::table)
            .set(concord::platform::db::schema::programs::max_links_per_partner.eq(1000))
            .execute(conn)
            .unwrap();
        for i in 0..PAGE_SIZE {
            let code = format!("bulk-{i}");
            links::create(
                conn,
                &NewLink {
                    partner_org_id: org,
                    code: &code,
                    destination_url: "https://shop.test/",
                    sub_id: "",
                    utm_source: "",
                    utm_medium: "",
                    utm_campaign: "",
                    is_default: false,
                },
            )
            .unwrap();
        }
    })
    .await;
    let total = count().await;
    let rows = |body: &str| body.matches("<code>").count() as i64;
    let first = program.partner.get("/portal/links").await;
    assert_eq!(rows(&first.body), PAGE_SIZE);
    first
        .assert_contains("href=\"/portal/links?page=2\" rel=\"next\"")
        .assert_contains(&format!("{total} of the 1000 links"));
    let second = program.partner.get("/portal/links?page=2").await;
    assert_eq!(rows(&second.body), total - PAGE_SIZE);
    second.assert_contains("href=\"/portal/links\" rel=\"prev\"");
    assert!(!second.body.contains("rel=\"next\""));
}

/// Issue 21 (L7): lists that grow come a page at a time, with the filters kept in the page links: partners,
/// conversions, commissions, a partner's earnings and the outbox, each with one page and a few rows more.
#[tokio::test]
async fn growing_lists_come_a_page_at_a_time() {
    use concord::domain::partner::{PartnerKind, PartnerStatus};
    use concord::platform::http::pager::PAGE_SIZE;
    let app = TestApp::spawn().await;
    let program = crate::fixtures::affiliate_program(&app)
        .sales_rule(1_000)
        .await;
    let extra = 3;
    for i in 0..PAGE_SIZE + extra {
        app.create_partner(
            &format!("Reseller {i}"),
            PartnerKind::Reseller,
            PartnerStatus::Approved,
        )
        .await;
        crate::fixtures::sale(
            &app,
            &program.key,
            &format!("order-{i}"),
            1_000,
            serde_json::json!({"coupon": "BO"}),
        )
        .await;
    }
    app.db(move |conn| {
        for i in 0..PAGE_SIZE + extra {
            concord::platform::outbox::enqueue(
                conn,
                &concord::platform::mail::Email {
                    template: "test",
                    recipient: format!("r{i}@example.test"),
                    subject: "Hello".into(),
                    text: "Hello".into(),
                    html: "<p>Hello</p>".into(),
                },
            )
            .unwrap();
        }
    })
    .await;
    let admin = app.admin_browser().await;
    let rows = |body: &str| body.matches("<tr").count() as i64 - 1; // less the header row
    for (list, next) in [
        (
            "/admin/partners?kind=reseller",
            "/admin/partners?kind=reseller&#38;page=2",
        ),
        ("/admin/conversions", "/admin/conversions?page=2"),
        (
            "/admin/commissions?status=pending",
            "/admin/commissions?status=pending&#38;page=2",
        ),
        (
            "/admin/outbox?status=pending",
            "/admin/outbox?status=pending&#38;page=2",
        ),
    ] {
        let first = admin.get(list).await;
        assert_eq!(rows(&first.body), PAGE_SIZE, "{list}");
        first.assert_contains(&format!("href=\"{next}\" rel=\"next\""));
        let second = admin.get(&next.replace("&#38;", "&")).await;
        assert_eq!(rows(&second.body), extra, "{list} page 2");
        assert!(!second.body.contains("rel=\"next\""), "{list}");
    }
    let first = program.partner.get("/portal/earnings").await;
    first.assert_contains("href=\"/portal/earnings?page=2\" rel=\"next\"");
    let second = program.partner.get("/portal/earnings?page=2").await;
    second.assert_contains("rel=\"prev\"");
    assert!(!second.body.contains("rel=\"next\""));
}

/// Issue 21 (roles): partner managers decide about partners and what they submit; configuration and money
/// movement (the commission queue included) are for administrators, as the README's table says.
#[tokio::test]
async fn managers_decide_about_partners_while_configuration_and_money_are_for_admins() {
    use concord::accounts::role::Role;
    let app = TestApp::spawn().await;
    app.create_user("manager@example.test", Role::Manager, None)
        .await;
    let manager = app.browser();
    manager
        .login("manager@example.test", crate::harness::PASSWORD)
        .await
        .assert_redirect("/admin");
    let token = manager.get("/admin").await.csrf_token();
    for path in [
        "/admin/settings",
        "/admin/agreement",
        "/admin/rules",
        "/admin/rules/1/up",
        "/admin/tiers",
        "/admin/tiers/1",
        "/admin/tiers/1/delete",
        "/admin/deals/settings",
        "/admin/deals/settings/stages",
        "/admin/deals/settings/products",
        "/admin/deals/settings/fields",
        "/admin/deals/settings/fields/1/remove",
        "/admin/mdf/budgets",
        "/admin/mdf/settings",
        "/admin/mdf/budgets/1/allocations",
        "/admin/mdf/budgets/1/allocations/1/remove",
        "/admin/training",
        "/admin/training/1/modules",
        "/admin/training/1/questions",
        "/admin/webhooks",
        "/admin/webhooks/1/active",
        "/admin/webhooks/deliveries/1/replay",
        "/admin/payouts/run",
        "/admin/payouts/settings",
        "/admin/payouts/runs/1/resume",
        "/admin/payouts/runs/1/settle",
        "/admin/commissions",
    ] {
        // Every field a form there might require, so the answer is about who asks, not what is missing.
        let page = manager
            .post_raw(
                path,
                &[
                    ("csrf_token", token.as_str()),
                    ("active", "off"),
                    ("name", "x"),
                    ("rank", "1"),
                    ("rail", "manual"),
                    ("action", "cancel"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // The commission queue is shown to managers without its controls.
    let queue = manager.get("/admin/commissions").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(!queue.body.contains("Void selected"));

    // A manager approves an application and moves the partner to a tier with a hold.
    let org = app
        .create_partner(
            "Northwind",
            concord::domain::partner::PartnerKind::Reseller,
            concord::domain::partner::PartnerStatus::Applied,
        )
        .await;
    let path = format!("/admin/partners/{org}");
    manager
        .submit(
            &path,
            &format!("{path}/decision"),
            &[("decision", "approve"), ("reason", "")],
        )
        .await
        .assert_redirect(&path);
    let gold = crate::fixtures::tier(&app, "Gold", 2).await;
    manager
        .submit(
            &path,
            &format!("{path}/tier"),
            &[
                ("tier_id", &gold.to_string()),
                ("hold_until", &crate::fixtures::in_days(30)),
                ("reason", "Strategic account"),
            ],
        )
        .await
        .assert_redirect(&path);
}

/// Issue 21: with `CONCORD_IP_SALT` the salt of visitors' IP hashes lives outside the database (none is stored),
/// and clicks are hashed with it.
#[tokio::test]
async fn the_ip_salt_can_live_outside_the_database() {
    use sha2::{Digest, Sha256};
    let salt = "an-ip-salt-kept-in-the-environment-0123456789";
    let app = TestApp::spawn_with(|s| s.ip_salt = Some(salt.into())).await;
    crate::fixtures::affiliate_program(&app).await;
    let stored = app
        .db(|conn| concord::platform::db::settings::get(conn, "ip_salt").unwrap())
        .await;
    assert_eq!(stored, None, "no salt in the database");
    let answer = no_redirects()
        .get(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    app.settle_clicks().await;
    let hashes: Vec<String> = app
        .db(|conn| {
            use concord::platform::db::schema::clicks;
            use diesel::prelude::*;
            clicks::table.select(clicks::ip_hash).load(conn).unwrap()
        })
        .await;
    let expected = hex::encode(
        &Sha256::new()
            .chain_update(salt)
            .chain_update(b"|")
            .chain_update("127.0.0.1")
            .finalize()[..16],
    );
    assert_eq!(hashes, [expected]);
}
