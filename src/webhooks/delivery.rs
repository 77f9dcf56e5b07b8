//! Delivers outgoing webhooks: each due delivery is posted with `Concord-Signature: t=<unix>,v1=<hex HMAC-SHA256
//! of "t.body">` (the endpoint's secret), `Concord-Event` and `Concord-Delivery`. A 2xx answer delivers it; anything
//! else (or no answer in 10 s) is retried with the outbox's backoff until the attempt limit. Addresses inside the
//! server's network are refused (`platform::outbound`), and what went wrong is recorded without the details that
//! would map internal ports.
use std::time::Duration;

use super::store as db_webhooks;
use crate::platform::jobs::{Job, JobContext};
use crate::platform::outbound;

/// The delivery job, every five seconds.
pub fn job() -> Job {
    Job::new(
        "webhooks",
        Duration::from_secs(5),
        "Posts signed outgoing webhooks, retrying failures with backoff",
        |ctx: std::sync::Arc<JobContext>| async move { deliver_due(&ctx).await },
    )
}

pub async fn deliver_due(ctx: &JobContext) -> anyhow::Result<String> {
    let due = ctx.db(|conn| db_webhooks::claim_due(conn, 60, 50)).await?;
    if due.is_empty() {
        return Ok(String::new());
    }
    let (mut delivered, mut failed) = (0, 0);
    for (delivery, url, secret) in due {
        let timestamp = chrono::Utc::now().timestamp();
        let signature =
            crate::webhooks::rules::sign(&secret, timestamp, delivery.payload.as_bytes());
        let headers = [
            ("concord-signature", signature),
            ("concord-event", delivery.event_type.clone()),
            ("concord-delivery", delivery.id.to_string()),
        ];
        let outcome = outbound::post_json(
            &url,
            &headers,
            delivery.payload.clone(),
            ctx.settings.webhook_allow_private,
        )
        .await;
        let (code, error) = match &outcome {
            Ok(code) if (200..300).contains(code) => (Some(*code), None),
            Ok(code) => (Some(*code), Some(format!("HTTP {code}"))),
            Err(e) => (None, Some(e.to_string())),
        };
        if error.is_none() {
            delivered += 1;
        } else {
            failed += 1;
        }
        let max = ctx.settings.outbox_max_attempts;
        let (id, attempts) = (delivery.id, delivery.attempts);
        ctx.db(move |conn| {
            db_webhooks::record_attempt(conn, id, attempts, code, error.as_deref(), max)
        })
        .await?;
    }
    Ok(format!("{delivered} delivered, {failed} failed"))
}
