//! Automatic, explainable tier placement. An org sits in the highest tier whose criteria its last-12-months numbers
//! meet. Promotion is immediate; when an org stops qualifying it is warned and keeps its tier for the grace period,
//! then moves down. A manual placement by an admin holds until its end date. Every decision carries the numbers.

use chrono::{Duration, NaiveDateTime};

use crate::domain::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCriteria {
    pub tier_id: i64,
    pub name: String,
    pub rank: i64,
    pub min_won_revenue_minor: i64,
    pub min_certified_reps: i64,
    pub min_won_deals: i64,
    pub min_sales_revenue_minor: i64,
}

/// An org's numbers over the last 12 months, in the program currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    pub won_revenue_minor: i64,
    pub certified_reps: i64,
    pub won_deals: i64,
    pub sales_revenue_minor: i64,
}

impl Metrics {
    pub fn summary(&self, currency: Currency) -> String {
        format!(
            "{} won revenue, {} won deals, {} certified reps, {} affiliate sales",
            Money::new(self.won_revenue_minor, currency),
            self.won_deals,
            self.certified_reps,
            Money::new(self.sales_revenue_minor, currency)
        )
    }
}

impl TierCriteria {
    pub fn met_by(&self, m: &Metrics) -> bool {
        m.won_revenue_minor >= self.min_won_revenue_minor
            && m.certified_reps >= self.min_certified_reps
            && m.won_deals >= self.min_won_deals
            && m.sales_revenue_minor >= self.min_sales_revenue_minor
    }

    /// What the tier asks and how far the org is, one line per criterion it sets: "2 of 3 certified reps".
    pub fn progress(&self, m: &Metrics, currency: Currency) -> Vec<(String, bool)> {
        let money = |minor| Money::new(minor, currency);
        let mut lines = Vec::new();
        if self.min_won_revenue_minor > 0 {
            lines.push((
                format!(
                    "{} of {} won revenue",
                    money(m.won_revenue_minor),
                    money(self.min_won_revenue_minor)
                ),
                m.won_revenue_minor >= self.min_won_revenue_minor,
            ));
        }
        if self.min_won_deals > 0 {
            lines.push((
                format!("{} of {} won deals", m.won_deals, self.min_won_deals),
                m.won_deals >= self.min_won_deals,
            ));
        }
        if self.min_certified_reps > 0 {
            lines.push((
                format!(
                    "{} of {} certified reps",
                    m.certified_reps, self.min_certified_reps
                ),
                m.certified_reps >= self.min_certified_reps,
            ));
        }
        if self.min_sales_revenue_minor > 0 {
            lines.push((
                format!(
                    "{} of {} affiliate sales",
                    money(m.sales_revenue_minor),
                    money(self.min_sales_revenue_minor)
                ),
                m.sales_revenue_minor >= self.min_sales_revenue_minor,
            ));
        }
        lines
    }
}

/// The highest-ranked tier the numbers qualify for.
pub fn qualifying<'a>(tiers: &'a [TierCriteria], m: &Metrics) -> Option<&'a TierCriteria> {
    tiers.iter().filter(|t| t.met_by(m)).max_by_key(|t| t.rank)
}

/// The next tier above `current_rank`, to show what it needs.
pub fn next_above(tiers: &[TierCriteria], current_rank: Option<i64>) -> Option<&TierCriteria> {
    tiers
        .iter()
        .filter(|t| current_rank.is_none_or(|r| t.rank > r))
        .min_by_key(|t| t.rank)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Nothing to do.
    Stay,
    /// Move to this tier now (promotion, or demotion once the grace period is over).
    Move { to: Option<i64>, reason: String },
    /// The org no longer qualifies: warn it and start the grace period.
    Warn {
        to: Option<i64>,
        until: NaiveDateTime,
    },
    /// It qualifies again during the grace period: stop the clock.
    ClearWarning,
}

pub struct Situation<'a> {
    pub tiers: &'a [TierCriteria],
    pub current_tier_id: Option<i64>,
    pub metrics: Metrics,
    /// Manual placement: `Some(None)` holds indefinitely, `Some(Some(t))` until t.
    pub override_until: Option<Option<NaiveDateTime>>,
    pub warned_at: Option<NaiveDateTime>,
    pub grace_days: i64,
    pub now: NaiveDateTime,
}

pub fn place(s: &Situation<'_>) -> Placement {
    if let Some(until) = s.override_until {
        if until.is_none_or(|end| s.now < end) {
            return Placement::Stay;
        }
    }
    let rank_of = |id: Option<i64>| {
        id.and_then(|id| s.tiers.iter().find(|t| t.tier_id == id))
            .map(|t| t.rank)
    };
    let target = qualifying(s.tiers, &s.metrics);
    let (current_rank, target_rank) = (rank_of(s.current_tier_id), target.map(|t| t.rank));
    let target_id = target.map(|t| t.tier_id);
    if target_rank > current_rank {
        let name = target.map(|t| t.name.as_str()).unwrap_or("no tier");
        return Placement::Move {
            to: target_id,
            reason: format!("qualifies for {name}"),
        };
    }
    if target_rank == current_rank {
        return if s.warned_at.is_some() {
            Placement::ClearWarning
        } else {
            Placement::Stay
        };
    }
    match s.warned_at {
        None => Placement::Warn {
            to: target_id,
            until: s.now + Duration::days(s.grace_days),
        },
        Some(warned) if s.now >= warned + Duration::days(s.grace_days) => Placement::Move {
            to: target_id,
            reason: format!(
                "no longer qualifies after the {}-day grace period",
                s.grace_days
            ),
        },
        Some(_) => Placement::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn tiers() -> Vec<TierCriteria> {
        let tier = |id, name: &str, rank, reps, revenue| TierCriteria {
            tier_id: id,
            name: name.into(),
            rank,
            min_won_revenue_minor: revenue,
            min_certified_reps: reps,
            min_won_deals: 0,
            min_sales_revenue_minor: 0,
        };
        vec![
            tier(1, "Registered", 1, 0, 0),
            tier(2, "Silver", 2, 1, 5_000_000),
            tier(3, "Gold", 3, 3, 10_000_000),
        ]
    }

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 6, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    fn situation(
        tiers: &[TierCriteria],
        current: Option<i64>,
        m: Metrics,
        warned: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Situation<'_> {
        Situation {
            tiers,
            current_tier_id: current,
            metrics: m,
            override_until: None,
            warned_at: warned,
            grace_days: 10,
            now,
        }
    }

    #[test]
    fn promotion_is_immediate_at_the_threshold() {
        let t = tiers();
        let m = Metrics {
            won_revenue_minor: 10_000_000,
            certified_reps: 3,
            ..Default::default()
        };
        assert_eq!(
            place(&situation(&t, Some(2), m, None, at(1))),
            Placement::Move {
                to: Some(3),
                reason: "qualifies for Gold".into()
            }
        );
        let short = Metrics {
            won_revenue_minor: 9_999_999,
            certified_reps: 3,
            ..Default::default()
        };
        assert_eq!(
            place(&situation(&t, Some(2), short, None, at(1))),
            Placement::Stay
        );
    }

    #[test]
    fn demotion_waits_for_the_grace_period_after_a_warning() {
        let t = tiers();
        let m = Metrics {
            won_revenue_minor: 6_000_000,
            certified_reps: 1,
            ..Default::default()
        };
        assert_eq!(
            place(&situation(&t, Some(3), m, None, at(1))),
            Placement::Warn {
                to: Some(2),
                until: at(11)
            }
        );
        assert_eq!(
            place(&situation(&t, Some(3), m, Some(at(1)), at(10))),
            Placement::Stay
        );
        assert!(matches!(
            place(&situation(&t, Some(3), m, Some(at(1)), at(11))),
            Placement::Move { to: Some(2), .. }
        ));
        let back = Metrics {
            won_revenue_minor: 10_000_000,
            certified_reps: 3,
            ..Default::default()
        };
        assert_eq!(
            place(&situation(&t, Some(3), back, Some(at(1)), at(5))),
            Placement::ClearWarning
        );
    }

    #[test]
    fn a_manual_placement_holds_until_its_end() {
        let t = tiers();
        let mut s = situation(&t, Some(3), Metrics::default(), None, at(5));
        s.override_until = Some(Some(at(10)));
        assert_eq!(place(&s), Placement::Stay);
        s.override_until = Some(None);
        assert_eq!(place(&s), Placement::Stay);
        s.override_until = Some(Some(at(4)));
        assert!(matches!(place(&s), Placement::Warn { .. }));
    }

    #[test]
    fn progress_names_each_criterion() {
        let t = tiers();
        let usd = Currency::parse("USD").unwrap();
        let m = Metrics {
            won_revenue_minor: 8_400_000,
            certified_reps: 2,
            ..Default::default()
        };
        let next = next_above(&t, Some(2)).unwrap();
        assert_eq!(next.name, "Gold");
        assert_eq!(
            next.progress(&m, usd),
            vec![
                (
                    "84,000.00 USD of 100,000.00 USD won revenue".to_string(),
                    false
                ),
                ("2 of 3 certified reps".to_string(), false)
            ]
        );
        assert_eq!(
            m.summary(usd),
            "84,000.00 USD won revenue, 0 won deals, 2 certified reps, 0.00 USD affiliate sales"
        );
    }
}
