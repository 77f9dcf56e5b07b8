//! Stripe webhook events: each is handled once (its id is recorded in the same transaction as its effect, so a
//! redelivery changes nothing and a failure leaves it for Stripe to deliver again).

use diesel::prelude::*;

use crate::affiliate::conversions::{ConversionInput, RefundError};
use crate::domain::conversion::ConversionKind;
use crate::payouts::webhook_rules::{EventAction, StripeEvent};
use crate::platform::db::schema::stripe_events;
use crate::platform::db::{is_unique_violation, now, DbConn};
use crate::programs::Program;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Seen before: nothing changed.
    Duplicate,
    /// What the event did, in words (kept with the event id).
    Done(String),
}

/// Handles an event once.
pub fn handle(conn: &mut DbConn, program: &Program, event: &StripeEvent) -> QueryResult<Handled> {
    conn.transaction(|conn| {
        let recorded = conn.transaction(|conn| {
            diesel::insert_into(stripe_events::table)
                .values((
                    stripe_events::event_id.eq(&event.id),
                    stripe_events::event_type.eq(&event.event_type),
                    stripe_events::outcome.eq(""),
                    stripe_events::received_at.eq(now()),
                ))
                .execute(conn)
        });
        match recorded {
            Err(e) if is_unique_violation(&e) => return Ok(Handled::Duplicate),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let outcome = apply(conn, program, event)?;
        diesel::update(stripe_events::table.filter(stripe_events::event_id.eq(&event.id)))
            .set(stripe_events::outcome.eq(&outcome))
            .execute(conn)?;
        Ok(Handled::Done(outcome))
    })
}

fn apply(conn: &mut DbConn, program: &Program, event: &StripeEvent) -> QueryResult<String> {
    Ok(match &event.action {
        EventAction::BindCustomer {
            customer,
            click_id,
            partner_id,
        } => {
            let from_click = match click_id {
                Some(id) => {
                    crate::affiliate::store::clicks::find(conn, id)?.map(|c| c.partner_org_id)
                }
                None => None,
            };
            let named = match partner_id {
                Some(id) => crate::partners::store::find(conn, program.id, *id)?.map(|p| p.org.id),
                None => None,
            };
            match from_click.or(named) {
                Some(org) => {
                    crate::affiliate::store::customers::bind(conn, program.id, customer, org)?;
                    format!("customer {customer} bound to partner #{org}")
                }
                None => format!("customer {customer}: no Concord click or partner named"),
            }
        }
        EventAction::Sale {
            invoice,
            customer,
            amount_minor,
            currency,
            product,
        } => {
            let input = ConversionInput {
                external_id: format!("stripe:{invoice}"),
                kind: ConversionKind::Sale,
                amount_minor: *amount_minor,
                currency: currency.clone(),
                click_id: None,
                customer_id: Some(customer.clone()),
                coupon_key: None,
                coupon_code: None,
                product: product.clone(),
                customer_email: None,
                occurred_at: event.created,
            };
            let (conversion, created) =
                crate::affiliate::conversions::record(conn, program, &input)?;
            format!(
                "sale conversion #{}{}",
                conversion.id,
                if created { "" } else { " (recorded before)" }
            )
        }
        EventAction::Refunds { invoice, refunds } => {
            let mut done = Vec::new();
            for (refund_id, amount) in refunds {
                match crate::affiliate::conversions::refund(
                    conn,
                    program.id,
                    &format!("stripe:{refund_id}"),
                    &format!("stripe:{invoice}"),
                    Some(*amount),
                ) {
                    Ok((refund, _)) => done.push(format!("refund #{}", refund.id)),
                    Err(RefundError::Database(e)) => return Err(e),
                    Err(other) => done.push(format!("{refund_id}: {other}")),
                }
            }
            done.join(", ")
        }
        EventAction::AccountUpdated {
            account,
            payouts_enabled,
            details_submitted,
            currently_due,
        } => {
            let state = crate::payouts::stripe::AccountState {
                payouts_enabled: *payouts_enabled,
                details_submitted: *details_submitted,
                currently_due: currently_due.clone(),
            };
            let changed = crate::payouts::update_account_state(conn, account, &state)?;
            format!("account {account}: {changed} updated")
        }
        EventAction::TransferReversed { transfer } => {
            match crate::payouts::mark_reversed(conn, transfer)? {
                Some(payout) => format!("payout #{payout} reversed; balance restored"),
                None => format!("transfer {transfer}: no paid payout"),
            }
        }
        EventAction::Ignored => "ignored".into(),
    })
}
