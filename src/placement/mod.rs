//! Automatic tier placement: each approved org's numbers for the last 12 months (affiliate sales, won deals,
//! certified reps), and the moves `tiers::placement` decides, written with history, audit and the warning email
//! (`notices`, with the hourly job). A context of its own because it reads partners, affiliate, deals and training,
//! all of which read tiers. Updates are guarded on the
//! state read, so two processes recalculating at once move (and warn) each org once.

pub mod notices;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::domain::conversion::{ConversionKind, ReviewStatus};
use crate::domain::partner::PartnerStatus;
use crate::partners::store::PartnerOrg;
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{conversions, partner_orgs, partner_tier_history};
use crate::platform::db::{self, DbConn};
use crate::platform::mail::NotifyError;
use crate::programs;
use crate::tiers;
use crate::tiers::placement::{place, Metrics, Placement, Situation};

/// An org's numbers over the 12 months before `now`: affiliate sales, deals the vendor confirmed won (in the
/// program currency), and certified reps (holders of a certification valid now).
pub fn metrics(
    conn: &mut DbConn,
    org_id: i64,
    currency: &str,
    now: NaiveDateTime,
) -> QueryResult<Metrics> {
    let sales: Vec<i64> = conversions::table
        .filter(conversions::partner_org_id.eq(org_id))
        .filter(conversions::kind.eq(ConversionKind::Sale))
        .filter(conversions::currency.eq(currency))
        .filter(conversions::review_status.ne(ReviewStatus::Rejected))
        .filter(conversions::occurred_at.ge(now - Duration::days(365)))
        .select(conversions::amount_minor)
        .load(conn)?;
    let certified_reps = crate::training::store::certified_reps(conn, org_id, now)?;
    let (won_deals, won_revenue_minor) =
        crate::deals::won_since(conn, org_id, currency, now - Duration::days(365))?;
    Ok(Metrics {
        sales_revenue_minor: crate::domain::money::sum_minor(sales.iter().copied()),
        certified_reps,
        won_deals,
        won_revenue_minor,
    })
}

pub struct Recalculated {
    pub moved: usize,
    pub warned: usize,
}

/// Places every approved org. An org that stopped qualifying is warned by email (`base_url` makes its links), in
/// the same transaction as the warning itself.
#[tracing::instrument(skip_all)]
pub fn recalculate_all(
    conn: &mut DbConn,
    base_url: &str,
    now: NaiveDateTime,
) -> Result<Recalculated, NotifyError> {
    let program = programs::current(conn)?;
    let levels = tiers::list(conn, program.id)?;
    let criteria: Vec<_> = levels.iter().map(|t| t.criteria()).collect();
    let name_of = |id: Option<i64>| {
        id.and_then(|id| levels.iter().find(|t| t.id == id))
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "no tier".into())
    };
    let orgs: Vec<PartnerOrg> = partner_orgs::table
        .filter(partner_orgs::program_id.eq(program.id))
        .filter(partner_orgs::status.eq(PartnerStatus::Approved))
        .select(PartnerOrg::as_select())
        .load(conn)?;
    let system = Actor::system("tier recalculation");
    let mut done = Recalculated {
        moved: 0,
        warned: 0,
    };
    for org in orgs {
        let m = metrics(conn, org.id, &program.currency, now)?;
        let situation = Situation {
            tiers: &criteria,
            current_tier_id: org.tier_id,
            metrics: m,
            override_until: org.tier_override.then_some(org.tier_override_until),
            warned_at: org.demotion_warned_at,
            grace_days: program.tier_grace_days,
            now,
        };
        let numbers = m.summary(program.currency());
        conn.transaction::<_, NotifyError, _>(|conn| {
            match place(&situation) {
                Placement::Stay => {}
                Placement::ClearWarning => {
                    diesel::update(unchanged(&org))
                        .set((
                            partner_orgs::demotion_warned_at.eq(None::<NaiveDateTime>),
                            partner_orgs::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Placement::Warn { to, until } => {
                    let warning = Warning {
                        to,
                        until,
                        numbers: &numbers,
                    };
                    if warn_org(conn, base_url, &org, &warning, &name_of, now, &system)? {
                        done.warned += 1;
                    }
                }
                Placement::Move { to, reason } => {
                    let change = Move {
                        to,
                        reason: &reason,
                        numbers: &numbers,
                    };
                    if move_org(conn, &org, &change, &name_of, now, &system)? {
                        done.moved += 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(done)
}

/// The org's row as it was read: a row another process changed since is left to that process.
type Unchanged = diesel::dsl::Filter<
    diesel::dsl::Filter<partner_orgs::table, diesel::dsl::Eq<partner_orgs::id, i64>>,
    diesel::dsl::Eq<partner_orgs::updated_at, NaiveDateTime>,
>;

fn unchanged(org: &PartnerOrg) -> Unchanged {
    partner_orgs::table
        .filter(partner_orgs::id.eq(org.id))
        .filter(partner_orgs::updated_at.eq(org.updated_at))
}

/// An org that stopped qualifying: the tier it would move to and when, and its numbers in words.
struct Warning<'a> {
    to: Option<i64>,
    until: NaiveDateTime,
    numbers: &'a str,
}

/// Warns an org once (the first process to set `demotion_warned_at` sends it); true when this call warned.
fn warn_org(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    warning: &Warning<'_>,
    name_of: &dyn Fn(Option<i64>) -> String,
    now: NaiveDateTime,
    system: &Actor,
) -> Result<bool, NotifyError> {
    let claimed = diesel::update(unchanged(org).filter(partner_orgs::demotion_warned_at.is_null()))
        .set((
            partner_orgs::demotion_warned_at.eq(Some(now)),
            partner_orgs::updated_at.eq(now),
        ))
        .execute(conn)?;
    if claimed == 1 {
        notices::tier_warning(
            conn,
            base_url,
            org,
            &name_of(org.tier_id),
            warning.until,
            warning.numbers,
        )?;
        let label = format!(
            "{} would move to {} on {}",
            name_of(org.tier_id),
            name_of(warning.to),
            warning.until.format("%Y-%m-%d")
        );
        audit::record(
            conn,
            system,
            "partner.tier_warning",
            &Subject {
                kind: "partner",
                id: Some(org.id),
                label: &org.name,
            },
            &Change {
                reason: Some(warning.numbers),
                after: Some(&label),
                ..Default::default()
            },
        )?;
    }
    Ok(claimed == 1)
}

/// An org that qualifies for another tier: which, why, and its numbers in words.
struct Move<'a> {
    to: Option<i64>,
    reason: &'a str,
    numbers: &'a str,
}

/// Moves an org to the tier it qualifies for, with history and audit; true when this call moved it.
fn move_org(
    conn: &mut DbConn,
    org: &PartnerOrg,
    change: &Move<'_>,
    name_of: &dyn Fn(Option<i64>) -> String,
    now: NaiveDateTime,
    system: &Actor,
) -> QueryResult<bool> {
    let moved = diesel::update(unchanged(org))
        .set((
            partner_orgs::tier_id.eq(change.to),
            partner_orgs::demotion_warned_at.eq(None::<NaiveDateTime>),
            partner_orgs::tier_override.eq(false),
            partner_orgs::tier_override_until.eq(None::<NaiveDateTime>),
            partner_orgs::updated_at.eq(now),
        ))
        .execute(conn)?;
    if moved == 1 {
        diesel::insert_into(partner_tier_history::table)
            .values((
                partner_tier_history::partner_org_id.eq(org.id),
                partner_tier_history::from_tier_id.eq(org.tier_id),
                partner_tier_history::to_tier_id.eq(change.to),
                partner_tier_history::from_tier_name.eq(name_of(org.tier_id)),
                partner_tier_history::to_tier_name.eq(name_of(change.to)),
                partner_tier_history::reason.eq(format!("Automatic: {}", change.reason)),
                partner_tier_history::changed_by_user_id.eq(None::<i64>),
                partner_tier_history::changed_at.eq(now),
                partner_tier_history::metrics.eq(change.numbers),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            system,
            "partner.tier_change",
            &Subject {
                kind: "partner",
                id: Some(org.id),
                label: &org.name,
            },
            &Change {
                reason: Some(&format!("{}: {}", change.reason, change.numbers)),
                before: Some(&name_of(org.tier_id)),
                after: Some(&name_of(change.to)),
            },
        )?;
    }
    Ok(moved == 1)
}

/// A tier set by hand: the org moves (a reason is required; history and audit as for any tier change) and
/// automatic placement leaves it alone until `hold_until`, or for good without one, in one transaction.
#[tracing::instrument(skip_all, fields(org_id = org_id))]
pub fn place_by_hand(
    conn: &mut DbConn,
    org_id: i64,
    to_tier_id: Option<i64>,
    reason: &str,
    hold_until: Option<NaiveDateTime>,
    actor: &Actor,
) -> Result<(), crate::partners::PartnerWriteError> {
    let program_id = programs::current(conn)?.id;
    conn.transaction(|conn| {
        crate::partners::change_tier(conn, program_id, org_id, to_tier_id, reason, actor)?;
        set_override(conn, org_id, true, hold_until)?;
        Ok(())
    })
}

/// Hands an org back to automatic placement, recorded in the audit log.
pub fn return_to_automatic(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let Some(partner) = crate::partners::store::find(conn, program_id, org_id)? else {
            return Ok(false);
        };
        set_override(conn, org_id, false, None)?;
        let subject = Subject {
            kind: "partner",
            id: Some(org_id),
            label: &partner.org.name,
        };
        audit::record(
            conn,
            actor,
            "partner.tier_automatic",
            &subject,
            &Change::default(),
        )?;
        Ok(true)
    })
}

/// Holds a manual placement until `until` (or indefinitely), or hands the org back to automatic placement.
pub fn set_override(
    conn: &mut DbConn,
    org_id: i64,
    hold: bool,
    until: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(partner_orgs::table.find(org_id))
        .set((
            partner_orgs::tier_override.eq(hold),
            partner_orgs::tier_override_until.eq(if hold { until } else { None }),
            partner_orgs::demotion_warned_at.eq(None::<NaiveDateTime>),
            partner_orgs::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}
