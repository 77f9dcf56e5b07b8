//! Issue 21, security hardening, over real HTTP on both databases: bounded memory for anonymous traffic, the org's
//! status checked on every partner page, uploads, the headers every page carries, link caps and pagination.
//! Accounts (sign-in throttling, resets, invitations, roles, the IP salt) are in `hardening_accounts`.

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::harness::TestApp;
use concord::affiliate::tracking::{MAX_CACHED_LINKS, MAX_CACHED_MISSES};
pub(crate) fn no_redirects() -> reqwest::Client {
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
    // Measured on a `concord serve` of its own on the same database, so no other test's work counts.
    let dir = tempfile::tempdir().unwrap();
    let server = crate::cli::serve(dir.path(), app.database.url(), 0, &[]);
    let own = crate::harness::Browser::new(&format!("http://127.0.0.1:{}", server.port));
    own.login("boss@northwind.test", crate::harness::PASSWORD)
        .await
        .assert_redirect("/portal");
    let served_uploads = dir.path().join("data").join("uploads");
    let before = server.peak_memory();
    let response = streamed_claim(&own, id, 9, 8 * MIB + MIB / 2)
        .await
        .unwrap();
    let growth = server.peak_memory().saturating_sub(before);
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
    let left_by_server = std::fs::read_dir(&served_uploads)
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert_eq!(left_by_server, 0);
    drop(server);

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
