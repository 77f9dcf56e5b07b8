//! Tiers CRUD: admins change them, managers only look.

use crate::harness::{TestApp, PASSWORD};
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

#[tokio::test]
async fn admins_create_edit_and_delete_tiers_with_clear_errors() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;

    let page = admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[
                ("name", "Silver"),
                ("rank", "two"),
                ("margin_percent", "12.345"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Rank is a whole number")
        .assert_contains("at most two decimals")
        .assert_contains("value=\"Silver\"");

    admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[("name", "Silver"), ("rank", "2"), ("margin_percent", "10")],
        )
        .await
        .assert_redirect("/admin/tiers");
    let page = admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[("name", "silver"), ("rank", "3")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Another tier already has that name.");

    let id = app
        .db(|conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::tiers::store::list(conn, program.id).unwrap()[0].id
        })
        .await;
    let edit = format!("/admin/tiers/{id}/edit");
    admin.get(&edit).await.assert_contains("value=\"10\"");
    admin
        .submit(
            &edit,
            &format!("/admin/tiers/{id}"),
            &[
                ("name", "Silver"),
                ("rank", "2"),
                ("margin_percent", "11.5"),
                ("commission_override_percent", "20"),
            ],
        )
        .await
        .assert_redirect("/admin/tiers");
    admin
        .get("/admin/tiers")
        .await
        .assert_contains("11.5% margin · 20% commission");

    // A tier in use cannot be deleted; an unused one can.
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", &id.to_string()), ("reason", "Launch")],
        )
        .await
        .assert_redirect(&detail);
    admin
        .submit("/admin/tiers", &format!("/admin/tiers/{id}/delete"), &[])
        .await
        .assert_redirect("/admin/tiers");
    admin
        .get("/admin/tiers")
        .await
        .assert_contains("1 partner(s) are on this tier");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", ""), ("reason", "Programme change")],
        )
        .await
        .assert_redirect(&detail);
    admin
        .submit("/admin/tiers", &format!("/admin/tiers/{id}/delete"), &[])
        .await
        .assert_redirect("/admin/tiers");
    admin
        .get("/admin/tiers")
        .await
        .assert_contains("Tier deleted.")
        .assert_contains("No tiers yet.");
    // History still reads after the tier is gone.
    admin
        .get(&detail)
        .await
        .assert_contains("Silver")
        .assert_contains("Programme change");
    admin
        .get("/admin/audit?action=tier.delete")
        .await
        .assert_contains("Silver (rank 2)");
}

#[tokio::test]
async fn managers_see_tiers_but_cannot_change_them() {
    let app = TestApp::spawn().await;
    app.create_user("manager@example.test", Role::Manager, None)
        .await;
    let manager = app.browser();
    manager
        .login("manager@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");
    let page = manager.get("/admin/tiers").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("New tier"));
    let page = manager
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[("name", "Gold"), ("rank", "3")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
