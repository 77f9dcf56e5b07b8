//! The partner queue and the decisions on a partner, each visible in the audit log.

use crate::harness::TestApp;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

#[tokio::test]
async fn approving_an_application_is_audited() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Contoso IT", PartnerKind::Reseller, PartnerStatus::Applied)
        .await;
    let admin = app.admin_browser().await;

    admin
        .get("/admin/partners?status=applied")
        .await
        .assert_contains("Contoso IT");
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "approve"), ("reason", "")],
        )
        .await
        .assert_redirect(&detail);
    admin
        .get(&detail)
        .await
        .assert_contains("Partner approved.");
    assert_eq!(app.partner_status(org).await, "approved");

    let audit = admin.get("/admin/audit?action=partner.approve").await;
    audit
        .assert_contains("partner.approve")
        .assert_contains("Contoso IT")
        .assert_contains("admin@example.test")
        .assert_contains("applied → approved");
}

#[tokio::test]
async fn rejecting_without_a_reason_shows_an_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner(
            "Spammy Coupons",
            PartnerKind::Affiliate,
            PartnerStatus::Applied,
        )
        .await;
    let admin = app.admin_browser().await;
    let detail = format!("/admin/partners/{org}");

    let page = admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "reject"), ("reason", "   ")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Give a reason");
    assert_eq!(app.partner_status(org).await, "applied");
    let entries = app
        .db(|conn| {
            concord::platform::audit::list(conn, &Default::default(), 0)
                .unwrap()
                .len()
        })
        .await;
    assert_eq!(entries, 0);

    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "reject"), ("reason", "Coupon-only site")],
        )
        .await
        .assert_redirect(&detail);
    assert_eq!(app.partner_status(org).await, "rejected");
    admin
        .get("/admin/audit")
        .await
        .assert_contains("partner.reject")
        .assert_contains("Coupon-only site");
}

#[tokio::test]
async fn suspend_and_reinstate_follow_the_status_rules() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let admin = app.admin_browser().await;
    let detail = format!("/admin/partners/{org}");
    let action = format!("{detail}/decision");

    // Reinstating a partner that is not suspended is refused with a sentence.
    let page = admin
        .submit(&detail, &action, &[("decision", "reinstate")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("A partner that is approved cannot be reinstated.");

    admin
        .submit(
            &detail,
            &action,
            &[("decision", "suspend"), ("reason", "Chargeback review")],
        )
        .await
        .assert_redirect(&detail);
    assert_eq!(app.partner_status(org).await, "suspended");
    admin
        .submit(&detail, &action, &[("decision", "reinstate")])
        .await
        .assert_redirect(&detail);
    assert_eq!(app.partner_status(org).await, "approved");
    let audit = admin
        .get(&format!(
            "/admin/audit?subject_type=partner&subject_id={org}"
        ))
        .await;
    audit
        .assert_contains("partner.suspend")
        .assert_contains("partner.reinstate")
        .assert_contains("Chargeback review");
}

#[tokio::test]
async fn a_tier_change_needs_a_reason_and_is_kept_in_history_and_audit() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let admin = app.admin_browser().await;
    admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[
                ("name", "Gold"),
                ("rank", "3"),
                ("margin_percent", "15"),
                ("mdf_allowance", "10000"),
            ],
        )
        .await
        .assert_redirect("/admin/tiers");
    let gold = app
        .db(|conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::tiers::store::list(conn, program.id).unwrap()[0].id
        })
        .await
        .to_string();
    let detail = format!("/admin/partners/{org}");
    let action = format!("{detail}/tier");

    let page = admin
        .submit(&detail, &action, &[("tier_id", &gold), ("reason", "")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Give a reason for the tier change.");

    admin
        .submit(
            &detail,
            &action,
            &[("tier_id", &gold), ("reason", "Crossed $500k closed-won")],
        )
        .await
        .assert_redirect(&detail);
    let page = admin.get(&detail).await;
    page.assert_contains("Tier changed.")
        .assert_contains("Crossed $500k closed-won")
        .assert_contains("15% margin · 10,000.00 USD MDF");
    admin
        .get("/admin/partners?tier=".to_string().as_str())
        .await
        .assert_contains("Gold");
    admin
        .get(&format!("/admin/partners?tier={gold}"))
        .await
        .assert_contains("Northwind");
    admin
        .get("/admin/audit?action=partner.tier_change")
        .await
        .assert_contains("no tier → Gold");

    // The partner sees the tier and its benefits.
    app.create_user(
        "pa@northwind.test",
        concord::accounts::role::Role::PartnerAdmin,
        Some(org),
    )
    .await;
    let partner = app.browser();
    partner
        .login("pa@northwind.test", crate::harness::PASSWORD)
        .await;
    partner
        .get("/portal")
        .await
        .assert_contains("Gold")
        .assert_contains("15% margin");
}

#[tokio::test]
async fn the_partner_list_filters_and_searches() {
    let app = TestApp::spawn().await;
    app.create_partner(
        "Bright Deals Blog",
        PartnerKind::Affiliate,
        PartnerStatus::Approved,
    )
    .await;
    app.create_partner(
        "Northwind Systems",
        PartnerKind::Reseller,
        PartnerStatus::Approved,
    )
    .await;
    app.create_partner("Contoso IT", PartnerKind::Reseller, PartnerStatus::Applied)
        .await;
    let admin = app.admin_browser().await;

    let page = admin.get("/admin/partners?kind=reseller").await;
    assert!(
        page.body.contains("Northwind Systems")
            && page.body.contains("Contoso IT")
            && !page.body.contains("Bright Deals Blog")
    );
    let page = admin.get("/admin/partners?q=NORTHWIND").await;
    assert!(page.body.contains("Northwind Systems") && !page.body.contains("Contoso IT"));
    let page = admin.get("/admin/partners?q=50%25_off").await;
    page.assert_contains("No partners match.");
    let page = admin.get("/admin/partners?status=dormant").await;
    page.assert_contains("There is no status &#39;dormant&#39;");
}
