//! Sign-in attempts per email and IP, kept so throttling survives restarts and applies across server processes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::login_attempts;
use crate::platform::db::DbConn;

/// Records an attempt and returns its id.
pub fn record(
    conn: &mut DbConn,
    email: &str,
    succeeded: bool,
    ip: &str,
    at: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email),
            login_attempts::succeeded.eq(succeeded),
            login_attempts::ip.eq(ip),
            login_attempts::attempted_at.eq(at),
        ))
        .returning(login_attempts::id)
        .get_result(conn)
}

/// An attempt recorded as failed before its password was checked turned out right.
pub fn mark_succeeded(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(id))
        .set(login_attempts::succeeded.eq(true))
        .execute(conn)
        .map(|_| ())
}

/// Times of failed attempts for `email` from `ip` since `since`.
pub fn failures_since(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::attempted_at.gt(since))
        .select(login_attempts::attempted_at)
        .load(conn)
}

/// Times of failed attempts from `ip`, for any email, since `since`.
pub fn failures_from_ip_since(
    conn: &mut DbConn,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::attempted_at.gt(since))
        .select(login_attempts::attempted_at)
        .load(conn)
}

/// Forgets attempts older than `before`; they no longer count for anything.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.lt(before)))
        .execute(conn)
}
