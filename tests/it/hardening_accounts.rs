//! Issue 21, security hardening of accounts, over real HTTP on both databases: sign-in throttling by (email, IP)
//! and by IP, client addresses, password resets and invitations (single use, limited, never logged, answering alike
//! for known and unknown addresses), what each staff role may do, and the IP salt kept outside the database.

use reqwest::StatusCode;

use crate::hardening::no_redirects;
use crate::harness::TestApp;

/// The addresses recorded for sign-in attempts, oldest first.
async fn login_ips(app: &TestApp) -> Vec<String> {
    app.db(|conn| {
        use concord::platform::db::schema::login_attempts as l;
        use diesel::prelude::*;
        l::table.order(l::id).select(l::ip).load(conn).unwrap()
    })
    .await
}

/// Signs in from `forwarded_for` (believed behind a proxy); the status and the page.
async fn sign_in_from(
    app: &TestApp,
    forwarded_for: &str,
    email: &str,
    password: &str,
) -> (StatusCode, String) {
    let browser = app.browser();
    let token = browser.get("/login").await.csrf_token();
    let answer = browser
        .client
        .post(format!("{}/login", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (answer.status(), answer.text().await.unwrap())
}

async fn wrong_password_from(app: &TestApp, forwarded_for: &str) {
    let (status, _) =
        sign_in_from(app, forwarded_for, "admin@example.test", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Issue 21 (L1): throttling is keyed on (email, IP) plus a limit per IP across emails: an attacker is stopped
/// without locking the owner out, and concurrent guesses are counted exactly.
#[tokio::test]
async fn an_attacker_is_throttled_while_the_owner_signs_in_from_elsewhere() {
    use concord::accounts::login_throttle::{MAX_FAILURES, MAX_FAILURES_PER_IP};
    use concord::accounts::role::Role;
    let app = TestApp::spawn_with(|s| s.behind_proxy = true).await;
    app.create_user("admin@example.test", Role::Admin, None)
        .await;
    let attacker = "203.0.113.9";
    for _ in 0..MAX_FAILURES {
        wrong_password_from(&app, attacker).await;
    }
    let (status, page) = sign_in_from(&app, attacker, "admin@example.test", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed sign-in attempts for this email from your network"));
    let (status, _) = sign_in_from(
        &app,
        attacker,
        "admin@example.test",
        crate::harness::PASSWORD,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address stays shut"
    );
    let (status, _) = sign_in_from(
        &app,
        "198.51.100.7",
        "admin@example.test",
        crate::harness::PASSWORD,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the owner signs in from elsewhere"
    );

    // 24 simultaneous wrong guesses for another account from one address: exactly MAX_FAILURES are checked.
    app.create_user("ops@example.test", Role::Admin, None).await;
    let guesses = (0..24).map(|_| sign_in_from(&app, "192.0.2.44", "ops@example.test", "guess"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, MAX_FAILURES);
    assert!(answers.iter().all(|(status, _)| [
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS
    ]
    .contains(status)));
    let recorded: i64 = app
        .db(|conn| {
            use concord::platform::db::schema::login_attempts as l;
            use diesel::prelude::*;
            l::table
                .filter(l::email.eq("ops@example.test"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(recorded, MAX_FAILURES as i64);

    // One address trying many emails is stopped for every email, others are not.
    let sprayer = "198.51.100.99";
    for i in 0..MAX_FAILURES_PER_IP {
        let (status, _) =
            sign_in_from(&app, sprayer, &format!("user{i}@example.test"), "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "email {i}");
    }
    let (status, page) = sign_in_from(&app, sprayer, "fresh@example.test", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed sign-in attempts from your network"));
    let (status, _) = sign_in_from(&app, "198.51.100.100", "fresh@example.test", "guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_behind_a_proxy() {
    let direct = TestApp::spawn().await;
    direct
        .create_user(
            "admin@example.test",
            concord::accounts::role::Role::Admin,
            None,
        )
        .await;
    wrong_password_from(&direct, "203.0.113.9").await;
    assert_eq!(login_ips(&direct).await, ["127.0.0.1"]);

    let proxied = TestApp::spawn_with(|s| s.behind_proxy = true).await;
    proxied
        .create_user(
            "admin@example.test",
            concord::accounts::role::Role::Admin,
            None,
        )
        .await;
    wrong_password_from(&proxied, "203.0.113.9").await;
    assert_eq!(login_ips(&proxied).await, ["203.0.113.9"]);
}

async fn ask_for_reset(browser: &crate::harness::Browser, email: &str) -> crate::harness::Page {
    browser
        .submit("/password-reset", "/password-reset", &[("email", email)])
        .await
}

/// Issue 21 (M4): using one reset link ends every other link the user was sent (and every session), and once the
/// emails are sent the outbox keeps no usable link.
#[tokio::test]
async fn a_reset_ends_every_other_reset_link_and_sent_mail_keeps_no_usable_link() {
    let sink = crate::smtp_sink::SmtpSink::start();
    let target = concord::config::SmtpTarget::parse(&sink.url()).unwrap();
    let app = TestApp::spawn_with(|s| s.smtp = Some(target)).await;
    app.create_user(
        "ann@example.test",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let visitor = app.browser();
    ask_for_reset(&visitor, "ann@example.test").await;
    ask_for_reset(&visitor, "ann@example.test").await;
    assert_eq!(app.run_job("outbox").await, "2 sent, 0 failed, 0 dead");
    let links: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.link(&app.address))
        .collect();
    assert_eq!(links.len(), 2);
    assert_ne!(links[0], links[1]);
    for message in app.outbox().await {
        for link in &links {
            let token = link.rsplit('/').next().unwrap();
            assert!(
                !message.body_text.contains(token) && !message.body_html.contains(token),
                "a sent email keeps its link"
            );
        }
        assert!(message.body_text.contains("/password-reset/[redacted]"));
    }

    let (first, second) = (
        &links[0][app.address.len()..],
        &links[1][app.address.len()..],
    );
    let new_password = "a brand new passphrase";
    visitor
        .submit(
            first,
            first,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await
        .assert_redirect("/login");
    let second_page = app.browser().get(second).await;
    assert_eq!(second_page.status, StatusCode::GONE);
    second_page.assert_contains("expired or was already used");
}

/// Issue 21 (M4): reset requests are limited per address (quietly: the answer is the same, nothing more is sent)
/// and per IP (429), alike for known and unknown addresses.
#[tokio::test]
async fn reset_requests_are_limited_per_address_and_per_ip_answering_alike() {
    use concord::accounts::{RESETS_PER_ADDRESS_PER_HOUR, RESETS_PER_IP_PER_HOUR};
    let app = TestApp::spawn().await;
    app.create_user(
        "ann@example.test",
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let visitor = app.browser();
    let strip = |body: &str, email: &str| {
        body.replace(email, "EMAIL")
            .split("name=\"csrf_token\"")
            .next()
            .unwrap()
            .to_string()
    };
    let mut asked = 0;
    for _ in 0..RESETS_PER_ADDRESS_PER_HOUR + 1 {
        let known = ask_for_reset(&visitor, "ann@example.test").await;
        let unknown = ask_for_reset(&visitor, "nobody@example.test").await;
        asked += 2;
        assert_eq!(known.status, StatusCode::OK);
        assert_eq!(unknown.status, StatusCode::OK);
        assert_eq!(
            strip(&known.body, "ann@example.test"),
            strip(&unknown.body, "nobody@example.test")
        );
    }
    let queued = app
        .outbox()
        .await
        .iter()
        .filter(|m| m.recipient == "ann@example.test")
        .count();
    assert_eq!(queued as i64, RESETS_PER_ADDRESS_PER_HOUR);

    // The network's hourly allowance runs out for every address alike.
    for _ in asked..RESETS_PER_IP_PER_HOUR {
        assert_eq!(
            ask_for_reset(&visitor, "someone@example.test").await.status,
            StatusCode::OK
        );
    }
    for email in ["ann@example.test", "nobody@example.test"] {
        let refused = ask_for_reset(&visitor, email).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        refused.assert_contains("Too many reset requests from your network");
    }
}

/// Issue 21 (M4): the request log names reset, invitation and setup links without their tokens.
#[tokio::test]
async fn tokens_never_reach_the_request_log() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::harness::TestDatabase::create();
    let mut server = crate::cli::serve(dir.path(), database.url(), 0, &[("RUST_LOG", "info")]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let token = concord::platform::auth::token::new_token();
    let client = no_redirects();
    for path in [
        format!("/password-reset/{token}"),
        format!("/invitations/{token}"),
        format!("/setup?token={token}"),
    ] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    server.wait_for("/setup?token=[redacted]");
    let log = server.output_so_far();
    assert!(log.contains("/password-reset/[redacted]"), "{log}");
    assert!(log.contains("/invitations/[redacted]"), "{log}");
    assert!(!log.contains(&token), "a token reached the log:\n{log}");
}

/// Issue 21 (L5): the invitation form does not tell which addresses have accounts elsewhere (staff included), and
/// invitations are limited per address and per org each day.
#[tokio::test]
async fn invitations_reveal_no_accounts_and_are_limited() {
    use concord::accounts::role::Role;
    use concord::domain::partner::{PartnerKind, PartnerStatus};
    use concord::partners::team::{INVITATIONS_PER_ADDRESS_PER_DAY, INVITATIONS_PER_ORG_PER_DAY};
    let app = TestApp::spawn().await;
    app.create_user("admin@example.test", Role::Admin, None)
        .await;
    let northwind = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let contoso = app
        .create_partner("Contoso", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    app.create_user("nia@northwind.test", Role::PartnerAdmin, Some(northwind))
        .await;
    app.create_user("raj@northwind.test", Role::PartnerUser, Some(northwind))
        .await;
    app.create_user("cy@contoso.test", Role::PartnerAdmin, Some(contoso))
        .await;
    let nia = app.browser();
    nia.login("nia@northwind.test", crate::harness::PASSWORD)
        .await;
    let invite = |email: String| {
        let nia = &nia;
        async move {
            nia.submit(
                "/portal/team",
                "/portal/team/invitations",
                &[("email", email.as_str()), ("role", "partner_user")],
            )
            .await
        }
    };

    // Staff, another org's user and a new address are all answered alike.
    for email in [
        "admin@example.test",
        "cy@contoso.test",
        "lee@northwind.test",
    ] {
        invite(email.to_string())
            .await
            .assert_redirect("/portal/team");
        nia.get("/portal/team")
            .await
            .assert_contains(&format!("Invitation sent to {email}."));
    }
    // A colleague already on the team is named as such (the admin sees the team anyway).
    let page = invite("raj@northwind.test".into()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("raj@northwind.test is already on your team.");
    // Following the link sent to a staff address says to sign in instead; no account is made.
    let link = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == "admin@example.test")
        .expect("the invitation went out like any other");
    let start = link.body_text.find("/invitations/").unwrap();
    let path: String = link.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let page = app
        .browser()
        .submit(
            &path,
            &path,
            &[
                ("name", "Mallory"),
                ("password", crate::harness::PASSWORD),
                ("password_confirm", crate::harness::PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::GONE);
    page.assert_contains("An account with this email exists already. Sign in instead.");

    // One address a few times a day; one org a bounded number a day.
    for _ in 1..INVITATIONS_PER_ADDRESS_PER_DAY {
        invite("lee@northwind.test".into())
            .await
            .assert_redirect("/portal/team");
    }
    let page = invite("lee@northwind.test".into()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("One address can be invited 3 times a day; try again in");
    // Counted against the org so far: the three answered alike, the colleague's, and Lee's further ones.
    let sent_so_far = 3 + 1 + (INVITATIONS_PER_ADDRESS_PER_DAY - 1);
    let fresh: Vec<String> = (sent_so_far..INVITATIONS_PER_ORG_PER_DAY + 1)
        .map(|i| format!("new{i}@northwind.test"))
        .collect();
    let (last, allowed) = fresh.split_last().unwrap();
    for email in allowed {
        invite(email.clone()).await.assert_redirect("/portal/team");
    }
    let page = invite(last.clone()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Your team can send 20 invitations a day; try again in")
        .assert_contains(&format!("value=\"{last}\""));
}

/// Issue 21 (roles): partner managers decide about partners and what they submit; configuration and money
/// movement (the commission queue included) are for administrators, as the README's table says.
#[tokio::test]
async fn managers_decide_about_partners_while_configuration_and_money_are_for_admins() {
    use concord::accounts::role::Role;
    let app = TestApp::spawn().await;
    app.create_user("manager@example.test", Role::Manager, None)
        .await;
    let manager = app.browser();
    manager
        .login("manager@example.test", crate::harness::PASSWORD)
        .await
        .assert_redirect("/admin");
    let token = manager.get("/admin").await.csrf_token();
    for path in [
        "/admin/settings",
        "/admin/agreement",
        "/admin/rules",
        "/admin/rules/1/up",
        "/admin/tiers",
        "/admin/tiers/1",
        "/admin/tiers/1/delete",
        "/admin/deals/settings",
        "/admin/deals/settings/stages",
        "/admin/deals/settings/products",
        "/admin/deals/settings/fields",
        "/admin/deals/settings/fields/1/remove",
        "/admin/mdf/budgets",
        "/admin/mdf/settings",
        "/admin/mdf/budgets/1/allocations",
        "/admin/mdf/budgets/1/allocations/1/remove",
        "/admin/training",
        "/admin/training/1/modules",
        "/admin/training/1/questions",
        "/admin/webhooks",
        "/admin/webhooks/1/active",
        "/admin/webhooks/deliveries/1/replay",
        "/admin/payouts/run",
        "/admin/payouts/settings",
        "/admin/payouts/runs/1/resume",
        "/admin/payouts/runs/1/settle",
        "/admin/commissions",
    ] {
        // Every field a form there might require, so the answer is about who asks, not what is missing.
        let page = manager
            .post_raw(
                path,
                &[
                    ("csrf_token", token.as_str()),
                    ("active", "off"),
                    ("name", "x"),
                    ("rank", "1"),
                    ("rail", "manual"),
                    ("action", "cancel"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // The commission queue is shown to managers without its controls.
    let queue = manager.get("/admin/commissions").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(!queue.body.contains("Void selected"));

    // A manager approves an application and moves the partner to a tier with a hold.
    let org = app
        .create_partner(
            "Northwind",
            concord::domain::partner::PartnerKind::Reseller,
            concord::domain::partner::PartnerStatus::Applied,
        )
        .await;
    let path = format!("/admin/partners/{org}");
    manager
        .submit(
            &path,
            &format!("{path}/decision"),
            &[("decision", "approve"), ("reason", "")],
        )
        .await
        .assert_redirect(&path);
    let gold = crate::fixtures::tier(&app, "Gold", 2).await;
    manager
        .submit(
            &path,
            &format!("{path}/tier"),
            &[
                ("tier_id", &gold.to_string()),
                ("hold_until", &crate::fixtures::in_days(30)),
                ("reason", "Strategic account"),
            ],
        )
        .await
        .assert_redirect(&path);
}

/// Issue 21: with `CONCORD_IP_SALT` the salt of visitors' IP hashes lives outside the database (none is stored),
/// and clicks are hashed with it.
#[tokio::test]
async fn the_ip_salt_can_live_outside_the_database() {
    use sha2::{Digest, Sha256};
    let salt = "an-ip-salt-kept-in-the-environment-0123456789";
    let app = TestApp::spawn_with(|s| s.ip_salt = Some(salt.into())).await;
    crate::fixtures::affiliate_program(&app).await;
    let stored = app
        .db(|conn| concord::platform::db::settings::get(conn, "ip_salt").unwrap())
        .await;
    assert_eq!(stored, None, "no salt in the database");
    let answer = no_redirects()
        .get(format!("{}/r/bright", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    app.settle_clicks().await;
    let hashes: Vec<String> = app
        .db(|conn| {
            use concord::platform::db::schema::clicks;
            use diesel::prelude::*;
            clicks::table.select(clicks::ip_hash).load(conn).unwrap()
        })
        .await;
    let expected = hex::encode(
        &Sha256::new()
            .chain_update(salt)
            .chain_update(b"|")
            .chain_update("127.0.0.1")
            .finalize()[..16],
    );
    assert_eq!(hashes, [expected]);
}
