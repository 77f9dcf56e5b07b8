//! The money invariants (issue 19; `domain::ledger` states them): refunds never exceed their sale under any
//! interleaving, a refund meets a payout that holds its commission, orgs that are not approved earn nothing payable,
//! the payout minimum per currency, the amount ceiling on every entry point, future-dated conversions, the figures
//! partners see, conflicting deal approvals and the program terms' new versions.

use crate::fixtures;
use crate::harness::{Browser, Page, TestApp, PASSWORD};
use crate::payouts::{app_with, connect_ready, ledger, start};
use crate::stripe_fake::FakeStripe;
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use concord::ledger::rules::{EntryKind, EntryStatus};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) async fn refund(
    app: &TestApp,
    key: &str,
    refund_id: &str,
    sale: &str,
) -> (StatusCode, Value) {
    fixtures::api_post(
        app,
        key,
        "/api/v1/refunds",
        json!({"refund_id": refund_id, "external_id": sale}),
    )
    .await
}

async fn balance(app: &TestApp, key: &str, org: i64) -> Value {
    fixtures::api_get(app, key, &format!("/api/v1/partners/{org}/balance")).await["balances"][0]
        .clone()
}

async fn settle(admin: &Browser, run_page: &str, action: &str) {
    admin
        .submit(
            run_page,
            &format!("{run_page}/settle"),
            &[("action", action), ("reference", "BANK-2026-12-01")],
        )
        .await
        .assert_redirect(run_page);
}

#[tokio::test]
async fn ten_parallel_refunds_of_six_on_a_ten_dollar_sale_one_succeeds_and_none_fails_with_5xx() {
    let app = TestApp::spawn().await;
    let key = app.api_key().await;
    for id in ["ord-1", "ord-2"] {
        let (status, _) = fixtures::api_post(
            &app,
            &key,
            "/api/v1/conversions",
            json!({"external_id": id, "kind": "sale", "amount": 1000, "currency": "USD"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let parallel = |sale: &'static str, count: usize, amount: i64| {
        let tasks: Vec<_> = (0..count)
            .map(|n| {
                let (address, key) = (app.address.clone(), key.clone());
                tokio::spawn(async move {
                    reqwest::Client::new()
                        .post(format!("{address}/api/v1/refunds"))
                        .bearer_auth(key)
                        .json(&json!({"refund_id": format!("{sale}-re-{n}"), "external_id": sale, "amount": amount}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        async move {
            let mut statuses = Vec::new();
            for task in tasks {
                statuses.push(task.await.unwrap());
            }
            statuses
        }
    };
    let statuses = parallel("ord-1", 10, 600).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((created, refused), (1, 9), "{statuses:?}");
    // Thirty small refunds of another sale at once all fit: each is answered, none with "database is locked".
    let statuses = parallel("ord-2", 30, 10).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let refunded: Vec<(String, i64)> = app
        .db(|conn| {
            use concord::platform::db::schema::{conversions, refunds};
            refunds::table
                .inner_join(conversions::table)
                .group_by(conversions::external_id)
                .order(conversions::external_id)
                .select((
                    conversions::external_id,
                    diesel::dsl::sql::<diesel::sql_types::BigInt>(
                        "CAST(SUM(refunds.amount_minor) AS BIGINT)",
                    ),
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(refunded, vec![("ord-1".into(), 600), ("ord-2".into(), 300)]);
}

/// (kind, amount, status) of the ledger entries of one conversion, oldest first.
async fn entries_of(app: &TestApp, external_id: &'static str) -> Vec<(String, i64, String)> {
    app.db(move |conn| {
        let program = concord::programs::current(conn).unwrap();
        let sale =
            concord::affiliate::conversions::find_by_external_id(conn, program.id, external_id)
                .unwrap()
                .unwrap();
        concord::ledger::store::for_conversion(conn, sale.id)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind.to_string(), e.amount_minor, e.status.to_string()))
            .collect()
    })
    .await
}

fn row(kind: &str, amount: i64, status: &str) -> (String, i64, String) {
    (kind.into(), amount, status.into())
}

#[tokio::test]
async fn a_refund_while_a_manual_batch_holds_the_commission_is_clawed_back_once_and_nets_the_next_payout(
) {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    fixtures::sale(&app, &p.key, "ord-1", 30_000, json!({"coupon": "BO"})).await;
    app.run_job("hold_release").await;
    let run = start(&admin, "manual").await;
    let run_page = run
        .location
        .clone()
        .unwrap_or_else(|| panic!("{}", run.body));

    // The sale is refunded while the batch holds its commission: nothing is voided, one clawback is written.
    let (status, _) = refund(&app, &p.key, "re-1", "ord-1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        entries_of(&app, "ord-1").await,
        vec![
            row("commission", 6_000, "approved"),
            row("clawback", -6_000, "approved")
        ]
    );
    settle(&admin, &run_page, "paid").await;

    // The batch paid what it held (the money left); the clawback waits for the next payout.
    assert_eq!(
        entries_of(&app, "ord-1").await,
        vec![
            row("commission", 6_000, "paid"),
            row("clawback", -6_000, "approved")
        ]
    );
    assert_eq!(
        balance(&app, &p.key, p.org).await,
        json!({"currency": "USD", "pending": 0, "approved": -6_000, "available": -6_000, "paid": 6_000})
    );
    let statement = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == "bo@brightdeals.example" && m.subject.starts_with("Payout #"))
        .expect("a payout statement");
    assert!(
        statement.body_text.contains("60.00"),
        "{}",
        statement.body_text
    );
    let earnings = p.partner.get("/portal/earnings").await;
    earnings
        .assert_contains("Carried negative (USD)")
        .assert_contains("-60.00")
        .assert_contains("while a payout in progress held the commission");
    assert!(
        !earnings.body.contains("Paid (USD)</h2><p class=\"big\">-"),
        "{}",
        earnings.body
    );

    // The next payout nets the clawback: 140.00 earned, 80.00 paid.
    fixtures::sale(&app, &p.key, "ord-2", 70_000, json!({"coupon": "BO"})).await;
    app.run_job("hold_release").await;
    admin
        .get("/admin/payouts")
        .await
        .assert_contains("80.00 USD")
        .assert_contains("-60.00 USD");
    let next = start(&admin, "manual").await;
    settle(&admin, next.location.as_deref().unwrap(), "paid").await;
    let paid: Vec<i64> = app
        .db(|conn| {
            use concord::platform::db::schema::payouts;
            payouts::table
                .filter(payouts::status.eq("paid"))
                .order(payouts::id)
                .select(payouts::amount_minor)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(paid, vec![6_000, 8_000]);
    assert_eq!(
        balance(&app, &p.key, p.org).await,
        json!({"currency": "USD", "pending": 0, "approved": 0, "available": 0, "paid": 14_000})
    );
    let clawbacks = ledger(&app, p.org)
        .await
        .into_iter()
        .filter(|(kind, _, _)| kind == "clawback")
        .count();
    assert_eq!(clawbacks, 1, "taken back exactly once");
}

#[tokio::test]
async fn a_cancelled_manual_batch_reads_cancelled_and_a_refund_during_it_nets_to_zero() {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    fixtures::sale(&app, &p.key, "ord-1", 30_000, json!({"coupon": "BO"})).await;
    app.run_job("hold_release").await;
    let run = start(&admin, "manual").await;
    let run_page = run.location.clone().unwrap();
    refund(&app, &p.key, "re-1", "ord-1").await;
    settle(&admin, &run_page, "cancel").await;

    // The commission is free again and its clawback nets it: nothing is owed, nothing is void that was paid.
    assert_eq!(
        entries_of(&app, "ord-1").await,
        vec![
            row("commission", 6_000, "approved"),
            row("clawback", -6_000, "approved")
        ]
    );
    assert_eq!(balance(&app, &p.key, p.org).await["approved"], 0);
    let payouts = p.partner.get("/portal/payouts").await;
    payouts.assert_contains("Cancelled");
    assert!(!payouts.body.contains(">Failed<"), "{}", payouts.body);
    admin
        .get("/admin/payouts")
        .await
        .assert_contains("badge rejected\">Cancelled");
    admin
        .get(&run_page)
        .await
        .assert_contains("Cancelled")
        .assert_contains("1 payouts not paid");
}

#[tokio::test]
async fn a_refund_while_stripe_pays_the_commission_is_clawed_back_after_the_transfer() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    let account = fake.add_ready_account();
    let org = p.org;
    app.db(move |conn| connect_ready(conn, org, &account)).await;
    fixtures::sale(&app, &p.key, "ord-1", 50_000, json!({"coupon": "BO"})).await;
    app.run_job("hold_release").await;

    // Stripe is slow to answer: the payout is in flight while the sale is refunded.
    fake.pause_transfers();
    let run = start(&admin, "stripe").await;
    let run_page = run
        .location
        .clone()
        .unwrap_or_else(|| panic!("{}", run.body));
    let (status, _) = refund(&app, &p.key, "re-1", "ord-1").await;
    assert_eq!(status, StatusCode::CREATED);
    fake.resume_transfers();
    crate::payouts::finished(&admin, &run_page).await;

    assert_eq!(fake.transfers().len(), 1);
    assert_eq!(
        fake.transfers()[0].amount,
        10_000,
        "the commission in flight is paid"
    );
    assert_eq!(
        entries_of(&app, "ord-1").await,
        vec![
            row("commission", 10_000, "paid"),
            row("clawback", -10_000, "approved")
        ]
    );
    assert_eq!(
        balance(&app, &p.key, p.org).await,
        json!({"currency": "USD", "pending": 0, "approved": -10_000, "available": -10_000, "paid": 10_000})
    );
}

/// The concord_click id a redirect hands the destination.
async fn click_id(browser: &Browser, code: &str) -> String {
    let hop = browser.get(&format!("/r/{code}")).await;
    let location = hop.location.expect("a redirect");
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "concord_click")
        .map(|(_, v)| v.into_owned())
        .expect("a click id")
}

#[tokio::test]
async fn coupons_clicks_and_customers_of_orgs_that_are_not_approved_earn_nothing_payable() {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    let applied = app
        .create_partner(
            "Still Applying",
            PartnerKind::Affiliate,
            PartnerStatus::Applied,
        )
        .await;
    fixtures::coupon(&app, applied, "NEWBIE").await;
    // A visitor clicked while the affiliate was approved, and a customer was bound to it.
    let visitor = app.browser();
    let click = click_id(&visitor, "bright").await;
    app.settle_clicks().await;
    fixtures::sale(
        &app,
        &p.key,
        "before",
        10_000,
        json!({"coupon": "BO", "customer_id": "cus_1"}),
    )
    .await;
    let detail = format!("/admin/partners/{}", p.org);
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "suspend"), ("reason", "Brand bidding")],
        )
        .await
        .assert_redirect(&detail);

    let by_coupon = fixtures::sale(&app, &p.key, "coupon", 10_000, json!({"coupon": "BO"})).await;
    let by_click = fixtures::sale(&app, &p.key, "click", 10_000, json!({"click_id": click})).await;
    let by_customer = fixtures::sale(
        &app,
        &p.key,
        "customer",
        10_000,
        json!({"customer_id": "cus_1"}),
    )
    .await;
    let applicant = fixtures::sale(
        &app,
        &p.key,
        "applicant",
        10_000,
        json!({"coupon": "NEWBIE"}),
    )
    .await;
    for (conversion, by) in [
        (&by_coupon, "coupon"),
        (&by_click, "click"),
        (&by_customer, "customer"),
    ] {
        assert_eq!(conversion["attributed_by"], by);
        assert_eq!(conversion["review_status"], "held", "{conversion}");
        assert!(
            conversion["flags"][0]
                .as_str()
                .unwrap()
                .contains("the partner is suspended"),
            "{conversion}"
        );
    }
    assert_eq!(applicant["partner_id"], applied);
    assert_eq!(applicant["review_status"], "held");
    assert!(applicant["flags"][0]
        .as_str()
        .unwrap()
        .contains("still under review"));

    // The hold release leaves them pending; only the sale from before the suspension is payable.
    app.run_job("hold_release").await;
    for id in ["coupon", "click", "customer", "applicant"] {
        assert_eq!(
            entries_of(&app, id).await,
            vec![row("commission", 2_000, "pending")],
            "{id}"
        );
    }
    assert_eq!(
        entries_of(&app, "before").await,
        vec![row("commission", 2_000, "approved")]
    );
    // And a suspended org's approved balance waits: the batch skips it with the reason.
    app.db(move |conn| {
        crate::payouts::earn(conn, applied, &[(EntryKind::Commission, 9_000)]);
    })
    .await;
    let preview = admin.get("/admin/payouts").await;
    preview
        .assert_contains("Skipped (2)")
        .assert_contains(
            "The partner is suspended: its balance is not paid while it is not approved.",
        )
        .assert_contains("The partner&#39;s application is not approved yet");
    let nothing = start(&admin, "manual").await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.body);
}

/// Approved entries in other currencies than the program's.
async fn earn_in(app: &TestApp, org: i64, amounts: &'static [(i64, &'static str)]) {
    app.db(move |conn| {
        for (n, (amount, currency)) in amounts.iter().enumerate() {
            concord::ledger::store::append(
                conn,
                &concord::ledger::store::NewEntry {
                    partner_org_id: org,
                    amount_minor: *amount,
                    currency,
                    kind: EntryKind::Commission,
                    status: EntryStatus::Approved,
                    available_at: concord::platform::db::now(),
                    source_type: "test",
                    source_id: org * 100 + n as i64,
                    conversion_id: None,
                    rule_id: None,
                    explanation: "test",
                },
            )
            .unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn the_payout_minimum_is_the_same_number_of_major_units_in_every_currency() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let org = fixtures::reseller(&app, "Northwind").await.org;
    earn_in(&app, org, &[(200, "JPY"), (2_469, "BHD"), (4_999, "USD")]).await;
    let preview = admin.get("/admin/payouts").await;
    preview
        .assert_contains("Paid by hand: bank transfer or PayPal (1)")
        .assert_contains("<td>200 JPY</td>")
        .assert_contains("<td>50 JPY</td>")
        .assert_contains("Skipped (2)")
        .assert_contains("2.469 BHD is below the minimum payout of 50.000 BHD.")
        .assert_contains("49.99 USD is below the minimum payout of 50.00 USD.");
    assert!(!preview.body.contains("5,000 JPY"), "{}", preview.body);
    let run = start(&admin, "manual").await;
    assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
    let amounts: Vec<(i64, String)> = app
        .db(|conn| {
            use concord::platform::db::schema::payouts;
            payouts::table
                .select((payouts::amount_minor, payouts::currency))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(amounts, vec![(200, "JPY".to_string())]);
}

#[tokio::test]
async fn amounts_above_the_ceiling_are_refused_at_every_entry_point_and_pages_stay_up() {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    let ceiling = concord::domain::money::MAX_AMOUNT_MINOR;
    for amount in [
        json!(9_223_372_036_854_775_807i64),
        json!(ceiling + 1),
        json!(u64::MAX),
    ] {
        let (status, body) = fixtures::api_post(
            &app,
            &p.key,
            "/api/v1/conversions",
            json!({"external_id": "huge", "kind": "sale", "amount": amount, "currency": "USD", "coupon": "BO"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        assert_eq!(body["error"]["field"], "amount");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1000000000000"));
    }
    // Six sales at the ceiling: every figure adds up without overflow.
    for n in 0..6 {
        fixtures::sale(
            &app,
            &p.key,
            &format!("max-{n}"),
            ceiling,
            json!({"coupon": "BO"}),
        )
        .await;
    }
    let (status, body) = fixtures::api_post(
        &app,
        &p.key,
        "/api/v1/refunds",
        json!({"refund_id": "r", "external_id": "max-0", "amount": ceiling + 1}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount"))
    );
    app.run_job("hold_release").await;
    for page in ["/admin/reports", "/admin/reports.csv", "/admin/payouts"] {
        assert_eq!(admin.get(page).await.status, StatusCode::OK, "{page}");
    }
    for page in ["/portal", "/portal/earnings", "/portal/payouts"] {
        assert_eq!(p.partner.get(page).await.status, StatusCode::OK, "{page}");
    }
    assert_eq!(
        balance(&app, &p.key, p.org).await["approved"],
        6 * ceiling / 5
    );

    // Forms: a deal, a won amount, an MDF request, a commission rule, a tier, the payout minimum.
    let too_large = "That amount is too large: Concord accepts at most 10,000,000,000.00";
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let page = crate::deals::register(
        northwind.rep(),
        &crate::deals::registration(
            "Acme",
            "acme.com",
            &[("amount", "92,233,720,368,547,758.07")],
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains(too_large)
        .assert_contains("92,233,720,368,547,758.07");
    let rule = admin
        .submit(
            "/admin/rules",
            "/admin/rules",
            &[
                ("name", "Huge"),
                ("applies_to", "sale"),
                ("rate_type", "flat"),
                ("rate", "92233720368547758.07"),
                ("recurrence", "lifetime"),
            ],
        )
        .await;
    assert_eq!(rule.status, StatusCode::UNPROCESSABLE_ENTITY);
    rule.assert_contains(too_large);
    let minimum = admin
        .submit(
            "/admin/payouts",
            "/admin/payouts/settings",
            &[("minimum", "10000000000.01"), ("day", "")],
        )
        .await;
    assert_eq!(minimum.status, StatusCode::UNPROCESSABLE_ENTITY);
    minimum.assert_contains(too_large);
    let gold = fixtures::tier(&app, "Gold", 3).await;
    let partner = fixtures::reseller(&app, "Contoso")
        .in_tier(Some(gold))
        .await;
    let fund = fixtures::fund(&admin, "Spring MDF", -30, 30, "0").await;
    let allocation = crate::mdf::allocate(
        &admin,
        fund,
        &format!("tier:{gold}"),
        "92233720368547758.07",
    )
    .await;
    assert_eq!(allocation.status, StatusCode::UNPROCESSABLE_ENTITY);
    allocation.assert_contains(too_large);
    crate::mdf::allocate(&admin, fund, &format!("tier:{gold}"), "5,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    let request = crate::mdf::request(&partner.admin, fund, "92233720368547758.07", &[]).await;
    assert_eq!(request.status, StatusCode::UNPROCESSABLE_ENTITY);
    request.assert_contains(too_large);
}

#[tokio::test]
async fn a_conversion_dated_in_the_future_is_refused_and_one_a_minute_ahead_is_not() {
    let app = TestApp::spawn().await;
    let key = app.api_key().await;
    let (status, body) = fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        json!({"external_id": "o-1", "kind": "sale", "amount": 100, "currency": "USD", "occurred_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "occurred_at");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("in the future"));
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
    let (status, _) = fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        json!({"external_id": "o-2", "kind": "sale", "amount": 100, "currency": "USD", "occurred_at": soon}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a server clock a minute ahead is tolerated"
    );
}

#[tokio::test]
async fn a_fully_refunded_sale_is_no_revenue_on_the_dashboard_or_in_the_report() {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    fixtures::sale(&app, &p.key, "kept", 12_345, json!({"coupon": "BO"})).await;
    fixtures::sale(&app, &p.key, "refunded", 50_000, json!({"coupon": "BO"})).await;
    refund(&app, &p.key, "re-1", "refunded").await;
    let dashboard = p.partner.get("/portal").await;
    dashboard.assert_contains("123.45 USD");
    assert!(!dashboard.body.contains("623.45"), "{}", dashboard.body);
    let report = admin.get("/admin/reports.csv").await;
    assert!(report.body.contains("123.45"), "{}", report.body);
    assert!(!report.body.contains("623.45"), "{}", report.body);
}

#[tokio::test]
async fn after_a_demotion_the_mdf_page_shows_nothing_available_rather_than_a_negative_amount() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let gold = fixtures::tier(&app, "Gold", 3).await;
    let silver = fixtures::tier(&app, "Silver", 2).await;
    let northwind = fixtures::reseller(&app, "Northwind")
        .in_tier(Some(gold))
        .await;
    let fund = fixtures::fund(&admin, "Spring MDF", -30, 30, "0").await;
    crate::mdf::allocate(&admin, fund, &format!("tier:{gold}"), "5,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    let id =
        crate::mdf::request_id(&crate::mdf::request(&northwind.admin, fund, "4,000", &[]).await);
    crate::mdf::decide(&admin, id, "approve", "4,000", "")
        .await
        .assert_redirect(&format!("/admin/mdf/{id}"));
    let org = northwind.org;
    app.db(move |conn| {
        let program = concord::programs::current(conn).unwrap();
        concord::partners::change_tier(
            conn,
            program.id,
            org,
            Some(silver),
            "numbers fell",
            &concord::platform::audit::Actor::system("test"),
        )
        .unwrap();
    })
    .await;
    let page = northwind.admin.get("/portal/mdf").await;
    assert!(!page.body.contains("-4,000"), "{}", page.body);
    page.assert_contains("<td><strong>0.00 USD</strong></td>");
    // What was approved stands: the reservation is still there and the allocation shows it.
    let row = &page.body[page.body.find("Spring MDF").unwrap()..];
    assert!(row.contains("4,000.00 USD"), "{row}");
    // And nothing more can be asked for.
    crate::mdf::request(&northwind.admin, fund, "1", &[])
        .await
        .assert_contains("You can request at most 0.00 USD");
}

#[tokio::test]
async fn a_rep_who_sees_only_their_deals_sees_only_their_pipeline() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    // Reps see only their own deals.
    crate::deals::deal_settings(&admin, "", false).await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    app.create_user(
        "other@northwind.test",
        Role::PartnerUser,
        Some(northwind.org),
    )
    .await;
    let other = app.browser();
    other.login("other@northwind.test", PASSWORD).await;
    let mine = crate::deals::register(
        northwind.rep(),
        &crate::deals::registration(
            "Acme",
            "acme.com",
            &[("amount", "11,000"), ("currency", "USD")],
        ),
    )
    .await;
    let id = crate::deals::deal_id(&mine);
    crate::deals::decide(&admin, id, "approve", "").await;
    let theirs_fields = crate::deals::registration(
        "Globex",
        "globex.com",
        &[("amount", "22,000"), ("currency", "USD")],
    );
    let theirs = crate::deals::register(&other, &theirs_fields).await;
    crate::deals::decide(&admin, crate::deals::deal_id(&theirs), "approve", "").await;

    let rep_home = northwind.rep().get("/portal").await;
    rep_home.assert_contains("11,000.00 USD");
    assert!(!rep_home.body.contains("33,000.00"), "{}", rep_home.body);
    assert!(!rep_home.body.contains("22,000.00"), "{}", rep_home.body);
    northwind
        .admin
        .get("/portal")
        .await
        .assert_contains("33,000.00 USD");
}

#[tokio::test]
async fn staff_and_partners_are_told_what_really_happened_to_a_deal() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    crate::deals::deal_settings(&admin, "20,000", false).await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let small = crate::deals::register(
        northwind.rep(),
        &crate::deals::registration(
            "Acme",
            "acme.com",
            &[("amount", "5,000"), ("currency", "USD")],
        ),
    )
    .await;
    let id = crate::deals::deal_id(&small);
    let page = northwind.rep().get(&format!("/portal/deals/{id}")).await;
    page.assert_contains("Deal registered and approved at once: it is protected until");
    assert!(!page.body.contains("team reviews it"), "{}", page.body);

    // A win for an org with no tier: confirmed, and the staff member is told no margin was written.
    let path = format!("/portal/deals/{id}");
    northwind
        .rep()
        .submit(&path, &format!("{path}/won"), &[("won_amount", "5,500")])
        .await
        .assert_redirect(&path);
    let admin_page = format!("/admin/deals/{id}");
    admin
        .submit(
            &admin_page,
            &format!("{admin_page}/win"),
            &[("decision", "confirm")],
        )
        .await
        .assert_redirect(&admin_page);
    let confirmed = admin.get(&admin_page).await;
    confirmed.assert_contains(
        "Win confirmed. No margin was written to the ledger: The partner has no tier, so no margin on deals.",
    );
    assert!(!confirmed.body.contains("margin is in the ledger"));
    assert!(ledger(&app, northwind.org).await.is_empty());
}

#[tokio::test]
async fn approving_over_another_partners_protection_needs_an_override_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let first = crate::deals::approved(&app, &admin, northwind.rep(), "Acme", "acme.com").await;
    let fields = crate::deals::registration(
        "Acme, Inc.",
        "https://www.acme.com",
        &[("justification", "We own the renewal.")],
    );
    let second_page = crate::deals::register(contoso.rep(), &fields).await;
    let second = if second_page.status == StatusCode::OK {
        // The live warning first: the partner submits again, acknowledged.
        let mut acknowledged = fields.clone();
        acknowledged.push(("acknowledged".into(), "1".into()));
        crate::deals::deal_id(&crate::deals::register(contoso.rep(), &acknowledged).await)
    } else {
        crate::deals::deal_id(&second_page)
    };

    let path = format!("/admin/deals/{second}");
    let page = admin.get(&path).await;
    page.assert_contains("Another partner's registration protects this customer:")
        .assert_contains(&format!("deal #{first} of Northwind, protected until"));
    let refused = crate::deals::decide(&admin, second, "approve", "").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains(&format!("deal #{first} of Northwind"));
    let no_reason = admin
        .submit(
            &path,
            &format!("{path}/decision"),
            &[
                ("decision", "approve"),
                ("over_protection", "on"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    no_reason.assert_contains("Give the reason for approving over the protection");
    assert!(
        no_reason
            .body
            .contains("name=\"over_protection\" value=\"on\" checked"),
        "the tick is kept"
    );
    admin
        .submit(
            &path,
            &format!("{path}/decision"),
            &[
                ("decision", "approve"),
                ("over_protection", "on"),
                ("reason", "Customer confirmed Contoso runs the project"),
            ],
        )
        .await
        .assert_redirect(&path);
    admin
        .get("/admin/audit?action=deal.approve_over_protection")
        .await
        .assert_contains("Customer confirmed Contoso runs the project");
    admin.get(&path).await.assert_contains(&format!(
        "Approved over the protection of deal #{first} of Northwind"
    ));
}

#[tokio::test]
async fn two_conflicting_registrations_approved_at_the_same_moment_are_not_both_approved() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let second_admin = app.browser();
    app.create_user("admin2@example.test", Role::Admin, None)
        .await;
    second_admin.login("admin2@example.test", PASSWORD).await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let a = crate::deals::registered(northwind.rep(), "Acme", "acme.com").await;
    let mut fields = crate::deals::registration("Acme", "acme.com", &[]);
    fields.push(("acknowledged".into(), "1".into()));
    let b = crate::deals::deal_id(&crate::deals::register(contoso.rep(), &fields).await);
    let (one, two) = tokio::join!(
        crate::deals::decide(&admin, a, "approve", ""),
        crate::deals::decide(&second_admin, b, "approve", "")
    );
    let outcomes: Vec<&Page> = vec![&one, &two];
    let approved = outcomes
        .iter()
        .filter(|p| p.status == StatusCode::SEE_OTHER)
        .count();
    let refused = outcomes
        .iter()
        .filter(|p| {
            p.status == StatusCode::UNPROCESSABLE_ENTITY
                && p.body.contains("protects this customer")
        })
        .count();
    assert_eq!(
        (approved, refused),
        (1, 1),
        "{} / {}",
        one.status,
        two.status
    );
}

#[tokio::test]
async fn a_new_version_of_the_program_terms_asks_every_affiliate_to_accept_it() {
    let app = TestApp::spawn().await;
    let p = fixtures::affiliate_program(&app)
        .hold_days(0)
        .sales_rule(2_000)
        .await;
    let admin = app.admin_browser().await;
    p.partner.get("/portal").await;
    assert_eq!(p.partner.get("/portal").await.status, StatusCode::OK);
    let assistant = app.browser();
    app.create_user(
        "assistant@brightdeals.example",
        Role::PartnerUser,
        Some(p.org),
    )
    .await;
    assistant
        .login("assistant@brightdeals.example", PASSWORD)
        .await;
    admin
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("cookie_window_days", "30"),
                ("attribution_model", "last_click"),
                ("allowed_domains", "shop.test"),
                ("default_landing_url", "https://shop.test/welcome"),
                ("terms_text", "New terms: no brand bidding, ever."),
                ("auto_approve_affiliates", "on"),
                ("min_seconds_to_convert", "0"),
                ("max_conversions_per_ip_hour", "1000"),
                ("max_links_per_partner", "1000"),
                ("hold_days", "0"),
            ],
        )
        .await
        .assert_redirect("/admin/settings");
    let version = app
        .db(|conn| concord::programs::current(conn).unwrap().terms_version)
        .await;
    p.partner
        .get("/portal/links")
        .await
        .assert_redirect("/portal/agreement");
    p.partner
        .get("/portal/agreement")
        .await
        .assert_contains(&format!("Program terms (version {version})"))
        .assert_contains("New terms: no brand bidding, ever.");
    assistant
        .get("/portal/agreement")
        .await
        .assert_contains("Your partner admin accepts the program terms");
    let version_text = version.to_string();
    p.partner
        .submit(
            "/portal/agreement",
            "/portal/agreement",
            &[("version", &version_text)],
        )
        .await
        .assert_redirect("/portal");
    assert_eq!(p.partner.get("/portal/links").await.status, StatusCode::OK);
    assert_eq!(assistant.get("/portal").await.status, StatusCode::OK);
    admin
        .get("/admin/audit?action=terms.accept")
        .await
        .assert_contains(&format!("program terms version {version}"));
}

#[tokio::test]
async fn the_demo_affiliate_has_accepted_the_current_terms() {
    let app = TestApp::spawn().await;
    let logins = app.db(|conn| concord::demo::load(conn).unwrap()).await;
    assert!(logins.is_some(), "the demo loads into the empty database");
    let (accepted, current, due) = app
        .db(|conn| {
            use concord::platform::db::schema::partner_orgs;
            let (affiliate, accepted): (i64, Option<i64>) = partner_orgs::table
                .filter(partner_orgs::kind.eq("affiliate"))
                .select((partner_orgs::id, partner_orgs::terms_version))
                .first(conn)
                .unwrap();
            let current = concord::programs::current(conn).unwrap().terms_version;
            let due = concord::partners::agreement_due(conn, affiliate).unwrap();
            (accepted, current, due)
        })
        .await;
    assert_eq!(accepted, Some(current));
    assert_eq!(due, None, "the demo affiliate's portal opens");
}
