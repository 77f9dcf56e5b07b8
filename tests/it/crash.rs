//! Issue 11, crash tests against the real `concord` binary: `kill -9` in the middle of the work, a restart on the same
//! database, and nothing that was acknowledged is lost or stored twice.
//! - clicks and conversions under load from several tasks: every 302 and every 201 received is stored exactly once;
//! - the outbox: a sender killed mid-batch loses no email (delivery is at least once, with the same Message-ID);
//! - payouts: `payouts::a_payout_killed_after_stripe_made_the_transfer_is_resumed_with_the_same_key` kills the server
//!   between Stripe's transfer and its answer and checks that the fake made one transfer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::cli::{concord, serve};
use crate::harness::TestApp;

#[derive(Default)]
struct Acknowledged {
    clicks: Vec<String>,
    conversions: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_and_conversions_acknowledged_before_a_kill_9_are_stored_exactly_once() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (_, code) = app
        .affiliate_with_link("Crash Media", "crash@media.test", "crash")
        .await;
    let key = app.api_key().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), app.database.url(), 0, &[]);
    let port = server.port;
    let base = format!("http://127.0.0.1:{port}");

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..6 {
        let (base, code, key) = (base.clone(), code.clone(), key.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                if task % 2 == 0 {
                    let Ok(response) = client.get(format!("{base}/r/{code}")).send().await else {
                        continue;
                    };
                    if response.status() == StatusCode::FOUND {
                        let location = response.headers()["location"].to_str().unwrap();
                        let click = url::Url::parse(location)
                            .unwrap()
                            .query_pairs()
                            .find(|(k, _)| k == "concord_click")
                            .unwrap()
                            .1
                            .into_owned();
                        acknowledged.lock().unwrap().clicks.push(click);
                    }
                } else {
                    let external_id = format!("order-{task}-{n}");
                    let Ok(response) = client
                        .post(format!("{base}/api/v1/conversions"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({
                            "external_id": external_id, "kind": "sale", "amount": 1000, "currency": "USD"
                        }))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    if response.status() == StatusCode::CREATED {
                        acknowledged.lock().unwrap().conversions.push(external_id);
                    }
                }
            }
        }));
    }

    // Kill the server in the middle of the load, once it has acknowledged a fair amount of both.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (clicks, conversions) = {
            let a = acknowledged.lock().unwrap();
            (a.clicks.len(), a.conversions.len())
        };
        if clicks >= 200 && conversions >= 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the load did not get going: {clicks} clicks, {conversions} conversions"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server); // SIGKILL, with requests in flight
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }

    // Restart on the same database, then count.
    let _server = serve(dir.path(), app.database.url(), port, &[]);
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    println!(
        "acknowledged before the kill: {} clicks, {} conversions",
        acknowledged.clicks.len(),
        acknowledged.conversions.len()
    );
    let (clicks, conversions) = app
        .db(|conn| {
            use concord::platform::db::schema::{clicks, conversions};
            use diesel::prelude::*;
            (
                clicks::table
                    .select(clicks::click_id)
                    .load::<String>(conn)
                    .unwrap(),
                conversions::table
                    .select(conversions::external_id)
                    .load::<String>(conn)
                    .unwrap(),
            )
        })
        .await;
    let stored_clicks: HashSet<&String> = clicks.iter().collect();
    assert_eq!(stored_clicks.len(), clicks.len(), "a click stored twice");
    for click in &acknowledged.clicks {
        assert!(
            stored_clicks.contains(click),
            "click {click} got its 302 but is not stored"
        );
    }
    let stored_conversions: HashSet<&String> = conversions.iter().collect();
    assert_eq!(
        stored_conversions.len(),
        conversions.len(),
        "a conversion stored twice"
    );
    for conversion in &acknowledged.conversions {
        assert!(
            stored_conversions.contains(conversion),
            "conversion {conversion} got its 201 but is not stored"
        );
    }
    // Stored but never acknowledged is allowed (the answer was in flight); nothing else is there.
    assert!(clicks.len() - acknowledged.clicks.len() < 600);
    // The hourly rollups were written with the clicks, in the same transactions: they still count exactly them.
    let (rolled_up, raw) = app
        .db(|conn| {
            (
                crate::analytics::rollups(conn),
                crate::analytics::from_raw(conn),
            )
        })
        .await;
    assert_eq!(rolled_up, raw);
    assert_eq!(rolled_up.values().sum::<i64>(), clicks.len() as i64);
}

#[tokio::test]
async fn an_outbox_sender_killed_mid_batch_loses_no_email() {
    let mut sink = crate::smtp_sink::SmtpSink::start();
    let app = TestApp::spawn().await;
    const COUNT: usize = 120;
    app.enqueue_emails(COUNT).await;
    let dir = tempfile::tempdir().unwrap();
    let sender = || {
        let mut command = concord(dir.path());
        command
            .args(["jobs", "run-once", "outbox"])
            .env("DATABASE_URL", app.database.url())
            .env("CONCORD_SMTP_URL", sink.url());
        command.spawn().unwrap()
    };

    // Kill the sender once part of the batch has gone out.
    let mut first = sender();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().len() < 10 {
        assert!(Instant::now() < deadline, "the sender sent nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let after_kill = sink.messages().len();
    assert!(
        after_kill < COUNT,
        "the sender finished before the kill; nothing was tested"
    );

    // Its leases lapse (as two minutes would make them), and the next runs deliver the rest.
    app.db(|conn| {
        use concord::platform::db::schema::outbox;
        use diesel::prelude::*;
        diesel::update(outbox::table.filter(outbox::status.eq("pending")))
            .set(outbox::claimed_until.eq(concord::platform::db::now()))
            .execute(conn)
            .unwrap()
    })
    .await;
    for _ in 0..10 {
        if app
            .outbox()
            .await
            .iter()
            .all(|m| m.status.as_str() == "sent")
        {
            break;
        }
        assert!(sender().wait().unwrap().success());
    }
    let outbox = app.outbox().await;
    assert!(
        outbox.iter().all(|m| m.status.as_str() == "sent"),
        "every message ends sent"
    );
    let received = sink.messages();
    let bare = |id: &str| id.trim_matches(['<', '>']).to_string();
    let ids: HashSet<String> = received.iter().map(|m| bare(&m.message_id)).collect();
    for message in &outbox {
        assert!(
            ids.contains(&bare(&message.message_id)),
            "{} never arrived",
            message.message_id
        );
    }
    // At least once: only a message in flight at the kill may arrive twice.
    assert!(
        received.len() <= COUNT + 1,
        "{} received for {COUNT} messages",
        received.len()
    );
    println!(
        "killed after {after_kill} of {COUNT}; {} received in all",
        received.len()
    );
    sink.stop();
}
