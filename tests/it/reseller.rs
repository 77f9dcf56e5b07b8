//! Reseller onboarding: the application, the partner agreement gate, and team management across org boundaries.

use crate::harness::{TestApp, PASSWORD};
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

fn application(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("company_name", "Northwind Systems"),
        ("website", "https://www.northwind.example/"),
        ("country", "de"),
        ("partner_type", "msp"),
        ("company_size", "51-200"),
        (
            "why_us",
            "We run IT for 300 mid-sized firms and your product fits our managed stack.",
        ),
        ("name", "Nia Northwind"),
        ("email", email),
        ("password", PASSWORD),
        ("company_url", ""),
    ]
}

async fn set_agreement(admin: &crate::harness::Browser, text: &str) {
    admin
        .submit("/admin/agreement", "/admin/agreement", &[("text", text)])
        .await
        .assert_redirect("/admin/agreement");
}

#[tokio::test]
async fn a_reseller_applies_is_approved_and_must_accept_the_agreement_before_the_portal_opens() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let page = admin
        .submit(
            "/admin/agreement",
            "/admin/agreement",
            &[("text", "too short")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    set_agreement(
        &admin,
        "Version one: resell honestly, register deals before quoting, keep customer data safe.",
    )
    .await;

    let nia = app.browser();
    let mut bad = application("nia@northwind.example");
    bad.retain(|(k, _)| *k != "partner_type" && *k != "why_us");
    bad.push(("why_us", "because"));
    let page = nia.submit("/apply", "/apply", &bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Choose the kind of partner you are.")
        .assert_contains("at least 20 characters")
        .assert_contains("value=\"Northwind Systems\"");

    nia.submit("/apply", "/apply", &application("nia@northwind.example"))
        .await
        .assert_redirect("/portal");
    nia.get("/portal")
        .await
        .assert_contains("Your application is under review");
    let outbox: Vec<String> = app
        .outbox()
        .await
        .into_iter()
        .map(|m| format!("{} -> {}", m.subject, m.recipient))
        .collect();
    assert!(
        outbox.contains(
            &"We received the application from Northwind Systems -> nia@northwind.example"
                .to_string()
        ),
        "{outbox:?}"
    );
    assert!(
        outbox.contains(
            &"New partner application: Northwind Systems -> admin@example.test".to_string()
        ),
        "{outbox:?}"
    );

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
                .clone()
        })
        .await;
    assert_eq!(
        (
            org.kind.as_str(),
            org.website_domain.as_str(),
            org.country.as_str()
        ),
        ("reseller", "northwind.example", "DE")
    );
    let detail = format!("/admin/partners/{}", org.id);
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", "approve")],
        )
        .await
        .assert_redirect(&detail);
    assert!(app
        .outbox()
        .await
        .iter()
        .any(|m| m.recipient == "nia@northwind.example" && m.subject.contains("is approved")));

    // Every portal page leads to the agreement until it is accepted.
    for path in ["/portal", "/portal/team", "/portal/earnings"] {
        nia.get(path).await.assert_redirect("/portal/agreement");
    }
    app.create_user("raj@northwind.example", Role::PartnerUser, Some(org.id))
        .await;
    let raj = app.browser();
    raj.login("raj@northwind.example", PASSWORD).await;
    raj.get("/portal")
        .await
        .assert_redirect("/portal/agreement");
    raj.get("/portal/agreement")
        .await
        .assert_contains("Your partner admin accepts the agreement");
    let page = raj
        .submit(
            "/portal/agreement",
            "/portal/agreement",
            &[("version", "1")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    nia.get("/portal/agreement")
        .await
        .assert_contains("Version one: resell honestly");
    nia.submit(
        "/portal/agreement",
        "/portal/agreement",
        &[("version", "1")],
    )
    .await
    .assert_redirect("/portal");
    nia.get("/portal")
        .await
        .assert_contains("The partner agreement is accepted");
    raj.get("/portal")
        .await
        .assert_contains("Northwind Systems");
    let acceptance = app
        .db(move |conn| {
            concord::partners::agreements::latest(conn, org.id)
                .unwrap()
                .unwrap()
        })
        .await;
    assert_eq!(
        (acceptance.version, acceptance.ip.as_str()),
        (1, "127.0.0.1")
    );

    // A new version closes the portal again; accepting an outdated version does not open it.
    set_agreement(
        &admin,
        "Version two: as before, and deals must be registered within 5 days of first contact.",
    )
    .await;
    nia.get("/portal/team")
        .await
        .assert_redirect("/portal/agreement");
    nia.submit(
        "/portal/agreement",
        "/portal/agreement",
        &[("version", "1")],
    )
    .await
    .assert_redirect("/portal/agreement");
    nia.get("/portal/agreement")
        .await
        .assert_contains("The agreement changed while you were reading it");
    nia.submit(
        "/portal/agreement",
        "/portal/agreement",
        &[("version", "2")],
    )
    .await
    .assert_redirect("/portal");
    admin
        .get("/admin/audit?action=program.agreement")
        .await
        .assert_contains("version 1 → version 2");
}

#[tokio::test]
async fn affiliates_are_not_gated_by_the_reseller_agreement() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    set_agreement(
        &admin,
        "The reseller agreement, which affiliates do not sign.",
    )
    .await;
    let org = app
        .create_partner(
            "Bright Deals",
            PartnerKind::Affiliate,
            PartnerStatus::Approved,
        )
        .await;
    app.create_user("bo@bright.example", Role::PartnerAdmin, Some(org))
        .await;
    let bo = app.browser();
    bo.login("bo@bright.example", PASSWORD).await;
    let page = bo.get("/portal").await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn a_partner_admin_disables_a_rep_who_left_and_cannot_touch_another_org() {
    let app = TestApp::spawn().await;
    let north = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let contoso = app
        .create_partner("Contoso", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let nia_id = app
        .create_user("nia@northwind.example", Role::PartnerAdmin, Some(north))
        .await;
    let raj_id = app
        .create_user("raj@northwind.example", Role::PartnerUser, Some(north))
        .await;
    let carl_id = app
        .create_user("carl@contoso.example", Role::PartnerUser, Some(contoso))
        .await;
    let nia = app.browser();
    nia.login("nia@northwind.example", PASSWORD).await;
    let raj = app.browser();
    raj.login("raj@northwind.example", PASSWORD).await;
    let carl = app.browser();
    carl.login("carl@contoso.example", PASSWORD).await;

    // Another org's member: the same answer as for nobody, and nothing changes.
    let page = nia
        .submit(
            "/portal/team",
            &format!("/portal/team/{carl_id}/active"),
            &[("active", "0")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    carl.get("/portal").await.assert_contains("Contoso");
    assert!(!nia
        .get("/portal/team")
        .await
        .body
        .contains("carl@contoso.example"));

    // A rep cannot manage the team; the partner admin cannot lock themselves out.
    assert_eq!(
        raj.submit(
            "/portal/team",
            &format!("/portal/team/{nia_id}/active"),
            &[("active", "0")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    nia.submit(
        "/portal/team",
        &format!("/portal/team/{nia_id}/active"),
        &[("active", "0")],
    )
    .await
    .assert_redirect("/portal/team");
    nia.get("/portal/team")
        .await
        .assert_contains("You cannot disable your own account.");

    nia.submit(
        "/portal/team",
        &format!("/portal/team/{raj_id}/active"),
        &[("active", "0")],
    )
    .await
    .assert_redirect("/portal/team");
    raj.get("/portal")
        .await
        .assert_redirect("/login?next=%2Fportal");
    assert_eq!(
        app.browser()
            .login("raj@northwind.example", PASSWORD)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        nia.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN,
        "partners never read the audit log"
    );
    nia.submit(
        "/portal/team",
        &format!("/portal/team/{raj_id}/active"),
        &[("active", "1")],
    )
    .await
    .assert_redirect("/portal/team");
    app.browser()
        .login("raj@northwind.example", PASSWORD)
        .await
        .assert_redirect("/portal");
}
