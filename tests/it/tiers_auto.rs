//! Automatic tier placement: promotion at the threshold, demotion only after a warned grace period, manual
//! placements that hold until their end date, and the numbers behind every move.

use crate::harness::{TestApp, PASSWORD};
use serde_json::json;

/// Tiers by affiliate sales: Registered (open), Silver from 100.00, Gold from 500.00. Returns (silver, gold) ids.
async fn sales_tiers(app: &TestApp, admin: &crate::harness::Browser) -> (i64, i64) {
    for (name, rank, sales) in [
        ("Registered", "1", ""),
        ("Silver", "2", "100"),
        ("Gold", "3", "500"),
    ] {
        admin
            .submit(
                "/admin/tiers",
                "/admin/tiers",
                &[("name", name), ("rank", rank), ("min_sales_revenue", sales)],
            )
            .await
            .assert_redirect("/admin/tiers");
    }
    let ids = app
        .db(|conn| {
            concord::tiers::store::list(conn, 1)
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        })
        .await;
    (ids[1], ids[2])
}

/// A sale with the program's coupon `BO`.
async fn sell(app: &TestApp, key: &str, id: &str, amount: i64) {
    crate::fixtures::sale(app, key, id, amount, json!({"coupon": "BO"})).await;
}

async fn tier_of(app: &TestApp, org: i64) -> Option<String> {
    app.db(move |conn| {
        concord::partners::store::find(conn, 1, org)
            .unwrap()
            .unwrap()
            .tier_name
    })
    .await
}

#[tokio::test]
async fn tiers_follow_the_numbers_with_a_warned_grace_period_and_manual_holds() {
    let app = TestApp::spawn().await;
    let crate::fixtures::AffiliateProgram { org, key, .. } =
        crate::fixtures::affiliate_program(&app).await;
    let admin = app.admin_browser().await;
    let (_, gold) = sales_tiers(&app, &admin).await;

    // Promotion is immediate at the threshold: 99.99 stays in Registered, 100.00 makes Silver.
    sell(&app, &key, "s-1", 9_999).await;
    app.run_job("tier_recalculation").await;
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Registered"));
    sell(&app, &key, "s-2", 1).await;
    assert_eq!(app.run_job("tier_recalculation").await, "1 moved, 0 warned");
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Silver"));
    let page = admin.get(&format!("/admin/partners/{org}")).await;
    page.assert_contains("Automatic: qualifies for Silver")
        .assert_contains("100.00 USD affiliate sales");

    let bo = app.browser();
    bo.login("bo@brightdeals.example", PASSWORD).await;
    bo.get("/portal")
        .await
        .assert_contains("Next tier: Gold")
        .assert_contains("100.00 USD of 500.00 USD affiliate sales");

    sell(&app, &key, "s-3", 40_000).await;
    app.run_job("tier_recalculation").await;
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Gold"));

    // The sales age out of the 12-month window: a warning first, the tier stays for the grace period.
    app.db(|conn| {
        use concord::platform::db::schema::conversions::dsl::*;
        use diesel::prelude::*;
        diesel::update(conversions)
            .set(occurred_at.eq(concord::platform::db::now() - chrono::Duration::days(400)))
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_eq!(app.run_job("tier_recalculation").await, "0 moved, 1 warned");
    assert_eq!(app.run_job("tier_recalculation").await, "", "warned once");
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Gold"));
    let warning = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.template == "tier_warning")
        .expect("a warning email");
    assert_eq!(warning.recipient, "bo@brightdeals.example");
    assert!(
        warning
            .body_text
            .contains("no longer meets the requirements of the Gold tier")
            && warning.body_text.contains("0.00 USD affiliate sales")
    );

    // After the grace period (60 days by default) it moves down to what it qualifies for.
    app.db(move |conn| {
        use concord::platform::db::schema::partner_orgs::dsl::*;
        use diesel::prelude::*;
        diesel::update(partner_orgs.find(org))
            .set(demotion_warned_at.eq(Some(
                concord::platform::db::now() - chrono::Duration::days(61),
            )))
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_eq!(app.run_job("tier_recalculation").await, "1 moved, 0 warned");
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Registered"));
    admin
        .get(&format!("/admin/partners/{org}"))
        .await
        .assert_contains("no longer qualifies after the 60-day grace period");

    // A manual placement wins until its end date.
    let detail = format!("/admin/partners/{org}");
    let until = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[
                ("tier_id", &gold.to_string()),
                ("reason", "Strategic launch partner"),
                ("hold_until", &until),
            ],
        )
        .await
        .assert_redirect(&detail);
    app.run_job("tier_recalculation").await;
    assert_eq!(tier_of(&app, org).await.as_deref(), Some("Gold"));
    // Thirty days later the hold has ended: the numbers decide again (a warning first, as for anyone).
    app.db(move |conn| {
        use concord::platform::db::schema::partner_orgs::dsl::*;
        use diesel::prelude::*;
        diesel::update(partner_orgs.find(org))
            .set(tier_override_until.eq(Some(
                concord::platform::db::now() - chrono::Duration::days(1),
            )))
            .execute(conn)
            .unwrap();
    })
    .await;
    app.run_job("tier_recalculation").await;
    assert_eq!(
        tier_of(&app, org).await.as_deref(),
        Some("Gold"),
        "an expired hold makes way for the warning first"
    );
    assert_eq!(
        app.outbox()
            .await
            .iter()
            .filter(|m| m.template == "tier_warning")
            .count(),
        2
    );
    let page = admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[
                ("tier_id", &gold.to_string()),
                ("reason", "x"),
                ("hold_until", "soon"),
            ],
        )
        .await;
    page.assert_contains("&#39;soon&#39; is not a date like 2026-12-31.");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", "auto"), ("reason", "")],
        )
        .await
        .assert_redirect(&detail);
    admin
        .get("/admin/audit?action=partner.tier_automatic")
        .await
        .assert_contains("Bright Deals");
}
