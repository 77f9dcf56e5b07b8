//! `POST /webhooks/stripe`: signatures (valid, wrong secret, stale, missing), replayed events, account updates,
//! reversed transfers, and Stripe billing as conversions: a checkout binds the customer to the partner of a Concord
//! click, and `invoice.paid` month after month earns under a 3-month recurring rule three times, not four.

use crate::harness::TestApp;
use crate::payouts::{app_with, connect_ready, earn, finished, ledger, start, WEBHOOK_SECRET};
use crate::stripe_fake::FakeStripe;
use concord::commissions::rules::{RateType, Recurrence, Rule};
use concord::domain::conversion::ConversionKind;
use concord::ledger::rules::EntryKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn deliver(app: &TestApp, event: &Value, secret: &str, age_secs: i64) -> (StatusCode, Value) {
    let body = event.to_string();
    let signature = concord::webhooks::rules::sign(
        secret,
        chrono::Utc::now().timestamp() - age_secs,
        body.as_bytes(),
    );
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", app.address))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created, "data": {"object": object}})
}

#[tokio::test]
async fn only_signed_fresh_events_count_and_each_counts_once() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    let crate::fixtures::Partner {
        org, admin: boss, ..
    } = crate::fixtures::reseller(&app, "Northwind").await;
    app.db(move |conn| concord::payouts::save_account(conn, org, "acct_hook").unwrap())
        .await;
    let updated = event(
        "evt_acct_1",
        "account.updated",
        1_767_225_600,
        json!({"id": "acct_hook", "object": "account", "payouts_enabled": true, "details_submitted": true, "requirements": {"currently_due": []}}),
    );
    let ready = || async {
        app.db(move |conn| {
            concord::payouts::account_of(conn, org)
                .unwrap()
                .unwrap()
                .payouts_enabled
        })
        .await
    };

    let (status, body) = deliver(&app, &updated, "whsec_somebody_else", 0).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_signature"))
    );
    let (status, body) = deliver(&app, &updated, WEBHOOK_SECRET, 600).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tolerance"));
    let unsigned = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", app.address))
        .body(updated.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    assert!(!ready().await, "a refused event changes nothing");

    let (status, body) = deliver(&app, &updated, WEBHOOK_SECRET, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ready().await);
    boss.get("/portal/payouts")
        .await
        .assert_contains("Ready: payouts go to the bank account");
    let (status, body) = deliver(&app, &updated, WEBHOOK_SECRET, 0).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    // A reversed transfer marks its payout reversed and gives the balance back, once.
    let account = fake.add_ready_account();
    let admin = app.admin_browser().await;
    app.db(move |conn| {
        use diesel::prelude::*;
        diesel::delete(concord::platform::db::schema::payout_accounts::table)
            .execute(conn)
            .unwrap();
        earn(conn, org, &[(EntryKind::Commission, 6_000)]);
        connect_ready(conn, org, &account);
    })
    .await;
    let location = start(&admin, "stripe").await.location.unwrap();
    finished(&admin, &location).await.assert_contains("1 paid");
    let transfer = fake.transfers()[0].id.clone();
    let reversed = event(
        "evt_rev_1",
        "transfer.reversed",
        1_767_225_700,
        json!({"id": transfer, "object": "transfer"}),
    );
    let (status, body) = deliver(&app, &reversed, WEBHOOK_SECRET, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = event(
        "evt_rev_2",
        "transfer.reversed",
        1_767_225_800,
        json!({"id": transfer, "object": "transfer"}),
    );
    deliver(&app, &again, WEBHOOK_SECRET, 0).await;
    let entries = ledger(&app, org).await;
    assert_eq!(
        entries,
        vec![
            ("commission".to_string(), 6_000, "paid".to_string()),
            ("payout".to_string(), -6_000, "paid".to_string()),
            ("adjustment".to_string(), 6_000, "approved".to_string()),
        ]
    );
    boss.get("/portal/payouts")
        .await
        .assert_contains("Reversed");
}

#[tokio::test]
async fn stripe_invoices_earn_recurring_commissions_for_three_months_not_four() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake).await;
    app.affiliate_program(true, |_| {}).await;
    let (org, code) = app
        .affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    app.db(|conn| {
        let rule = Rule {
            id: 0,
            name: "SaaS recurring".into(),
            applies_to: ConversionKind::Sale,
            rate_type: RateType::Percent,
            rate: 2_000,
            product_filter: String::new(),
            tier_id: None,
            volume_threshold: None,
            volume_rate: None,
            recurrence: Recurrence::Recurring,
            recurring_months: Some(3),
        };
        concord::commissions::create(
            conn,
            1,
            &rule,
            &concord::platform::audit::Actor::system("test"),
        )
        .unwrap();
    })
    .await;
    // A visitor follows the partner's link; Stripe Checkout carries the click id as client_reference_id.
    let hop = app.browser().get(&format!("/r/{code}")).await;
    let location = hop.location.expect("redirected");
    let click = location
        .split("concord_click=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let checkout = event(
        "evt_co_1",
        "checkout.session.completed",
        1_767_225_600,
        json!({"id": "cs_1", "object": "checkout.session", "customer": "cus_9", "client_reference_id": click}),
    );
    let (status, body) = deliver(&app, &checkout, WEBHOOK_SECRET, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("bound to partner #{org}")),
        "{body}"
    );

    // Four monthly invoices, 49.00 USD each (occurred in January to April 2026).
    for (n, created) in [
        (1, 1_768_435_200i64),
        (2, 1_771_113_600),
        (3, 1_773_532_800),
        (4, 1_776_211_200),
    ] {
        let paid = event(
            &format!("evt_in_{n}"),
            "invoice.paid",
            created,
            json!({"id": format!("in_{n}"), "object": "invoice", "customer": "cus_9", "amount_paid": 4_900, "currency": "usd"}),
        );
        let (status, body) = deliver(&app, &paid, WEBHOOK_SECRET, 0).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The same invoice again, under a new event id: no second conversion.
    let repeat = event(
        "evt_in_1b",
        "invoice.paid",
        1_768_435_200,
        json!({"id": "in_1", "object": "invoice", "customer": "cus_9", "amount_paid": 4_900, "currency": "usd"}),
    );
    let (_, body) = deliver(&app, &repeat, WEBHOOK_SECRET, 0).await;
    assert!(
        body["outcome"]
            .as_str()
            .unwrap()
            .contains("recorded before"),
        "{body}"
    );
    let commissions: Vec<(String, i64, String)> = crate::payouts::ledger(&app, org).await;
    assert_eq!(
        commissions
            .iter()
            .map(|(kind, amount, _)| (kind.as_str(), *amount))
            .collect::<Vec<_>>(),
        vec![
            ("commission", 980),
            ("commission", 980),
            ("commission", 980)
        ],
        "20% of 49.00 for months 1 to 3; month 4 earns nothing"
    );

    // A refund of the third invoice voids its commission, once.
    let refund = event(
        "evt_re_1",
        "charge.refunded",
        1_773_600_000,
        json!({"id": "ch_3", "object": "charge", "invoice": "in_3", "refunds": {"data": [{"id": "re_3", "amount": 4_900}]}}),
    );
    deliver(&app, &refund, WEBHOOK_SECRET, 0).await;
    let refund_again = event(
        "evt_re_2",
        "charge.refunded",
        1_773_600_100,
        json!({"id": "ch_3", "object": "charge", "invoice": "in_3", "refunds": {"data": [{"id": "re_3", "amount": 4_900}]}}),
    );
    deliver(&app, &refund_again, WEBHOOK_SECRET, 0).await;
    let statuses: Vec<String> = crate::payouts::ledger(&app, org)
        .await
        .into_iter()
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(statuses, vec!["pending", "pending", "void"]);
}
