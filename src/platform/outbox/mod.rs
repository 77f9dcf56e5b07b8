//! The transactional outbox: emails are written (`store::enqueue`) in the same transaction as the decision they
//! tell of, and the `outbox` job delivers them: claim each due message with a lease, hand it to the mailer, then
//! mark it sent or schedule the retry (`rules`). Delivery is at least once: a crash between sending and marking
//! sent lets the lease lapse and the message go again, with the same Message-ID.

pub mod rules;
pub mod store;

use std::sync::Arc;

use chrono::Duration;

use crate::platform::db;
use crate::platform::jobs::{Job, JobContext};
use rules::{is_dead, retry_delay};
use store as outbox;

const BATCH: i64 = 50;

/// Longer than one SMTP exchange may take (the transport times out after 10 s).
fn lease() -> Duration {
    Duration::seconds(120)
}

/// Writes a rendered email to the outbox inside the caller's transaction: if the decision rolls back, so does the
/// message; once it commits, the outbox job delivers it.
pub fn enqueue(
    conn: &mut db::DbConn,
    email: &crate::platform::mail::Email,
) -> diesel::QueryResult<i64> {
    store::enqueue(conn, email)
}

/// The delivery job, every five seconds.
pub fn job() -> Job {
    Job::new(
        "outbox",
        std::time::Duration::from_secs(5),
        "Delivers pending email from the outbox",
        |ctx: Arc<JobContext>| async move { deliver_due(&ctx).await },
    )
}

/// Delivers what is due. Returns a summary such as "3 sent, 1 failed", or "" when nothing was due.
pub async fn deliver_due(ctx: &JobContext) -> anyhow::Result<String> {
    let ids = ctx
        .db(|conn| outbox::due_ids(conn, db::now(), BATCH))
        .await?;
    let (mut sent, mut failed, mut dead) = (0, 0, 0);
    for id in ids {
        let worker = ctx.worker_id.clone();
        let claimed = ctx
            .db(move |conn| {
                let now = db::now();
                outbox::claim(conn, id, &worker, now, now + lease())
            })
            .await?;
        let Some(message) = claimed else { continue };
        let worker = ctx.worker_id.clone();
        let delivery = crate::platform::mail::Delivery {
            recipient: &message.recipient,
            subject: &message.subject,
            text: &message.body_text,
            html: &message.body_html,
            message_id: &message.message_id,
            file_stem: format!("{:06}-{}", message.id, message.template),
        };
        match ctx.mailer.deliver(&delivery).await {
            Ok(()) => {
                let redacted = redacted_bodies(&message.body_text, &message.body_html);
                ctx.db(move |conn| {
                    let bodies = redacted.as_ref().map(|(t, h)| (t.as_str(), h.as_str()));
                    outbox::mark_sent(conn, id, &worker, bodies)
                })
                .await?;
                sent += 1;
            }
            Err(error) => {
                let error = error.to_string();
                let attempts = message.attempts + 1;
                let gives_up = is_dead(attempts, ctx.settings.outbox_max_attempts);
                tracing::warn!(outbox_id = id, attempts, dead = gives_up, error = %error, "email delivery failed");
                let retry_at = db::now() + retry_delay(attempts);
                ctx.db(move |conn| {
                    outbox::mark_failed(conn, id, &worker, &error, retry_at, gives_up)
                })
                .await?;
                if gives_up {
                    dead += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    Ok(match (sent, failed, dead) {
        (0, 0, 0) => String::new(),
        _ => format!("{sent} sent, {failed} failed, {dead} dead"),
    })
}

/// The bodies with their single-use links redacted, when they hold any.
fn redacted_bodies(text: &str, html: &str) -> Option<(String, String)> {
    use crate::platform::auth::token::redact_token_links;
    use std::borrow::Cow;
    match (redact_token_links(text), redact_token_links(html)) {
        (Cow::Borrowed(_), Cow::Borrowed(_)) => None,
        (text, html) => Some((text.into_owned(), html.into_owned())),
    }
}

/// Gives a dead message a fresh set of attempts, audited; `None` when there is no such message, `Some(None)` when it
/// was not dead, else the recipient it goes to again.
pub fn resend_dead(
    conn: &mut db::DbConn,
    id: i64,
    actor: &crate::platform::audit::Actor,
) -> diesel::QueryResult<Option<Option<String>>> {
    use crate::platform::audit::{self, Change, Subject};
    use diesel::Connection;
    conn.transaction(|conn| {
        let Some(message) = store::find(conn, id)? else {
            return Ok(None);
        };
        if !store::resend(conn, id)? {
            return Ok(Some(None));
        }
        let label = format!("{} to {}", message.subject, message.recipient);
        audit::record(
            conn,
            actor,
            "outbox.resend",
            &Subject {
                kind: "outbox",
                id: Some(id),
                label: &label,
            },
            &Change {
                before: Some(rules::OutboxStatus::Dead.as_str()),
                after: Some(rules::OutboxStatus::Pending.as_str()),
                ..Default::default()
            },
        )?;
        Ok(Some(Some(message.recipient)))
    })
}
