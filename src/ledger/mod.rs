//! The ledger: money in one place. Entries are appended, never rewritten, and only their status moves forward;
//! balances are sums. `rules` states the invariants and how a refund reverses a commission; `store` holds the SQL;
//! here are the use cases that change statuses: the hold release, taking back what a source gave, and an admin's
//! decision by hand.

pub mod rules;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use rules::{EntryKind, EntryStatus};
pub use store::{append, balances, for_conversion, Balance, LedgerEntry, NewEntry};

/// The hold release job, every minute.
pub fn hold_release_job() -> Job {
    Job::new(
        "hold_release",
        Duration::from_secs(60),
        "Approves commissions whose hold period has ended",
        |ctx: Arc<JobContext>| async move {
            let released = ctx.db(|conn| release_due(conn, now())).await?;
            Ok(if released == 0 {
                String::new()
            } else {
                format!("{released} approved")
            })
        },
    )
}

/// The hold release: pending entries whose hold has ended become approved, except commissions of conversions held
/// for fraud review. One guarded statement, so concurrent runs approve each entry once; the entries it approved
/// are announced to webhook endpoints (`commission.approved`) in the same transaction. The orgs whose entries it
/// approves are locked first, so a refund deciding about the same entries waits (ledger invariant 3).
#[tracing::instrument(skip_all)]
pub fn release_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        let orgs = store::orgs_with_due_entries(conn, at)?;
        if orgs.is_empty() {
            return Ok(0);
        }
        crate::platform::db::lock(conn, crate::platform::db::Lock::PartnerOrg, &orgs)?;
        let approved = store::approve_due(conn, &orgs, at)?;
        for (id, org, kind, amount, currency, explanation) in &approved {
            if kind != EntryKind::Commission.as_str() {
                continue;
            }
            let program_id = store::program_of_org(conn, *org)?;
            crate::webhooks::emit(
                conn,
                program_id,
                crate::webhooks::EventType::CommissionApproved,
                serde_json::json!({"entry_id": id, "partner_id": org, "amount": amount, "currency": currency,
                    "explanation": explanation}),
            )?;
        }
        Ok(approved.len())
    })
}

/// Takes back what one source's entries (a conversion's commission and its reversals) give the partner. When no
/// payout has taken any of them (paid, or held by a payout in progress) they are voided; otherwise none is voided
/// and one approved clawback of their net amount nets against the next payout (ledger invariant 3). The caller
/// holds the org's lock (`db::lock`). Returns whether anything changed.
#[tracing::instrument(skip_all)]
pub fn take_back(
    conn: &mut DbConn,
    entries: &[LedgerEntry],
    reason: &str,
    source_type: &str,
    source_id: i64,
) -> QueryResult<bool> {
    let live: Vec<&LedgerEntry> = entries
        .iter()
        .filter(|e| e.status() != EntryStatus::Void)
        .collect();
    let Some(first) = live.first() else {
        return Ok(false);
    };
    let ids: Vec<i64> = live.iter().map(|e| e.id).collect();
    let taken = live.iter().any(|e| e.status() == EntryStatus::Paid)
        || !store::held_by_payout(conn, &ids)?.is_empty();
    if !taken {
        let mut changed = 0;
        for from in [EntryStatus::Pending, EntryStatus::Approved] {
            changed += store::advance(conn, &ids, from, EntryStatus::Void, Some(reason))?;
        }
        return Ok(changed > 0);
    }
    let net = crate::domain::money::sum_minor(live.iter().map(|e| e.amount_minor));
    if net == 0 {
        return Ok(false);
    }
    let explanation = format!(
        "{} taken back after a payout took it: {reason}",
        crate::domain::money::Money::new(net, first.money().currency)
    );
    let appended = store::append(
        conn,
        &NewEntry {
            partner_org_id: first.partner_org_id,
            amount_minor: -net,
            currency: &first.currency,
            kind: EntryKind::Clawback,
            status: EntryStatus::Approved,
            available_at: now(),
            source_type,
            source_id,
            conversion_id: first.conversion_id,
            rule_id: first.rule_id,
            explanation: &explanation,
        },
    )?;
    Ok(appended.is_some())
}

/// An admin approves or voids entries by hand, with a reason kept in the audit log. Voiding a commission voids the
/// reversals earlier partial refunds wrote against it too, so no clawback is left behind for money never paid.
/// Entries a payout in progress holds are left as they are (voiding one would not stop the transfer), and so is a
/// commission one of whose reversals a payout holds. Returns (changed, left because held).
#[tracing::instrument(skip_all)]
pub fn decide(
    conn: &mut DbConn,
    ids: &[i64],
    to: EntryStatus,
    reason: &str,
    actor: &Actor,
) -> QueryResult<(usize, usize)> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        let orgs = store::orgs_of(conn, ids)?;
        crate::platform::db::lock(conn, crate::platform::db::Lock::PartnerOrg, &orgs)?;
        let chosen = store::find_many(conn, ids)?;
        let (mut changed, mut held) = (0, 0);
        for entry in chosen {
            let group = match entry.conversion_id {
                Some(conversion)
                    if to == EntryStatus::Void && entry.kind == EntryKind::Commission =>
                {
                    store::for_conversion(conn, conversion)?
                        .into_iter()
                        .filter(|e| e.id == entry.id || e.source_type == "refund")
                        .collect()
                }
                _ => vec![entry],
            };
            // A paid commission is not voided by hand (a refund claws it back), and neither are its reversals.
            if to == EntryStatus::Void && group.iter().any(|e| e.status() == EntryStatus::Paid) {
                continue;
            }
            let group_ids: Vec<i64> = group.iter().map(|e| e.id).collect();
            if !store::held_by_payout(conn, &group_ids)?.is_empty() {
                held += 1;
                continue;
            }
            for member in group.iter().filter(|e| e.status().may_become(to)) {
                changed += store::advance(conn, &[member.id], member.status(), to, Some(reason))?;
                let label = format!(
                    "{} {} for partner #{}",
                    member.kind,
                    member.money(),
                    member.partner_org_id
                );
                audit::record(
                    conn,
                    actor,
                    &format!("ledger.{}", to.as_str()),
                    &Subject {
                        kind: "ledger_entry",
                        id: Some(member.id),
                        label: &label,
                    },
                    &Change {
                        reason: Some(reason),
                        before: Some(member.status.as_str()),
                        after: Some(to.as_str()),
                    },
                )?;
            }
        }
        Ok((changed, held))
    })
}
