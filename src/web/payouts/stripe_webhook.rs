//! `POST /webhooks/stripe`: Stripe's events, verified by their `Stripe-Signature` (signed timestamp within five
//! minutes, constant-time comparison) before anything is read. A bad signature gets 400 and changes nothing; an
//! event seen before gets 200 and changes nothing.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::payouts::stripe_events::Handled;
use crate::platform::http::{db, AppError};
use crate::web::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/stripe", web::post().to(stripe));
}

fn refuse(code: &str, message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({"error": {"code": code, "message": message.to_string()}}))
}

async fn stripe(
    req: HttpRequest,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let Some(secret) = state
        .settings
        .stripe
        .as_ref()
        .and_then(|s| s.webhook_secret.clone())
    else {
        return Ok(refuse(
            "not_configured",
            "Stripe webhooks are not configured (CONCORD_STRIPE_WEBHOOK_SECRET).",
        ));
    };
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(e) =
        crate::webhooks::rules::verify(header, &body, &secret, chrono::Utc::now().timestamp())
    {
        tracing::warn!("Stripe webhook refused: {e}");
        return Ok(refuse("bad_signature", e));
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Ok(refuse("bad_json", format!("The event is not JSON: {e}"))),
    };
    let event = match crate::payouts::webhook_rules::parse(&value) {
        Ok(event) => event,
        Err(e) => return Ok(refuse("bad_event", e)),
    };
    // A checkout's click is found by its id: it has to be stored first.
    state.tracking.settle().await;
    let handled = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::payouts::stripe_events::handle(conn, &program, &event)
    })
    .await?;
    Ok(HttpResponse::Ok().json(match handled {
        Handled::Duplicate => json!({"received": true, "duplicate": true}),
        Handled::Done(outcome) => json!({"received": true, "outcome": outcome}),
    }))
}
