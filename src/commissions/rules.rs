//! The commission engine: ordered rules, the first match wins, and every amount comes with a sentence that explains
//! it ("25% of 199.00 USD under rule 'Gold recurring', month 3 of 12").
//!
//! Matching order: rules for the partner's tier come before the program's default rules (a tier's override beats
//! the default); within each group, the admin's order. Rounding is half-up at the minor unit, in one place.

use crate::domain::conversion::ConversionKind;
use crate::domain::money::{apply_rate, percent_text, Currency, Money};

crate::text_enum!(RateType {
    Percent => "percent" / "Percentage of the sale",
    Flat => "flat" / "Flat amount",
});

crate::text_enum!(Recurrence {
    FirstSaleOnly => "first_sale_only" / "First sale of a customer only",
    Recurring => "recurring" / "Recurring for N months",
    Lifetime => "lifetime" / "Every sale, for the customer's lifetime",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub applies_to: ConversionKind,
    pub rate_type: RateType,
    /// Basis points (percent) or minor units of the program currency (flat).
    pub rate: i64,
    /// Empty: any product.
    pub product_filter: String,
    pub tier_id: Option<i64>,
    pub volume_threshold: Option<i64>,
    pub volume_rate: Option<i64>,
    pub recurrence: Recurrence,
    pub recurring_months: Option<i64>,
}

/// What the engine needs to know about a conversion and its partner.
#[derive(Debug, Clone)]
pub struct CommissionContext<'a> {
    pub kind: ConversionKind,
    pub amount: Money,
    pub product: Option<&'a str>,
    pub program_currency: Currency,
    pub partner_tier_id: Option<i64>,
    pub partner_tier_name: Option<&'a str>,
    /// The tier's commission override for default percent rules, in basis points.
    pub tier_override_bps: Option<i64>,
    /// Sales of the partner earlier in the same calendar month (the volume tier counts these).
    pub sales_earlier_this_month: i64,
    /// 1 for the customer's first month with this partner, 2 for the next calendar month, and so on.
    pub customer_month: i64,
    /// Whether this is the customer's first sale attributed to the partner.
    pub first_sale_of_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commission {
    pub amount: Money,
    pub rule_id: i64,
    pub explanation: String,
}

fn matches(rule: &Rule, ctx: &CommissionContext<'_>) -> bool {
    if rule.applies_to != ctx.kind {
        return false;
    }
    if !rule.product_filter.is_empty()
        && !ctx
            .product
            .is_some_and(|p| p.eq_ignore_ascii_case(&rule.product_filter))
    {
        return false;
    }
    if rule.tier_id.is_some() && rule.tier_id != ctx.partner_tier_id {
        return false;
    }
    true
}

/// The commission of a conversion, or `None` when no rule matches or the matching rule pays nothing for it (a
/// renewal past its recurring months).
pub fn compute(rules: &[Rule], ctx: &CommissionContext<'_>) -> Option<Commission> {
    let tier_rules = rules.iter().filter(|r| r.tier_id.is_some());
    let default_rules = rules.iter().filter(|r| r.tier_id.is_none());
    let rule = tier_rules.chain(default_rules).find(|r| matches(r, ctx))?;

    let mut month_note = String::new();
    if ctx.kind == ConversionKind::Sale {
        match rule.recurrence {
            Recurrence::FirstSaleOnly if !ctx.first_sale_of_customer => return None,
            Recurrence::Recurring => {
                let months = rule.recurring_months.unwrap_or(1).max(1);
                if ctx.customer_month > months {
                    return None;
                }
                month_note = format!(", month {} of {months}", ctx.customer_month);
            }
            _ => {}
        }
    }

    let volume = match (rule.volume_threshold, rule.volume_rate) {
        (Some(threshold), Some(rate)) if ctx.sales_earlier_this_month >= threshold => {
            Some((threshold, rate))
        }
        _ => None,
    };
    let rate = volume.map(|(_, rate)| rate).unwrap_or(rule.rate);
    let volume_note = match volume {
        Some((threshold, _)) => format!(
            " (volume rate: sale {} this month, above {threshold})",
            ctx.sales_earlier_this_month + 1
        ),
        None => String::new(),
    };

    let (amount, what) = match rule.rate_type {
        RateType::Percent => {
            let override_bps = if rule.tier_id.is_none() && volume.is_none() {
                ctx.tier_override_bps
            } else {
                None
            };
            let bps = override_bps.unwrap_or(rate);
            let tier_note = match (override_bps, ctx.partner_tier_name) {
                (Some(_), Some(tier)) => format!(" ({tier} tier rate)"),
                _ => String::new(),
            };
            (
                Money::new(apply_rate(ctx.amount.minor, bps), ctx.amount.currency),
                format!("{} of {}{tier_note}", percent_text(bps), ctx.amount),
            )
        }
        RateType::Flat => {
            let flat = Money::new(rate, ctx.program_currency);
            (flat, format!("flat {flat} per {}", ctx.kind.as_str()))
        }
    };
    Some(Commission {
        amount,
        rule_id: rule.id,
        explanation: format!("{what} under rule '{}'{month_note}{volume_note}", rule.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::share;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap())
    }

    fn rule(id: i64, name: &str, kind: ConversionKind, rate_type: RateType, rate: i64) -> Rule {
        Rule {
            id,
            name: name.into(),
            applies_to: kind,
            rate_type,
            rate,
            product_filter: String::new(),
            tier_id: None,
            volume_threshold: None,
            volume_rate: None,
            recurrence: Recurrence::Lifetime,
            recurring_months: None,
        }
    }

    fn sale(amount: i64) -> CommissionContext<'static> {
        CommissionContext {
            kind: ConversionKind::Sale,
            amount: usd(amount),
            product: None,
            program_currency: Currency::parse("USD").unwrap(),
            partner_tier_id: None,
            partner_tier_name: None,
            tier_override_bps: None,
            sales_earlier_this_month: 0,
            customer_month: 1,
            first_sale_of_customer: true,
        }
    }

    #[test]
    fn rounding_is_half_up_at_the_minor_unit() {
        assert_eq!(apply_rate(1_005, 1_000), 101); // 100.5 cents -> 101
        assert_eq!(apply_rate(1_004, 1_000), 100); // 100.4 -> 100
        assert_eq!(apply_rate(15, 5_000), 8); // 7.5 -> 8
        assert_eq!(apply_rate(-15, 5_000), -8);
        assert_eq!(apply_rate(i64::MAX / 2, 10_000), i64::MAX / 2);
        assert_eq!(share(101, 1, 2), 51); // 50.5 -> 51
        assert_eq!(share(100, 1, 3), 33);
    }

    #[test]
    fn percent_and_flat_rules_explain_themselves() {
        let rules = vec![
            rule(1, "Sales", ConversionKind::Sale, RateType::Percent, 2_500),
            rule(2, "Leads", ConversionKind::Lead, RateType::Flat, 500),
        ];
        let c = compute(&rules, &sale(19_900)).unwrap();
        assert_eq!(c.amount, usd(4_975));
        assert_eq!(c.explanation, "25% of 199.00 USD under rule 'Sales'");
        let lead = CommissionContext {
            kind: ConversionKind::Lead,
            amount: usd(0),
            ..sale(0)
        };
        let c = compute(&rules, &lead).unwrap();
        assert_eq!((c.amount, c.rule_id), (usd(500), 2));
        assert_eq!(c.explanation, "flat 5.00 USD per lead under rule 'Leads'");
    }

    #[test]
    fn product_filters_and_tier_rules_come_first() {
        let mut pro = rule(
            1,
            "Pro plan",
            ConversionKind::Sale,
            RateType::Percent,
            3_000,
        );
        pro.product_filter = "pro".into();
        let mut gold = rule(2, "Gold", ConversionKind::Sale, RateType::Percent, 2_500);
        gold.tier_id = Some(7);
        let default = rule(3, "Default", ConversionKind::Sale, RateType::Percent, 2_000);
        let rules = vec![pro, default, gold];
        assert_eq!(
            compute(
                &rules,
                &CommissionContext {
                    product: Some("PRO"),
                    ..sale(1_000)
                }
            )
            .unwrap()
            .rule_id,
            1
        );
        assert_eq!(compute(&rules, &sale(1_000)).unwrap().rule_id, 3);
        assert_eq!(
            compute(
                &rules,
                &CommissionContext {
                    partner_tier_id: Some(7),
                    ..sale(1_000)
                }
            )
            .unwrap()
            .rule_id,
            2,
            "the tier rule beats the default"
        );
        let silver = CommissionContext {
            partner_tier_id: Some(5),
            partner_tier_name: Some("Silver"),
            tier_override_bps: Some(2_200),
            ..sale(1_000)
        };
        let c = compute(&rules, &silver).unwrap();
        assert_eq!((c.rule_id, c.amount), (3, usd(220)));
        assert_eq!(
            c.explanation,
            "22% of 10.00 USD (Silver tier rate) under rule 'Default'"
        );
    }

    #[test]
    fn the_volume_rate_starts_with_the_sale_after_the_threshold() {
        let mut volume = rule(1, "Volume", ConversionKind::Sale, RateType::Percent, 2_000);
        volume.volume_threshold = Some(50);
        volume.volume_rate = Some(2_500);
        let rules = vec![volume];
        assert_eq!(
            compute(
                &rules,
                &CommissionContext {
                    sales_earlier_this_month: 49,
                    ..sale(10_000)
                }
            )
            .unwrap()
            .amount,
            usd(2_000)
        );
        let fifty_first = compute(
            &rules,
            &CommissionContext {
                sales_earlier_this_month: 50,
                ..sale(10_000)
            },
        )
        .unwrap();
        assert_eq!(fifty_first.amount, usd(2_500));
        assert_eq!(
            fifty_first.explanation,
            "25% of 100.00 USD under rule 'Volume' (volume rate: sale 51 this month, above 50)"
        );
    }

    #[test]
    fn recurring_rules_stop_after_their_months_and_first_sale_rules_after_one() {
        let mut recurring = rule(
            1,
            "Recurring",
            ConversionKind::Sale,
            RateType::Percent,
            1_000,
        );
        recurring.recurrence = Recurrence::Recurring;
        recurring.recurring_months = Some(3);
        let rules = vec![recurring];
        let month3 = compute(
            &rules,
            &CommissionContext {
                customer_month: 3,
                first_sale_of_customer: false,
                ..sale(1_000)
            },
        )
        .unwrap();
        assert_eq!(
            month3.explanation,
            "10% of 10.00 USD under rule 'Recurring', month 3 of 3"
        );
        assert_eq!(
            compute(
                &rules,
                &CommissionContext {
                    customer_month: 4,
                    first_sale_of_customer: false,
                    ..sale(1_000)
                }
            ),
            None
        );

        let mut first = rule(2, "First", ConversionKind::Sale, RateType::Percent, 1_000);
        first.recurrence = Recurrence::FirstSaleOnly;
        assert!(compute(&[first.clone()], &sale(1_000)).is_some());
        assert_eq!(
            compute(
                &[first],
                &CommissionContext {
                    first_sale_of_customer: false,
                    ..sale(1_000)
                }
            ),
            None
        );

        let lifetime = rule(
            3,
            "Lifetime",
            ConversionKind::Sale,
            RateType::Percent,
            1_000,
        );
        assert!(compute(
            &[lifetime],
            &CommissionContext {
                customer_month: 40,
                first_sale_of_customer: false,
                ..sale(1_000)
            }
        )
        .is_some());
    }

    #[test]
    fn no_rule_no_commission() {
        assert_eq!(compute(&[], &sale(1_000)), None);
        assert_eq!(
            compute(
                &[rule(1, "Leads", ConversionKind::Lead, RateType::Flat, 100)],
                &sale(1_000)
            ),
            None
        );
    }
}

/// A rule as typed into the admin form.
pub struct RuleInput<'a> {
    pub name: &'a str,
    pub applies_to: &'a str,
    pub rate_type: &'a str,
    /// "25" (percent) or "5.00" (flat, program currency).
    pub rate: &'a str,
    pub product_filter: &'a str,
    pub tier_id: Option<i64>,
    pub volume_threshold: &'a str,
    pub volume_rate: &'a str,
    pub recurrence: &'a str,
    pub recurring_months: &'a str,
}

impl Rule {
    /// Reads an admin's rule, reporting every bad field. The id is 0 until stored.
    pub fn parse(
        input: &RuleInput<'_>,
        program_currency: Currency,
    ) -> Result<Rule, Vec<(&'static str, String)>> {
        use crate::domain::money::BasisPoints;
        let mut errors = Vec::new();
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            errors.push((
                "name",
                "Name the rule (up to 80 characters), e.g. 'Gold recurring'.".to_string(),
            ));
        }
        let applies_to = input
            .applies_to
            .parse::<ConversionKind>()
            .unwrap_or_else(|_| {
                errors.push(("applies_to", "Choose lead or sale.".into()));
                ConversionKind::Sale
            });
        let rate_type = input.rate_type.parse::<RateType>().unwrap_or_else(|_| {
            errors.push(("rate_type", "Choose a percentage or a flat amount.".into()));
            RateType::Percent
        });
        let parse_rate =
            |raw: &str, field: &'static str, errors: &mut Vec<(&'static str, String)>| -> i64 {
                let parsed = match rate_type {
                    RateType::Percent => BasisPoints::parse_percent(raw).map(|b| b.value()),
                    RateType::Flat => Money::parse(raw, program_currency).and_then(|m| {
                        if m.minor < 0 {
                            Err("A flat amount cannot be negative.".into())
                        } else {
                            Ok(m.minor)
                        }
                    }),
                };
                parsed.unwrap_or_else(|e| {
                    errors.push((field, e.into()));
                    0
                })
            };
        let rate = parse_rate(input.rate, "rate", &mut errors);
        let (volume_threshold, volume_rate) =
            match (input.volume_threshold.trim(), input.volume_rate.trim()) {
                ("", "") => (None, None),
                (threshold, rate) => {
                    let threshold = match threshold.parse::<i64>() {
                        Ok(n) if n >= 1 => Some(n),
                        _ => {
                            errors.push((
                                "volume_threshold",
                                "The volume threshold is a number of sales, 1 or more.".into(),
                            ));
                            None
                        }
                    };
                    (
                        threshold,
                        Some(parse_rate(rate, "volume_rate", &mut errors)),
                    )
                }
            };
        let recurrence = input.recurrence.parse::<Recurrence>().unwrap_or_else(|_| {
            errors.push(("recurrence", "Choose how renewals are paid.".into()));
            Recurrence::Lifetime
        });
        let recurring_months = if recurrence == Recurrence::Recurring {
            match input.recurring_months.trim().parse::<i64>() {
                Ok(n) if (1..=120).contains(&n) => Some(n),
                _ => {
                    errors.push((
                        "recurring_months",
                        "Recurring rules pay for 1 to 120 months.".into(),
                    ));
                    None
                }
            }
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Rule {
            id: 0,
            name,
            applies_to,
            rate_type,
            rate,
            product_filter: input.product_filter.trim().to_string(),
            tier_id: input.tier_id,
            volume_threshold,
            volume_rate,
            recurrence,
            recurring_months,
        })
    }

    /// The rate as people read it: "25%" or "5.00 USD".
    pub fn rate_text(&self, rate: i64, program_currency: Currency) -> String {
        match self.rate_type {
            RateType::Percent => percent_text(rate),
            RateType::Flat => Money::new(rate, program_currency).to_string(),
        }
    }

    /// One line that says what the rule pays.
    pub fn summary(&self, program_currency: Currency) -> String {
        let mut text = format!(
            "{} per {}",
            self.rate_text(self.rate, program_currency),
            self.applies_to.as_str()
        );
        if let (Some(threshold), Some(rate)) = (self.volume_threshold, self.volume_rate) {
            text.push_str(&format!(
                "; {} from sale {} in a month",
                self.rate_text(rate, program_currency),
                threshold + 1
            ));
        }
        if !self.product_filter.is_empty() {
            text.push_str(&format!("; product {}", self.product_filter));
        }
        match (self.recurrence, self.recurring_months) {
            (Recurrence::FirstSaleOnly, _) => text.push_str("; first sale only"),
            (Recurrence::Recurring, Some(months)) => {
                text.push_str(&format!("; {months} months of renewals"))
            }
            _ => {}
        }
        text
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn input<'a>(rate_type: &'a str, rate: &'a str) -> RuleInput<'a> {
        RuleInput {
            name: "Default",
            applies_to: "sale",
            rate_type,
            rate,
            product_filter: "",
            tier_id: None,
            volume_threshold: "",
            volume_rate: "",
            recurrence: "lifetime",
            recurring_months: "",
        }
    }

    #[test]
    fn reads_percent_and_flat_rates() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            Rule::parse(&input("percent", "12.5"), usd).unwrap().rate,
            1_250
        );
        assert_eq!(Rule::parse(&input("flat", "5"), usd).unwrap().rate, 500);
        let rule = Rule::parse(
            &RuleInput {
                volume_threshold: "50",
                volume_rate: "25",
                ..input("percent", "20")
            },
            usd,
        )
        .unwrap();
        assert_eq!(
            rule.summary(usd),
            "20% per sale; 25% from sale 51 in a month"
        );
    }

    #[test]
    fn reports_bad_fields() {
        let usd = Currency::parse("USD").unwrap();
        let bad = RuleInput {
            name: "",
            applies_to: "click",
            recurrence: "recurring",
            volume_threshold: "x",
            volume_rate: "1",
            ..input("percent", "200")
        };
        let fields: Vec<_> = Rule::parse(&bad, usd)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "applies_to",
                "rate",
                "volume_threshold",
                "recurring_months"
            ]
        );
    }
}
