//! Migrations: the SQLite and PostgreSQL trees stay in lockstep, and every migration runs up, down and up again.

use concord::config::DatabaseUrl;
use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::TestDatabase;

fn versions(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            for file in ["up.sql", "down.sql"] {
                assert!(path.join(file).exists(), "{} has no {file}", path.display());
            }
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn the_two_migration_trees_have_the_same_versions() {
    let sqlite = versions("sqlite");
    let postgres = versions("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same versions"
    );
}

#[test]
fn every_migration_runs_up_down_and_up_again() {
    let database = TestDatabase::create_empty();
    let pool = concord::platform::db::pool(&DatabaseUrl::parse(database.url()).unwrap()).unwrap();
    let mut conn = pool.get().unwrap();
    let total = versions("sqlite").len();

    assert_eq!(
        concord::platform::db::run_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    concord::programs::current(&mut conn).expect("the schema works after the first run");
    assert_eq!(
        concord::platform::db::revert_all_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    assert!(
        concord::programs::current(&mut conn).is_err(),
        "reverting removes the tables"
    );
    assert_eq!(
        concord::platform::db::run_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    let program = concord::programs::current(&mut conn).unwrap();
    assert_eq!(program.currency, "USD");
}
