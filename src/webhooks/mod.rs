//! Outgoing webhooks: the endpoints admins register (`create_endpoint`, `set_active`, `replay`, audited), the
//! deliveries every context writes with `emit` in the transaction of the event they report, like email, and the
//! `webhooks` job (`delivery`) that posts them, signed (`rules`), with retries.

pub mod delivery;
pub mod rules;
pub mod store;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::{now, DbConn};
pub use rules::EventType;

/// Registers an endpoint with a new signing secret; returns its id and the secret.
pub fn create_endpoint(
    conn: &mut DbConn,
    program_id: i64,
    url: &str,
    events: &[&str],
    actor: &Actor,
) -> QueryResult<(i64, String)> {
    conn.transaction(|conn| {
        let secret = format!("whsec_{}", crate::platform::auth::token::new_token());
        let id = store::insert_endpoint(conn, program_id, url, &secret, events)?;
        audit::record(
            conn,
            actor,
            "webhook.endpoint_created",
            &Subject {
                kind: "webhook_endpoint",
                id: Some(id),
                label: url,
            },
            &Change {
                after: Some(&events.join(", ")),
                ..Default::default()
            },
        )?;
        Ok((id, secret))
    })
}

pub fn set_active(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    active: bool,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let Some(endpoint) = store::find_endpoint(conn, program_id, id)? else {
            return Ok(false);
        };
        store::set_active(conn, id, active)?;
        audit::record(
            conn,
            actor,
            if active {
                "webhook.endpoint_enabled"
            } else {
                "webhook.endpoint_disabled"
            },
            &Subject {
                kind: "webhook_endpoint",
                id: Some(id),
                label: &endpoint.url,
            },
            &Change::default(),
        )?;
        Ok(true)
    })
}

/// Writes one delivery per active endpoint that chose this event type, inside the caller's transaction. The
/// event id is shared by every delivery of the event (and by replays), so receivers can deduplicate.
pub fn emit(
    conn: &mut DbConn,
    program_id: i64,
    event: EventType,
    data: serde_json::Value,
) -> QueryResult<usize> {
    let event_type = event.as_str();
    let targets: Vec<store::Endpoint> = store::endpoints(conn, program_id)?
        .into_iter()
        .filter(|e| e.wants(event_type))
        .collect();
    if targets.is_empty() {
        return Ok(0);
    }
    let at = now();
    let event_id = format!("evt_{}", &crate::platform::auth::token::new_token()[..24]);
    let payload = serde_json::json!({
        "id": event_id,
        "type": event_type,
        "created": at.and_utc().timestamp(),
        "data": data,
    })
    .to_string();
    for endpoint in &targets {
        store::insert_delivery(conn, endpoint.id, &event_id, event_type, &payload)?;
    }
    Ok(targets.len())
}

/// Sends a delivery again: a new delivery with the same event id and payload, due now. Returns its endpoint id.
pub fn replay(
    conn: &mut DbConn,
    program_id: i64,
    delivery_id: i64,
    actor: &Actor,
) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let Some((delivery, endpoint_id)) = store::find_delivery(conn, program_id, delivery_id)?
        else {
            return Ok(None);
        };
        store::insert_delivery(
            conn,
            endpoint_id,
            &delivery.event_id,
            &delivery.event_type,
            &delivery.payload,
        )?;
        audit::record(
            conn,
            actor,
            "webhook.replayed",
            &Subject {
                kind: "webhook_delivery",
                id: Some(delivery_id),
                label: &format!("{} {}", delivery.event_type, delivery.event_id),
            },
            &Change::default(),
        )?;
        Ok(Some(endpoint_id))
    })
}
