//! Commissions from rules, the ledger's lifecycle (hold, approval, refunds, clawbacks) and the pages and API over it.

use crate::fixtures;
use crate::harness::{TestApp, PASSWORD};
use concord::commissions::rules::{RateType, Recurrence, Rule};
use concord::domain::conversion::ConversionKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) fn rule(name: &str, kind: ConversionKind, rate_type: RateType, rate: i64) -> Rule {
    Rule {
        id: 0,
        name: name.into(),
        applies_to: kind,
        rate_type,
        rate,
        product_filter: String::new(),
        tier_id: None,
        volume_threshold: None,
        volume_rate: None,
        recurrence: Recurrence::Lifetime,
        recurring_months: None,
    }
}

/// One default rule: this many basis points of every sale.
pub(crate) async fn sales_rule(app: &TestApp, bps: i64) {
    add_rules(
        app,
        vec![rule("Sales", ConversionKind::Sale, RateType::Percent, bps)],
    )
    .await;
}

pub(crate) async fn add_rules(app: &TestApp, rules: Vec<Rule>) {
    app.db(move |conn| {
        let actor = concord::platform::audit::Actor::system("test");
        for rule in &rules {
            concord::commissions::create(conn, 1, rule, &actor).unwrap();
        }
    })
    .await;
}

/// A sale with the program's coupon `BO` (unless `extra` names another); returns its commission.
async fn sale(app: &TestApp, key: &str, id: &str, amount: i64, extra: Value) -> Value {
    let mut body = json!({"coupon": "BO"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    fixtures::sale(app, key, id, amount, body).await["commission"].clone()
}

fn amount(commission: &Value) -> Option<i64> {
    commission["amount"].as_i64()
}

#[tokio::test]
async fn percent_and_flat_rules_round_half_up_and_explain_themselves() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    add_rules(
        &app,
        vec![
            rule("Sales", ConversionKind::Sale, RateType::Percent, 1_000),
            rule("Leads", ConversionKind::Lead, RateType::Flat, 250),
        ],
    )
    .await;
    let commission = sale(&app, &key, "s-1", 1_005, json!({})).await;
    assert_eq!(
        amount(&commission),
        Some(101),
        "10% of 10.05 is 1.005, rounded half-up to 1.01"
    );
    assert_eq!(
        commission["explanation"],
        "10% of 10.05 USD under rule 'Sales'"
    );
    assert_eq!(commission["status"], "pending");
    assert_eq!(
        amount(&sale(&app, &key, "s-2", 1_004, json!({})).await),
        Some(100)
    );
    let (_, lead) = fixtures::api_post(
        &app,
        &key,
        "/api/v1/conversions",
        json!({"external_id": "l-1", "kind": "lead", "coupon": "BO"}),
    )
    .await;
    assert_eq!(
        lead["conversion"]["commission"]["amount"].as_i64(),
        Some(250)
    );
    assert_eq!(
        lead["conversion"]["commission"]["explanation"],
        "flat 2.50 USD per lead under rule 'Leads'"
    );
}

#[tokio::test]
async fn product_filters_and_tier_rules_pick_the_rate() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    let admin = app.admin_browser().await;
    admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[("name", "Gold"), ("rank", "3")],
        )
        .await;
    let gold = app
        .db(|conn| concord::tiers::store::list(conn, 1).unwrap()[0].id)
        .await;
    let mut pro = rule("Pro plan", ConversionKind::Sale, RateType::Percent, 3_000);
    pro.product_filter = "pro".into();
    let mut gold_rule = rule("Gold", ConversionKind::Sale, RateType::Percent, 2_500);
    gold_rule.tier_id = Some(gold);
    add_rules(
        &app,
        vec![
            pro,
            rule("Default", ConversionKind::Sale, RateType::Percent, 2_000),
            gold_rule,
        ],
    )
    .await;

    assert_eq!(
        amount(&sale(&app, &key, "s-1", 10_000, json!({"product": "pro"})).await),
        Some(3_000)
    );
    assert_eq!(
        amount(&sale(&app, &key, "s-2", 10_000, json!({})).await),
        Some(2_000)
    );
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", &gold.to_string()), ("reason", "Promoted")],
        )
        .await;
    let commission = sale(&app, &key, "s-3", 10_000, json!({})).await;
    assert_eq!(
        amount(&commission),
        Some(2_500),
        "the tier's rule beats the default"
    );
    assert_eq!(
        commission["explanation"],
        "25% of 100.00 USD under rule 'Gold'"
    );
}

#[tokio::test]
async fn the_fifty_first_sale_of_a_month_gets_the_volume_rate_and_earlier_ones_keep_theirs() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    let mut volume = rule("Volume", ConversionKind::Sale, RateType::Percent, 2_000);
    volume.volume_threshold = Some(50);
    volume.volume_rate = Some(2_500);
    add_rules(&app, vec![volume]).await;
    let month = "2026-10-";
    for n in 1..=50 {
        let at = format!("{month}{:02}T10:{:02}:00Z", 1 + n / 3, n % 60);
        assert_eq!(
            amount(
                &sale(
                    &app,
                    &key,
                    &format!("s-{n}"),
                    10_000,
                    json!({"occurred_at": at})
                )
                .await
            ),
            Some(2_000),
            "sale {n}"
        );
    }
    let fifty_first = sale(
        &app,
        &key,
        "s-51",
        10_000,
        json!({"occurred_at": "2026-10-30T10:00:00Z"}),
    )
    .await;
    assert_eq!(amount(&fifty_first), Some(2_500));
    assert!(fifty_first["explanation"]
        .as_str()
        .unwrap()
        .contains("volume rate: sale 51 this month, above 50"));
    let next_month = sale(
        &app,
        &key,
        "s-52",
        10_000,
        json!({"occurred_at": "2026-11-01T10:00:00Z"}),
    )
    .await;
    assert_eq!(
        amount(&next_month),
        Some(2_000),
        "the count starts again each calendar month"
    );
    let earlier: Vec<i64> = app
        .db(move |conn| {
            let filter = concord::ledger::store::EntryFilter {
                partner_org_id: Some(org),
                ..Default::default()
            };
            concord::ledger::store::list(conn, &filter, concord::platform::db::Window::first(100))
                .unwrap()
                .iter()
                .map(|e| e.amount_minor)
                .collect()
        })
        .await;
    assert_eq!(earlier.iter().filter(|a| **a == 2_000).count(), 51);
}

#[tokio::test]
async fn recurring_for_three_months_stops_at_month_four_and_lifetime_never_stops() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    let mut recurring = rule(
        "Starter recurring",
        ConversionKind::Sale,
        RateType::Percent,
        1_000,
    );
    recurring.recurrence = Recurrence::Recurring;
    recurring.recurring_months = Some(3);
    recurring.product_filter = "starter".into();
    add_rules(
        &app,
        vec![
            recurring,
            rule("Lifetime", ConversionKind::Sale, RateType::Percent, 500),
        ],
    )
    .await;
    // The first sale comes with the coupon; renewals carry only the customer id.
    let first = sale(&app, &key, "r-1", 1_000, json!({"customer_id": "cus_9", "product": "starter", "occurred_at": "2025-01-15T00:00:00Z"})).await;
    assert_eq!(
        first["explanation"],
        "10% of 10.00 USD under rule 'Starter recurring', month 1 of 3"
    );
    for (n, month) in [(2, "02"), (3, "03")] {
        let body = json!({"external_id": format!("r-{n}"), "kind": "sale", "amount": 1_000, "currency": "USD", "customer_id": "cus_9", "product": "starter", "occurred_at": format!("2025-{month}-15T00:00:00Z")});
        let (_, answer) = fixtures::api_post(&app, &key, "/api/v1/conversions", body).await;
        assert_eq!(answer["conversion"]["attributed_by"], "customer");
        assert_eq!(
            answer["conversion"]["commission"]["explanation"],
            format!("10% of 10.00 USD under rule 'Starter recurring', month {n} of 3")
        );
    }
    let body = json!({"external_id": "r-4", "kind": "sale", "amount": 1_000, "currency": "USD", "customer_id": "cus_9", "product": "starter", "occurred_at": "2025-04-15T00:00:00Z"});
    let (_, answer) = fixtures::api_post(&app, &key, "/api/v1/conversions", body).await;
    assert!(answer["conversion"]["partner_id"].is_i64());
    assert_eq!(
        answer["conversion"]["commission"],
        Value::Null,
        "month 4 of a 3-month rule earns nothing"
    );

    let body = json!({"external_id": "l-13", "kind": "sale", "amount": 1_000, "currency": "USD", "customer_id": "cus_9", "occurred_at": "2026-02-15T00:00:00Z"});
    let (_, answer) = fixtures::api_post(&app, &key, "/api/v1/conversions", body).await;
    assert_eq!(
        answer["conversion"]["commission"]["explanation"],
        "5% of 10.00 USD under rule 'Lifetime'"
    );
}

#[tokio::test]
async fn the_hold_release_approves_commissions_when_their_hold_ends_and_only_then() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    sales_rule(&app, 1_000).await;
    let old = (chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339();
    let recent = (chrono::Utc::now() - chrono::Duration::days(29)).to_rfc3339();
    sale(&app, &key, "old", 10_000, json!({"occurred_at": old})).await;
    sale(&app, &key, "recent", 20_000, json!({"occurred_at": recent})).await;
    assert_eq!(app.run_job("hold_release").await, "1 approved");
    assert_eq!(app.run_job("hold_release").await, "", "nothing twice");
    let balance = fixtures::api_get(&app, &key, &format!("/api/v1/partners/{org}/balance")).await;
    assert_eq!(
        balance["balances"][0],
        json!({"currency": "USD", "pending": 2_000, "approved": 1_000, "available": 1_000, "paid": 0})
    );
}

#[tokio::test]
async fn held_conversions_wait_for_review_and_rejection_voids_their_commission() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { key, .. } =
        fixtures::affiliate_program(&app).hold_days(0).await;
    sales_rule(&app, 1_000).await;
    let (_, answer) = fixtures::api_post(&app, &key, "/api/v1/conversions", json!({"external_id": "self", "kind": "sale", "amount": 5_000, "currency": "USD", "coupon": "BO", "customer_email": "bo@brightdeals.example"})).await;
    assert_eq!(answer["conversion"]["review_status"], "held");
    assert_eq!(
        app.run_job("hold_release").await,
        "",
        "held for review, not released"
    );
    let admin = app.admin_browser().await;
    let id = answer["conversion"]["id"].as_i64().unwrap();
    admin
        .submit(
            "/admin/conversions?flagged=1",
            &format!("/admin/conversions/{id}/review"),
            &[("verdict", "reject"), ("reason", "Own order")],
        )
        .await;
    let entries = app
        .db(move |conn| concord::ledger::store::for_conversion(conn, id).unwrap())
        .await;
    assert_eq!(entries[0].status.as_str(), "void");
}

#[tokio::test]
async fn refunds_void_reduce_or_claw_back_and_the_balance_nets_them() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(0).await;
    sales_rule(&app, 2_000).await;
    sale(&app, &key, "full", 10_000, json!({})).await;
    sale(&app, &key, "partial", 10_000, json!({})).await;
    sale(&app, &key, "paid", 10_000, json!({})).await;

    // Refund before approval: the whole sale voids its commission.
    fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        json!({"refund_id": "re-1", "external_id": "full"}),
    )
    .await;
    // A partial refund reduces it.
    fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        json!({"refund_id": "re-2", "external_id": "partial", "amount": 2_500}),
    )
    .await;
    // Pay the third (payouts arrive with the payouts issue; here the ledger is moved as a payout run will).
    app.run_job("hold_release").await;
    app.db(|conn| {
        let target = concord::affiliate::conversions::find_by_external_id(conn, 1, "paid")
            .unwrap()
            .unwrap();
        let commission = concord::ledger::store::for_conversion(conn, target.id).unwrap()[0].id;
        let moved = concord::ledger::store::advance(
            conn,
            &[commission],
            concord::ledger::rules::EntryStatus::Approved,
            concord::ledger::rules::EntryStatus::Paid,
            Some("payout #1"),
        )
        .unwrap();
        assert_eq!(moved, 1);
    })
    .await;
    // A refund after payout claws back.
    fixtures::api_post(
        &app,
        &key,
        "/api/v1/refunds",
        json!({"refund_id": "re-3", "external_id": "paid"}),
    )
    .await;

    let statuses = app
        .db(|conn| {
            let mut out = Vec::new();
            for id in ["full", "partial", "paid"] {
                let c = concord::affiliate::conversions::find_by_external_id(conn, 1, id)
                    .unwrap()
                    .unwrap();
                out.push(
                    concord::ledger::store::for_conversion(conn, c.id)
                        .unwrap()
                        .into_iter()
                        .map(|e| (e.kind.to_string(), e.status.to_string(), e.amount_minor))
                        .collect::<Vec<_>>(),
                );
            }
            out
        })
        .await;
    assert_eq!(
        statuses[0],
        vec![("commission".to_string(), "void".to_string(), 2_000)]
    );
    assert_eq!(
        statuses[1],
        vec![
            ("commission".into(), "approved".into(), 2_000),
            ("clawback".into(), "approved".into(), -500)
        ]
    );
    assert_eq!(
        statuses[2],
        vec![
            ("commission".into(), "paid".into(), 2_000),
            ("clawback".into(), "approved".into(), -2_000)
        ]
    );

    // Approved: 2000 - 500 (partial) - 2000 (clawback after payout) = -500, carried into the next payout.
    let balance = fixtures::api_get(&app, &key, &format!("/api/v1/partners/{org}/balance")).await;
    assert_eq!(
        balance["balances"][0],
        json!({"currency": "USD", "pending": 0, "approved": -500, "available": -500, "paid": 2_000})
    );
    let bo = app.browser();
    bo.login("bo@brightdeals.example", PASSWORD).await;
    let page = bo.get("/portal/earnings").await;
    page.assert_contains("Carried negative (USD)")
        .assert_contains("-5.00")
        .assert_contains("refunded after payout");
}

#[tokio::test]
async fn two_currencies_stay_apart() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(0).await;
    sales_rule(&app, 1_000).await;
    sale(&app, &key, "usd", 10_000, json!({})).await;
    sale(&app, &key, "eur", 5_000, json!({"currency": "EUR"})).await;
    let balance = fixtures::api_get(&app, &key, &format!("/api/v1/partners/{org}/balance")).await;
    assert_eq!(
        balance["balances"],
        json!([
            {"currency": "EUR", "pending": 500, "approved": 0, "available": 0, "paid": 0},
            {"currency": "USD", "pending": 1_000, "approved": 0, "available": 0, "paid": 0},
        ])
    );
}

#[tokio::test]
async fn the_hold_release_run_twice_at_once_approves_each_commission_once() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { key, .. } =
        fixtures::affiliate_program(&app).hold_days(0).await;
    sales_rule(&app, 1_000).await;
    for n in 0..30 {
        sale(&app, &key, &format!("s-{n}"), 1_000, json!({})).await;
    }
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(["jobs", "run-once", "hold_release"])
            .env_clear()
            .env("DATABASE_URL", app.database.url())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let approved_by = |child: std::process::Child| -> i64 {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        text.split("hold_release: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (first, second) = (run(), run());
    assert_eq!(approved_by(first) + approved_by(second), 30);
    let changes = app
        .db(|conn| {
            concord::ledger::store::list(
                conn,
                &Default::default(),
                concord::platform::db::Window::first(100),
            )
            .unwrap()
            .iter()
            .filter(|e| e.status.as_str() == "approved")
            .count()
        })
        .await;
    assert_eq!(changes, 30);
}

#[tokio::test]
async fn admins_keep_rules_and_the_commission_queue_and_partners_export_their_earnings() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { org, key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    let admin = app.admin_browser().await;
    let page = admin
        .submit(
            "/admin/rules",
            "/admin/rules",
            &[
                ("name", ""),
                ("applies_to", "sale"),
                ("rate_type", "percent"),
                ("rate", "150"),
                ("recurrence", "lifetime"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Name the rule")
        .assert_contains("between 0% and 100%");
    admin
        .submit(
            "/admin/rules",
            "/admin/rules",
            &[
                ("name", "Default"),
                ("applies_to", "sale"),
                ("rate_type", "percent"),
                ("rate", "20"),
                ("recurrence", "lifetime"),
            ],
        )
        .await
        .assert_redirect("/admin/rules");
    admin
        .submit(
            "/admin/rules",
            "/admin/rules",
            &[
                ("name", "Launch week"),
                ("applies_to", "sale"),
                ("rate_type", "flat"),
                ("rate", "15"),
                ("product_filter", "launch"),
                ("recurrence", "first_sale_only"),
            ],
        )
        .await;
    let rules = admin.get("/admin/rules").await;
    rules
        .assert_contains("20% per sale")
        .assert_contains("15.00 USD per sale; product launch; first sale only");
    let second = app
        .db(|conn| concord::commissions::store::list(conn, 1).unwrap()[1].id)
        .await;
    admin
        .submit("/admin/rules", &format!("/admin/rules/{second}/up"), &[])
        .await
        .assert_redirect("/admin/rules");
    let order = app
        .db(|conn| {
            concord::commissions::store::list(conn, 1)
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        })
        .await;
    assert_eq!(order, vec!["Launch week", "Default"]);

    for n in 0..3 {
        sale(&app, &key, &format!("s-{n}"), 10_000, json!({})).await;
    }
    let queue = admin.get("/admin/commissions?status=pending").await;
    queue.assert_contains("20% of 100.00 USD under rule &#39;Default&#39;");
    let ids = app
        .db(|conn| {
            concord::ledger::store::list(
                conn,
                &Default::default(),
                concord::platform::db::Window::first(10),
            )
            .unwrap()
            .iter()
            .map(|e| e.id.to_string())
            .collect::<Vec<_>>()
        })
        .await;
    let token = queue.csrf_token();
    let fields = [
        ("csrf_token", token.as_str()),
        ("status", "pending"),
        ("action", "approve"),
        ("reason", "Verified with finance"),
        ("entry", &ids[0]),
        ("entry", &ids[1]),
    ];
    admin
        .post_raw("/admin/commissions", &fields)
        .await
        .assert_redirect("/admin/commissions?status=pending");
    admin
        .get("/admin/commissions?status=approved")
        .await
        .assert_contains("Verified with finance");
    admin
        .get("/admin/audit?action=ledger.approved")
        .await
        .assert_contains("Verified with finance");

    let page1 = fixtures::api_get(
        &app,
        &key,
        &format!("/api/v1/commissions?partner_id={org}&limit=2"),
    )
    .await;
    assert_eq!(page1["commissions"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let page2 = fixtures::api_get(
        &app,
        &key,
        &format!("/api/v1/commissions?partner_id={org}&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(page2["commissions"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_cursor"], Value::Null);
    let approved = fixtures::api_get(&app, &key, "/api/v1/commissions?status=approved").await;
    assert_eq!(approved["commissions"].as_array().unwrap().len(), 2);

    let bo = app.browser();
    bo.login("bo@brightdeals.example", PASSWORD).await;
    bo.get("/portal/earnings")
        .await
        .assert_contains("Approved (USD)")
        .assert_contains("40.00")
        .assert_contains("Pending (USD)");
    bo.get("/portal/earnings?status=approved&month=2026-13")
        .await
        .assert_contains("is not a month like 2026-11");
    let csv = bo
        .client
        .get(format!(
            "{}/portal/earnings.csv?status=approved",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.starts_with("id,created_at,kind,status,amount,currency,available_at,explanation\r\n")
    );
    assert!(text.contains(",commission,approved,20.00,USD,"));
}

#[tokio::test]
async fn the_report_shows_per_partner_figures_sorted_and_as_csv() {
    let app = TestApp::spawn().await;
    let fixtures::AffiliateProgram { key, .. } =
        fixtures::affiliate_program(&app).hold_days(30).await;
    app.affiliate_with_link("Quiet Blog", "q@quiet.example", "quiet")
        .await;
    sales_rule(&app, 1_000).await;
    let visitor = app.browser();
    let mut last_click = String::new();
    for _ in 0..2 {
        let hop = visitor.get("/r/quiet").await;
        last_click = hop
            .location
            .unwrap()
            .split("concord_click=")
            .nth(1)
            .unwrap()
            .to_string();
    }
    // Two clicks on Quiet Blog (the second from the same visitor is filtered), then a sale through the click.
    fixtures::api_post(&app, &key, "/api/v1/conversions", json!({"external_id": "q-1", "kind": "sale", "amount": 5_000, "currency": "USD", "click_id": last_click})).await;
    sale(&app, &key, "b-1", 20_000, json!({})).await;
    sale(&app, &key, "b-2", 10_000, json!({})).await;
    sale(&app, &key, "b-3", 10_000, json!({"currency": "EUR"})).await;

    let admin = app.admin_browser().await;
    let page = admin.get("/admin/reports?sort=revenue").await;
    page.assert_contains("Top partners by revenue")
        .assert_contains("300.00 USD")
        .assert_contains("30.00 USD")
        .assert_contains("Bright Deals</a> *");
    let bright = page.body.find("Bright Deals</a>").unwrap();
    let quiet = page.body.find("Quiet Blog</a>").unwrap();
    assert!(bright < quiet, "sorted by revenue");
    let page = admin.get("/admin/reports?sort=clicks&from=someday").await;
    page.assert_contains("&#39;someday&#39; is not a date");
    assert!(
        page.body.find("Quiet Blog</a>").unwrap() < page.body.find("Bright Deals</a>").unwrap(),
        "sorted by clicks"
    );

    let csv = admin.get("/admin/reports.csv?sort=name").await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "partner_id,partner,clicks,conversions,conversion_rate_percent,epc_per_100_clicks_usd,revenue_usd,commission_usd,other_currencies");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(",Bright Deals,0,3,0,0.00,300.00,30.00,true")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(",Quiet Blog,1,1,100,500.00,50.00,5.00,false")),
        "{lines:?}"
    );
}
