//! The outbox: messages written with the decisions they report, claimed by delivery workers with a guarded update
//! (never read-then-write), retried with backoff, and declared dead after the configured attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::outbox;
use crate::platform::db::{now, DbConn};
use crate::platform::mail::Email;
use crate::platform::outbox::rules::OutboxStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: i64,
    pub template: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// Writes a message for delivery. Call it inside the transaction of the decision it reports.
pub fn enqueue(conn: &mut DbConn, email: &Email) -> QueryResult<i64> {
    let at = now();
    let message_id = format!("<{}@concord>", crate::platform::auth::token::new_token());
    diesel::insert_into(outbox::table)
        .values((
            outbox::template.eq(email.template),
            outbox::recipient.eq(&email.recipient),
            outbox::subject.eq(&email.subject),
            outbox::body_text.eq(&email.text),
            outbox::body_html.eq(&email.html),
            outbox::message_id.eq(message_id),
            outbox::status.eq(OutboxStatus::Pending),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
        ))
        .returning(outbox::id)
        .get_result(conn)
}

/// Ids of pending messages whose next attempt is due and that no live lease holds, oldest first.
pub fn due_ids(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<i64>> {
    outbox::table
        .filter(outbox::status.eq(OutboxStatus::Pending))
        .filter(outbox::next_attempt_at.le(now))
        .filter(
            outbox::claimed_until
                .is_null()
                .or(outbox::claimed_until.lt(now)),
        )
        .order(outbox::id)
        .limit(limit)
        .select(outbox::id)
        .load(conn)
}

/// Takes the lease on one message for `worker` until `lease_until`. Only one worker's guarded update can match, so
/// two processes never deliver the same message at the same time. Returns the message when this worker won it.
pub fn claim(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<OutboxMessage>> {
    let won = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(OutboxStatus::Pending))
            .filter(outbox::next_attempt_at.le(now))
            .filter(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.lt(now)),
            ),
    )
    .set((
        outbox::claimed_by.eq(worker),
        outbox::claimed_until.eq(lease_until),
    ))
    .execute(conn)?;
    if won == 0 {
        return Ok(None);
    }
    outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()
}

/// Marks a message sent. `redacted` bodies, when given, replace the ones kept: a sent message keeps no usable reset
/// or invitation link.
pub fn mark_sent(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    redacted: Option<(&str, &str)>,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let mine = outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::claimed_by.eq(worker));
        if let Some((text, html)) = redacted {
            diesel::update(mine)
                .set((outbox::body_text.eq(text), outbox::body_html.eq(html)))
                .execute(conn)?;
        }
        diesel::update(mine)
            .set((
                outbox::status.eq(OutboxStatus::Sent),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::sent_at.eq(Some(now())),
                outbox::claimed_by.eq(None::<String>),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|_| ())
    })
}

/// Records a failed attempt: the message waits until `retry_at`, or is dead when `dead`.
pub fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    error: &str,
    retry_at: NaiveDateTime,
    dead: bool,
) -> QueryResult<()> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(if dead {
            OutboxStatus::Dead
        } else {
            OutboxStatus::Pending
        }),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::last_error.eq(Some(error)),
        outbox::next_attempt_at.eq(retry_at),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Gives a dead message a fresh set of attempts, due now. Returns false when it was not dead.
pub fn resend(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(OutboxStatus::Dead)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Pending),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<OutboxMessage>> {
    outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()
}

/// Messages of one status, newest first.
pub fn list(
    conn: &mut DbConn,
    status: OutboxStatus,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<OutboxMessage>> {
    outbox::table
        .filter(outbox::status.eq(status))
        .order(outbox::id.desc())
        .offset(window.offset)
        .limit(window.limit)
        .select(OutboxMessage::as_select())
        .load(conn)
}

pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(OutboxStatus, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}
