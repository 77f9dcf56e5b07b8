//! Outbox delivery: claim each due message with a lease, hand it to the mailer, then mark it sent or schedule the
//! retry. Delivery is at least once: a crash between sending and marking sent lets the lease lapse and the message
//! go again, with the same Message-ID.

use chrono::Duration;

use super::JobContext;
use crate::db::outbox;
use crate::domain::outbox::{is_dead, retry_delay};
use crate::platform::db;

const BATCH: i64 = 50;

/// Longer than one SMTP exchange may take (the transport times out after 10 s).
fn lease() -> Duration {
    Duration::seconds(120)
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
        match ctx.mailer.deliver(&message).await {
            Ok(()) => {
                ctx.db(move |conn| outbox::mark_sent(conn, id, &worker))
                    .await?;
                sent += 1;
            }
            Err(error) => {
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
