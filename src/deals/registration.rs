//! Registering a deal, correcting a returned one, and the approver's decisions (with the override needed to
//! approve over another partner's protection).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::deals::rules::{CustomerKeys, DealDecision, DealStatus};
use crate::platform::audit::{Actor, Change};
use crate::platform::db::schema::deals;
use crate::platform::db::{now, DbConn, Lock};
use crate::programs::Program;

use super::store::*;
use super::*;

/// Registers a deal in `submitted` with its first event. Without conflicts and below the program's threshold it
/// is approved at once by the system. Returns the new deal's id and the conflicts found.
#[tracing::instrument(skip_all)]
pub fn register(
    conn: &mut DbConn,
    program: &Program,
    org_id: i64,
    registration: &Registration,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<(Deal, usize), DealError> {
    conn.transaction(|conn| {
        let at = now();
        let keys = CustomerKeys::of(&registration.customer_name, &registration.customer_domain);
        let found = conflicts(conn, program.id, org_id, &keys, at)?;
        let id: i64 = diesel::insert_into(deals::table)
            .values((
                deals::program_id.eq(program.id),
                deals::partner_org_id.eq(org_id),
                deals::registered_by_user_id.eq(actor.user_id.expect("a person registers deals")),
                RegistrationColumns::of(registration, &keys),
                deals::status.eq(DealStatus::Submitted),
                deals::submitted_at.eq(at),
                deals::created_at.eq(at),
                deals::updated_at.eq(at),
            ))
            .returning(deals::id)
            .get_result(conn)?;
        let detail = match found.len() {
            0 => format!("Registered for {}.", registration.amount),
            n => format!(
                "Registered for {} with {n} possible conflict{}.",
                registration.amount,
                if n == 1 { "" } else { "s" }
            ),
        };
        event(conn, id, actor, "registered", &detail)?;
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::DealSubmitted,
            serde_json::json!({"deal_id": id, "partner_id": org_id, "customer": registration.customer_name,
                "amount": registration.amount.minor, "currency": registration.amount.currency.code()}),
        )?;
        let below_threshold = program.deal_auto_approve_below_minor.is_some_and(|limit| {
            registration.amount.currency.code() == program.currency
                && registration.amount.minor < limit
        });
        if found.is_empty() && below_threshold {
            let system = Actor::system("auto-approval");
            apply_decision(
                conn,
                program,
                id,
                DealDecision::Approve,
                "",
                &system,
                true,
                notify,
            )?;
        }
        let registered = find(conn, program.id, id)?.ok_or(DealError::NotFound)?;
        Ok((registered, found.len()))
    })
}

/// The partner's correction of a registration still awaiting approval or returned for more information. A
/// returned one goes back into the queue with a fresh SLA clock.
#[tracing::instrument(skip_all)]
pub fn correct(
    conn: &mut DbConn,
    viewer: &Viewer,
    deal_id: i64,
    registration: &Registration,
    actor: &Actor,
) -> Result<(), DealError> {
    conn.transaction(|conn| {
        let deal = find_to_change(conn, viewer, deal_id)?;
        let before = deal.status();
        if !matches!(before, DealStatus::Submitted | DealStatus::InfoRequested) {
            return Err(DealError::Refused(
                "Only registrations awaiting approval or returned for more information can be edited.".into(),
            ));
        }
        let at = now();
        let keys = CustomerKeys::of(&registration.customer_name, &registration.customer_domain);
        let submitted_at = if before == DealStatus::InfoRequested {
            at
        } else {
            deal.submitted_at
        };
        let changed = diesel::update(
            deals::table
                .filter(deals::id.eq(deal_id))
                .filter(deals::status.eq(before)),
        )
        .set((
            RegistrationColumns::of(registration, &keys),
            deals::status.eq(DealStatus::Submitted),
            deals::submitted_at.eq(submitted_at),
            // A fresh clock may be escalated again; an edit while waiting keeps the one escalation.
            deals::escalated_at.eq(if before == DealStatus::InfoRequested {
                None
            } else {
                deal.escalated_at
            }),
            deals::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(DealError::Refused(
                "The registration changed a moment ago; look again.".into(),
            ));
        }
        let detail = if before == DealStatus::InfoRequested {
            "Updated and submitted again."
        } else {
            "Registration updated."
        };
        event(conn, deal_id, actor, "updated", detail)?;
        Ok(())
    })
}

/// Other partners' registrations that protect the deal's customer now (`protects_customer`).
pub fn protecting(
    conn: &mut DbConn,
    program_id: i64,
    deal: &Deal,
    at: NaiveDateTime,
) -> QueryResult<Vec<(Deal, String)>> {
    Ok(
        conflicts(conn, program_id, deal.partner_org_id, &deal.keys(), at)?
            .into_iter()
            .filter_map(|found| match found.found {
                ConflictWith::Deal {
                    deal, partner_name, ..
                } if crate::deals::rules::protects_customer(
                    deal.status(),
                    deal.protection_until,
                    at,
                ) =>
                {
                    Some((*deal, partner_name))
                }
                _ => None,
            })
            .collect(),
    )
}

/// An approver's decision on a registration: approve (protection starts), reject or ask for more information
/// (both with a reason). Audit log, deal event and the partner's email, in one transaction. Approving while another
/// partner's registration protects the same customer is refused unless `over_protection` is set with a reason,
/// which the timeline and the audit log keep. Decisions of one program are taken one at a time (`db::lock`), so two
/// conflicting registrations approved at the same moment are never both approved without the override.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(deal_id = deal_id))]
pub fn decide(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    decision: DealDecision,
    reason: &str,
    over_protection: bool,
    actor: &Actor,
    notify: DealNotifier<'_>,
) -> Result<DealStatus, DealError> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        crate::platform::db::lock(conn, Lock::Program, &[program.id])?;
        if decision == DealDecision::Approve {
            let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
            let protected_by = protecting(conn, program.id, &deal, now())?;
            if !protected_by.is_empty() {
                let named: Vec<String> = protected_by
                    .iter()
                    .map(|(other, partner)| {
                        crate::deals::rules::protection_text(
                            other.id,
                            partner,
                            other.protection_until,
                        )
                    })
                    .collect();
                let named = named.join("; ");
                if !over_protection {
                    return Err(DealError::Refused(format!(
                        "Another partner's registration protects this customer ({named}). To approve anyway, tick \
                         \"Approve over that protection\" and give the reason."
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(DealError::Refused(format!(
                        "Give the reason for approving over the protection of {named}."
                    )));
                }
                event(
                    conn,
                    deal_id,
                    actor,
                    "approved_over_protection",
                    &format!("Approved over the protection of {named}: {}", reason.trim()),
                )?;
                record(
                    conn,
                    actor,
                    "deal.approve_over_protection",
                    &deal,
                    &Change {
                        reason: Some(reason.trim()),
                        before: Some(&named),
                        after: Some(DealStatus::Approved.as_str()),
                    },
                )?;
            }
        }
        apply_decision(
            conn, program, deal_id, decision, reason, actor, false, notify,
        )
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_decision(
    conn: &mut DbConn,
    program: &Program,
    deal_id: i64,
    decision: DealDecision,
    reason: &str,
    actor: &Actor,
    automatic: bool,
    notify: DealNotifier<'_>,
) -> Result<DealStatus, DealError> {
    let deal = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
    let before = deal.status();
    let after = crate::deals::rules::decide(before, decision, reason)
        .map_err(|r| DealError::Refused(r.into()))?;
    let reason = reason.trim();
    let at = now();
    let approved = after == DealStatus::Approved;
    let protection_until = approved.then(|| at + Duration::days(program.deal_protection_days));
    let stage_id = if approved {
        first_stage(conn, program.id)?
    } else {
        None
    };
    let changed = diesel::update(
        deals::table
            .filter(deals::id.eq(deal_id))
            .filter(deals::status.eq(before)),
    )
    .set((
        deals::status.eq(after),
        deals::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
        deals::first_decided_at.eq(deal.first_decided_at.unwrap_or(at)),
        deals::approved_at.eq(if approved { Some(at) } else { deal.approved_at }),
        deals::protection_until.eq(protection_until),
        deals::stage_id.eq(stage_id),
        deals::updated_at.eq(at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(DealError::Refused(
            "Someone else decided this registration a moment ago; look again.".into(),
        ));
    }
    let (kind, detail) = match decision {
        DealDecision::Approve => (
            "approved",
            format!(
                "{}Approved; protected until {}.",
                if automatic {
                    "No conflicts and below the auto-approval amount. "
                } else {
                    ""
                },
                protection_until
                    .expect("set on approval")
                    .format("%Y-%m-%d")
            ),
        ),
        DealDecision::Reject => ("rejected", format!("Rejected: {reason}")),
        DealDecision::RequestInfo => (
            "info_requested",
            format!("More information requested: {reason}"),
        ),
    };
    event(conn, deal_id, actor, kind, &detail)?;
    if approved {
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::DealApproved,
            serde_json::json!({"deal_id": deal_id, "partner_id": deal.partner_org_id,
                "protected_until": protection_until.map(|t| t.and_utc().to_rfc3339())}),
        )?;
    }
    record(
        conn,
        actor,
        &format!("deal.{}", decision.as_str()),
        &deal,
        &Change {
            reason: Some(reason).filter(|r| !r.is_empty()),
            before: Some(before.as_str()),
            after: Some(after.as_str()),
        },
    )?;
    let updated = find(conn, program.id, deal_id)?.ok_or(DealError::NotFound)?;
    notify(
        conn,
        &updated,
        &DealNotice::Decided {
            decision,
            reason: reason.to_string(),
            automatic,
        },
    )?;
    Ok(after)
}
