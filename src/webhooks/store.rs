//! The webhooks' SQL: endpoints and deliveries.

use super::rules::DeliveryStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    pub program_id: i64,
    pub url: String,
    pub secret: String,
    pub events: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

impl Endpoint {
    pub fn event_list(&self) -> Vec<&str> {
        self.events.lines().filter(|l| !l.is_empty()).collect()
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.active && self.event_list().contains(&event_type)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub fn endpoints(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::program_id.eq(program_id))
        .order(webhook_endpoints::id)
        .select(Endpoint::as_select())
        .load(conn)
}

pub fn find_endpoint(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::program_id.eq(program_id))
        .filter(webhook_endpoints::id.eq(id))
        .select(Endpoint::as_select())
        .first(conn)
        .optional()
}

/// Claims due deliveries for `lease_secs`, with their endpoint's URL and secret.
pub fn claim_due(
    conn: &mut DbConn,
    lease_secs: i64,
    limit: i64,
) -> QueryResult<Vec<(Delivery, String, String)>> {
    let at = now();
    let due: Vec<(Delivery, String, String)> = webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        // A disabled endpoint is never called: its pending deliveries wait until it is enabled again.
        .filter(webhook_endpoints::active.eq(true))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::next_attempt_at.le(at))
        .filter(
            webhook_deliveries::claimed_until
                .is_null()
                .or(webhook_deliveries::claimed_until.lt(at)),
        )
        .order(webhook_deliveries::id)
        .limit(limit)
        .select((
            Delivery::as_select(),
            webhook_endpoints::url,
            webhook_endpoints::secret,
        ))
        .load(conn)?;
    let mut claimed = Vec::new();
    for (delivery, url, secret) in due {
        let got = diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery.id))
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
                .filter(
                    webhook_deliveries::claimed_until
                        .is_null()
                        .or(webhook_deliveries::claimed_until.lt(at)),
                ),
        )
        .set(webhook_deliveries::claimed_until.eq(Some(at + chrono::Duration::seconds(lease_secs))))
        .execute(conn)?;
        if got == 1 {
            claimed.push((delivery, url, secret));
        }
    }
    Ok(claimed)
}

/// Records the outcome of one attempt: delivered on a 2xx; otherwise retried with backoff until `max_attempts`.
pub fn record_attempt(
    conn: &mut DbConn,
    id: i64,
    attempts_before: i64,
    status_code: Option<u16>,
    error: Option<&str>,
    max_attempts: i64,
) -> QueryResult<()> {
    let at = now();
    let attempts = attempts_before + 1;
    let delivered = status_code.is_some_and(|c| (200..300).contains(&c));
    let status = if delivered {
        DeliveryStatus::Delivered
    } else if crate::platform::outbox::rules::is_dead(attempts, max_attempts) {
        DeliveryStatus::Dead
    } else {
        DeliveryStatus::Pending
    };
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(attempts),
            webhook_deliveries::last_status_code.eq(status_code.map(i64::from)),
            webhook_deliveries::last_error.eq(error),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::next_attempt_at
                .eq(at + crate::platform::outbox::rules::retry_delay(attempts)),
            webhook_deliveries::delivered_at.eq(delivered.then_some(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The endpoint's deliveries, newest first, in `window`.
pub fn deliveries(
    conn: &mut DbConn,
    endpoint_id: i64,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<Delivery>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::id.desc())
        .offset(window.offset)
        .limit(window.limit)
        .select(Delivery::as_select())
        .load(conn)
}

pub fn insert_endpoint(
    conn: &mut DbConn,
    program_id: i64,
    url: &str,
    secret: &str,
    events: &[&str],
) -> QueryResult<i64> {
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::program_id.eq(program_id),
            webhook_endpoints::url.eq(url),
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::events.eq(events.join("\n")),
            webhook_endpoints::created_at.eq(now()),
        ))
        .returning(webhook_endpoints::id)
        .get_result(conn)
}

pub fn set_active(conn: &mut DbConn, id: i64, active: bool) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::active.eq(active))
        .execute(conn)
        .map(|_| ())
}

/// A delivery of the program's with its endpoint's id.
pub fn find_delivery(
    conn: &mut DbConn,
    program_id: i64,
    delivery_id: i64,
) -> QueryResult<Option<(Delivery, i64)>> {
    webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_endpoints::program_id.eq(program_id))
        .filter(webhook_deliveries::id.eq(delivery_id))
        .select((Delivery::as_select(), webhook_endpoints::id))
        .first(conn)
        .optional()
}

/// A delivery due now to one endpoint.
pub fn insert_delivery(
    conn: &mut DbConn,
    endpoint_id: i64,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> QueryResult<()> {
    let at = now();
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::endpoint_id.eq(endpoint_id),
            webhook_deliveries::event_id.eq(event_id),
            webhook_deliveries::event_type.eq(event_type),
            webhook_deliveries::payload.eq(payload),
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::next_attempt_at.eq(at),
            webhook_deliveries::created_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}
