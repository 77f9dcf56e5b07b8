//! Payouts against the Stripe-compatible fake: connecting an Express account, a batch that pays each eligible org
//! once with the right amount and skips the others with the reason, a Stripe refusal that restores the balance,
//! two batches started at once, the manual rail, and a process killed after Stripe made the transfer but before
//! Concord recorded it (alone, and third in a batch of five), which on restart pays nobody twice.

use crate::fixtures;
use crate::harness::{Browser, Page, TestApp, TestDatabase, PASSWORD};
use crate::stripe_fake::{FakeStripe, SECRET_KEY};
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use concord::ledger::rules::{EntryKind, EntryStatus};
use diesel::prelude::*;
use reqwest::StatusCode;

pub(crate) const WEBHOOK_SECRET: &str = "whsec_concord_tests";

pub(crate) async fn app_with(fake: &FakeStripe) -> TestApp {
    let base = fake.base.clone();
    TestApp::spawn_with(move |s| {
        s.stripe = Some(concord::config::StripeSettings {
            secret_key: SECRET_KEY.into(),
            api_base: base,
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            timeout_secs: 2,
        })
    })
    .await
}

/// Approved ledger entries for the org: (kind, minor units).
pub(crate) fn earn(
    conn: &mut concord::platform::db::DbConn,
    org: i64,
    entries: &[(EntryKind, i64)],
) {
    for (i, (kind, amount)) in entries.iter().enumerate() {
        concord::ledger::store::append(
            conn,
            &concord::ledger::store::NewEntry {
                partner_org_id: org,
                amount_minor: *amount,
                currency: "USD",
                kind: *kind,
                status: EntryStatus::Approved,
                available_at: concord::platform::db::now(),
                source_type: "test",
                source_id: org * 100 + i as i64,
                conversion_id: None,
                rule_id: None,
                explanation: &format!("test {} {amount}", kind.label()),
            },
        )
        .unwrap();
    }
}

pub(crate) fn connect_ready(conn: &mut concord::platform::db::DbConn, org: i64, account: &str) {
    concord::payouts::save_account(conn, org, account).unwrap();
    concord::payouts::update_account_state(
        conn,
        account,
        &concord::payouts::stripe::AccountState {
            payouts_enabled: true,
            details_submitted: true,
            currently_due: vec![],
        },
    )
    .unwrap();
}

/// (kind, amount, status) of the org's ledger entries, oldest first.
pub(crate) async fn ledger(app: &TestApp, org: i64) -> Vec<(String, i64, String)> {
    app.db(move |conn| {
        use concord::platform::db::schema::ledger_entries as l;
        l::table
            .filter(l::partner_org_id.eq(org))
            .order(l::id)
            .select((l::kind, l::amount_minor, l::status))
            .load(conn)
            .unwrap()
    })
    .await
}

pub(crate) async fn start(admin: &Browser, rail: &str) -> Page {
    admin
        .submit("/admin/payouts", "/admin/payouts/run", &[("rail", rail)])
        .await
}

/// Waits until the batch page says the batch finished.
pub(crate) async fn finished(admin: &Browser, location: &str) -> Page {
    for _ in 0..100 {
        let page = admin.get(location).await;
        if page.body.contains("Finished") {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the batch at {location} did not finish");
}

#[tokio::test]
async fn a_partner_admin_connects_an_express_account_and_sees_its_state() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let fixtures::Partner {
        org, admin: boss, ..
    } = fixtures::reseller(&app, "Northwind").await;
    boss.get("/portal/payouts")
        .await
        .assert_contains("Not connected.");
    let token = boss.get("/portal/payouts").await.csrf_token();
    let answer = boss
        .post_raw("/portal/payouts/connect", &[("csrf_token", &token)])
        .await;
    let location = answer.location.clone().expect("sent to Stripe");
    let ids = fake.account_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(location, format!("{}onboarding/{}", fake.base, ids[0]));
    let account = fake.account(&ids[0]).unwrap();
    assert_eq!(account["type"], "express");
    assert_eq!(account["metadata"]["concord_org_id"], org.to_string());

    // Back from Stripe with details missing: the portal says what, in words.
    boss.get("/portal/payouts/return")
        .await
        .assert_redirect("/portal/payouts");
    boss.get("/portal/payouts")
        .await
        .assert_contains("Action needed at Stripe: bank account, date of birth.");
    fake.set_account(&ids[0], true, &[]);
    boss.get("/portal/payouts/return").await;
    boss.get("/portal/payouts")
        .await
        .assert_contains("Ready: payouts go to the bank account");
    // Connecting again keeps the one account.
    let token = boss.get("/portal/payouts").await.csrf_token();
    boss.post_raw("/portal/payouts/connect", &[("csrf_token", &token)])
        .await;
    assert_eq!(fake.account_ids().len(), 1);

    // Reps do not connect the org's payouts.
    app.create_user("rep@northwind.test", Role::PartnerUser, Some(org))
        .await;
    let rep = app.browser();
    rep.login("rep@northwind.test", PASSWORD).await;
    let token = rep.get("/portal/payouts").await.csrf_token();
    let refused = rep
        .post_raw("/portal/payouts/connect", &[("csrf_token", &token)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_batch_pays_each_eligible_org_once_and_skips_the_others_with_the_reason() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let admin = app.admin_browser().await;
    let fixtures::Partner {
        org: ready,
        admin: ready_boss,
        ..
    } = fixtures::reseller(&app, "Northwind").await;
    let small = fixtures::reseller(&app, "Contoso").await.org;
    let pending = fixtures::reseller(&app, "Fabrikam").await.org;
    let manual = fixtures::reseller(&app, "Tailspin").await.org;
    let ready_account = fake.add_ready_account();
    let small_account = fake.add_ready_account();
    let ready_destination = ready_account.clone();
    app.db(move |conn| {
        // 100.00 commission + 30.00 MDF - 10.00 clawback = 120.00.
        earn(
            conn,
            ready,
            &[
                (EntryKind::Commission, 10_000),
                (EntryKind::MdfReimbursement, 3_000),
                (EntryKind::Clawback, -1_000),
            ],
        );
        earn(conn, small, &[(EntryKind::Commission, 2_000)]);
        earn(conn, pending, &[(EntryKind::DealMargin, 9_000)]);
        earn(conn, manual, &[(EntryKind::Commission, 7_500)]);
        connect_ready(conn, ready, &ready_account);
        connect_ready(conn, small, &small_account);
        concord::payouts::save_account(conn, pending, "acct_not_ready").unwrap();
    })
    .await;

    let preview = admin.get("/admin/payouts").await;
    preview
        .assert_contains("Paid by Stripe (1)")
        .assert_contains("120.00 USD")
        .assert_contains("-10.00 USD")
        .assert_contains("Paid by hand: bank transfer or PayPal (1)")
        .assert_contains("Skipped (2)")
        .assert_contains("20.00 USD is below the minimum payout of 50.00 USD.")
        .assert_contains("Payout account not ready.");

    let started = start(&admin, "stripe").await;
    let location = started
        .location
        .clone()
        .unwrap_or_else(|| panic!("{}", started.body));
    let page = finished(&admin, &location).await;
    page.assert_contains("1 paid, 0 failed");
    let transfers = fake.transfers();
    assert_eq!(transfers.len(), 1);
    let payout_id: i64 = app
        .db(|conn| {
            use concord::platform::db::schema::payouts::dsl::*;
            payouts.select(id).first(conn).unwrap()
        })
        .await;
    assert_eq!(
        (
            transfers[0].amount,
            transfers[0].currency.as_str(),
            transfers[0].destination.as_str()
        ),
        (12_000, "usd", ready_destination.as_str())
    );
    assert_eq!(
        transfers[0].transfer_group,
        format!("concord-payout-{payout_id}")
    );
    assert_eq!(
        transfers[0].idempotency_key.as_deref(),
        Some(format!("concord-payout-{payout_id}").as_str())
    );
    assert!(ledger(&app, ready)
        .await
        .iter()
        .all(|(_, _, status)| status == "paid"));
    assert_eq!(ledger(&app, ready).await.last().unwrap().1, -12_000);
    assert!(ledger(&app, small)
        .await
        .iter()
        .all(|(_, _, status)| status == "approved"));

    // The statement: by email, on the portal, and as CSV.
    let mail = app.outbox().await;
    let statement = mail
        .iter()
        .find(|m| m.recipient == "boss@northwind.test" && m.template == "payout_statement")
        .expect("a statement");
    assert!(
        statement.subject.contains("120.00 USD"),
        "{}",
        statement.subject
    );
    assert!(
        statement.body_text.contains("Clawbacks netted: -10.00 USD"),
        "{}",
        statement.body_text
    );
    ready_boss
        .get("/portal/payouts")
        .await
        .assert_contains(&format!("#{payout_id}"));
    ready_boss
        .get(&format!("/portal/payouts/{payout_id}"))
        .await
        .assert_contains("test MDF reimbursement 3000");
    let csv = ready_boss
        .client
        .get(format!(
            "{}/portal/payouts/{payout_id}.csv",
            ready_boss.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("clawback,-10.00,USD,paid"), "{csv}");

    // Nothing is paid twice: the entries are settled.
    let again = start(&admin, "stripe").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    again.assert_contains("Nothing to pay by stripe");
    assert_eq!(fake.transfers().len(), 1);

    // The manual rail: the file, then "paid" with a reference, which writes the same ledger moves.
    let manual_run = start(&admin, "manual").await;
    let run_page = manual_run.location.clone().unwrap();
    let bank = admin
        .client
        .get(format!("{}{run_page}/bank.csv", admin.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        bank.contains("Tailspin,boss@tailspin.test,75.00,USD,Concord payout"),
        "{bank}"
    );
    let paypal = admin
        .client
        .get(format!("{}{run_page}/paypal.csv", admin.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        paypal.starts_with("boss@tailspin.test,75.00,USD,concord-payout-"),
        "{paypal}"
    );
    // An entry a payout in progress holds is not voided by hand: the money is on its way.
    let held: i64 = app
        .db(move |conn| {
            use concord::platform::db::schema::ledger_entries as l;
            l::table
                .filter(l::partner_org_id.eq(manual))
                .filter(l::kind.eq("commission"))
                .select(l::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let held_id = held.to_string();
    admin
        .submit(
            "/admin/commissions",
            "/admin/commissions",
            &[
                ("entry", held_id.as_str()),
                ("action", "void"),
                ("reason", "Duplicate order"),
                ("status", ""),
            ],
        )
        .await;
    admin
        .get("/admin/commissions")
        .await
        .assert_contains("0 entries voided. 1 held by a payout in progress were left as they are.");
    let no_reference = admin
        .submit(
            &run_page,
            &format!("{run_page}/settle"),
            &[("action", "paid"), ("reference", " ")],
        )
        .await;
    assert_eq!(no_reference.status, StatusCode::UNPROCESSABLE_ENTITY);
    no_reference.assert_contains("Give the payment reference");
    admin
        .submit(
            &run_page,
            &format!("{run_page}/settle"),
            &[("action", "paid"), ("reference", "BANK-2026-11-23")],
        )
        .await
        .assert_redirect(&run_page);
    assert!(ledger(&app, manual)
        .await
        .iter()
        .all(|(_, _, status)| status == "paid"));
    admin
        .get("/admin/audit")
        .await
        .assert_contains("payout.manual_paid");
}

#[tokio::test]
async fn a_stripe_refusal_fails_the_payout_and_restores_the_balance() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let admin = app.admin_browser().await;
    let org = fixtures::reseller(&app, "Northwind").await.org;
    let account = fake.add_ready_account();
    app.db(move |conn| {
        earn(conn, org, &[(EntryKind::Commission, 12_000)]);
        connect_ready(conn, org, &account);
    })
    .await;
    fake.fail_next(1, 400, "Insufficient funds in your Stripe balance.");
    let location = start(&admin, "stripe").await.location.unwrap();
    let page = finished(&admin, &location).await;
    page.assert_contains("0 paid, 1 failed")
        .assert_contains("Insufficient funds in your Stripe balance.");
    assert!(fake.transfers().is_empty());
    let entries = ledger(&app, org).await;
    assert_eq!(
        entries,
        vec![
            ("commission".to_string(), 12_000, "approved".to_string()),
            ("payout".to_string(), -12_000, "void".to_string()),
        ]
    );
    // The balance is back, so the next batch pays it (under a new payout and key).
    admin
        .get("/admin/payouts")
        .await
        .assert_contains("Paid by Stripe (1)");
    let location = start(&admin, "stripe").await.location.unwrap();
    finished(&admin, &location)
        .await
        .assert_contains("1 paid, 0 failed");
    assert_eq!(fake.transfers().len(), 1);
}

#[tokio::test]
async fn two_batches_started_at_once_pay_once() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let admin = app.admin_browser().await;
    let second = app.browser();
    second.login("admin@example.test", PASSWORD).await;
    for name in ["Northwind", "Contoso"] {
        let org = fixtures::reseller(&app, name).await.org;
        let account = fake.add_ready_account();
        app.db(move |conn| {
            earn(conn, org, &[(EntryKind::Commission, 9_900)]);
            connect_ready(conn, org, &account);
        })
        .await;
    }
    let (a, b) = (
        admin.get("/admin/payouts").await.csrf_token(),
        second.get("/admin/payouts").await.csrf_token(),
    );
    let fields_a = [("csrf_token", a.as_str()), ("rail", "stripe")];
    let fields_b = [("csrf_token", b.as_str()), ("rail", "stripe")];
    let (first, other) = tokio::join!(
        admin.post_raw("/admin/payouts/run", &fields_a),
        second.post_raw("/admin/payouts/run", &fields_b),
    );
    let mut statuses = [first.status, other.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    let location = first.location.or(other.location).unwrap();
    finished(&admin, &location)
        .await
        .assert_contains("2 paid, 0 failed");
    let mut destinations: Vec<String> = fake
        .transfers()
        .into_iter()
        .map(|t| t.destination)
        .collect();
    destinations.sort();
    destinations.dedup();
    assert_eq!((fake.transfers().len(), destinations.len()), (2, 2));
}

#[tokio::test]
async fn a_process_killed_after_the_transfer_resumes_without_paying_twice() {
    killed_mid_batch(&[8_000], 0).await;
}

/// Five payouts in one batch: two paid, the third transferred by Stripe when the process dies, two not started.
#[tokio::test]
async fn a_batch_killed_with_payouts_in_flight_pays_each_org_once_after_restart() {
    killed_mid_batch(&[8_000, 9_000, 10_000, 11_000, 12_000], 2).await;
}

/// Seeds one org per amount, each with a ready account, starts a Stripe batch on a real `concord serve`, lets
/// `answered` transfers through, kills the process (SIGKILL) while Stripe holds the answer to the next one, and
/// restarts it: the batch resumes with the same idempotency keys, and every org is paid exactly once.
async fn killed_mid_batch(amounts: &[i64], answered: usize) {
    let fake = FakeStripe::start().await;
    let database = TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_string();
    let accounts: Vec<String> = amounts.iter().map(|_| fake.add_ready_account()).collect();
    let seeded = accounts.clone();
    let to_pay = amounts.to_vec();
    let orgs: Vec<i64> = tokio::task::spawn_blocking(move || {
        let pool = concord::platform::db::pool(&concord::config::DatabaseUrl::parse(&url).unwrap())
            .unwrap();
        let conn = &mut pool.get().unwrap();
        concord::platform::db::run_migrations(conn).unwrap();
        let program = concord::programs::current(conn).unwrap();
        concord::accounts::create(
            conn,
            &concord::accounts::NewAccount {
                email: "admin@example.test",
                display_name: "",
                password: PASSWORD,
                role: Role::Admin,
                partner_org_id: None,
            },
        )
        .unwrap();
        let mut orgs = Vec::new();
        for (i, (amount, account)) in to_pay.iter().zip(&seeded).enumerate() {
            let org = concord::partners::store::insert(
                conn,
                &concord::partners::store::NewPartnerOrg {
                    program_id: program.id,
                    name: &format!("Partner {i}"),
                    kind: PartnerKind::Reseller,
                    status: PartnerStatus::Approved,
                    tier_id: None,
                    country: "DE",
                    website_domain: "",
                },
            )
            .unwrap();
            earn(conn, org, &[(EntryKind::Commission, *amount)]);
            connect_ready(conn, org, account);
            orgs.push(org);
        }
        orgs
    })
    .await
    .unwrap();
    let start_server = |port| {
        crate::cli::serve(
            dir.path(),
            database.url(),
            port,
            &[
                ("CONCORD_STRIPE_SECRET_KEY", SECRET_KEY),
                ("CONCORD_STRIPE_API_BASE", &fake.base),
                ("CONCORD_STRIPE_TIMEOUT_SECS", "2"),
            ],
        )
    };
    let url = database.url().to_string();
    // (status, transfer id) of every payout, by org.
    let payout_states = move || {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                use concord::platform::db::schema::payouts::dsl::*;
                let pool = concord::platform::db::pool(
                    &concord::config::DatabaseUrl::parse(&url).unwrap(),
                )
                .unwrap();
                payouts
                    .order(partner_org_id)
                    .select((status, stripe_transfer_id))
                    .load::<(String, Option<String>)>(&mut pool.get().unwrap())
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };

    // Stripe makes the held transfer but its answer never arrives: the process is killed first.
    let server = start_server(0);
    let port = server.port;
    let admin = Browser::new(&format!("http://127.0.0.1:{port}"));
    admin
        .login("admin@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");
    fake.hold_transfer_after(answered);
    let started = start(&admin, "stripe").await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    for _ in 0..300 {
        if fake.transfers().len() > answered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        fake.transfers().len(),
        answered + 1,
        "Stripe made the held transfer"
    );
    drop(server); // SIGKILL, before Concord heard back.

    let before = payout_states().await;
    assert_eq!(before.len(), amounts.len(), "{before:?}");
    let paid_before = before.iter().filter(|(status, _)| status == "paid").count();
    assert_eq!(paid_before, answered, "{before:?}");
    assert!(
        before
            .iter()
            .filter(|(status, _)| status != "paid")
            .all(|(status, transfer)| status == "pending" && transfer.is_none()),
        "{before:?}"
    );

    // Restarted, Concord resumes the batch with the same idempotency keys: the held transfer's key is answered
    // with the first transfer, and the payouts not started yet are paid.
    let _server = start_server(port);
    let mut states = payout_states().await;
    for _ in 0..300 {
        if states.iter().all(|(status, _)| status == "paid") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        states = payout_states().await;
    }
    let transfers = fake.transfers();
    assert_eq!(
        transfers.len(),
        amounts.len(),
        "each org paid once: {transfers:?}"
    );
    for ((amount, account), (status, transfer_id)) in amounts.iter().zip(&accounts).zip(&states) {
        let made: Vec<_> = transfers
            .iter()
            .filter(|t| &t.destination == account)
            .collect();
        assert_eq!(made.len(), 1, "{account}: {transfers:?}");
        assert_eq!(made[0].amount, *amount);
        assert_eq!(
            (status.as_str(), transfer_id.as_deref()),
            ("paid", Some(made[0].id.as_str()))
        );
    }
    assert!(fake.replays() >= 1, "the resumed call repeated the key");
    let url = database.url().to_string();
    let statuses: Vec<String> = tokio::task::spawn_blocking(move || {
        use concord::platform::db::schema::ledger_entries as l;
        let pool = concord::platform::db::pool(&concord::config::DatabaseUrl::parse(&url).unwrap())
            .unwrap();
        l::table
            .filter(l::partner_org_id.eq_any(orgs))
            .select(l::status)
            .load(&mut pool.get().unwrap())
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        statuses.len(),
        amounts.len() * 2,
        "an earning and a payout entry per org"
    );
    assert!(statuses.iter().all(|s| s == "paid"), "{statuses:?}");
}
