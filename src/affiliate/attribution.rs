//! Who gets credit for a conversion. Documented rules, in order:
//! 1. A coupon beats a click: the code was typed at checkout, the strongest signal there is.
//! 2. Otherwise a click within the cookie window: of the clicks of one browser (the chain its cookie kept), the
//!    program's model picks the first or the last.
//! 3. Otherwise the customer's binding: the partner a lead of that customer was attributed to (cross-device,
//!    recurring billing).
//! 4. Otherwise nobody.

use chrono::{Duration, NaiveDateTime};

use super::rules::ClickFilter;
use crate::programs::affiliate_settings::AttributionModel;

crate::text_enum!(AttributedBy {
    Coupon => "coupon" / "Coupon",
    Click => "click" / "Click",
    Customer => "customer" / "Customer",
});

#[derive(Debug, Clone)]
pub struct ClickFact {
    pub click_id: String,
    pub partner_org_id: i64,
    pub clicked_at: NaiveDateTime,
    pub filtered: Option<ClickFilter>,
}

#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The partner owning the coupon presented, if any.
    pub coupon_partner: Option<i64>,
    /// The presented click and the clicks before it in the same browser, newest first.
    pub click_chain: Vec<ClickFact>,
    /// The partner the customer is bound to, if any.
    pub customer_partner: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub partner_org_id: i64,
    pub by: AttributedBy,
    /// The click that won, when a click did.
    pub click_id: Option<String>,
}

pub fn attribute(
    evidence: &Evidence,
    model: AttributionModel,
    cookie_window_days: i64,
    occurred_at: NaiveDateTime,
) -> Option<Attribution> {
    if let Some(partner) = evidence.coupon_partner {
        return Some(Attribution {
            partner_org_id: partner,
            by: AttributedBy::Coupon,
            click_id: None,
        });
    }
    let window_start = occurred_at - Duration::days(cookie_window_days);
    let mut eligible = evidence
        .click_chain
        .iter()
        .filter(|c| {
            c.clicked_at >= window_start && c.clicked_at <= occurred_at + Duration::minutes(5)
        })
        .filter(|c| c.filtered.is_none_or(ClickFilter::may_attribute));
    let chosen = match model {
        AttributionModel::LastClick => eligible.next(),
        AttributionModel::FirstClick => eligible.next_back(),
    };
    if let Some(click) = chosen {
        return Some(Attribution {
            partner_org_id: click.partner_org_id,
            by: AttributedBy::Click,
            click_id: Some(click.click_id.clone()),
        });
    }
    evidence.customer_partner.map(|partner| Attribution {
        partner_org_id: partner,
        by: AttributedBy::Customer,
        click_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn click(id: &str, partner: i64, at: NaiveDateTime) -> ClickFact {
        ClickFact {
            click_id: id.into(),
            partner_org_id: partner,
            clicked_at: at,
            filtered: None,
        }
    }

    #[test]
    fn a_coupon_beats_a_click() {
        let evidence = Evidence {
            coupon_partner: Some(7),
            click_chain: vec![click("c", 1, day(10))],
            customer_partner: Some(3),
        };
        let won = attribute(&evidence, AttributionModel::LastClick, 30, day(11)).unwrap();
        assert_eq!((won.partner_org_id, won.by), (7, AttributedBy::Coupon));
    }

    #[test]
    fn the_model_picks_first_or_last_click_of_the_chain() {
        let evidence = Evidence {
            click_chain: vec![click("new", 2, day(10)), click("old", 1, day(5))],
            ..Default::default()
        };
        assert_eq!(
            attribute(&evidence, AttributionModel::LastClick, 30, day(11))
                .unwrap()
                .partner_org_id,
            2
        );
        let first = attribute(&evidence, AttributionModel::FirstClick, 30, day(11)).unwrap();
        assert_eq!(
            (first.partner_org_id, first.click_id.as_deref()),
            (1, Some("old"))
        );
    }

    #[test]
    fn clicks_outside_the_cookie_window_do_not_attribute() {
        let evidence = Evidence {
            click_chain: vec![click("c", 1, day(1))],
            ..Default::default()
        };
        assert_eq!(
            attribute(&evidence, AttributionModel::LastClick, 7, day(9)),
            None
        );
        assert!(attribute(&evidence, AttributionModel::LastClick, 7, day(8)).is_some());
        // The first click falls out of the window: first-click falls back to the earliest one still inside.
        let chain = Evidence {
            click_chain: vec![click("b", 2, day(8)), click("a", 1, day(1))],
            ..Default::default()
        };
        assert_eq!(
            attribute(&chain, AttributionModel::FirstClick, 7, day(9))
                .unwrap()
                .partner_org_id,
            2
        );
    }

    #[test]
    fn bot_clicks_never_attribute_but_repeat_visits_do() {
        let mut bot = click("b", 1, day(10));
        bot.filtered = Some(ClickFilter::Bot);
        assert_eq!(
            attribute(
                &Evidence {
                    click_chain: vec![bot],
                    ..Default::default()
                },
                AttributionModel::LastClick,
                30,
                day(11)
            ),
            None
        );
        let mut repeat = click("r", 1, day(10));
        repeat.filtered = Some(ClickFilter::Duplicate);
        assert!(attribute(
            &Evidence {
                click_chain: vec![repeat],
                ..Default::default()
            },
            AttributionModel::LastClick,
            30,
            day(11)
        )
        .is_some());
    }

    #[test]
    fn the_customer_binding_is_the_fallback() {
        let evidence = Evidence {
            customer_partner: Some(4),
            click_chain: vec![click("old", 1, day(1))],
            ..Default::default()
        };
        let won = attribute(&evidence, AttributionModel::LastClick, 7, day(20)).unwrap();
        assert_eq!((won.partner_org_id, won.by), (4, AttributedBy::Customer));
        assert_eq!(
            attribute(
                &Evidence::default(),
                AttributionModel::LastClick,
                30,
                day(1)
            ),
            None
        );
    }
}
