//! Rate limits kept in the database, so they hold across restarts and across instances, and counted exactly: the
//! buckets of one attempt are locked (PostgreSQL: advisory locks; SQLite: its one write lock) before they are
//! counted, so two concurrent attempts cannot both see room for one.
//!
//! A bucket is a name such as `reset:address:<hash>` or `reset:ip:203.0.113.9`; an attempt names every bucket it
//! counts against and passes only when each has room, and is then counted in each.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::platform::db::schema::rate_limit_events;
use crate::platform::db::{take_write_lock, DbConn};

/// At most `max` attempts in any `window`.
#[derive(Debug, Clone)]
pub struct Limit {
    pub bucket: String,
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub fn new(bucket: impl Into<String>, max: i64, window: Duration) -> Self {
        Self {
            bucket: bucket.into(),
            max,
            window,
        }
    }
}

/// An attempt refused: the first bucket without room, and when it has room again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub bucket: String,
    pub retry_at: NaiveDateTime,
}

impl Exceeded {
    /// Whole minutes (at least one) until the attempt may be made again.
    pub fn minutes_to_wait(&self, now: NaiveDateTime) -> i64 {
        minutes_to_wait(self.retry_at, now)
    }
}

/// Whole minutes (rounded up, at least one) someone refused until `retry_at` has to wait, for the message.
pub fn minutes_to_wait(retry_at: NaiveDateTime, now: NaiveDateTime) -> i64 {
    let seconds = (retry_at - now).num_seconds().max(1);
    (seconds + 59) / 60
}

/// Locks the buckets for the rest of the transaction. Must come first in the transaction (SQLite's write lock).
pub fn lock_buckets(conn: &mut DbConn, buckets: &[&str]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => {
            let mut sorted = buckets.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            for bucket in sorted {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind::<diesel::sql_types::Text, _>(bucket)
                    .execute(c)?;
            }
            Ok(())
        }
        DbConn::Sqlite(_) => take_write_lock(conn),
    }
}

/// Times of the bucket's attempts after `since`, oldest first.
fn attempts_since(
    conn: &mut DbConn,
    bucket: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(bucket))
        .filter(rate_limit_events::at.gt(since))
        .order(rate_limit_events::at.asc())
        .select(rate_limit_events::at)
        .load(conn)
}

/// When a bucket with these attempt times (oldest first) has room again, or `None` when it has room now.
pub fn full_until(times: &[NaiveDateTime], max: i64, window: Duration) -> Option<NaiveDateTime> {
    let max = usize::try_from(max).unwrap_or(0);
    (times.len() >= max).then(|| {
        // Room comes back when enough of the oldest leave the window that fewer than `max` remain.
        let must_leave = times.len() - max;
        times.get(must_leave).copied().unwrap_or_default() + window
    })
}

/// Counts one attempt against every limit, or refuses it when any is full. Runs in its own transaction (the
/// caller's work that the attempt guards follows in another), so the lock is held only for the count.
pub fn attempt(
    conn: &mut DbConn,
    limits: &[Limit],
    now: NaiveDateTime,
) -> QueryResult<Result<(), Exceeded>> {
    conn.transaction(|conn| {
        let buckets: Vec<&str> = limits.iter().map(|l| l.bucket.as_str()).collect();
        lock_buckets(conn, &buckets)?;
        for limit in limits {
            let times = attempts_since(conn, &limit.bucket, now - limit.window)?;
            if let Some(retry_at) = full_until(&times, limit.max, limit.window) {
                return Ok(Err(Exceeded {
                    bucket: limit.bucket.clone(),
                    retry_at,
                }));
            }
        }
        for limit in limits {
            diesel::insert_into(rate_limit_events::table)
                .values((
                    rate_limit_events::bucket.eq(&limit.bucket),
                    rate_limit_events::at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(Ok(()))
    })
}

/// Forgets attempts older than `before` (the longest window of any limit).
pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_limit_events::table.filter(rate_limit_events::at.lt(before))).execute(conn)
}

/// A bucket name for an address that does not put the address itself in the table.
pub fn address_bucket(kind: &str, address: &str) -> String {
    let digest = crate::platform::auth::token::hash_token(&address.to_ascii_lowercase());
    format!("{kind}:address:{}", &digest[..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, minute, 0)
            .unwrap()
    }

    #[test]
    fn a_full_bucket_has_room_when_its_oldest_attempt_leaves_the_window() {
        let window = Duration::minutes(60);
        assert_eq!(full_until(&[at(0), at(1)], 3, window), None);
        assert_eq!(
            full_until(&[at(0), at(1), at(2)], 3, window),
            Some(at(0) + window)
        );
        assert_eq!(
            full_until(&[at(0), at(1), at(2), at(3)], 3, window),
            Some(at(1) + window)
        );
    }
}
