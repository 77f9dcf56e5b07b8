//! Performance figures for an affiliate dashboard, computed from plain rows: clicks (raw and counted, and why the
//! rest were filtered), leads, sales, conversion rate, revenue per currency, and a daily chart.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::rules::ClickFilter;
use crate::domain::money::{Currency, Money};

/// The clicks of one day with one filter reason (`None`: counted), as the database sums them: a dashboard reads a
/// few rows per day, not one per click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickDay {
    pub date: NaiveDate,
    pub filtered_reason: Option<String>,
    pub clicks: i64,
}

pub struct ConversionRow<'a> {
    pub occurred_at: NaiveDateTime,
    pub is_sale: bool,
    pub amount_minor: i64,
    /// What has been refunded of it: revenue is what the merchant kept.
    pub refunded_minor: i64,
    pub currency: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBar {
    pub date: NaiveDate,
    pub clicks: i64,
    pub conversions: i64,
    /// SVG geometry, in a 600 x 120 viewBox: left edge, and heights of the click and conversion bars.
    pub x: i64,
    pub click_height: i64,
    pub conversion_height: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Performance {
    pub clicks: i64,
    pub counted_clicks: i64,
    pub filtered: Vec<(ClickFilter, i64)>,
    pub leads: i64,
    pub sales: i64,
    /// Conversions per counted click, in basis points.
    pub conversion_rate_bps: i64,
    pub revenue: Vec<Money>,
    pub days: Vec<DayBar>,
}

impl Performance {
    pub fn conversion_rate(&self) -> String {
        crate::domain::money::percent_text(self.conversion_rate_bps)
    }
}

pub const CHART_HEIGHT: i64 = 100;
const BAR_STEP: i64 = 20;

/// Figures for the `days` days ending with `today` (inclusive).
pub fn performance(
    clicks: &[ClickDay],
    conversions: &[ConversionRow<'_>],
    today: NaiveDate,
    days: i64,
) -> Performance {
    let first_day = today - Duration::days(days - 1);
    let in_range = |date: NaiveDate| date >= first_day && date <= today;
    let clicks: Vec<_> = clicks.iter().filter(|day| in_range(day.date)).collect();
    let conversions: Vec<_> = conversions
        .iter()
        .filter(|c| in_range(c.occurred_at.date()))
        .collect();
    let sum = |keep: &dyn Fn(&ClickDay) -> bool| -> i64 {
        clicks
            .iter()
            .filter(|day| keep(day))
            .map(|day| day.clicks)
            .sum()
    };

    let counted_clicks = sum(&|day| day.filtered_reason.is_none());
    let filtered = ClickFilter::ALL
        .iter()
        .map(|filter| {
            (
                *filter,
                sum(&|day| day.filtered_reason.as_deref() == Some(filter.as_str())),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let sales = conversions.iter().filter(|c| c.is_sale).count() as i64;
    let leads = conversions.len() as i64 - sales;
    let conversion_rate_bps = if counted_clicks == 0 {
        0
    } else {
        conversions.len() as i64 * 10_000 / counted_clicks
    };

    let mut revenue: Vec<Money> = Vec::new();
    for sale in conversions.iter().filter(|c| c.is_sale) {
        let Ok(currency) = Currency::parse(sale.currency) else {
            continue;
        };
        let kept = sale.amount_minor - sale.refunded_minor;
        match revenue.iter_mut().find(|m| m.currency == currency) {
            Some(total) => total.minor = total.minor.saturating_add(kept),
            None => revenue.push(Money::new(kept, currency)),
        }
    }

    let per_day: Vec<(NaiveDate, i64, i64)> = (0..days)
        .map(|offset| {
            let date = first_day + Duration::days(offset);
            let day_clicks = sum(&|day| day.date == date && day.filtered_reason.is_none());
            let day_conversions = conversions
                .iter()
                .filter(|c| c.occurred_at.date() == date)
                .count() as i64;
            (date, day_clicks, day_conversions)
        })
        .collect();
    let peak = per_day
        .iter()
        .map(|(_, c, v)| (*c).max(*v))
        .max()
        .unwrap_or(0)
        .max(1);
    let days = per_day
        .into_iter()
        .enumerate()
        .map(|(i, (date, clicks, conversions))| DayBar {
            date,
            clicks,
            conversions,
            x: i as i64 * BAR_STEP,
            click_height: clicks * CHART_HEIGHT / peak,
            conversion_height: conversions * CHART_HEIGHT / peak,
        })
        .collect();
    Performance {
        clicks: sum(&|_| true),
        counted_clicks,
        filtered,
        leads,
        sales,
        conversion_rate_bps,
        revenue,
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn counts_rates_revenue_and_bars() {
        let day = |day: u32, reason: Option<&str>, clicks: i64| ClickDay {
            date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            filtered_reason: reason.map(str::to_string),
            clicks,
        };
        let clicks = vec![
            day(20, None, 2),
            day(21, None, 1),
            day(21, Some("bot"), 1),
            day(21, Some("duplicate"), 1),
            day(1, None, 4), // outside the range
        ];
        let conversions = vec![
            ConversionRow {
                occurred_at: at(21, 11),
                is_sale: true,
                amount_minor: 19_900,
                refunded_minor: 0,
                currency: "USD",
            },
            ConversionRow {
                occurred_at: at(21, 12),
                is_sale: true,
                amount_minor: 100,
                // Refunded in full: counted as a sale, but none of it is revenue.
                refunded_minor: 100,
                currency: "USD",
            },
            ConversionRow {
                occurred_at: at(20, 12),
                is_sale: false,
                amount_minor: 0,
                refunded_minor: 0,
                currency: "USD",
            },
            ConversionRow {
                occurred_at: at(21, 13),
                is_sale: true,
                amount_minor: 5_000,
                refunded_minor: 0,
                currency: "EUR",
            },
        ];
        let p = performance(
            &clicks,
            &conversions,
            NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            7,
        );
        assert_eq!((p.clicks, p.counted_clicks, p.leads, p.sales), (5, 3, 1, 3));
        assert_eq!(
            p.filtered,
            vec![(ClickFilter::Bot, 1), (ClickFilter::Duplicate, 1)]
        );
        assert_eq!(p.conversion_rate_bps, 13_333);
        assert_eq!(
            p.revenue.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            vec!["199.00 USD", "50.00 EUR"]
        );
        assert_eq!(p.days.len(), 7);
        let last = p.days.last().unwrap();
        assert_eq!(
            (last.clicks, last.conversions, last.conversion_height),
            (1, 3, CHART_HEIGHT)
        );
        assert_eq!(last.x, 6 * 20);
    }

    #[test]
    fn no_clicks_no_division() {
        let p = performance(&[], &[], NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), 30);
        assert_eq!(p.conversion_rate_bps, 0);
        assert!(p.days.iter().all(|d| d.click_height == 0));
    }
}
