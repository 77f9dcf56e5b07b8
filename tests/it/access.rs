//! Who may see what, CSRF, the shell's error pages and the health check.

use crate::harness::{TestApp, TestDatabase, PASSWORD};
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    browser
        .get("/portal")
        .await
        .assert_redirect("/login?next=%2Fportal");
    browser
        .get("/admin/partners?status=applied")
        .await
        .assert_redirect("/login?next=%2Fadmin%2Fpartners%3Fstatus%3Dapplied");
}

#[tokio::test]
async fn partner_users_get_403_on_admin_and_staff_get_403_on_the_portal() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    app.create_user("rep@northwind.test", Role::PartnerUser, Some(org))
        .await;
    let partner = app.browser();
    partner
        .login("rep@northwind.test", PASSWORD)
        .await
        .assert_redirect("/portal");
    partner.get("/portal").await.assert_contains("Northwind");
    for path in ["/admin", "/admin/partners", "/admin/audit", "/admin/tiers"] {
        let page = partner.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        page.assert_contains("for program staff");
    }

    let admin = app.admin_browser().await;
    let page = admin.get("/portal").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_applied_partner_sees_only_that_the_application_is_under_review() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Fresh Blog", PartnerKind::Affiliate, PartnerStatus::Applied)
        .await;
    app.create_user("me@fresh.test", Role::PartnerAdmin, Some(org))
        .await;
    let browser = app.browser();
    browser
        .login("me@fresh.test", PASSWORD)
        .await
        .assert_redirect("/portal");
    browser
        .get("/portal")
        .await
        .assert_contains("Your application is under review");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_nothing_and_gets_403() {
    let app = TestApp::spawn().await;
    let org = app
        .create_partner("Contoso", PartnerKind::Reseller, PartnerStatus::Applied)
        .await;
    let admin = app.admin_browser().await;

    let page = admin
        .post_raw(
            &format!("/admin/partners/{org}/decision"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    page.assert_contains("This form has expired");
    let page = admin
        .post_raw(
            &format!("/admin/partners/{org}/decision"),
            &[("decision", "approve"), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    assert_eq!(app.partner_status(org).await, "applied");
    let entries = app
        .db(|conn| {
            concord::platform::audit::list(conn, &Default::default(), 0)
                .unwrap()
                .len()
        })
        .await;
    assert_eq!(entries, 0);

    // Sign-out needs the token too, so another site cannot sign people out.
    assert_eq!(
        admin.post_raw("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    admin.get("/admin").await.assert_contains("Dashboard");
}

#[tokio::test]
async fn error_pages_are_rendered_and_json_under_api() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.assert_contains("<title>Page not found")
        .assert_contains("We could not find that page.");

    let response = reqwest::get(format!("{}/api/v1/nothing-here", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let admin = app.admin_browser().await;
    let page = admin.get("/admin/partners/999999").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin.get("/admin/partners/not-a-number").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn healthz_answers_while_the_database_does_and_assets_are_cacheable() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));

    let landing = app.browser().get("/").await;
    let css_link = landing
        .body
        .split("href=\"/static/concord.css?v=")
        .nth(1)
        .expect("stylesheet link")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let response = reqwest::get(format!("{}/static/concord.css?v={css_link}", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    assert!(response.text().await.unwrap().contains("--accent"));
}

#[tokio::test]
async fn healthz_is_503_when_the_database_stops_answering() {
    let app = TestApp::spawn().await;
    match &app.database {
        TestDatabase::Sqlite { url, .. } => {
            // Overwrite the file and its WAL index in place: open connections see an unreadable database.
            let path = url.trim_start_matches("sqlite://").to_string();
            for (suffix, bytes) in [
                ("", vec![0xFF; 8192]),
                ("-wal", vec![]),
                ("-shm", vec![0; 32768]),
            ] {
                let file = format!("{path}{suffix}");
                if std::path::Path::new(&file).exists() {
                    std::fs::write(&file, &bytes).unwrap();
                }
            }
        }
        TestDatabase::Postgres {
            server_url, name, ..
        } => {
            use diesel::Connection;
            let mut admin = diesel::PgConnection::establish(server_url).unwrap();
            diesel::connection::SimpleConnection::batch_execute(
                &mut admin,
                &format!("DROP DATABASE {name} WITH (FORCE)"),
            )
            .unwrap();
        }
    }
    let response = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
