//! Delivers outgoing webhooks: each due delivery is posted with `Concord-Signature: t=<unix>,v1=<hex HMAC-SHA256
//! of "t.body">` (the endpoint's secret), `Concord-Event` and `Concord-Delivery`. A 2xx answer delivers it; anything
//! else (or no answer in 10 s) is retried with the outbox's backoff until the attempt limit.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::store as db_webhooks;
use crate::platform::jobs::{Job, JobContext};

const TIMEOUT: Duration = Duration::from_secs(10);

/// One POST; the status code, or what went wrong before there was one.
async fn post(url: &str, headers: &[(&str, String)], body: String) -> Result<u16, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = hyper::Request::post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad request: {e}"))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| "no answer within 10 s".to_string())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let status = response.status().as_u16();
    // Read (and drop) the body so the connection ends cleanly.
    let _ = tokio::time::timeout(TIMEOUT, response.into_body().collect()).await;
    Ok(status)
}

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
        let outcome = post(&url, &headers, delivery.payload.clone()).await;
        let (code, error) = match &outcome {
            Ok(code) if (200..300).contains(code) => (Some(*code), None),
            Ok(code) => (Some(*code), Some(format!("HTTP {code}"))),
            Err(e) => (None, Some(e.clone())),
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
