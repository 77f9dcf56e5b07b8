//! The last run of each periodic job.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::job_status;
use crate::platform::db::{self, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_status)]
pub struct JobStatus {
    pub name: String,
    pub last_started_at: NaiveDateTime,
    pub last_finished_at: NaiveDateTime,
    pub last_duration_ms: i64,
    pub last_ok: bool,
    pub last_detail: String,
    pub runs: i64,
    pub failures: i64,
}

pub fn record(
    conn: &mut DbConn,
    name: &str,
    started: NaiveDateTime,
    finished: NaiveDateTime,
    ok: bool,
    detail: &str,
) -> QueryResult<()> {
    let duration_ms = (finished - started).num_milliseconds();
    conn.transaction(|conn| {
        let updated = diesel::update(job_status::table.find(name))
            .set((
                job_status::last_started_at.eq(started),
                job_status::last_finished_at.eq(finished),
                job_status::last_duration_ms.eq(duration_ms),
                job_status::last_ok.eq(ok),
                job_status::last_detail.eq(detail),
                job_status::runs.eq(job_status::runs + 1),
                job_status::failures.eq(job_status::failures + if ok { 0 } else { 1 }),
            ))
            .execute(conn)?;
        if updated == 0 {
            let inserted = diesel::insert_into(job_status::table)
                .values((
                    job_status::name.eq(name),
                    job_status::last_started_at.eq(started),
                    job_status::last_finished_at.eq(finished),
                    job_status::last_duration_ms.eq(duration_ms),
                    job_status::last_ok.eq(ok),
                    job_status::last_detail.eq(detail),
                    job_status::runs.eq(1),
                    job_status::failures.eq(if ok { 0 } else { 1 }),
                ))
                .execute(conn);
            // Another process recorded its first run at the same moment; its row stands for both.
            match inserted {
                Err(e) if db::is_unique_violation(&e) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    })
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<JobStatus>> {
    job_status::table
        .order(job_status::name)
        .select(JobStatus::as_select())
        .load(conn)
}
