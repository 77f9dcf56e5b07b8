//! Pipeline reporting over plain deal facts: open pipeline by stage, partner and tier (count, amount, weighted by
//! the stage's probability), the forecast for a quarter, win rate and average won deal size, and how long
//! approval takes. Amounts are in one currency; the caller leaves out (and counts) deals in others.

use chrono::NaiveDateTime;

use super::rules::{business_minutes_between, DealStatus, Quarter};
use crate::domain::money::share;

#[derive(Debug, Clone)]
pub struct DealFacts {
    pub partner_org_id: i64,
    pub partner_name: String,
    pub tier_name: Option<String>,
    pub status: DealStatus,
    /// Position and name of the open stage (approved deals); `None` before approval.
    pub stage: Option<(i64, String)>,
    pub probability_percent: i64,
    pub amount_minor: i64,
    pub won_amount_minor: Option<i64>,
    pub expected_close: chrono::NaiveDate,
    pub closed_at: Option<NaiveDateTime>,
    pub first_submitted_at: NaiveDateTime,
    pub first_decided_at: Option<NaiveDateTime>,
    pub approved_at: Option<NaiveDateTime>,
}

impl DealFacts {
    /// The amount weighted by the stage's probability; a win awaiting confirmation counts in full.
    pub fn weighted_minor(&self) -> i64 {
        if self.status == DealStatus::WonReported {
            self.won_amount_minor.unwrap_or(self.amount_minor)
        } else {
            share(self.amount_minor, self.probability_percent, 100)
        }
    }

    fn open_amount(&self) -> i64 {
        if self.status == DealStatus::WonReported {
            self.won_amount_minor.unwrap_or(self.amount_minor)
        } else {
            self.amount_minor
        }
    }
}

/// One row of open pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineRow {
    pub label: String,
    pub count: i64,
    pub amount_minor: i64,
    pub weighted_minor: i64,
}

/// Closed business of one partner or tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeRow {
    pub label: String,
    pub won: i64,
    pub lost: i64,
    pub won_amount_minor: i64,
}

impl OutcomeRow {
    /// Won out of won and lost, in basis points; `None` before anything closed.
    pub fn win_rate_bps(&self) -> Option<i64> {
        let closed = self.won + self.lost;
        (closed > 0).then(|| share(10_000, self.won, closed))
    }

    pub fn average_won_minor(&self) -> Option<i64> {
        (self.won > 0).then(|| share(self.won_amount_minor, 1, self.won))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    pub quarter: Quarter,
    /// Open deals expected to close in the quarter.
    pub open_count: i64,
    pub open_minor: i64,
    pub weighted_minor: i64,
    /// Wins the vendor confirmed in the quarter.
    pub won_minor: i64,
}

impl Forecast {
    /// What the quarter should bring: confirmed wins plus the weighted open pipeline.
    pub fn expected_minor(&self) -> i64 {
        self.won_minor + self.weighted_minor
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalTimes {
    /// Registrations decided (approved, rejected or returned) at least once.
    pub decided: i64,
    pub median_hours: Option<i64>,
    pub p90_hours: Option<i64>,
    /// Decided later than the SLA, or still waiting past it.
    pub sla_breaches: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineReport {
    pub by_stage: Vec<PipelineRow>,
    pub by_partner: Vec<PipelineRow>,
    pub by_tier: Vec<PipelineRow>,
    pub total: PipelineRow,
    pub forecasts: Vec<Forecast>,
    pub outcomes_by_tier: Vec<OutcomeRow>,
    pub outcomes_by_partner: Vec<OutcomeRow>,
    pub approval: ApprovalTimes,
}

const NO_TIER: &str = "No tier";

fn add(rows: &mut Vec<PipelineRow>, label: &str, deal: &DealFacts) {
    let row = match rows.iter().position(|r| r.label == label) {
        Some(i) => &mut rows[i],
        None => {
            rows.push(PipelineRow {
                label: label.to_string(),
                ..Default::default()
            });
            rows.last_mut().expect("just pushed")
        }
    };
    row.count += 1;
    row.amount_minor = row.amount_minor.saturating_add(deal.open_amount());
    row.weighted_minor = row.weighted_minor.saturating_add(deal.weighted_minor());
}

fn add_outcome(rows: &mut Vec<OutcomeRow>, label: &str, deal: &DealFacts) {
    let row = match rows.iter().position(|r| r.label == label) {
        Some(i) => &mut rows[i],
        None => {
            rows.push(OutcomeRow {
                label: label.to_string(),
                ..Default::default()
            });
            rows.last_mut().expect("just pushed")
        }
    };
    if deal.status == DealStatus::Won {
        row.won += 1;
        row.won_amount_minor = row
            .won_amount_minor
            .saturating_add(deal.won_amount_minor.unwrap_or(deal.amount_minor));
    } else {
        row.lost += 1;
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], percent: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

pub fn report(
    deals: &[DealFacts],
    quarters: &[Quarter],
    sla_hours: i64,
    now: NaiveDateTime,
) -> PipelineReport {
    let open: Vec<&DealFacts> = deals.iter().filter(|d| d.status.in_pipeline()).collect();
    let mut staged: Vec<(i64, &DealFacts)> = open
        .iter()
        .map(|d| match (&d.stage, d.status) {
            (_, DealStatus::WonReported) => (i64::MAX, *d),
            (Some((position, _)), _) => (*position, *d),
            (None, _) => (i64::MIN, *d),
        })
        .collect();
    staged.sort_by_key(|(position, _)| *position);
    let mut by_stage = Vec::new();
    for (_, deal) in &staged {
        let label = match (&deal.stage, deal.status) {
            (_, DealStatus::WonReported) => "Won, to confirm".to_string(),
            (Some((_, name)), _) => name.clone(),
            (None, _) => "No stage".to_string(),
        };
        add(&mut by_stage, &label, deal);
    }
    let mut by_partner = Vec::new();
    let mut by_tier = Vec::new();
    let mut total = PipelineRow {
        label: "All open deals".into(),
        ..Default::default()
    };
    for deal in &open {
        add(&mut by_partner, &deal.partner_name, deal);
        add(
            &mut by_tier,
            deal.tier_name.as_deref().unwrap_or(NO_TIER),
            deal,
        );
        total.count += 1;
        total.amount_minor = total.amount_minor.saturating_add(deal.open_amount());
        total.weighted_minor = total.weighted_minor.saturating_add(deal.weighted_minor());
    }
    by_partner.sort_by(|a, b| {
        b.weighted_minor
            .cmp(&a.weighted_minor)
            .then(a.label.cmp(&b.label))
    });
    by_tier.sort_by(|a, b| {
        b.weighted_minor
            .cmp(&a.weighted_minor)
            .then(a.label.cmp(&b.label))
    });

    let forecasts = quarters.iter().map(|&q| forecast(deals, q)).collect();

    let mut outcomes_by_tier = Vec::new();
    let mut outcomes_by_partner = Vec::new();
    for deal in deals
        .iter()
        .filter(|d| matches!(d.status, DealStatus::Won | DealStatus::Lost))
    {
        add_outcome(
            &mut outcomes_by_tier,
            deal.tier_name.as_deref().unwrap_or(NO_TIER),
            deal,
        );
        add_outcome(&mut outcomes_by_partner, &deal.partner_name, deal);
    }
    let by_average = |a: &OutcomeRow, b: &OutcomeRow| {
        b.average_won_minor()
            .cmp(&a.average_won_minor())
            .then(a.label.cmp(&b.label))
    };
    outcomes_by_tier.sort_by(by_average);
    outcomes_by_partner.sort_by(by_average);

    let approval = approval_times(deals, sla_hours, now);

    PipelineReport {
        by_stage,
        by_partner,
        by_tier,
        total,
        forecasts,
        outcomes_by_tier,
        outcomes_by_partner,
        approval,
    }
}

/// A quarter's forecast: the open deals expected to close in it (plain and weighted by stage) and what was won.
fn forecast(deals: &[DealFacts], quarter: Quarter) -> Forecast {
    let mut forecast = Forecast {
        quarter,
        open_count: 0,
        open_minor: 0,
        weighted_minor: 0,
        won_minor: 0,
    };
    for deal in deals {
        if deal.status.in_pipeline() && quarter.contains(deal.expected_close) {
            forecast.open_count += 1;
            forecast.open_minor += deal.open_amount();
            forecast.weighted_minor += deal.weighted_minor();
        }
        if deal.status == DealStatus::Won
            && deal.closed_at.is_some_and(|at| quarter.contains(at.date()))
        {
            forecast.won_minor += deal.won_amount_minor.unwrap_or(deal.amount_minor);
        }
    }
    forecast
}

/// How long approvals took (median and 90th percentile, in hours) and how many went past the SLA.
fn approval_times(deals: &[DealFacts], sla_hours: i64, now: NaiveDateTime) -> ApprovalTimes {
    let mut hours: Vec<i64> = deals
        .iter()
        .filter_map(|d| {
            d.approved_at
                .map(|at| (at - d.first_submitted_at).num_minutes() / 60)
        })
        .collect();
    hours.sort_unstable();
    let sla_breaches = deals
        .iter()
        .filter(|d| {
            let until = d.first_decided_at.unwrap_or(now);
            business_minutes_between(d.first_submitted_at, until) > sla_hours * 60
        })
        .count() as i64;
    ApprovalTimes {
        decided: deals
            .iter()
            .filter(|d| d.first_decided_at.is_some())
            .count() as i64,
        median_hours: percentile(&hours, 50),
        p90_hours: percentile(&hours, 90),
        sla_breaches,
    }
}

/// Bars for a chart: (label, value, width in 0..=max_width), widths relative to the largest value.
pub fn bars(rows: &[(String, i64)], max_width: i64) -> Vec<(String, i64, i64)> {
    let largest = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    rows.iter()
        .map(|(label, value)| {
            (
                label.clone(),
                *value,
                share(max_width, (*value).max(0), largest),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn deal(partner: &str, tier: Option<&str>, status: DealStatus) -> DealFacts {
        DealFacts {
            partner_org_id: partner.len() as i64,
            partner_name: partner.into(),
            tier_name: tier.map(str::to_string),
            status,
            stage: None,
            probability_percent: 0,
            amount_minor: 0,
            won_amount_minor: None,
            expected_close: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            closed_at: None,
            first_submitted_at: at("2026-11-02 09:00"),
            first_decided_at: None,
            approved_at: None,
        }
    }

    /// The fixture the integration test rebuilds through the web pages; the numbers are worked out by hand there.
    #[test]
    fn the_report_matches_hand_computed_numbers() {
        let mut a = deal("Northwind", Some("Gold"), DealStatus::Approved);
        a.stage = Some((1, "Qualification".into()));
        a.probability_percent = 10;
        a.amount_minor = 100_000;
        a.approved_at = Some(at("2026-11-02 21:00")); // 12 h
        a.first_decided_at = a.approved_at;
        let mut b = deal("Northwind", Some("Gold"), DealStatus::Approved);
        b.stage = Some((2, "Proposal".into()));
        b.probability_percent = 40;
        b.amount_minor = 50_000;
        b.expected_close = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
        b.approved_at = Some(at("2026-11-04 09:00")); // 48 h
        b.first_decided_at = b.approved_at;
        let mut c = deal("Contoso", None, DealStatus::Approved);
        c.stage = Some((2, "Proposal".into()));
        c.probability_percent = 40;
        c.amount_minor = 20_000;
        c.approved_at = Some(at("2026-11-06 09:00")); // 96 h, breach (72 business hours > 48)
        c.first_decided_at = c.approved_at;
        let mut won = deal("Contoso", None, DealStatus::Won);
        won.amount_minor = 30_000;
        won.won_amount_minor = Some(35_000);
        won.closed_at = Some(at("2026-11-20 10:00"));
        won.approved_at = Some(at("2026-11-03 09:00")); // 24 h
        won.first_decided_at = won.approved_at;
        let mut lost = deal("Contoso", None, DealStatus::Lost);
        lost.amount_minor = 10_000;
        lost.approved_at = Some(at("2026-11-02 10:00")); // 1 h
        lost.first_decided_at = lost.approved_at;
        let mut waiting = deal("Northwind", Some("Gold"), DealStatus::Submitted);
        waiting.amount_minor = 999_999;
        waiting.first_submitted_at = at("2026-11-20 09:00"); // Friday: 27 business hours by Monday noon

        let q4 = Quarter::parse("2026-Q4").unwrap();
        let report = report(
            &[a, b, c, won, lost, waiting],
            &[q4, q4.next()],
            48,
            at("2026-11-23 12:00"),
        );
        assert_eq!(
            report.by_stage,
            vec![
                PipelineRow {
                    label: "Qualification".into(),
                    count: 1,
                    amount_minor: 100_000,
                    weighted_minor: 10_000
                },
                PipelineRow {
                    label: "Proposal".into(),
                    count: 2,
                    amount_minor: 70_000,
                    weighted_minor: 28_000
                },
            ]
        );
        assert_eq!(report.total.count, 3);
        assert_eq!(report.total.weighted_minor, 38_000);
        assert_eq!(report.by_partner[0].label, "Northwind");
        assert_eq!(report.by_partner[0].weighted_minor, 30_000);
        assert_eq!(report.by_tier[1].label, "No tier");
        assert_eq!(report.by_tier[1].weighted_minor, 8_000);
        assert_eq!(report.forecasts[0].open_count, 2);
        assert_eq!(report.forecasts[0].weighted_minor, 18_000);
        assert_eq!(report.forecasts[0].won_minor, 35_000);
        assert_eq!(report.forecasts[0].expected_minor(), 53_000);
        assert_eq!(report.forecasts[1].weighted_minor, 20_000);
        let contoso = &report.outcomes_by_partner[0];
        assert_eq!((contoso.won, contoso.lost), (1, 1));
        assert_eq!(contoso.win_rate_bps(), Some(5_000));
        assert_eq!(contoso.average_won_minor(), Some(35_000));
        assert_eq!(report.approval.decided, 5);
        // Sorted hours 1, 12, 24, 48, 96: median the 3rd, p90 the 5th.
        assert_eq!(report.approval.median_hours, Some(24));
        assert_eq!(report.approval.p90_hours, Some(96));
        assert_eq!(report.approval.sla_breaches, 1);
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let rows = vec![
            ("a".to_string(), 50),
            ("b".to_string(), 100),
            ("c".to_string(), 0),
        ];
        let bars = bars(&rows, 400);
        assert_eq!(
            bars.iter().map(|b| b.2).collect::<Vec<_>>(),
            vec![200, 400, 0]
        );
    }
}
