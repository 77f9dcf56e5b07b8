//! The affiliate program end to end: signup, links, tracked redirects, the conversion API with attribution and
//! fraud flags, refunds.

use crate::harness::{Browser, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn signup_fields(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "Bo Blogger"),
        ("email", email),
        ("password", PASSWORD),
        ("website", "https://www.BrightDeals.example/reviews"),
        (
            "promotion",
            "Weekly deal round-ups to 20k newsletter readers.",
        ),
        ("country", "us"),
        ("accept_terms", "on"),
        ("company_url", ""),
    ]
}

#[tokio::test]
async fn signup_with_auto_approve_opens_the_portal_with_a_default_link() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let bo = app.browser();
    bo.submit("/join", "/join", &signup_fields("bo@brightdeals.example"))
        .await
        .assert_redirect("/portal");
    let portal = bo.get("/portal").await;
    portal
        .assert_contains("Your account is ready")
        .assert_contains("Last 30 days")
        .assert_contains("<svg");
    bo.get("/portal/links")
        .await
        .assert_contains(&format!("{}/r/", app.address))
        .assert_contains("(default)")
        .assert_contains("https://shop.test/welcome");

    let (org_status, domain, terms_version) = app
        .db(|conn| {
            use concord::platform::db::schema::partner_orgs::dsl::*;
            use diesel::prelude::*;
            partner_orgs
                .select((status, website_domain, terms_version))
                .first::<(String, String, Option<i64>)>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        (org_status.as_str(), domain.as_str(), terms_version),
        ("approved", "brightdeals.example", Some(2))
    );
}

#[tokio::test]
async fn every_bad_signup_field_is_explained_and_the_form_kept() {
    let app = TestApp::spawn().await;
    app.affiliate_program(false, |_| {}).await;
    let visitor = app.browser();
    let fields = [
        ("name", ""),
        ("email", "bo@"),
        ("password", "short"),
        ("website", "x"),
        ("promotion", "ads"),
        ("country", "USA"),
        ("company_url", ""),
    ];
    let page = visitor.submit("/join", "/join", &fields).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Tell us your name.")
        .assert_contains("is not a valid email address")
        .assert_contains("at least 10 characters")
        .assert_contains("a website or a channel")
        .assert_contains("how you promote")
        .assert_contains("two-letter code")
        .assert_contains("Accept the program terms")
        .assert_contains("value=\"bo@\"")
        .assert_contains(">ads</textarea>");
    assert!(
        !page.body.contains("value=\"short\""),
        "the password is never echoed"
    );
    let orgs = app
        .db(|conn| concord::partners::store::count_by_status(conn, 1).unwrap())
        .await;
    assert!(orgs.is_empty());
}

#[tokio::test]
async fn a_duplicate_email_gets_a_clear_message() {
    let app = TestApp::spawn().await;
    app.affiliate_program(false, |_| {}).await;
    app.create_user(
        "bo@brightdeals.example",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let page = app
        .browser()
        .submit("/join", "/join", &signup_fields("Bo@BrightDeals.example"))
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("An account with this email exists already")
        .assert_contains("Weekly deal round-ups");
}

#[tokio::test]
async fn without_auto_approve_the_affiliate_waits_then_sees_links_once_approved() {
    let app = TestApp::spawn().await;
    app.affiliate_program(false, |_| {}).await;
    let admin = app.admin_browser().await;
    let bo = app.browser();
    bo.submit("/join", "/join", &signup_fields("bo@brightdeals.example"))
        .await
        .assert_redirect("/portal");
    bo.get("/portal")
        .await
        .assert_contains("Your application is under review");
    let page = bo.get("/portal/links").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.assert_contains("under review");

    let subjects: Vec<String> = app
        .outbox()
        .await
        .into_iter()
        .map(|m| format!("{} -> {}", m.subject, m.recipient))
        .collect();
    assert!(
        subjects.contains(
            &"We received the application from Bo Blogger -> bo@brightdeals.example".to_string()
        ),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"New partner application: Bo Blogger -> admin@example.test".to_string()),
        "{subjects:?}"
    );

    let queue = admin.get("/admin/partners?status=applied").await;
    queue.assert_contains("Bo Blogger");
    let org = app
        .db(|conn| {
            concord::partners::store::list(
                conn,
                1,
                &Default::default(),
                concord::platform::db::Window::ALL,
            )
            .unwrap()[0]
                .org
                .id
        })
        .await;
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "approve")],
        )
        .await
        .assert_redirect(&detail);
    bo.get("/portal/links").await.assert_contains("(default)");
}

#[tokio::test]
async fn honeypot_signups_create_nothing_and_floods_are_throttled() {
    let app = TestApp::spawn().await;
    app.affiliate_program(false, |_| {}).await;
    let bot = app.browser();
    let mut fields = signup_fields("bot@spam.example");
    fields.retain(|(k, _)| *k != "company_url");
    fields.push(("company_url", "http://spam.example"));
    bot.submit("/join", "/join", &fields)
        .await
        .assert_redirect("/");
    assert!(
        app.db(
            |conn| concord::accounts::store::users::find_by_email(conn, "bot@spam.example")
                .unwrap()
                .is_none()
        )
        .await
    );

    // Four more attempts from the same address are allowed (five in ten minutes), the next is refused.
    for n in 0..4 {
        let email = format!("person{n}@example.test");
        let page = bot
            .submit("/join", "/join", &[("email", email.as_str())])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let page = bot
        .submit("/join", "/join", &signup_fields("late@example.test"))
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    page.assert_contains("Too many signups from your network");
}

#[tokio::test]
async fn affiliates_create_links_with_custom_codes_on_allowed_domains_only() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let bo = app.browser();
    bo.submit("/join", "/join", &signup_fields("bo@brightdeals.example"))
        .await;
    let page = bo
        .submit(
            "/portal/links",
            "/portal/links",
            &[("destination_url", "https://evil.test/"), ("code", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("evil.test is not one of the program&#39;s domains")
        .assert_contains("Use 3 to 40 letters");
    bo.submit(
        "/portal/links",
        "/portal/links",
        &[
            ("destination_url", "https://shop.test/pricing"),
            ("code", "Spring-Sale"),
            ("utm_source", "newsletter"),
        ],
    )
    .await
    .assert_redirect("/portal/links");
    bo.get("/portal/links")
        .await
        .assert_contains("/r/spring-sale");
    let page = bo
        .submit(
            "/portal/links",
            "/portal/links",
            &[
                ("destination_url", "https://shop.test/"),
                ("code", "spring-sale"),
            ],
        )
        .await;
    page.assert_contains("The code &#39;spring-sale&#39; is taken");

    let visitor = app.browser();
    let hop = visitor.get("/r/spring-sale").await;
    assert_eq!(hop.status, StatusCode::FOUND);
    let location = hop.location.unwrap();
    assert!(
        location.starts_with("https://shop.test/pricing?utm_source=newsletter&concord_click="),
        "{location}"
    );
}

/// Follows a link as a browser would; returns the click id from the Location.
async fn follow(browser: &Browser, code: &str) -> String {
    let hop = browser.get(&format!("/r/{code}")).await;
    assert_eq!(hop.status, StatusCode::FOUND, "{}", hop.body);
    let location = hop.location.expect("a Location");
    location
        .split("concord_click=")
        .nth(1)
        .expect("the click id in the Location")
        .to_string()
}

async fn click_rows(app: &TestApp) -> Vec<(String, Option<String>)> {
    app.settle_clicks().await;
    app.db(|conn| {
        use concord::platform::db::schema::clicks::dsl::*;
        use diesel::prelude::*;
        clicks
            .order(id)
            .select((click_id, filtered_reason))
            .load(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn the_redirect_sets_the_cookie_and_files_bots_heads_and_duplicates() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;

    let visitor = app.browser();
    let hop = visitor
        .client
        .get(format!("{}/r/BRIGHT", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(hop.status(), StatusCode::FOUND);
    let location = hop.headers()["location"].to_str().unwrap().to_string();
    let cookie = hop.headers()["set-cookie"].to_str().unwrap().to_string();
    let click_id = location.split("concord_click=").nth(1).unwrap();
    assert!(location.starts_with("https://shop.test/pricing?concord_click="));
    assert!(
        cookie.starts_with(&format!("concord_click={click_id}"))
            && cookie.contains("Max-Age=2592000")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    follow(&visitor, "bright").await; // same visitor, same link, within the hour
    let bot = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Slackbot-LinkExpanding 1.0")
        .build()
        .unwrap();
    let hop = bot
        .get(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(hop.status(), StatusCode::FOUND);
    assert!(
        hop.headers().get("set-cookie").is_none(),
        "no cookie for bots"
    );
    let hop = visitor
        .client
        .head(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(hop.status(), StatusCode::FOUND);

    let rows = click_rows(&app).await;
    let reasons: Vec<Option<&str>> = rows.iter().map(|(_, r)| r.as_deref()).collect();
    assert_eq!(
        reasons,
        vec![None, Some("duplicate"), Some("bot"), Some("head")]
    );
    assert_eq!(rows[0].0, click_id);

    let page = visitor.get("/r/no-such-code").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.assert_contains("We could not find that page.");

    let bo = app.browser();
    bo.login("bo@brightdeals.example", PASSWORD).await;
    let portal = bo.get("/portal").await;
    portal
        .assert_contains("4 raw")
        .assert_contains("1 filtered: same visitor within an hour")
        .assert_contains("1 filtered: bot or link preview");
}

#[tokio::test]
async fn conversions_are_attributed_by_click_customer_and_coupon() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (bright, _) = app
        .affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let (coupons_org, _) = app
        .affiliate_with_link("Coupon Corner", "cc@coupons.example", "corner")
        .await;
    let key = app.api_key().await;
    let admin = app.admin_browser().await;
    let detail = format!("/admin/partners/{coupons_org}");
    admin
        .submit(&detail, &format!("{detail}/coupons"), &[("code", "SAVE10")])
        .await
        .assert_redirect(&detail);
    let page = admin
        .submit(&detail, &format!("{detail}/coupons"), &[("code", "save10")])
        .await;
    page.assert_contains("The coupon code save10 is already assigned.");

    let visitor = app.browser();
    let click = follow(&visitor, "bright").await;

    // A lead with a click binds the customer to the partner.
    let (status, body) = crate::fixtures::api_post(&app, &key, "/api/v1/conversions", &json!({"external_id": "lead-1", "kind": "lead", "click_id": click, "customer_id": "cus_1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (
            body["conversion"]["partner_id"].as_i64(),
            body["conversion"]["attributed_by"].as_str()
        ),
        (Some(bright), Some("click"))
    );
    assert_eq!(body["conversion"]["commission"], Value::Null);

    // A later sale (another device, a renewal) carries only the customer id.
    let (status, body) = crate::fixtures::api_post(&app, &key, "/api/v1/conversions", &json!({"external_id": "sale-1", "kind": "sale", "amount": 19900, "currency": "USD", "customer_id": "cus_1"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (
            body["conversion"]["partner_id"].as_i64(),
            body["conversion"]["attributed_by"].as_str()
        ),
        (Some(bright), Some("customer"))
    );

    // A coupon beats a click.
    let (_, body) = crate::fixtures::api_post(&app, &key, "/api/v1/conversions", &json!({"external_id": "sale-2", "kind": "sale", "amount": 5000, "currency": "USD", "click_id": click, "coupon": "Save10"})).await;
    assert_eq!(
        (
            body["conversion"]["partner_id"].as_i64(),
            body["conversion"]["attributed_by"].as_str()
        ),
        (Some(coupons_org), Some("coupon"))
    );

    // Nothing to go on: recorded, attributed to nobody.
    let (status, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "sale-3", "kind": "sale", "amount": 100, "currency": "EUR"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["conversion"]["partner_id"], Value::Null);

    // The affiliate sees the sale in its dashboard.
    let bo = app.browser();
    bo.login("bo@brightdeals.example", PASSWORD).await;
    bo.get("/portal").await.assert_contains("199.00 USD");
    bo.get("/portal/links").await.assert_contains("<td>1</td>");
}

#[tokio::test]
async fn clicks_outside_the_cookie_window_do_not_attribute() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |s| s.cookie_window_days = 7)
        .await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let key = app.api_key().await;
    let click = follow(&app.browser(), "bright").await;
    let old = click.clone();
    app.settle_clicks().await;
    app.db(move |conn| {
        use concord::platform::db::schema::clicks::dsl::*;
        use diesel::prelude::*;
        diesel::update(clicks.filter(click_id.eq(old)))
            .set(clicked_at.eq(concord::platform::db::now() - chrono::Duration::days(8)))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "late", "kind": "lead", "click_id": click}),
    )
    .await;
    assert_eq!(body["conversion"]["partner_id"], Value::Null);
}

#[tokio::test]
async fn first_click_and_last_click_pick_different_partners() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (first, _) = app
        .affiliate_with_link("First Blog", "a@first.example", "first")
        .await;
    let (last, _) = app
        .affiliate_with_link("Last Blog", "b@last.example", "last")
        .await;
    let key = app.api_key().await;
    let visitor = app.browser();
    follow(&visitor, "first").await;
    let latest = follow(&visitor, "last").await; // the cookie chains the two clicks

    let (_, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "o-1", "kind": "lead", "click_id": latest}),
    )
    .await;
    assert_eq!(body["conversion"]["partner_id"].as_i64(), Some(last));
    app.affiliate_program(true, |s| {
        s.attribution_model = concord::programs::affiliate_settings::AttributionModel::FirstClick
    })
    .await;
    let (_, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "o-2", "kind": "lead", "click_id": latest}),
    )
    .await;
    assert_eq!(body["conversion"]["partner_id"].as_i64(), Some(first));
}

#[tokio::test]
async fn the_same_external_id_posted_twenty_times_at_once_is_one_conversion() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let key = app.api_key().await;
    let click = follow(&app.browser(), "bright").await;
    let body = json!({"external_id": "ord-77", "kind": "sale", "amount": 4200, "currency": "USD", "click_id": click});
    let posts =
        (0..20).map(|_| crate::fixtures::api_post(&app, &key, "/api/v1/conversions", &body));
    let answers = futures_util::future::join_all(posts).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let repeated = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!((created, repeated), (1, 19), "{answers:?}");
    let ids: std::collections::HashSet<i64> = answers
        .iter()
        .map(|(_, b)| b["conversion"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    let rows = app
        .db(|conn| {
            concord::affiliate::conversions::list_for_review(
                conn,
                1,
                false,
                concord::platform::db::Window::ALL,
            )
            .unwrap()
            .len()
        })
        .await;
    assert_eq!(rows, 1);
}

/// Conversions posted at once share the conversion writer's transaction (group commit); one that is refused fails
/// alone and the others are stored, each once.
#[tokio::test]
async fn conversions_posted_at_once_are_stored_and_a_refused_one_fails_alone() {
    let app = TestApp::spawn().await;
    let key = app.api_key().await;
    let posts = (0..30).map(|i| {
        let (key, body) = match i % 3 {
            0 => (
                key.clone(),
                json!({"external_id": format!("bad-{i}"), "kind": "gift"}),
            ),
            1 => (
                "ck_not_a_key".to_string(),
                json!({"external_id": format!("anon-{i}"), "kind": "lead"}),
            ),
            _ => (
                key.clone(),
                json!({"external_id": format!("ok-{i}"), "kind": "lead"}),
            ),
        };
        let app = &app;
        async move { crate::fixtures::api_post(app, &key, "/api/v1/conversions", &body).await }
    });
    let answers = futures_util::future::join_all(posts).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        let expected = [
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::UNAUTHORIZED,
            StatusCode::CREATED,
        ][i % 3];
        assert_eq!(*status, expected, "request {i}: {body}");
    }
    let stored: Vec<String> = app
        .db(|conn| {
            concord::affiliate::conversions::list_for_review(
                conn,
                1,
                false,
                concord::platform::db::Window::ALL,
            )
            .unwrap()
            .into_iter()
            .map(|c| c.external_id)
            .collect()
        })
        .await;
    let mut stored = stored;
    stored.sort();
    let mut expected: Vec<String> = (0..30)
        .filter(|i| i % 3 == 2)
        .map(|i| format!("ok-{i}"))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn bad_conversion_input_is_422_naming_the_field_and_keys_are_required() {
    let app = TestApp::spawn().await;
    let key = app.api_key().await;
    for (body, field) in [
        (
            json!({"kind": "sale", "amount": 1, "currency": "USD"}),
            "external_id",
        ),
        (json!({"external_id": "x", "kind": "gift"}), "kind"),
        (
            json!({"external_id": "x", "kind": "sale", "amount": -1, "currency": "USD"}),
            "amount",
        ),
        (
            json!({"external_id": "x", "kind": "sale", "amount": 1, "currency": "XX"}),
            "currency",
        ),
        (
            json!({"external_id": "x", "kind": "lead", "occurred_at": "soon"}),
            "occurred_at",
        ),
    ] {
        let (status, answer) =
            crate::fixtures::api_post(&app, &key, "/api/v1/conversions", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(answer["error"]["code"]
            .as_str()
            .unwrap()
            .ends_with("_field"));
    }
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/conversions", app.address);
    let response = client
        .post(&url)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );
    let response = client
        .post(&url)
        .json(&json!({"external_id": "x", "kind": "lead"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client
        .post(&url)
        .bearer_auth(&key)
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );
}

#[tokio::test]
async fn self_referral_and_fast_conversions_are_held_for_review() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |s| s.min_seconds_to_convert = 60)
        .await;
    app.affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let key = app.api_key().await;
    let click = follow(&app.browser(), "bright").await;
    let (_, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "self", "kind": "sale", "amount": 1000, "currency": "USD", "click_id": click, "customer_email": "BO@brightdeals.example"}),
    )
    .await;
    let conversion = &body["conversion"];
    assert_eq!(conversion["review_status"], "held");
    let flags: Vec<&str> = conversion["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags[0].starts_with("self-referral"), "{flags:?}");
    assert!(flags[1].starts_with("fast conversion"), "{flags:?}");

    let admin = app.admin_browser().await;
    let queue = admin.get("/admin/conversions?flagged=1").await;
    queue
        .assert_contains("self-referral")
        .assert_contains("held");
    let id = conversion["id"].as_i64().unwrap();
    admin
        .submit(
            "/admin/conversions?flagged=1",
            &format!("/admin/conversions/{id}/review"),
            &[("verdict", "reject"), ("reason", "Own purchase")],
        )
        .await;
    admin
        .get("/admin/conversions?flagged=1")
        .await
        .assert_contains("Verdict: Own purchase")
        .assert_contains("rejected");
    admin
        .get("/admin/audit?action=conversion.reject")
        .await
        .assert_contains("Own purchase");
}

#[tokio::test]
async fn refunds_are_recorded_once_and_never_exceed_the_sale() {
    let app = TestApp::spawn().await;
    let key = app.api_key().await;
    crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        &json!({"external_id": "ord-1", "kind": "sale", "amount": 10000, "currency": "USD"}),
    )
    .await;
    let (status, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        &json!({"refund_id": "re-1", "external_id": "ord-1", "amount": 2500}),
    )
    .await;
    assert_eq!(
        (status, body["refund"]["amount"].as_i64()),
        (StatusCode::CREATED, Some(2500))
    );
    let (status, again) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        &json!({"refund_id": "re-1", "external_id": "ord-1", "amount": 2500}),
    )
    .await;
    assert_eq!(
        (status, again["refund"]["id"].clone()),
        (StatusCode::OK, body["refund"]["id"].clone())
    );
    let (status, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        &json!({"refund_id": "re-2", "external_id": "ord-1", "amount": 9000}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount"))
    );
    let (status, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        &json!({"refund_id": "re-3", "external_id": "ord-1"}),
    )
    .await;
    assert_eq!(
        (status, body["refund"]["amount"].as_i64()),
        (StatusCode::CREATED, Some(7500)),
        "the rest of the sale"
    );
    let (status, body) = crate::fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        &json!({"refund_id": "re-4", "external_id": "nope"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_conversion"))
    );
}

#[tokio::test]
async fn admins_set_the_program_and_bad_settings_are_explained() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let page = admin
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("cookie_window_days", "0"),
                ("attribution_model", "last_click"),
                ("allowed_domains", "shop.test"),
                ("min_seconds_to_convert", "10"),
                ("max_conversions_per_ip_hour", "5"),
                ("blocked_ips", "not-an-ip"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("The cookie window is a whole number from 1 to 365.")
        .assert_contains("&#39;not-an-ip&#39; is not an IP address.");
    admin
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("cookie_window_days", "45"),
                ("attribution_model", "first_click"),
                ("allowed_domains", "shop.test\nblog.shop.test"),
                ("default_landing_url", "https://shop.test/"),
                ("terms_text", "New terms"),
                ("auto_approve_affiliates", "on"),
                ("min_seconds_to_convert", "10"),
                ("max_conversions_per_ip_hour", "5"),
                ("max_links_per_partner", "1000"),
                ("blocked_ips", "203.0.113.9"),
                ("hold_days", "14"),
            ],
        )
        .await
        .assert_redirect("/admin/settings");
    let page = admin.get("/admin/settings").await;
    page.assert_contains("value=\"45\"")
        .assert_contains("now version 2")
        .assert_contains("203.0.113.9");
    admin
        .get("/admin/audit?action=program.settings")
        .await
        .assert_contains("cookie window 45 days, first_click, auto-approve on, terms v2");
}

#[tokio::test]
async fn a_suspended_affiliate_earns_no_clicks_at_once_but_visitors_still_arrive() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (org, _) = app
        .affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let visitor = app.browser();
    follow(&visitor, "bright").await; // the link is now cached as belonging to an approved partner
    let admin = app.admin_browser().await;
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "suspend"), ("reason", "Brand bidding")],
        )
        .await
        .assert_redirect(&detail);

    let hop = visitor.get("/r/bright").await;
    assert_eq!(hop.status, StatusCode::FOUND);
    assert_eq!(
        hop.location.as_deref(),
        Some("https://shop.test/pricing"),
        "no click id: nothing is tracked"
    );
    assert_eq!(click_rows(&app).await.len(), 1);
}
