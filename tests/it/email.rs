//! Email through the transactional outbox, delivered to a real SMTP server (aiosmtpd), or to .eml files.

use std::process::Command;

use crate::harness::{TestApp, PASSWORD};
use crate::smtp_sink::SmtpSink;
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

async fn app_sending_to(sink: &SmtpSink) -> TestApp {
    let target = concord::config::SmtpTarget::parse(&sink.url()).unwrap();
    TestApp::spawn_with(|s| s.smtp = Some(target)).await
}

/// An applied reseller with a partner admin who hears about decisions.
async fn applicant(app: &TestApp) -> i64 {
    let org = app
        .create_partner("Contoso IT", PartnerKind::Reseller, PartnerStatus::Applied)
        .await;
    app.create_user("owner@contoso.test", Role::PartnerAdmin, Some(org))
        .await;
    org
}

async fn decide(
    admin: &crate::harness::Browser,
    org: i64,
    decision: &str,
    reason: &str,
) -> crate::harness::Page {
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/decision"),
            &[("decision", decision), ("reason", reason)],
        )
        .await
}

#[tokio::test]
async fn approving_a_partner_delivers_exactly_one_email_with_both_parts_and_a_working_link() {
    let sink = SmtpSink::start();
    let app = app_sending_to(&sink).await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    decide(&admin, org, "approve", "")
        .await
        .assert_redirect(&format!("/admin/partners/{org}"));

    assert_eq!(app.run_job("outbox").await, "1 sent, 0 failed, 0 dead");
    assert_eq!(app.run_job("outbox").await, "", "nothing is sent twice");
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    let email = &received[0];
    assert_eq!(email.to, "owner@contoso.test");
    assert_eq!(
        email.subject,
        "Welcome to Partner Program: Contoso IT is approved"
    );
    assert!(
        email.raw.contains("text/plain") && email.raw.contains("text/html"),
        "{}",
        email.raw
    );
    assert!(
        email.text.contains("Contoso IT is approved")
            && email.html.contains("<strong>Contoso IT</strong>")
    );
    assert_eq!(
        app.outbox().await[0].message_id.trim_matches(['<', '>']),
        email.message_id
    );

    let link = email.link(&app.address);
    assert_eq!(link, format!("{}/portal", app.address));
    let partner = app.browser();
    partner.login("owner@contoso.test", PASSWORD).await;
    let page = partner.get(&link[app.address.len()..]).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("Contoso IT");
}

#[tokio::test]
async fn rejecting_a_partner_emails_the_reason() {
    let sink = SmtpSink::start();
    let app = app_sending_to(&sink).await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    decide(&admin, org, "reject", "We only partner with MSPs in the EU").await;
    app.run_job("outbox").await;
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].subject, "Your application to Partner Program");
    assert!(received[0]
        .text
        .contains("Reason: We only partner with MSPs in the EU"));
    assert!(received[0]
        .html
        .contains("We only partner with MSPs in the EU"));
}

#[tokio::test]
async fn a_decision_whose_transaction_fails_leaves_no_outbox_row() {
    let app = TestApp::spawn().await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    // Make the audit-log write, which comes after the outbox write in the decision's transaction, fail.
    let postgres = app.database.is_postgres();
    app.db(move |conn| {
        use diesel::connection::SimpleConnection;
        if postgres {
            conn.batch_execute(
                "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
            )
        } else {
            conn.batch_execute("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END;")
        }
        .unwrap()
    })
    .await;

    let page = decide(&admin, org, "approve", "").await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    page.assert_contains("Something went wrong on our side.");
    assert_eq!(app.partner_status(org).await, "applied");
    assert!(
        app.outbox().await.is_empty(),
        "no notification for a decision that did not happen"
    );
}

#[tokio::test]
async fn smtp_down_keeps_the_message_pending_then_dead_and_resend_delivers_it() {
    let mut sink = SmtpSink::start();
    sink.stop();
    let app = TestApp::spawn_with(|s| {
        s.smtp = Some(concord::config::SmtpTarget::parse(&sink.url()).unwrap());
        s.outbox_max_attempts = 2;
    })
    .await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    decide(&admin, org, "approve", "").await;

    assert_eq!(app.run_job("outbox").await, "0 sent, 1 failed, 0 dead");
    let message = &app.outbox().await[0];
    assert_eq!((message.status.as_str(), message.attempts), ("pending", 1));
    assert!(
        message
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("onnect"),
        "{:?}",
        message.last_error
    );
    assert!(
        message.next_attempt_at > concord::platform::db::now(),
        "the retry waits for its backoff"
    );
    assert_eq!(
        app.run_job("outbox").await,
        "",
        "not due before the backoff passes"
    );

    // The sink comes back: the message goes out on its next attempt.
    sink.resume();
    app.make_outbox_due().await;
    assert_eq!(app.run_job("outbox").await, "1 sent, 0 failed, 0 dead");
    assert_eq!(sink.messages().len(), 1);

    // Down again: after the attempt limit the message is dead and shown to admins.
    sink.stop();
    decide(&admin, org, "suspend", "Chargebacks").await;
    app.run_job("outbox").await;
    app.make_outbox_due().await;
    assert_eq!(app.run_job("outbox").await, "0 sent, 0 failed, 1 dead");
    let dead = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.status.as_str() == "dead")
        .expect("a dead message");
    assert_eq!(dead.attempts, 2);
    let page = admin.get("/admin/outbox").await;
    page.assert_contains("Your partnership with Partner Program is suspended")
        .assert_contains("owner@contoso.test");

    sink.resume();
    admin
        .submit(
            "/admin/outbox",
            &format!("/admin/outbox/{}/resend", dead.id),
            &[],
        )
        .await
        .assert_redirect("/admin/outbox");
    admin
        .get("/admin/outbox")
        .await
        .assert_contains("will be sent again");
    assert_eq!(app.run_job("outbox").await, "1 sent, 0 failed, 0 dead");
    let received = sink.messages();
    assert_eq!(received.len(), 2);
    let suspended = received
        .iter()
        .find(|m| m.subject.contains("suspended"))
        .expect("the suspension email");
    assert!(suspended.text.contains("Reason: Chargebacks"));
    admin
        .get("/admin/audit?action=outbox.resend")
        .await
        .assert_contains("outbox.resend");
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let app = TestApp::spawn().await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    decide(&admin, org, "approve", "").await;
    app.run_job("outbox").await;
    // The directory also holds the app's data directory (its click journal).
    let files: Vec<_> = std::fs::read_dir(app.mail_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Welcome to Partner Program: Contoso IT is approved")
    );
    assert_eq!(app.outbox().await[0].status.as_str(), "sent");
}

#[tokio::test]
async fn password_reset_answers_alike_works_once_expires_and_replaces_the_password() {
    let sink = SmtpSink::start();
    let app = app_sending_to(&sink).await;
    app.create_user("ann@example.test", Role::Admin, None).await;
    let other_session = app.browser();
    other_session
        .login("ann@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");

    let visitor = app.browser();
    let known = visitor
        .submit(
            "/password-reset",
            "/password-reset",
            &[("email", "ann@example.test")],
        )
        .await;
    let unknown = visitor
        .submit(
            "/password-reset",
            "/password-reset",
            &[("email", "nobody@example.test")],
        )
        .await;
    assert_eq!(known.status, unknown.status);
    let strip = |body: &str, email: &str| {
        body.replace(email, "EMAIL")
            .split("name=\"csrf_token\"")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        strip(&known.body, "ann@example.test"),
        strip(&unknown.body, "nobody@example.test")
    );
    known.assert_contains("If an account exists for ann@example.test");

    app.run_job("outbox").await;
    let received = sink.messages();
    assert_eq!(received.len(), 1, "only the known account gets an email");
    assert_eq!(received[0].subject, "Reset your Partner Program password");
    let link = received[0].link(&app.address);
    let path = &link[app.address.len()..];

    let page = visitor
        .submit(
            path,
            path,
            &[("password", "short"), ("password_confirm", "short")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("at least 10 characters");
    let new_password = "a brand new passphrase";
    visitor
        .submit(
            path,
            path,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await
        .assert_redirect("/login");
    visitor
        .get("/admin")
        .await
        .assert_contains("Your password is changed");

    // The link works once; the old password and the other session stop working.
    assert_eq!(visitor.get(path).await.status, StatusCode::GONE);
    other_session
        .get("/admin")
        .await
        .assert_redirect("/login?next=%2Fadmin");
    assert_eq!(
        app.browser()
            .login("ann@example.test", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.browser()
        .login("ann@example.test", new_password)
        .await
        .assert_redirect("/admin");

    // A link is good for one hour.
    visitor
        .submit(
            "/password-reset",
            "/password-reset",
            &[("email", "ann@example.test")],
        )
        .await;
    let (lifetime, token_count) = app
        .db(|conn| {
            use concord::platform::db::schema::password_resets::dsl::*;
            use diesel::prelude::*;
            let rows: Vec<(chrono::NaiveDateTime, chrono::NaiveDateTime)> = password_resets
                .select((created_at, expires_at))
                .load(conn)
                .unwrap();
            let last = rows.last().unwrap();
            // Let the newest link age past its hour.
            diesel::update(password_resets)
                .set(expires_at.eq(concord::platform::db::now() - chrono::Duration::seconds(1)))
                .execute(conn)
                .unwrap();
            (last.1 - last.0, rows.len())
        })
        .await;
    assert_eq!(lifetime, chrono::Duration::hours(1));
    assert_eq!(token_count, 2);
    app.run_job("outbox").await;
    let links: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.link(&app.address))
        .collect();
    let expired = links
        .iter()
        .find(|l| **l != link)
        .expect("a second reset link");
    let page = visitor.get(&expired[app.address.len()..]).await;
    assert_eq!(page.status, StatusCode::GONE);
    page.assert_contains("expired or was already used");
}

#[tokio::test]
async fn a_partner_admin_invites_a_colleague_who_sets_a_password_through_the_link() {
    let sink = SmtpSink::start();
    let app = app_sending_to(&sink).await;
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    app.create_user("nia@northwind.test", Role::PartnerAdmin, Some(org))
        .await;
    app.create_user("raj@northwind.test", Role::PartnerUser, Some(org))
        .await;
    let nia = app.browser();
    nia.login("nia@northwind.test", PASSWORD).await;

    let page = nia
        .submit(
            "/portal/team",
            "/portal/team/invitations",
            &[("email", "not-an-email"), ("role", "partner_user")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("is not a valid email address")
        .assert_contains("value=\"not-an-email\"");
    let page = nia
        .submit(
            "/portal/team",
            "/portal/team/invitations",
            &[("email", "raj@northwind.test"), ("role", "partner_user")],
        )
        .await;
    page.assert_contains("raj@northwind.test is already on your team.");
    nia.submit(
        "/portal/team",
        "/portal/team/invitations",
        &[("email", "Lee@Northwind.test"), ("role", "partner_user")],
    )
    .await
    .assert_redirect("/portal/team");
    nia.get("/portal/team")
        .await
        .assert_contains("Invitation sent to lee@northwind.test")
        .assert_contains("Open invitations");

    // Reps cannot invite.
    let raj = app.browser();
    raj.login("raj@northwind.test", PASSWORD).await;
    let page = raj
        .submit(
            "/portal/team",
            "/portal/team/invitations",
            &[("email", "x@northwind.test"), ("role", "partner_admin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    app.run_job("outbox").await;
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, "lee@northwind.test");
    assert!(received[0].subject.contains("invited you to Northwind"));
    let link = received[0].link(&app.address);
    let path = &link[app.address.len()..];

    let lee = app.browser();
    lee.get(path).await.assert_contains("Join Northwind");
    lee.submit(
        path,
        path,
        &[
            ("name", "Lee"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await
    .assert_redirect("/portal");
    lee.get("/portal")
        .await
        .assert_contains("Welcome aboard")
        .assert_contains("Northwind");
    assert_eq!(
        app.browser().get(path).await.status,
        StatusCode::GONE,
        "the link works once"
    );
    nia.get("/portal/team")
        .await
        .assert_contains("lee@northwind.test")
        .assert_contains("Lee");
}

#[tokio::test]
async fn the_outbox_job_in_two_processes_at_once_sends_each_message_once() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    const COUNT: usize = 40;
    app.enqueue_emails(COUNT).await;

    let run = || {
        Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(["jobs", "run-once", "outbox"])
            .env_clear()
            .env("DATABASE_URL", app.database.url())
            .env("CONCORD_SMTP_URL", sink.url())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (run(), run());
    let sent_by = |child: std::process::Child| -> usize {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let line = String::from_utf8(output.stdout).unwrap();
        // "outbox: 23 sent, 0 failed, 0 dead" or "outbox: nothing to do"
        line.split("outbox: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(
        sent_by(first) + sent_by(second),
        COUNT,
        "the two processes report every message once between them"
    );

    let received = sink.messages();
    assert_eq!(received.len(), COUNT, "each message exactly once");
    let mut ids: Vec<_> = received.iter().map(|m| m.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), COUNT);
    assert!(app
        .outbox()
        .await
        .iter()
        .all(|m| m.status.as_str() == "sent" && m.attempts == 1));

    let admin = app.admin_browser().await;
    let page = admin.get("/admin/jobs").await;
    page.assert_contains("outbox").assert_contains("sent");
}

#[tokio::test]
async fn serve_runs_the_outbox_job_on_its_own() {
    let app = TestApp::spawn_with(|s| s.run_jobs = true).await;
    let org = applicant(&app).await;
    let admin = app.admin_browser().await;
    decide(&admin, org, "approve", "").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(app.mail_dir.path()).unwrap().count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler never delivered the message"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    admin
        .get("/admin/jobs")
        .await
        .assert_contains("Delivers pending email");
}

#[test]
fn run_once_names_an_unknown_job() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::harness::TestDatabase::create();
    let output = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["jobs", "run-once", "nope"])
        .env_clear()
        .env("DATABASE_URL", database.url())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("there is no job named 'nope'; jobs: outbox"));
}

#[tokio::test]
async fn an_application_is_confirmed_to_the_applicant_and_announced_to_staff() {
    // /join and /apply (the affiliate and reseller issues) call this when they create an application.
    let sink = SmtpSink::start();
    let app = app_sending_to(&sink).await;
    app.create_user("admin@example.test", Role::Admin, None)
        .await;
    app.create_user("manager@example.test", Role::Manager, None)
        .await;
    let org = applicant(&app).await;
    let base_url = app.address.clone();
    app.db(move |conn| {
        let program = concord::programs::current(conn).unwrap();
        let listing = concord::partners::store::find(conn, program.id, org)
            .unwrap()
            .unwrap();
        let owner = concord::accounts::store::users::find_by_email(conn, "owner@contoso.test")
            .unwrap()
            .unwrap();
        concord::partners::notices::application_submitted(conn, &base_url, &listing.org, &owner)
            .unwrap();
    })
    .await;
    assert_eq!(app.run_job("outbox").await, "3 sent, 0 failed, 0 dead");
    let received = sink.messages();
    let to_applicant = received
        .iter()
        .find(|m| m.to == "owner@contoso.test")
        .unwrap();
    assert_eq!(
        to_applicant.subject,
        "We received the application from Contoso IT"
    );
    assert_eq!(
        to_applicant.link(&app.address),
        format!("{}/portal", app.address)
    );
    for staff in ["admin@example.test", "manager@example.test"] {
        let email = received.iter().find(|m| m.to == staff).unwrap();
        assert_eq!(email.subject, "New partner application: Contoso IT");
        assert_eq!(
            email.link(&app.address),
            format!("{}/admin/partners/{org}", app.address)
        );
    }
}
