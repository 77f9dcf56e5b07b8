//! The program report: per partner, for a date range, clicks, conversions, conversion rate, revenue, commission
//! cost and EPC. Amounts are in the program currency; conversions in other currencies are counted but their money
//! is listed apart, never converted.

use crate::domain::money::percent_text;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFigures {
    pub partner_org_id: i64,
    pub name: String,
    pub clicks: i64,
    pub conversions: i64,
    /// Sales revenue in the program currency, minor units.
    pub revenue_minor: i64,
    /// Commission cost (commissions net of reversals, not void) in the program currency, minor units.
    pub commission_minor: i64,
    /// Whether money in other currencies was left out of the two sums above.
    pub other_currencies: bool,
}

impl PartnerFigures {
    /// Conversions per counted click, in basis points.
    pub fn conversion_rate_bps(&self) -> i64 {
        if self.clicks == 0 {
            0
        } else {
            self.conversions * 10_000 / self.clicks
        }
    }

    pub fn conversion_rate(&self) -> String {
        percent_text(self.conversion_rate_bps())
    }

    /// Earnings per 100 clicks: commission cost × 100 / clicks, rounded half-up; zero without clicks.
    pub fn epc_minor(&self) -> i64 {
        if self.clicks == 0 {
            return 0;
        }
        crate::domain::money::share(self.commission_minor, 100, self.clicks)
    }
}

crate::text_enum!(ReportSort {
    Clicks => "clicks" / "Clicks",
    Conversions => "conversions" / "Conversions",
    ConversionRate => "conversion_rate" / "Conversion rate",
    Epc => "epc" / "EPC",
    Revenue => "revenue" / "Revenue",
    Commission => "commission" / "Commission cost",
    Name => "name" / "Partner",
});

/// Sorts descending (names ascending), ties by name.
pub fn sort(rows: &mut [PartnerFigures], by: ReportSort) {
    rows.sort_by(|a, b| {
        let key = |r: &PartnerFigures| match by {
            ReportSort::Clicks => r.clicks,
            ReportSort::Conversions => r.conversions,
            ReportSort::ConversionRate => r.conversion_rate_bps(),
            ReportSort::Epc => r.epc_minor(),
            ReportSort::Revenue => r.revenue_minor,
            ReportSort::Commission => r.commission_minor,
            ReportSort::Name => 0,
        };
        key(b)
            .cmp(&key(a))
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
}

/// A horizontal bar per partner for the top of the list, widths in a 0..=400 scale of the largest revenue.
pub fn revenue_bars(rows: &[PartnerFigures], top: usize) -> Vec<(String, i64, i64)> {
    let mut by_revenue: Vec<&PartnerFigures> =
        rows.iter().filter(|r| r.revenue_minor > 0).collect();
    by_revenue.sort_by_key(|r| std::cmp::Reverse(r.revenue_minor));
    let peak = by_revenue
        .first()
        .map(|r| r.revenue_minor)
        .unwrap_or(1)
        .max(1);
    by_revenue
        .into_iter()
        .take(top)
        .map(|r| {
            (
                r.name.clone(),
                r.revenue_minor,
                r.revenue_minor * 400 / peak,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        name: &str,
        clicks: i64,
        conversions: i64,
        revenue: i64,
        commission: i64,
    ) -> PartnerFigures {
        PartnerFigures {
            partner_org_id: 0,
            name: name.into(),
            clicks,
            conversions,
            revenue_minor: revenue,
            commission_minor: commission,
            other_currencies: false,
        }
    }

    #[test]
    fn rates_and_epc() {
        let r = row("a", 200, 5, 100_000, 2_501);
        assert_eq!(r.conversion_rate(), "2.5%");
        assert_eq!(
            r.epc_minor(),
            1_251,
            "25.01 per 200 clicks is 12.505 per 100, rounded half-up"
        );
        assert_eq!(row("b", 0, 3, 0, 900).epc_minor(), 0);
    }

    #[test]
    fn sorts_descending_with_names_breaking_ties() {
        let mut rows = vec![
            row("b", 10, 1, 500, 0),
            row("a", 10, 2, 900, 0),
            row("c", 50, 0, 0, 0),
        ];
        sort(&mut rows, ReportSort::Clicks);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["c", "a", "b"]
        );
        sort(&mut rows, ReportSort::Revenue);
        assert_eq!(rows[0].name, "a");
        assert_eq!(
            revenue_bars(&rows, 10),
            vec![("a".to_string(), 900, 400), ("b".to_string(), 500, 222)]
        );
    }
}
