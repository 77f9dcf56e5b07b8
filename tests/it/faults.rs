//! Issue 11, faults: the database goes away under a running server. Pages answer with the 503 page, `/healthz`
//! says 503, and the tracked redirect still sends visitors to the destination: links it has seen are cached and its
//! clicks are spooled to disk, then stored, once each, when the database is back. Also the click journal's own
//! faults: segments a dead process left, and a database that stores clicks slower than they come.
//!
//! The fault is real on each backend: on SQLite another process-like connection holds the write lock (what a backup
//! or a `sqlite3` shell does), so every change fails after the busy timeout; on PostgreSQL the test's database stops
//! accepting connections and its sessions are terminated, as when the server is stopped.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::StatusCode;

use crate::harness::{TestApp, TestDatabase, PASSWORD};

/// A transaction another connection holds open on a thread of its own, from `start` until `end` (or drop), and
/// then rolls back.
struct HeldTransaction {
    release: Option<mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl HeldTransaction {
    /// Runs `begin` on a new connection to `database` and returns once it has.
    fn start(database: &TestDatabase, begin: &'static str) -> Self {
        let (url, postgres) = (database.url().to_string(), database.is_postgres());
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let mut conn: Box<dyn SimpleConnection> = if postgres {
                Box::new(diesel::PgConnection::establish(&url).unwrap())
            } else {
                let path = url.trim_start_matches("sqlite://");
                Box::new(diesel::SqliteConnection::establish(path).unwrap())
            };
            conn.batch_execute(begin).unwrap();
            locked_tx.send(()).unwrap();
            let _ = released.recv();
            conn.batch_execute("ROLLBACK").unwrap();
        });
        locked_rx.recv().unwrap();
        HeldTransaction {
            release: Some(release),
            holder: Some(holder),
        }
    }

    fn end(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        if let Some(holder) = self.holder.take() {
            holder.join().unwrap();
        }
    }
}

impl Drop for HeldTransaction {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A database fault for as long as it lives.
pub struct Outage {
    sqlite_lock: Option<HeldTransaction>,
    postgres: Option<(String, String)>,
}

impl Outage {
    pub fn start(database: &TestDatabase) -> Self {
        match database {
            TestDatabase::Postgres {
                server_url, name, ..
            } => {
                let mut admin = diesel::PgConnection::establish(server_url).unwrap();
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
                    ))
                    .unwrap();
                Outage {
                    sqlite_lock: None,
                    postgres: Some((server_url.clone(), name.clone())),
                }
            }
            TestDatabase::Sqlite { .. } => Outage {
                sqlite_lock: Some(HeldTransaction::start(
                    database,
                    "PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;",
                )),
                postgres: None,
            },
        }
    }

    pub fn end(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(lock) = self.sqlite_lock.take() {
            lock.end();
        }
        if let Some((server_url, name)) = self.postgres.take() {
            let mut admin = diesel::PgConnection::establish(&server_url).unwrap();
            admin
                .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                .unwrap();
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.finish();
    }
}

async fn stored_clicks(app: &TestApp, code: &str) -> i64 {
    app.settle_clicks().await;
    let code = code.to_string();
    app.db(move |conn| {
        use concord::platform::db::schema::{clicks, links};
        use diesel::prelude::*;
        clicks::table
            .inner_join(links::table.on(links::id.eq(clicks::link_id)))
            .filter(links::code.eq(code))
            .count()
            .get_result::<i64>(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn a_database_outage_gives_503_pages_and_keeps_redirecting_then_stores_every_click_once() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (_, code) = app
        .affiliate_with_link("Outage Media", "outage@media.test", "outage")
        .await;
    let admin = app.admin_browser().await;
    // The first visit puts the link and the program's settings in the redirect's cache.
    let first = app.browser().get(&format!("/r/{code}")).await;
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(stored_clicks(&app, &code).await, 1);
    assert_eq!(app.browser().get("/healthz").await.status, StatusCode::OK);

    let outage = Outage::start(&app.database);

    let health = app.browser().get("/healthz").await;
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        health.body
    );

    // A sign-in has to write; it gets the 503 page, which says what happened and that nothing is wrong with the form.
    let login_page = app.browser();
    let token = login_page.get("/login").await;
    if token.status == StatusCode::OK {
        let token = token.csrf_token();
        let refused = login_page
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", "outage@media.test"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            refused.body
        );
        refused
            .assert_contains("Temporarily unavailable")
            .assert_contains("Try again in a moment");
    } else {
        // PostgreSQL: even the sign-in page needs the database.
        assert_eq!(
            token.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            token.body
        );
        token.assert_contains("Temporarily unavailable");
    }
    if app.database.is_postgres() {
        // A link this process has not seen cannot be looked up: the visitor gets the 503 page, not a wrong place.
        let unknown = app.browser().get("/r/never-seen").await;
        assert_eq!(unknown.status, StatusCode::SERVICE_UNAVAILABLE);
        let dashboard = admin.get("/admin").await;
        assert_eq!(dashboard.status, StatusCode::SERVICE_UNAVAILABLE);
        dashboard.assert_contains("Temporarily unavailable");
    }

    // Visitors still reach the destination, each with a click of their own.
    let visits = 3;
    let redirects = futures_util::future::join_all((0..visits).map(|_| {
        let visitor = app.browser();
        let path = format!("/r/{code}");
        async move { visitor.get(&path).await }
    }))
    .await;
    for redirect in &redirects {
        assert_eq!(redirect.status, StatusCode::FOUND, "{}", redirect.body);
        assert!(redirect
            .location
            .as_deref()
            .unwrap()
            .starts_with("https://shop.test/pricing"));
    }
    // The round that could not store them hands their journal to the spool.
    app.settle_clicks().await;
    let spool = app.mail_dir.path().join("data").join("click-spool");
    let spooled = std::fs::read_dir(&spool).unwrap().count();
    assert!(spooled >= 1, "the clicks wait in {}", spool.display());

    outage.end();

    // The replay thread stores the spooled clicks (every 2 s) and removes its files.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored_clicks(&app, &code).await < 1 + visits as i64 {
        assert!(
            Instant::now() < deadline,
            "the spooled clicks were not stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_clicks(&app, &code).await, 1 + visits as i64);
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    assert_eq!(app.browser().get("/healthz").await.status, StatusCode::OK);
    admin.get("/admin").await.assert_contains("Dashboard");
}

/// A spool file replayed twice (the process died between the commit and the file's removal) stores its clicks once.
#[tokio::test]
async fn replaying_a_spool_file_twice_stores_its_clicks_once() {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    let (_, code) = app
        .affiliate_with_link("Replay Media", "replay@media.test", "replay")
        .await;
    // Warm the link cache: on PostgreSQL a link not yet seen cannot be looked up during the outage.
    let warm = app.browser().get(&format!("/r/{code}")).await;
    assert_eq!(warm.status, StatusCode::FOUND);
    let outage = Outage::start(&app.database);
    for _ in 0..2 {
        let redirect = app.browser().get(&format!("/r/{code}")).await;
        assert_eq!(redirect.status, StatusCode::FOUND);
    }
    app.settle_clicks().await;
    let spool = app.mail_dir.path().join("data").join("click-spool");
    let files: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let copies: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .iter()
        .map(|f| (f.clone(), std::fs::read(f).unwrap()))
        .collect();
    outage.end();
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored_clicks(&app, &code).await < 3 {
        assert!(
            Instant::now() < deadline,
            "the spooled clicks were not stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Put the files back, as if their removal had never happened, and replay.
    for (file, bytes) in &copies {
        std::fs::write(file, bytes).unwrap();
    }
    let (pool, dir) = (app.pool.clone(), spool.clone());
    tokio::task::spawn_blocking(move || concord::affiliate::tracking::replay_spool(&pool, &dir))
        .await
        .unwrap();
    // The background replay may have raced this one; either way each click is stored once and the files go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&spool).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the replayed spool files were not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored_clicks(&app, &code).await, 3);
}

/// A journal segment whose writer died (nobody holds its lock) is replayed, without the half line the writer was in
/// the middle of; a segment a live writer still holds is left alone until that writer lets go.
#[tokio::test]
async fn a_journal_segment_a_dead_writer_left_is_replayed_and_a_held_one_is_left_alone() {
    let code = "journal";
    let (app, click) = app_with_one_click("Journal Media", "journal@media.test", code).await;
    let line = |click: &concord::affiliate::store::clicks::NewClick| {
        format!("{}\n", serde_json::to_string(click).unwrap())
    };
    let journal = app.mail_dir.path().join("data").join("click-journal");
    let (first, second, torn) = (click(), click(), click());
    let torn_line = line(&torn);
    std::fs::write(
        journal.join("00-dead.live"),
        format!(
            "{}{}{}",
            line(&first),
            line(&second),
            &torn_line[..torn_line.len() / 2]
        ),
    )
    .unwrap();
    let held_path = journal.join("00-held.live");
    let held_click = click();
    std::fs::write(&held_path, line(&held_click)).unwrap();
    let held = std::fs::File::open(&held_path).unwrap();
    held.lock().unwrap();

    let stored = |ids: Vec<String>| {
        app.db(move |conn| {
            use concord::platform::db::schema::clicks;
            use diesel::prelude::*;
            clicks::table
                .filter(clicks::click_id.eq_any(ids))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored(vec![first.click_id.clone(), second.click_id.clone()]).await < 2 {
        assert!(
            Instant::now() < deadline,
            "the dead writer's clicks were not stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored(vec![torn.click_id.clone()]).await, 0);
    assert!(!journal.join("00-dead.live").exists());
    // Two more replay rounds (every 2 s) and the held segment is still there, unread.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(held_path.exists());
    assert_eq!(stored(vec![held_click.click_id.clone()]).await, 0);

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored(vec![held_click.click_id.clone()]).await < 1 {
        assert!(
            Instant::now() < deadline,
            "the segment let go of was not replayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let spool = app.mail_dir.path().join("data").join("click-spool");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&spool).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the spool was not emptied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored_clicks(&app, code).await, 4);
}

/// An affiliate program with one link (`code`) and one stored click on it, and a maker of further clicks on that
/// link, each with a new id, to put in the journal by hand.
async fn app_with_one_click(
    name: &str,
    email: &str,
    code: &str,
) -> (
    TestApp,
    impl Fn() -> concord::affiliate::store::clicks::NewClick,
) {
    let app = TestApp::spawn().await;
    app.affiliate_program(true, |_| {}).await;
    app.affiliate_with_link(name, email, code).await;
    assert_eq!(
        app.browser().get(&format!("/r/{code}")).await.status,
        StatusCode::FOUND
    );
    assert_eq!(stored_clicks(&app, code).await, 1);
    let (link_id, partner_org_id) = app
        .db(|conn| {
            use concord::platform::db::schema::clicks;
            use diesel::prelude::*;
            clicks::table
                .select((clicks::link_id, clicks::partner_org_id))
                .first::<(i64, i64)>(conn)
                .unwrap()
        })
        .await;
    let click = move || concord::affiliate::store::clicks::NewClick {
        click_id: concord::affiliate::tracking::new_click_id(),
        link_id,
        partner_org_id,
        clicked_at: concord::platform::db::now(),
        ip_hash: "00".into(),
        user_agent: "Mozilla/5.0".into(),
        referrer: String::new(),
        sub_id: String::new(),
        prior_click_id: None,
        filtered_reason: None,
    };
    (app, click)
}

/// A database that is slow to take clicks, not down: another connection holds a lock that makes every insert into
/// `clicks` wait (SQLite: the write lock; PostgreSQL: a SHARE lock on the table), until it ends.
fn slow_inserts(database: &TestDatabase) -> HeldTransaction {
    let begin = if database.is_postgres() {
        "BEGIN; LOCK TABLE clicks IN SHARE MODE;"
    } else {
        "BEGIN IMMEDIATE"
    };
    HeldTransaction::start(database, begin)
}

/// When clicks come faster than the database stores them, a redirect waits once 10,000 journaled clicks are
/// waiting, and goes on as soon as the database has taken them; none is lost.
#[tokio::test]
async fn a_redirect_waits_for_room_while_the_database_is_far_behind() {
    let code = "backlog";
    let (app, click) = app_with_one_click("Backlog Media", "backlog@media.test", code).await;
    let journal = app.click_journal();
    journal.wait_for_room().await;

    let slow = slow_inserts(&app.database);
    for _ in 0..10_000 {
        journal.append(click()).unwrap();
    }
    let waiting = journal.wait_for_room();
    tokio::pin!(waiting);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "10,000 clicks wait for a stuck database, and the next redirect did not wait"
    );
    // A redirect now waits too, and answers once there is room.
    let visitor = app.browser();
    let path = format!("/r/{code}");
    let redirect = tokio::spawn(async move { visitor.get(&path).await.status });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !redirect.is_finished(),
        "the redirect did not wait for room"
    );

    slow.end();
    tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("room once the database took the backlog");
    assert_eq!(redirect.await.unwrap(), StatusCode::FOUND);
    assert_eq!(stored_clicks(&app, code).await, 10_002);
}
