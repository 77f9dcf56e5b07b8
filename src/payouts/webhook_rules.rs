//! The Stripe events Concord acts on, read from the event JSON into what each needs. Anything else is
//! acknowledged and ignored.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub event_type: String,
    pub created: NaiveDateTime,
    pub action: EventAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// Binds the Stripe customer to the partner of a Concord click (`client_reference_id`) or named in the
    /// metadata (`concord_partner_id`, `concord_click`).
    BindCustomer {
        customer: String,
        click_id: Option<String>,
        partner_id: Option<i64>,
    },
    /// A paid invoice is a sale conversion of its customer, once per invoice.
    Sale {
        invoice: String,
        customer: String,
        amount_minor: i64,
        currency: String,
        product: Option<String>,
    },
    /// Refunds of an invoice's charge, each once.
    Refunds {
        invoice: String,
        refunds: Vec<(String, i64)>,
    },
    AccountUpdated {
        account: String,
        payouts_enabled: bool,
        details_submitted: bool,
        currently_due: Vec<String>,
    },
    TransferReversed {
        transfer: String,
    },
    Ignored,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Reads an event; an event Concord acts on but that lacks what it needs is an error naming the field.
pub fn parse(event: &Value) -> Result<StripeEvent, crate::domain::refusal::Refusal> {
    let id = text(event, "id").ok_or("the event has no id")?;
    let event_type = text(event, "type").ok_or("the event has no type")?;
    let created = event
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc())
        .ok_or("the event has no created time")?;
    let object = event
        .pointer("/data/object")
        .ok_or("the event has no data.object")?;
    let need = |key: &str| {
        text(object, key).ok_or_else(|| format!("{event_type}: data.object.{key} is missing"))
    };
    let action = match event_type.as_str() {
        "checkout.session.completed" => match text(object, "customer") {
            Some(customer) => EventAction::BindCustomer {
                customer,
                click_id: text(object, "client_reference_id").or_else(|| {
                    object
                        .pointer("/metadata/concord_click")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
                partner_id: object
                    .pointer("/metadata/concord_partner_id")
                    .and_then(Value::as_str)
                    .and_then(|p| p.parse().ok()),
            },
            // A one-off payment without a customer has nothing to bind.
            None => EventAction::Ignored,
        },
        "invoice.paid" => EventAction::Sale {
            invoice: need("id")?,
            customer: need("customer")?,
            amount_minor: object
                .get("amount_paid")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("{event_type}: data.object.amount_paid is missing"))?,
            currency: need("currency")?.to_uppercase(),
            product: object
                .pointer("/lines/data/0/price/product")
                .or_else(|| object.pointer("/lines/data/0/plan/product"))
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        "charge.refunded" => match text(object, "invoice") {
            Some(invoice) => EventAction::Refunds {
                invoice,
                refunds: object
                    .pointer("/refunds/data")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|r| Some((text(r, "id")?, r.get("amount")?.as_i64()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => EventAction::Ignored,
        },
        "account.updated" => EventAction::AccountUpdated {
            account: need("id")?,
            payouts_enabled: object
                .get("payouts_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            details_submitted: object
                .get("details_submitted")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            currently_due: object
                .pointer("/requirements/currently_due")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        },
        "transfer.reversed" => EventAction::TransferReversed {
            transfer: need("id")?,
        },
        _ => EventAction::Ignored,
    };
    Ok(StripeEvent {
        id,
        event_type,
        created,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_events_concord_acts_on_are_read() {
        let paid = json!({"id": "evt_1", "type": "invoice.paid", "created": 1_767_225_600,
            "data": {"object": {"id": "in_1", "customer": "cus_1", "amount_paid": 4900, "currency": "usd",
                "lines": {"data": [{"price": {"product": "prod_starter"}}]}}}});
        let event = parse(&paid).unwrap();
        assert_eq!(event.created.to_string(), "2026-01-01 00:00:00");
        assert_eq!(
            event.action,
            EventAction::Sale {
                invoice: "in_1".into(),
                customer: "cus_1".into(),
                amount_minor: 4900,
                currency: "USD".into(),
                product: Some("prod_starter".into())
            }
        );
        let checkout = json!({"id": "evt_2", "type": "checkout.session.completed", "created": 1,
            "data": {"object": {"customer": "cus_1", "client_reference_id": "clk_abc", "metadata": {"concord_partner_id": "7"}}}});
        assert_eq!(
            parse(&checkout).unwrap().action,
            EventAction::BindCustomer {
                customer: "cus_1".into(),
                click_id: Some("clk_abc".into()),
                partner_id: Some(7)
            }
        );
        let refunded = json!({"id": "evt_3", "type": "charge.refunded", "created": 1,
            "data": {"object": {"invoice": "in_1", "refunds": {"data": [{"id": "re_1", "amount": 900}]}}}});
        assert_eq!(
            parse(&refunded).unwrap().action,
            EventAction::Refunds {
                invoice: "in_1".into(),
                refunds: vec![("re_1".into(), 900)]
            }
        );
        let other = json!({"id": "evt_4", "type": "customer.created", "created": 1, "data": {"object": {}}});
        assert_eq!(parse(&other).unwrap().action, EventAction::Ignored);
        let broken = json!({"id": "evt_5", "type": "invoice.paid", "created": 1, "data": {"object": {"id": "in_2"}}});
        assert_eq!(
            parse(&broken).unwrap_err(),
            "invoice.paid: data.object.customer is missing"
        );
    }
}
