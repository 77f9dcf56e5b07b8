//! Protection: the one extension a partner may ask for and its decision, the expiry job (a warning a week ahead,
//! then expiry) and the SLA escalation of registrations waiting too long.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::deals::rules::{expiry_step, DealStatus, ExpiryStep, SlaClock};
use crate::platform::audit::{Actor, Change};
use crate::platform::db::schema::{deal_extensions, deals, partner_orgs};
use crate::platform::db::{is_unique_violation, now, DbConn};
use crate::programs::Program;

use super::store::*;
use super::*;

/// The partner asks once per deal for longer protection, saying why.
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
pub fn request_extension(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    justification: &str,
    actor: &Actor,
) -> Result<(), DealError> {
    let justification = justification.trim();
    if justification.chars().count() < 10 {
        return Err(DealError::Refused(
            "Say why the deal needs longer protection (at least 10 characters).".into(),
        ));
    }
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        if deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(
                "Only approved, protected deals can be extended.".into(),
            ));
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(deal_extensions::table)
                .values((
                    deal_extensions::deal_id.eq(deal_id),
                    deal_extensions::justification.eq(justification),
                    deal_extensions::requested_by_user_id.eq(actor.user_id.expect("a person asks")),
                    deal_extensions::requested_at.eq(now()),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(DealError::Refused(
                    "A deal gets one extension request, and this one has had it.".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        event(
            conn,
            deal_id,
            actor,
            "extension_requested",
            &format!("Extension requested: {justification}"),
        )?;
        Ok(())
    })
}

/// An admin grants the extension (`Some(days)`, added to the protection) or refuses it with a reason.
#[tracing::instrument(skip_all)]
pub fn decide_extension(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    grant_days: Option<i64>,
    reason: &str,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<(), DealError> {
    let reason = reason.trim().to_string();
    match grant_days {
        Some(days) if !(1..=365).contains(&days) => {
            return Err(DealError::Refused("Grant between 1 and 365 days.".into()))
        }
        None if reason.is_empty() => {
            return Err(DealError::Refused(
                "Give a reason for refusing the extension.".into(),
            ))
        }
        _ => {}
    }
    conn.transaction(|conn| {
        let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        if grant_days.is_some() && deal.status() != DealStatus::Approved {
            return Err(DealError::Refused(format!(
                "The deal is {} now; only a protected deal can be extended.",
                deal.status().label().to_lowercase()
            )));
        }
        let at = now();
        let claimed = diesel::update(
            deal_extensions::table
                .filter(deal_extensions::deal_id.eq(deal_id))
                .filter(deal_extensions::decided_at.is_null()),
        )
        .set((
            deal_extensions::decided_at.eq(Some(at)),
            deal_extensions::granted_days.eq(grant_days),
            deal_extensions::refusal_reason.eq(grant_days.is_none().then_some(&reason)),
        ))
        .execute(conn)?;
        if claimed == 0 {
            return Err(DealError::Refused(
                "There is no open extension request on this deal.".into(),
            ));
        }
        let (notice, detail) = match grant_days {
            Some(days) => {
                let until = deal.protection_until.unwrap_or(at) + Duration::days(days);
                // Guarded on the status read: an expiry in between refuses the grant (and rolls back the claim).
                let extended = diesel::update(
                    deals::table
                        .filter(deals::id.eq(deal_id))
                        .filter(deals::status.eq(DealStatus::Approved)),
                )
                .set((
                    deals::protection_until.eq(Some(until)),
                    deals::expiry_warned_at.eq(None::<NaiveDateTime>),
                    deals::updated_at.eq(at),
                ))
                .execute(conn)?;
                if extended == 0 {
                    return Err(DealError::Refused(
                        "The deal changed a moment ago; look again.".into(),
                    ));
                }
                (
                    DealNotice::ExtensionGranted { days },
                    format!(
                        "Extension granted: {days} days, protected until {}.",
                        until.format("%Y-%m-%d")
                    ),
                )
            }
            None => (
                DealNotice::ExtensionRefused {
                    reason: reason.clone(),
                },
                format!("Extension refused: {reason}"),
            ),
        };
        event(conn, deal_id, actor, "extension_decided", &detail)?;
        record(
            conn,
            actor,
            if grant_days.is_some() {
                "deal.extension_granted"
            } else {
                "deal.extension_refused"
            },
            &deal,
            &Change {
                reason: Some(&reason).filter(|r| !r.is_empty()).map(|r| r.as_str()),
                after: Some(&detail),
                ..Default::default()
            },
        )?;
        let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
        notify(conn, &updated, &notice)?;
        Ok(())
    })
}

pub struct ExpiryRun {
    pub warned: usize,
    pub expired: usize,
}

/// The protection job: warns a week ahead, once, and expires deals whose protection passed without a win.
#[tracing::instrument(skip_all)]
pub fn run_expiry(
    conn: &mut DbConn,
    at: NaiveDateTime,
    notify: DealNotifier<'_>,
) -> Result<ExpiryRun, DealError> {
    let due: Vec<Deal> = deals::table
        .filter(deals::status.eq(DealStatus::Approved))
        .filter(
            deals::protection_until
                .le(at + Duration::days(crate::deals::rules::EXPIRY_WARNING_DAYS)),
        )
        .order(deals::id)
        .select(Deal::as_select())
        .load(conn)?;
    let system = Actor::system("deal protection");
    let mut run = ExpiryRun {
        warned: 0,
        expired: 0,
    };
    for deal in due {
        let Some(until) = deal.protection_until else {
            continue;
        };
        conn.transaction::<_, DealError, _>(|conn| {
            let still = deals::table
                .filter(deals::id.eq(deal.id))
                .filter(deals::status.eq(DealStatus::Approved))
                .filter(deals::protection_until.eq(until));
            match expiry_step(until, deal.expiry_warned_at, at) {
                ExpiryStep::Nothing => {}
                ExpiryStep::Warn => {
                    let claimed = diesel::update(still.filter(deals::expiry_warned_at.is_null()))
                        .set(deals::expiry_warned_at.eq(Some(at)))
                        .execute(conn)?;
                    if claimed == 1 {
                        event(
                            conn,
                            deal.id,
                            &system,
                            "expiry_warning",
                            &format!(
                                "Protection ends {}; the partner was reminded.",
                                until.format("%Y-%m-%d")
                            ),
                        )?;
                        notify(conn, &deal, &DealNotice::ExpiringSoon)?;
                        run.warned += 1;
                    }
                }
                ExpiryStep::Expire => {
                    let claimed = diesel::update(still)
                        .set((
                            deals::status.eq(DealStatus::Expired),
                            deals::closed_at.eq(Some(at)),
                            deals::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    if claimed == 1 {
                        event(
                            conn,
                            deal.id,
                            &system,
                            "expired",
                            &format!(
                                "Protection ended {} without a win.",
                                until.format("%Y-%m-%d")
                            ),
                        )?;
                        let expired = Deal {
                            status: DealStatus::Expired,
                            ..deal.clone()
                        };
                        notify(conn, &expired, &DealNotice::Expired)?;
                        run.expired += 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(run)
}

/// The SLA job: each registration waiting past the program's SLA is escalated to the staff once.
#[tracing::instrument(skip_all)]
pub fn escalate_overdue(
    conn: &mut DbConn,
    program: &Program,
    at: NaiveDateTime,
    notify: EscalationNotifier<'_>,
) -> Result<usize, DealError> {
    let waiting: Vec<(Deal, String)> = deals::table
        .inner_join(partner_orgs::table)
        .filter(deals::program_id.eq(program.id))
        .filter(deals::status.eq(DealStatus::Submitted))
        .filter(deals::escalated_at.is_null())
        .order(deals::submitted_at)
        .select((Deal::as_select(), partner_orgs::name))
        .load(conn)?;
    let system = Actor::system("approval SLA");
    let mut escalated = 0;
    for (deal, partner_name) in waiting {
        let clock = SlaClock::at(deal.submitted_at, at, program.deal_sla_hours);
        if !clock.overdue() {
            continue;
        }
        conn.transaction::<_, DealError, _>(|conn| {
            let claimed = diesel::update(
                deals::table
                    .filter(deals::id.eq(deal.id))
                    .filter(deals::status.eq(DealStatus::Submitted))
                    .filter(deals::escalated_at.is_null()),
            )
            .set(deals::escalated_at.eq(Some(at)))
            .execute(conn)?;
            if claimed == 1 {
                event(
                    conn,
                    deal.id,
                    &system,
                    "escalated",
                    &format!(
                        "Waiting {} against the {} h SLA; the program's managers were told.",
                        clock.text(),
                        program.deal_sla_hours
                    ),
                )?;
                notify(conn, &deal, &partner_name, &clock)?;
                escalated += 1;
            }
            Ok(())
        })?;
    }
    Ok(escalated)
}
