//! Analytics (issue 22, first step): the hourly click rollups always equal the raw clicks they count, however the
//! clicks arrive (batches, replays, hour and day boundaries, every filter reason), and a rebuild reproduces them.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use concord::affiliate::rules::ClickFilter;
use concord::affiliate::store::clicks::{insert_batch, NewClick};
use concord::affiliate::store::rollups::{hour_of, rebuild_clicks};
use diesel::prelude::*;
use proptest::prelude::*;

use crate::harness::TestApp;

pub(crate) type Counts = BTreeMap<(NaiveDateTime, i64, String), i64>;

/// Every rollup row, as (hour, link, reason) → clicks.
pub(crate) fn rollups(conn: &mut concord::platform::db::DbConn) -> Counts {
    use concord::platform::db::schema::click_rollups as r;
    r::table
        .select((r::hour, r::link_id, r::filtered_reason, r::clicks))
        .load::<(NaiveDateTime, i64, String, i64)>(conn)
        .unwrap()
        .into_iter()
        .filter(|row| row.3 > 0)
        .map(|(h, l, f, n)| ((h, l, f), n))
        .collect()
}

/// The same figures summed from the raw clicks.
pub(crate) fn from_raw(conn: &mut concord::platform::db::DbConn) -> Counts {
    use concord::platform::db::schema::clicks as c;
    let mut counts = Counts::new();
    for (at, link, reason) in c::table
        .select((c::clicked_at, c::link_id, c::filtered_reason))
        .load::<(NaiveDateTime, i64, Option<String>)>(conn)
        .unwrap()
    {
        *counts
            .entry((hour_of(at), link, reason.unwrap_or_default()))
            .or_default() += 1;
    }
    counts
}

fn click(id: usize, link: (i64, i64), at: NaiveDateTime, reason: Option<ClickFilter>) -> NewClick {
    NewClick {
        click_id: format!("c{id}"),
        link_id: link.0,
        partner_org_id: link.1,
        clicked_at: at,
        ip_hash: "h".into(),
        user_agent: "ua".into(),
        referrer: String::new(),
        sub_id: String::new(),
        prior_click_id: None,
        filtered_reason: reason,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_rollups_equal_the_raw_clicks_and_a_rebuild_reproduces_them() {
    let app = TestApp::spawn().await;
    let (bright, _) = app
        .affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
        .await;
    let (other, _) = app
        .affiliate_with_link("Coupon Hub", "cy@couponhub.example", "hub")
        .await;
    let links: Vec<(i64, i64)> = app
        .db(|conn| {
            use concord::platform::db::schema::links;
            links::table
                .select((links::id, links::partner_org_id))
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(links.iter().any(|l| l.1 == bright) && links.iter().any(|l| l.1 == other));
    // Around a day boundary, so hours and days both turn over.
    let start = NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(21, 0, 0)
        .unwrap();
    let reasons = [
        None,
        Some(ClickFilter::Bot),
        Some(ClickFilter::Head),
        Some(ClickFilter::Duplicate),
        Some(ClickFilter::BlockedIp),
    ];
    let pool = app.pool.clone();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 24,
        failure_persistence: None,
        ..Default::default()
    });
    // Batches of (link, seconds after the start, reason, a replay of an earlier click?).
    let strategy = prop::collection::vec(
        prop::collection::vec(
            (
                0..links.len(),
                0i64..6 * 3600,
                0..reasons.len(),
                any::<bool>(),
            ),
            0..40,
        ),
        1..5,
    );
    tokio::task::block_in_place(|| {
        runner
            .run(&strategy, |batches| {
                let mut conn = pool.get().unwrap();
                diesel::delete(concord::platform::db::schema::clicks::table)
                    .execute(&mut *conn)
                    .unwrap();
                diesel::delete(concord::platform::db::schema::click_rollups::table)
                    .execute(&mut *conn)
                    .unwrap();
                let mut sent: Vec<NewClick> = Vec::new();
                for batch in batches {
                    let clicks: Vec<NewClick> = batch
                        .iter()
                        .map(|&(link, seconds, reason, replay)| match sent.first() {
                            // A journal segment replayed after a crash sends clicks the database has.
                            Some(_) if replay => sent[seconds as usize % sent.len()].clone(),
                            _ => click(
                                sent.len() + 1_000 * seconds as usize + link,
                                links[link],
                                start + Duration::seconds(seconds),
                                reasons[reason],
                            ),
                        })
                        .collect();
                    sent.extend(clicks.iter().cloned());
                    insert_batch(&mut conn, clicks).unwrap();
                    prop_assert_eq!(rollups(&mut conn), from_raw(&mut conn));
                }
                let before = rollups(&mut conn);
                rebuild_clicks(&mut conn, None, None).unwrap();
                prop_assert_eq!(rollups(&mut conn), before.clone());
                // A rebuild of some hours only leaves the others as they were.
                rebuild_clicks(
                    &mut conn,
                    Some(start + Duration::minutes(90)),
                    Some(start + Duration::minutes(200)),
                )
                .unwrap();
                prop_assert_eq!(rollups(&mut conn), before);
                Ok(())
            })
            .unwrap();
    });
}

/// `concord analytics rebuild` recomputes lost rollups from the raw clicks, and refuses a range that ends before it
/// starts.
#[tokio::test]
async fn the_rebuild_command_restores_the_rollups_from_the_raw_clicks() {
    let app = TestApp::spawn().await;
    crate::fixtures::affiliate_program(&app).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for agent in ["Mozilla/5.0 (X11; Linux x86_64)", "Googlebot/2.1", "curl/8"] {
        client
            .get(format!("{}/r/bright", app.address))
            .header("user-agent", agent)
            .send()
            .await
            .unwrap();
    }
    app.settle_clicks().await;
    let before = app
        .db(|conn| {
            let counts = rollups(conn);
            assert_eq!(counts, from_raw(conn));
            diesel::delete(concord::platform::db::schema::click_rollups::table)
                .execute(conn)
                .unwrap();
            counts
        })
        .await;
    assert_eq!(before.values().sum::<i64>(), 3);
    let dir = tempfile::tempdir().unwrap();
    let output = crate::cli::concord(dir.path())
        .args(["analytics", "rebuild"])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("click rollups rebuilt"));
    assert_eq!(app.db(rollups).await, before);

    let refused = crate::cli::concord(dir.path())
        .args([
            "analytics",
            "rebuild",
            "--from",
            "2026-12-02",
            "--to",
            "2026-12-01",
        ])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr)
        .contains("--from 2026-12-02 comes after --to 2026-12-01"));
}
