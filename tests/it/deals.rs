//! Deal registration end to end over HTTP: the form with custom fields, conflict detection with evidence for the
//! approver and nothing revealed to the partner, approval and protection, the SLA queue and its one escalation,
//! expiry with its warning, the one extension, stages and the win that writes the margin, org boundaries, and the
//! pipeline report against a hand-computed fixture.

use crate::fixtures::{self, in_days};
use crate::harness::{Browser, TestApp, PASSWORD};
use chrono::{Duration, NaiveDateTime};
use concord::accounts::role::Role;
use reqwest::StatusCode;

/// A complete registration; `extra` replaces or adds fields.
pub(crate) fn registration(
    customer: &str,
    website: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("customer_name", customer),
        ("website", website),
        ("contact_name", "Carla Buyer"),
        ("contact_email", "carla@buyer.example"),
        ("contact_title", "CIO"),
        ("country", "de"),
        ("amount", "10,000.00"),
        ("currency", "EUR"),
        ("description", "Replacing their backup stack."),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.push(("expected_close".into(), in_days(60)));
    for (key, value) in extra {
        fields.retain(|(k, _)| k != key);
        fields.push((key.to_string(), value.to_string()));
    }
    fields
}

pub(crate) async fn register(
    browser: &Browser,
    fields: &[(String, String)],
) -> crate::harness::Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser
        .submit("/portal/deals/new", "/portal/deals/new", &refs)
        .await
}

/// Saves the deal settings page: 48 h SLA, 60 days of protection, auto-approval below an amount ("" for none), and
/// whether reps see their colleagues' deals.
pub(crate) async fn deal_settings(admin: &Browser, auto_approve_below: &str, reps_see_org: bool) {
    let mut fields = vec![
        ("sla_hours", "48"),
        ("protection_days", "60"),
        ("auto_approve_below", auto_approve_below),
    ];
    if reps_see_org {
        fields.push(("reps_see_org", "on"));
    }
    admin
        .submit("/admin/deals/settings", "/admin/deals/settings", &fields)
        .await
        .assert_redirect("/admin/deals/settings");
}

pub(crate) fn deal_id(page: &crate::harness::Page) -> i64 {
    let location = page
        .location
        .as_deref()
        .unwrap_or_else(|| panic!("no redirect:\n{}", page.body));
    location.rsplit('/').next().unwrap().parse().unwrap()
}

pub(crate) async fn registered(browser: &Browser, customer: &str, website: &str) -> i64 {
    let page = register(browser, &registration(customer, website, &[])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    deal_id(&page)
}

async fn deal(app: &TestApp, id: i64) -> concord::deals::Deal {
    app.db(move |conn| {
        let program = concord::programs::current(conn).unwrap();
        concord::deals::find(conn, program.id, id).unwrap().unwrap()
    })
    .await
}

pub(crate) async fn decide(
    admin: &Browser,
    id: i64,
    decision: &str,
    reason: &str,
) -> crate::harness::Page {
    let page = format!("/admin/deals/{id}");
    admin
        .submit(
            &page,
            &format!("{page}/decision"),
            &[("decision", decision), ("reason", reason)],
        )
        .await
}

pub(crate) async fn approved(
    app: &TestApp,
    admin: &Browser,
    browser: &Browser,
    customer: &str,
    website: &str,
) -> i64 {
    let id = registered(browser, customer, website).await;
    decide(admin, id, "approve", "")
        .await
        .assert_redirect(&format!("/admin/deals/{id}"));
    assert_eq!(deal(app, id).await.status.as_str(), "approved");
    id
}

/// Moves a deal's timestamps as if `hours` had passed.
async fn age(app: &TestApp, id: i64, column: &'static str, at: NaiveDateTime) {
    app.db(move |conn| {
        use concord::platform::db::schema::deals;
        use diesel::prelude::*;
        let target = deals::table.filter(deals::id.eq(id));
        match column {
            "submitted_at" => diesel::update(target)
                .set(deals::submitted_at.eq(at))
                .execute(conn),
            "protection_until" => diesel::update(target)
                .set(deals::protection_until.eq(Some(at)))
                .execute(conn),
            other => panic!("{other}"),
        }
        .unwrap();
    })
    .await;
}

fn mail_to(
    outbox: &[concord::platform::outbox::store::OutboxMessage],
    recipient: &str,
    subject_part: &str,
) -> usize {
    outbox
        .iter()
        .filter(|m| m.recipient == recipient && m.subject.contains(subject_part))
        .count()
}

#[tokio::test]
async fn a_rep_registers_a_deal_with_custom_fields_and_every_error_keeps_the_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    admin
        .submit(
            "/admin/deals/settings",
            "/admin/deals/settings/products",
            &[("text", "Backup Pro\nBackup Cloud\n")],
        )
        .await
        .assert_redirect("/admin/deals/settings");
    let refused = admin
        .submit(
            "/admin/deals/settings",
            "/admin/deals/settings/fields",
            &[
                ("label", "Deployment"),
                ("field_type", "select"),
                ("options", "Cloud"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .assert_contains("at least two options")
        .assert_contains("value=\"Deployment\"");
    for (label, kind, options, required) in [
        ("Deployment", "select", "Cloud\nOn premises", "on"),
        ("Seats", "number", "", "on"),
        ("Budget approved on", "date", "", ""),
    ] {
        let mut fields = vec![("label", label), ("field_type", kind), ("options", options)];
        if !required.is_empty() {
            fields.push(("required", required));
        }
        admin
            .submit(
                "/admin/deals/settings",
                "/admin/deals/settings/fields",
                &fields,
            )
            .await
            .assert_redirect("/admin/deals/settings");
    }
    let field_ids: Vec<i64> = app
        .db(|conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::deals::config::custom_fields(conn, program.id)
                .unwrap()
                .iter()
                .map(|f| f.id)
                .collect()
        })
        .await;
    let (deployment, seats, budget) = (
        format!("custom_{}", field_ids[0]),
        format!("custom_{}", field_ids[1]),
        format!("custom_{}", field_ids[2]),
    );

    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let form = northwind.rep().get("/portal/deals/new").await;
    assert_eq!(form.status, StatusCode::OK);
    form.assert_contains("Backup Cloud")
        .assert_contains("Deployment")
        .assert_contains("Budget approved on (optional)");
    let bad = registration(
        "Acme, Inc.",
        "not a website",
        &[
            ("contact_email", "carla-at-buyer"),
            ("amount", "12.345"),
            ("expected_close", "2020-01-01"),
            ("products", "Backup Toaster"),
            (&seats, "lots"),
            (&budget, "31/12/2026"),
        ],
    );
    let page = register(northwind.rep(), &bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("is not a website domain")
        .assert_contains("not a valid email")
        .assert_contains("at most 2 decimal places")
        .assert_contains("cannot be in the past")
        .assert_contains("not one of the program&#39;s products")
        .assert_contains("Deployment is required.")
        .assert_contains("Seats takes a number")
        .assert_contains("takes a date like")
        .assert_contains("value=\"Acme, Inc.\"")
        .assert_contains("value=\"lots\"")
        .assert_contains("Replacing their backup stack.");
    let nothing: i64 = app
        .db(|conn| {
            use diesel::prelude::*;
            concord::platform::db::schema::deals::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(nothing, 0);

    let good = registration(
        "Acme, Inc.",
        "https://www.acme.example/contact",
        &[
            ("products", "Backup Pro"),
            (&deployment, "On premises"),
            (&seats, "250"),
        ],
    );
    let page = register(northwind.rep(), &good).await;
    let id = deal_id(&page);
    let stored = deal(&app, id).await;
    assert_eq!(stored.status.as_str(), "submitted");
    assert_eq!(stored.customer_key, "acme");
    assert_eq!(stored.customer_domain, "acme.example");
    assert_eq!(stored.amount_minor, 1_000_000);
    assert_eq!(stored.country, "DE");
    assert_eq!(stored.product_list(), vec!["Backup Pro"]);
    let values = stored.custom_values();
    assert_eq!(values.len(), 3);
    assert_eq!(
        (values[0].label.as_str(), values[0].value.as_str()),
        ("Deployment", "On premises")
    );
    assert_eq!(values[2].value, "");
    northwind
        .rep()
        .get(&format!("/portal/deals/{id}"))
        .await
        .assert_contains("Awaiting approval")
        .assert_contains("On premises")
        .assert_contains("Registered for 10,000.00 EUR.");
    northwind
        .admin
        .get("/portal/deals")
        .await
        .assert_contains(&format!("/portal/deals/{id}"));
}

#[tokio::test]
async fn conflicts_warn_the_partner_without_naming_anyone_and_show_the_approver_the_evidence() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso Partners")
        .with_rep()
        .await;
    let first = registered(northwind.rep(), "Acme, Inc.", "acme.com").await;

    let live = contoso
        .rep()
        .get("/portal/deals/check?customer_name=ACME%20Inc&website=")
        .await;
    assert_eq!(live.body, r#"{"possible_conflict":true}"#);
    let live = contoso
        .rep()
        .get("/portal/deals/check?customer_name=Initech&website=initech.example")
        .await;
    assert_eq!(live.body, r#"{"possible_conflict":false}"#);

    let second = registration("ACME Inc", "https://www.eu.acme.com/path", &[]);
    let warned = register(contoso.rep(), &second).await;
    assert_eq!(warned.status, StatusCode::OK);
    warned
        .assert_contains("A registration for this customer may already exist")
        .assert_contains("name=\"acknowledged\" value=\"1\"")
        .assert_contains("value=\"ACME Inc\"");
    assert!(
        !warned.body.contains("Northwind"),
        "the other partner is named:\n{}",
        warned.body
    );
    let mut again = second.clone();
    again.push(("acknowledged".into(), "1".into()));
    again.push((
        "justification".into(),
        "Their EU arm asked us directly in October.".into(),
    ));
    let page = register(contoso.rep(), &again).await;
    let id = deal_id(&page);
    let own_view = contoso.rep().get(&format!("/portal/deals/{id}")).await;
    assert!(!own_view.body.contains("Northwind"));
    own_view.assert_contains("1 possible conflict");

    let evidence = admin.get(&format!("/admin/deals/{id}")).await;
    evidence
        .assert_contains("1 possible conflict")
        .assert_contains("Northwind")
        .assert_contains(&format!("Deal #{first}"))
        .assert_contains("website domain and company name")
        .assert_contains("Their EU arm asked us directly in October.");
    admin
        .get("/admin/deals")
        .await
        .assert_contains("1 possible");

    // A direct account, imported from CSV: a bad record imports nothing and names the record.
    let import = |text: &'static str| {
        let admin = &admin;
        async move {
            let token = admin.get("/admin/deals/direct-accounts").await.csrf_token();
            let form = reqwest::multipart::Form::new().text("text", text);
            admin
                .client
                .post(format!(
                    "{}/admin/deals/direct-accounts/import?csrf_token={token}",
                    admin.base
                ))
                .multipart(form)
                .send()
                .await
                .unwrap()
        }
    };
    let refused =
        import("company,domain,owner\nGlobex GmbH,globex.de,Dana Direct\n,nobody.example,\n").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("Record 2"));
    let imported = import(
        "company,domain,owner\nGlobex GmbH,globex.de,Dana Direct\nInitech,initech.example,\n",
    )
    .await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    admin
        .get("/admin/deals/direct-accounts")
        .await
        .assert_contains("2 listed");

    let warned = register(
        northwind.rep(),
        &registration("Globex", "", &[("contact_email", "ceo@globex.de")]),
    )
    .await;
    warned.assert_contains("may already exist");
    let mut again = registration("Globex", "", &[("contact_email", "ceo@globex.de")]);
    again.push(("acknowledged".into(), "1".into()));
    let id = deal_id(&register(northwind.rep(), &again).await);
    admin
        .get(&format!("/admin/deals/{id}"))
        .await
        .assert_contains("Direct account")
        .assert_contains("Direct sales (Dana Direct)")
        .assert_contains("website domain and company name");
}

#[tokio::test]
async fn approval_protects_the_customer_and_refusals_need_reasons() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let id = registered(northwind.rep(), "Acme", "acme.com").await;

    let page = decide(&admin, id, "reject", "  ").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Give a reason for the rejection");
    let page = decide(&admin, id, "request_info", "").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(deal(&app, id).await.status.as_str(), "submitted");

    decide(
        &admin,
        id,
        "request_info",
        "Which products and how many seats?",
    )
    .await
    .assert_redirect(&format!("/admin/deals/{id}"));
    assert_eq!(deal(&app, id).await.status.as_str(), "info_requested");
    let long_ago = concord::platform::db::now() - Duration::days(9);
    age(&app, id, "submitted_at", long_ago).await;
    let edit = format!("/portal/deals/{id}/edit");
    northwind
        .rep()
        .get(&edit)
        .await
        .assert_contains("Which products and how many seats?");
    let refs_owned = registration(
        "Acme",
        "acme.com",
        &[("description", "250 seats of Backup Pro.")],
    );
    let refs: Vec<(&str, &str)> = refs_owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    northwind
        .rep()
        .submit(&edit, &edit, &refs)
        .await
        .assert_redirect(&format!("/portal/deals/{id}"));
    let resubmitted = deal(&app, id).await;
    assert_eq!(resubmitted.status.as_str(), "submitted");
    assert!(
        resubmitted.submitted_at > long_ago + Duration::days(8),
        "the SLA clock restarts"
    );

    decide(&admin, id, "approve", "")
        .await
        .assert_redirect(&format!("/admin/deals/{id}"));
    let approved = deal(&app, id).await;
    assert_eq!(approved.status.as_str(), "approved");
    let protection = approved.protection_until.unwrap() - approved.approved_at.unwrap();
    assert_eq!(protection, Duration::days(90));
    assert!(
        approved.stage_id.is_some(),
        "an approved deal starts in the first stage"
    );
    let page = decide(&admin, id, "reject", "late").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("no longer awaiting approval");

    let outbox = app.outbox().await;
    for recipient in ["rep@northwind.test", "boss@northwind.test"] {
        assert_eq!(
            mail_to(&outbox, recipient, "needs more information"),
            1,
            "{recipient}"
        );
        assert_eq!(mail_to(&outbox, recipient, "approved"), 1, "{recipient}");
    }
    admin
        .get("/admin/audit?subject_type=deal")
        .await
        .assert_contains("deal.approve")
        .assert_contains("deal.request_info");
    northwind
        .rep()
        .get(&format!("/portal/deals/{id}"))
        .await
        .assert_contains("More information requested: Which products and how many seats?")
        .assert_contains("Updated and submitted again.")
        .assert_contains("Approved; protected until");
}

#[tokio::test]
async fn auto_approval_takes_small_deals_without_conflicts() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    admin
        .submit(
            "/admin/deals/settings",
            "/admin/deals/settings",
            &[
                ("sla_hours", "48"),
                ("protection_days", "60"),
                ("auto_approve_below", "x"),
                ("reps_see_org", "on"),
            ],
        )
        .await
        .assert_contains("is not an amount");
    deal_settings(&admin, "20,000", true).await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let small = register(
        northwind.rep(),
        &registration(
            "Acme",
            "acme.com",
            &[("currency", "USD"), ("amount", "5000")],
        ),
    )
    .await;
    let small = deal(&app, deal_id(&small)).await;
    assert_eq!(small.status.as_str(), "approved");
    assert_eq!(
        small.protection_until.unwrap() - small.approved_at.unwrap(),
        Duration::days(60)
    );
    // A conflict keeps even a small deal in the queue, and so does a large amount.
    let mut conflicting = registration(
        "Acme",
        "acme.com",
        &[("currency", "USD"), ("amount", "5000")],
    );
    conflicting.push(("acknowledged".into(), "1".into()));
    let waiting = deal(&app, deal_id(&register(contoso.rep(), &conflicting).await)).await;
    assert_eq!(waiting.status.as_str(), "submitted");
    let large = register(
        contoso.rep(),
        &registration(
            "Initech",
            "initech.example",
            &[("currency", "USD"), ("amount", "25000")],
        ),
    )
    .await;
    assert_eq!(
        deal(&app, deal_id(&large)).await.status.as_str(),
        "submitted"
    );
}

#[tokio::test]
async fn the_queue_runs_by_sla_clock_and_an_overdue_registration_escalates_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    app.create_user("manager@example.test", Role::Manager, None)
        .await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let fresh = registered(northwind.rep(), "Fresh Co", "fresh.example").await;
    let old = registered(northwind.rep(), "Old Co", "old.example").await;
    let older = registered(northwind.rep(), "Older Co", "older.example").await;
    let now = concord::platform::db::now();
    age(&app, old, "submitted_at", now - Duration::days(6)).await;
    age(&app, older, "submitted_at", now - Duration::days(12)).await;

    let queue = admin.get("/admin/deals").await;
    let position = |id: i64| queue.body.find(&format!("/admin/deals/{id}\"")).unwrap();
    assert!(position(older) < position(old) && position(old) < position(fresh));
    assert_eq!(queue.body.matches("h overdue").count(), 2, "{}", queue.body);
    queue.assert_contains("class=\"overdue\"");

    assert_eq!(app.run_job("deal_sla").await, "2 escalated");
    assert_eq!(app.run_job("deal_sla").await, "");
    // Correcting a registration that still waits keeps its clock and its one escalation.
    let edit = format!("/portal/deals/{older}/edit");
    let fields = registration(
        "Older Co",
        "older.example",
        &[("description", "More detail.")],
    );
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    northwind
        .rep()
        .submit(&edit, &edit, &refs)
        .await
        .assert_redirect(&format!("/portal/deals/{older}"));
    assert_eq!(app.run_job("deal_sla").await, "");
    let outbox = app.outbox().await;
    for staff in ["admin@example.test", "manager@example.test"] {
        assert_eq!(
            mail_to(&outbox, staff, "is past its approval SLA"),
            2,
            "{staff}"
        );
        assert_eq!(mail_to(&outbox, staff, &format!("#{older} Older Co")), 1);
    }
    assert_eq!(
        mail_to(&outbox, "admin@example.test", &format!("#{fresh} Fresh Co")),
        0
    );
}

#[tokio::test]
async fn protection_warns_a_week_ahead_once_then_expires() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let id = approved(&app, &admin, northwind.rep(), "Acme", "acme.com").await;
    assert_eq!(app.run_job("deal_expiry").await, "");
    let now = concord::platform::db::now();
    age(&app, id, "protection_until", now + Duration::days(3)).await;
    assert_eq!(app.run_job("deal_expiry").await, "1 warned, 0 expired");
    assert_eq!(app.run_job("deal_expiry").await, "");
    age(&app, id, "protection_until", now - Duration::minutes(1)).await;
    assert_eq!(app.run_job("deal_expiry").await, "0 warned, 1 expired");
    assert_eq!(app.run_job("deal_expiry").await, "");
    assert_eq!(deal(&app, id).await.status.as_str(), "expired");
    let outbox = app.outbox().await;
    assert_eq!(
        mail_to(&outbox, "rep@northwind.test", "Protection of deal"),
        2
    );
    assert_eq!(mail_to(&outbox, "rep@northwind.test", "has ended"), 1);
    northwind
        .rep()
        .get(&format!("/portal/deals/{id}"))
        .await
        .assert_contains("Expired")
        .assert_contains("without a win");
    // An expired customer is open again: another partner registers it without a warning.
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let page = register(contoso.rep(), &registration("Acme", "acme.com", &[])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_deal_gets_one_extension_request_which_an_admin_grants_or_refuses() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let id = approved(&app, &admin, northwind.rep(), "Acme", "acme.com").await;
    let page_path = format!("/portal/deals/{id}");
    let action = format!("{page_path}/extension");
    let short = northwind
        .rep()
        .submit(&page_path, &action, &[("justification", "busy")])
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    short
        .assert_contains("at least 10 characters")
        .assert_contains(">busy</textarea>");
    northwind
        .rep()
        .submit(
            &page_path,
            &action,
            &[("justification", "Procurement moved the decision to March.")],
        )
        .await
        .assert_redirect(&page_path);
    let again = northwind
        .rep()
        .submit(
            &page_path,
            &action,
            &[("justification", "Please, one more time around.")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    again.assert_contains("one extension request");

    let before = deal(&app, id).await.protection_until.unwrap();
    let admin_page = format!("/admin/deals/{id}");
    let refused = admin
        .submit(
            &admin_page,
            &format!("{admin_page}/extension"),
            &[("decision", "refuse"), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("Give a reason for refusing");
    admin
        .submit(
            &admin_page,
            &format!("{admin_page}/extension"),
            &[("decision", "grant"), ("days", "45")],
        )
        .await
        .assert_redirect(&admin_page);
    assert_eq!(
        deal(&app, id).await.protection_until.unwrap() - before,
        Duration::days(45)
    );
    let twice = admin
        .submit(
            &admin_page,
            &format!("{admin_page}/extension"),
            &[("decision", "grant"), ("days", "45")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        deal(&app, id).await.protection_until.unwrap() - before,
        Duration::days(45)
    );
    assert_eq!(
        mail_to(
            &app.outbox().await,
            "rep@northwind.test",
            "Extension granted"
        ),
        1
    );
}

#[tokio::test]
async fn stages_build_a_timeline_and_a_confirmed_win_writes_the_margin_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let org = northwind.org;
    let gold = fixtures::tier(&app, "Gold", 3).margin_bps(1500).await;
    fixtures::move_to_tier(&app, org, gold).await;
    let id = approved(&app, &admin, northwind.rep(), "Acme", "acme.com").await;
    let proposal = app
        .db(|conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::deals::config::stages(conn, program.id).unwrap()[1].id
        })
        .await;
    let page_path = format!("/portal/deals/{id}");
    let proposal_text = proposal.to_string();
    let close = in_days(30);
    northwind
        .rep()
        .submit(
            &page_path,
            &format!("{page_path}/progress"),
            &[
                ("stage_id", &proposal_text),
                ("amount", "12,000"),
                ("expected_close", &close),
            ],
        )
        .await
        .assert_redirect(&page_path);
    let lost = northwind
        .rep()
        .submit(&page_path, &format!("{page_path}/lost"), &[("reason", " ")])
        .await;
    assert_eq!(lost.status, StatusCode::UNPROCESSABLE_ENTITY);
    lost.assert_contains("Say why the deal was lost");
    let won = northwind
        .rep()
        .submit(
            &page_path,
            &format!("{page_path}/won"),
            &[("won_amount", "")],
        )
        .await;
    assert_eq!(won.status, StatusCode::UNPROCESSABLE_ENTITY);
    won.assert_contains("Enter the final amount");
    northwind
        .rep()
        .submit(
            &page_path,
            &format!("{page_path}/won"),
            &[("won_amount", "12,345.67")],
        )
        .await
        .assert_redirect(&page_path);
    let timeline = northwind.rep().get(&page_path).await;
    timeline
        .assert_contains("Stage Qualification → Proposal")
        .assert_contains("Amount 10,000.00 EUR → 12,000.00 EUR")
        .assert_contains(&format!("→ {close}"))
        .assert_contains("Reported won for 12,345.67 EUR");
    let stage_at = timeline.body.find("Stage Qualification").unwrap();
    assert!(timeline.body.find("Approved; protected").unwrap() < stage_at);
    assert!(stage_at < timeline.body.find("Reported won").unwrap());

    let admin_page = format!("/admin/deals/{id}");
    admin
        .get(&admin_page)
        .await
        .assert_contains("Gold tier margin 15% of the won amount 12,345.67 EUR = 1,851.85 EUR");
    admin
        .submit(
            &admin_page,
            &format!("{admin_page}/win"),
            &[("decision", "confirm")],
        )
        .await
        .assert_redirect(&admin_page);
    let twice = admin
        .submit(
            &admin_page,
            &format!("{admin_page}/win"),
            &[("decision", "confirm")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    let entries = app
        .db(move |conn| {
            use concord::platform::db::schema::ledger_entries;
            use diesel::prelude::*;
            ledger_entries::table
                .filter(ledger_entries::partner_org_id.eq(org))
                .select((
                    ledger_entries::amount_minor,
                    ledger_entries::currency,
                    ledger_entries::kind,
                    ledger_entries::status,
                    ledger_entries::explanation,
                ))
                .load::<(i64, String, String, String, String)>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (amount, currency, kind, status, explanation) = &entries[0];
    assert_eq!(
        (*amount, currency.as_str(), kind.as_str(), status.as_str()),
        (185_185, "EUR", "deal_margin", "approved")
    );
    assert!(
        explanation.contains("Gold tier margin 15%"),
        "{explanation}"
    );
    assert_eq!(deal(&app, id).await.status.as_str(), "won");
    northwind
        .admin
        .get("/portal/earnings")
        .await
        .assert_contains("1,851.85");
    assert_eq!(
        mail_to(&app.outbox().await, "boss@northwind.test", "Win of deal"),
        1
    );
}

#[tokio::test]
async fn a_rep_of_another_org_cannot_read_or_change_a_deal_by_any_url() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let id = approved(&app, &admin, northwind.rep(), "Acme", "acme.com").await;
    let base = format!("/portal/deals/{id}");
    for path in [base.clone(), format!("{base}/edit")] {
        assert_eq!(
            contoso.rep().get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let token = contoso.rep().get("/portal/deals").await.csrf_token();
    for (action, field, value) in [
        ("progress", "amount", "1"),
        ("won", "won_amount", "1"),
        ("lost", "reason", "gone"),
        ("extension", "justification", "we want it too, please"),
        ("edit", "customer_name", "Mine now"),
    ] {
        let page = contoso
            .rep()
            .post_raw(
                &format!("{base}/{action}"),
                &[("csrf_token", &token), (field, value)],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "{action}: {}",
            page.body
        );
    }
    assert!(!contoso
        .rep()
        .get("/portal/deals")
        .await
        .body
        .contains("Acme"));
    assert!(!contoso
        .rep()
        .get("/portal/deals.csv")
        .await
        .body
        .contains("Acme"));
    let unchanged = deal(&app, id).await;
    assert_eq!(
        (unchanged.status.as_str(), unchanged.amount_minor),
        ("approved", 1_000_000)
    );

    // Inside one org: with "reps see the org's deals" off, a colleague sees nothing; the partner admin sees all.
    app.create_user(
        "rep2@northwind.test",
        Role::PartnerUser,
        Some(northwind.org),
    )
    .await;
    let rep2 = app.browser();
    rep2.login("rep2@northwind.test", PASSWORD).await;
    rep2.get(&base).await.assert_contains("Acme");
    let refused = rep2
        .submit(&base, &format!("{base}/lost"), &[("reason", "not mine")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("Only the rep who registered this deal");
    admin
        .submit(
            "/admin/deals/settings",
            "/admin/deals/settings",
            &[("sla_hours", "48"), ("protection_days", "90")],
        )
        .await
        .assert_redirect("/admin/deals/settings");
    assert_eq!(rep2.get(&base).await.status, StatusCode::NOT_FOUND);
    assert!(!rep2.get("/portal/deals").await.body.contains("Acme"));
    northwind.admin.get(&base).await.assert_contains("Acme");
    northwind
        .admin
        .get(&format!("/portal/deals?owner={}", northwind.rep_id()))
        .await
        .assert_contains(&base);
    // Affiliates have no deal registration at all.
    let (_, _) = app
        .affiliate_with_link("Blog", "blog@affiliate.test", "blog")
        .await;
    let affiliate = app.browser();
    affiliate.login("blog@affiliate.test", PASSWORD).await;
    assert_eq!(
        affiliate.get("/portal/deals/new").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn progress(browser: &Browser, id: i64, stage: Option<&str>, amount: &str, close: &str) {
    let path = format!("/portal/deals/{id}");
    let mut fields = vec![("amount", amount), ("expected_close", close)];
    if let Some(stage) = stage {
        fields.push(("stage_id", stage));
    }
    browser
        .submit(&path, &format!("{path}/progress"), &fields)
        .await
        .assert_redirect(&path);
}

#[tokio::test]
async fn the_pipeline_report_matches_a_hand_computed_fixture() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").with_rep().await;
    let contoso = fixtures::reseller(&app, "Contoso").with_rep().await;
    let today = concord::platform::db::now().date();
    let this_quarter = concord::deals::rules::Quarter::of(today);
    let next_quarter_day = this_quarter.next().first_day().to_string();
    let this_quarter_day = today.to_string();
    // Northwind: 1,000.00 in Qualification (10%) this quarter, 500.00 in Proposal (40%) next quarter.
    let a = approved(&app, &admin, northwind.rep(), "Alpha", "alpha.example").await;
    let b = approved(&app, &admin, northwind.rep(), "Beta", "beta.example").await;
    // Contoso: 200.00 in Proposal this quarter; one won at 350.00; one lost.
    let c = approved(&app, &admin, contoso.rep(), "Gamma", "gamma.example").await;
    let won = approved(&app, &admin, contoso.rep(), "Delta", "delta.example").await;
    let lost = approved(&app, &admin, contoso.rep(), "Epsilon", "epsilon.example").await;
    let proposal = app
        .db(|conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::deals::config::stages(conn, program.id).unwrap()[1]
                .id
                .to_string()
        })
        .await;
    progress(northwind.rep(), a, None, "1000", &this_quarter_day).await;
    progress(
        northwind.rep(),
        b,
        Some(&proposal),
        "500",
        &next_quarter_day,
    )
    .await;
    progress(contoso.rep(), c, Some(&proposal), "200", &this_quarter_day).await;
    let path = format!("/portal/deals/{won}");
    contoso
        .rep()
        .submit(&path, &format!("{path}/won"), &[("won_amount", "350")])
        .await
        .assert_redirect(&path);
    let admin_path = format!("/admin/deals/{won}");
    admin
        .submit(
            &admin_path,
            &format!("{admin_path}/win"),
            &[("decision", "confirm")],
        )
        .await
        .assert_redirect(&admin_path);
    let path = format!("/portal/deals/{lost}");
    contoso
        .rep()
        .submit(&path, &format!("{path}/lost"), &[("reason", "Price")])
        .await
        .assert_redirect(&path);
    // A deal in another currency is left out and counted.
    let usd = register(
        contoso.rep(),
        &registration("Zeta", "zeta.example", &[("currency", "USD")]),
    )
    .await;
    decide(&admin, deal_id(&usd), "approve", "").await;
    // The program currency is EUR for this report.
    app.db(|conn| {
        let program = concord::programs::current(conn).unwrap();
        concord::programs::rename(
            conn,
            program.id,
            &program.name,
            concord::domain::money::Currency::parse("EUR").unwrap(),
        )
        .unwrap();
    })
    .await;

    // Confirmed wins count toward tier placement, in the program currency.
    let contoso_org = contoso.org;
    let metrics = app
        .db(move |conn| {
            concord::placement::metrics(conn, contoso_org, "EUR", concord::platform::db::now())
                .unwrap()
        })
        .await;
    assert_eq!((metrics.won_deals, metrics.won_revenue_minor), (1, 35_000));
    let csv = admin.get("/admin/reports/pipeline.csv").await.body;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "section,label,count,amount_eur,weighted_eur,won,lost,win_rate_percent,average_won_eur"
    );
    for expected in [
        // Qualification: Alpha 1,000 at 10%.
        "stage,Qualification,1,1000.00,100.00,,,,",
        // Proposal: Beta 500 + Gamma 200 at 40% = 280.
        "stage,Proposal,2,700.00,280.00,,,,",
        "partner,Northwind,2,1500.00,300.00,,,,",
        "partner,Contoso,1,200.00,80.00,,,,",
        "tier,No tier,3,1700.00,380.00,,,,",
        // This quarter: Alpha and Gamma open (weighted 100 + 80), Delta won 350.
        &format!("forecast,{this_quarter},2,1200.00,180.00,350.00,,,"),
        &format!("forecast,{},1,500.00,200.00,0.00,,,", this_quarter.next()),
        "outcome_partner,Contoso,,,,1,1,50,350.00",
        "outcome_tier,No tier,,,,1,1,50,350.00",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{csv}");
    }
    let page = admin.get("/admin/reports/pipeline").await;
    page.assert_contains("1 deal in other currencies are not included")
        .assert_contains("Weighted pipeline by stage")
        .assert_contains("<svg")
        .assert_contains("Registrations decided</dt><dd>5</dd>");
    contoso
        .admin
        .get("/portal")
        .await
        .assert_contains("Your pipeline")
        .assert_contains("Win rate 50%");
}
