//! The database: one connection type over PostgreSQL and SQLite, chosen from the `DATABASE_URL` scheme, a pool of
//! them, embedded twin migrations, the schema, and the transaction tools every context's store uses (row locks,
//! exclusive transactions with retry). Where the backends differ the code says so in side-by-side `match` arms.

pub mod schema;
pub mod settings;
pub mod text_enum;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{Backend, DatabaseUrl};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<DbManager>;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// How long an SQLite statement waits for another connection's write lock before it fails.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Opens connections of the backend the URL names. Diesel's own `ConnectionManager<MultiConnection>` tries each
/// backend in turn and falls back to SQLite for any string, which would turn a typo into a stray file.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self.url.backend {
            Backend::Postgres => PgConnection::establish(&self.url.connect).map(DbConn::Pg),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.connect)?;
                // busy_timeout first: switching to WAL itself needs the lock another connection may hold.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), diesel::ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// A pooled connection for a writer thread to keep, with a page cache large enough for the index pages its inserts
/// touch (SQLite's default is 2 MB; PostgreSQL caches on the server).
pub fn writer_connection(pool: &DbPool) -> anyhow::Result<PooledConn> {
    use anyhow::Context;
    let mut conn = pool.get().context("no database connection for a writer")?;
    if let DbConn::Sqlite(c) = &mut *conn {
        c.batch_execute("PRAGMA cache_size = -16384")
            .context("cannot size the writer's page cache")?;
    }
    Ok(conn)
}

/// A slice of a list, newest or first rows first: `limit` rows from `offset`. Pages ask for one row more than
/// they show (`platform::http::pager`); exports and pickers take `ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: i64,
    pub limit: i64,
}

impl Window {
    pub const ALL: Window = Window {
        offset: 0,
        limit: i64::MAX,
    };

    pub fn first(limit: i64) -> Self {
        Window { offset: 0, limit }
    }
}

/// Takes the write lock at the start of a transaction. On SQLite a transaction that reads first and writes later
/// fails at once, without waiting, when another connection committed in between; a write that changes nothing, done
/// first, makes it wait for its turn instead. PostgreSQL locks rows as it goes.
pub fn take_write_lock(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Pg(_) => Ok(()),
        DbConn::Sqlite(c) => c.batch_execute("UPDATE programs SET id = id WHERE id < 0"),
    }
}

/// Rows whose dependants are changed one transaction at a time: a sale (its refunds and the reversal of its
/// commission), a partner org (the status of its ledger entries, which payouts read and move), and the program
/// (approvals of deal registrations, so two conflicting ones are never both approved unseen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Sale,
    PartnerOrg,
    Program,
}

/// Locks rows for the rest of the transaction, so that concurrent changes of the same sale, org or program happen
/// one after the other: on PostgreSQL `SELECT … FOR NO KEY UPDATE` (in id order, so two lockers never wait for
/// each other in a circle; and not `FOR UPDATE`, which would also wait for, and deadlock with, every insert whose
/// foreign key points at the row, such as a conversion writer's ledger entry); on SQLite the database's one write
/// lock, which must be the transaction's first statement (see `take_write_lock`) and already serialises every
/// writer.
pub fn lock(conn: &mut DbConn, what: Lock, ids: &[i64]) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt};
    match conn {
        DbConn::Pg(c) => {
            let table = match what {
                Lock::Sale => "conversions",
                Lock::PartnerOrg => "partner_orgs",
                Lock::Program => "programs",
            };
            diesel::sql_query(format!(
                "SELECT id FROM {table} WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
            ))
            .bind::<Array<BigInt>, _>(ids)
            .execute(c)
            .map(|_| ())
        }
        DbConn::Sqlite(_) => take_write_lock(conn),
    }
}

/// True for the failures that trying the same transaction again cures: SQLite's write lock still held by another
/// connection after the busy timeout, or a transaction PostgreSQL aborted to break a deadlock or a serialization
/// conflict.
pub fn is_contention(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked") || message.contains("deadlock detected")
        }
        _ => false,
    }
}

/// An error that may carry a database failure, so `exclusive_transaction` can tell contention from a refusal.
pub trait DatabaseFailure {
    fn database_error(&self) -> Option<&diesel::result::Error>;
}

impl DatabaseFailure for diesel::result::Error {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        Some(self)
    }
}

/// How often a money transaction is tried when the database reports contention.
const EXCLUSIVE_ATTEMPTS: u32 = 5;

/// Runs `work` in its own transaction that starts with the SQLite write lock (so it waits for its turn instead of
/// failing on a stale read), and tries it again, a few milliseconds later, when the database reports contention:
/// a well-formed request is answered, not refused with a 503, because another one touched the same money. Not for
/// use inside another transaction (the outer one would be the one to try again).
pub fn exclusive_transaction<T, E>(
    conn: &mut DbConn,
    mut work: impl FnMut(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error> + DatabaseFailure,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = conn.transaction(|conn| {
            take_write_lock(conn)?;
            work(conn)
        });
        match outcome {
            Err(e)
                if attempt < EXCLUSIVE_ATTEMPTS
                    && e.database_error().is_some_and(is_contention) =>
            {
                let pause = 5 * u64::from(attempt) + u64::from(rand::random::<u8>() % 10);
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
            other => return other,
        }
    }
}

/// The database could not take a piece of work: no connection came free in time, or the work itself panicked.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    #[error("no database connection came free: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("the database work did not finish: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs blocking database work on the blocking thread pool with a pooled connection: the one way pages, jobs and
/// workers do database work off the async executor.
pub async fn with_connection<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConn) -> T + Send + 'static,
) -> Result<T, Unreachable> {
    let pool = pool.clone();
    // The caller's span (the request, or the job) goes along, so a use case's span nests under it in the log.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| Ok(work(&mut *pool.get()?)))).await?
}

/// Database work for jobs and workers, which report failures as `anyhow` errors.
pub async fn run<T, E>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    Ok(with_connection(pool, work).await??)
}

/// CPU work (password hashing) off the async executor, holding no database connection while it runs.
pub async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Unreachable> {
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || span.in_scope(work)).await?)
}

pub fn pool(url: &DatabaseUrl) -> anyhow::Result<DbPool> {
    let max_size = match url.backend {
        // Five of them held for good by the click ingest and the four conversion writers.
        Backend::Postgres => 16,
        // SQLite has one writer at a time; a few connections let reads go on beside it under WAL. Two of them are
        // held for good by the click ingest and the conversion writer.
        Backend::Sqlite => 6,
    };
    r2d2::Pool::builder()
        .max_size(max_size)
        // A PostgreSQL connection can break under a pooled connection (a server restart), and a checkout proves
        // it with a round trip; an SQLite file does not go away, so SQLite skips that query.
        .test_on_check_out(url.backend == Backend::Postgres)
        .connection_timeout(std::time::Duration::from_secs(5))
        .build(DbManager { url: url.clone() })
        .map_err(|e| anyhow::Error::new(e).context("cannot connect to the database"))
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration of the connection's backend; returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    let applied = match conn {
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS)?,
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS)?,
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration, newest first. For the migration round-trip test and for operators.
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    let reverted = match conn {
        DbConn::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS)?,
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS)?,
    };
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}

pub fn backend(conn: &DbConn) -> Backend {
    match conn {
        DbConn::Pg(_) => Backend::Postgres,
        DbConn::Sqlite(_) => Backend::Sqlite,
    }
}

/// The current UTC time at the precision both backends keep (PostgreSQL stores microseconds, SQLite would keep
/// nanoseconds), so a value read back equals the value written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern that matches `text`
/// anywhere.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// True when a diesel error is a UNIQUE constraint violation (the same on both backends).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Answers when the database does; for `/healthz`. Reads a real table, because `SELECT 1` succeeds on an SQLite
/// connection even when its file has become unreadable.
/// On SQLite it also takes the write lock for a moment (waiting at most a quarter second), because a database file
/// that is read-only or locked by another process still answers reads while every change fails.
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT id FROM programs LIMIT 1")?;
    match conn {
        DbConn::Pg(_) => Ok(()),
        DbConn::Sqlite(c) => {
            c.batch_execute("PRAGMA busy_timeout = 250")?;
            let probe = c.batch_execute("BEGIN IMMEDIATE; ROLLBACK;");
            c.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))?;
            probe
        }
    }
}
