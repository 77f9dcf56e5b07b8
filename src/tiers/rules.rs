//! Tiers: ordered program levels and the benefits each one carries. Rank 1 is the entry tier; a higher rank is a
//! better tier.

use crate::domain::money::{BasisPoints, Currency, Money};

/// A tier as an admin defines it, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierDefinition {
    pub name: String,
    pub rank: i64,
    pub description: String,
    pub margin: BasisPoints,
    pub commission_override: Option<BasisPoints>,
    pub mdf_allowance: Money,
    /// What an org needs over the last 12 months to be placed here (all zero: open to everyone).
    pub min_won_revenue: Money,
    pub min_certified_reps: i64,
    pub min_won_deals: i64,
    pub min_sales_revenue: Money,
}

/// Field-by-field problems, keyed by form field name, so a form can show each next to its input.
pub type FieldErrors = Vec<(&'static str, String)>;

pub struct TierInput<'a> {
    pub name: &'a str,
    pub rank: &'a str,
    pub description: &'a str,
    pub margin_percent: &'a str,
    pub commission_override_percent: &'a str,
    pub mdf_allowance: &'a str,
    pub min_won_revenue: &'a str,
    pub min_certified_reps: &'a str,
    pub min_won_deals: &'a str,
    pub min_sales_revenue: &'a str,
}

impl TierDefinition {
    pub fn parse(input: &TierInput<'_>, currency: Currency) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = input.name.trim().to_string();
        if name.is_empty() {
            errors.push(("name", "Give the tier a name.".into()));
        } else if name.chars().count() > 60 {
            errors.push(("name", "Keep the name under 60 characters.".into()));
        }
        let rank = match input.rank.trim().parse::<i64>() {
            Ok(rank) if (1..=100).contains(&rank) => rank,
            _ => {
                errors.push((
                    "rank",
                    "Rank is a whole number from 1 (entry tier) to 100.".into(),
                ));
                0
            }
        };
        let margin = if input.margin_percent.trim().is_empty() {
            Ok(BasisPoints::new(0).expect("zero is a rate"))
        } else {
            BasisPoints::parse_percent(input.margin_percent)
        }
        .unwrap_or_else(|e| {
            errors.push(("margin_percent", e.into()));
            BasisPoints::new(0).expect("zero is a rate")
        });
        let commission_override = if input.commission_override_percent.trim().is_empty() {
            None
        } else {
            BasisPoints::parse_percent(input.commission_override_percent)
                .map_err(|e| errors.push(("commission_override_percent", e.into())))
                .ok()
        };
        let mdf_allowance = if input.mdf_allowance.trim().is_empty() {
            Money::new(0, currency)
        } else {
            match Money::parse(input.mdf_allowance, currency) {
                Ok(m) if m.minor >= 0 => m,
                Ok(_) => {
                    errors.push((
                        "mdf_allowance",
                        "The MDF allowance cannot be negative.".into(),
                    ));
                    Money::new(0, currency)
                }
                Err(e) => {
                    errors.push(("mdf_allowance", e.into()));
                    Money::new(0, currency)
                }
            }
        };
        let mut amount = |raw: &str, field: &'static str| match raw.trim() {
            "" => Money::new(0, currency),
            text => match Money::parse(text, currency) {
                Ok(m) if m.minor >= 0 => m,
                _ => {
                    errors.push((
                        field,
                        format!("Enter an amount in {currency} of 0 or more."),
                    ));
                    Money::new(0, currency)
                }
            },
        };
        let min_won_revenue = amount(input.min_won_revenue, "min_won_revenue");
        let min_sales_revenue = amount(input.min_sales_revenue, "min_sales_revenue");
        let mut count = |raw: &str, field: &'static str| match raw.trim() {
            "" => 0,
            text => text
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .unwrap_or_else(|| {
                    errors.push((field, "Enter a whole number of 0 or more.".into()));
                    0
                }),
        };
        let min_certified_reps = count(input.min_certified_reps, "min_certified_reps");
        let min_won_deals = count(input.min_won_deals, "min_won_deals");
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name,
            rank,
            description: input.description.trim().to_string(),
            margin,
            commission_override,
            mdf_allowance,
            min_won_revenue,
            min_certified_reps,
            min_won_deals,
            min_sales_revenue,
        })
    }
}

/// One line that says what a tier gives, e.g. "12% margin · 25% commission · 5,000.00 USD MDF".
pub fn benefits_summary(
    margin_bps: i64,
    commission_override_bps: Option<i64>,
    mdf_allowance: Money,
) -> String {
    let mut parts = vec![format!(
        "{} margin",
        crate::domain::money::percent_text(margin_bps)
    )];
    if let Some(bps) = commission_override_bps {
        parts.push(format!(
            "{} commission",
            crate::domain::money::percent_text(bps)
        ));
    }
    if mdf_allowance.minor > 0 {
        parts.push(format!("{mdf_allowance} MDF"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, rank: &'a str, margin: &'a str, mdf: &'a str) -> TierInput<'a> {
        TierInput {
            name,
            rank,
            description: "",
            margin_percent: margin,
            commission_override_percent: "",
            mdf_allowance: mdf,
            min_won_revenue: "",
            min_certified_reps: "",
            min_won_deals: "",
            min_sales_revenue: "",
        }
    }

    #[test]
    fn parses_a_valid_tier() {
        let usd = Currency::parse("USD").unwrap();
        let tier = TierDefinition::parse(&input(" Gold ", "3", "15", "5000"), usd).unwrap();
        assert_eq!(tier.name, "Gold");
        assert_eq!(tier.rank, 3);
        assert_eq!(tier.margin.value(), 1500);
        assert_eq!(tier.mdf_allowance.minor, 500_000);
        assert_eq!(tier.commission_override, None);
    }

    #[test]
    fn reports_every_bad_field() {
        let usd = Currency::parse("USD").unwrap();
        let errors = TierDefinition::parse(&input("", "zero", "150", "-5"), usd).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            vec!["name", "rank", "margin_percent", "mdf_allowance"]
        );
    }

    #[test]
    fn summarises_benefits() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            benefits_summary(1200, Some(2500), Money::new(500_000, usd)),
            "12% margin · 25% commission · 5,000.00 USD MDF"
        );
        assert_eq!(benefits_summary(0, None, Money::new(0, usd)), "0% margin");
    }
}
