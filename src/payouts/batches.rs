//! Payout batches: the preview, starting a batch on one rail, paying, failing or cancelling its payouts, settling a
//! manual batch, a transfer Stripe reversed, and the program's payout rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::money::Money;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::ledger::store::NewEntry;
use crate::payouts::rules::{eligibility, minimum_in, Eligibility, PayoutStatus, Rail, RunStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{partner_orgs, payout_entries, payout_runs, payouts};
use crate::platform::db::{self, is_unique_violation, now, DbConn};
use crate::programs::Program;

// ---------------------------------------------------------------------------------------------------------------
// Connected accounts

use super::store::*;
use super::*;

/// A line of the preview: a balance and what the batch does with it.
#[derive(Debug, Clone)]
pub struct PreviewLine {
    pub balance: Balance,
    /// The program's minimum in the balance's currency (the same number of major units).
    pub minimum: Money,
    pub eligibility: Eligibility,
    pub stripe_account_id: Option<String>,
}

pub fn preview(
    conn: &mut DbConn,
    program: &Program,
    stripe_configured: bool,
    at: NaiveDateTime,
) -> QueryResult<Vec<PreviewLine>> {
    let mut lines = Vec::new();
    for balance in balances(conn, program.id, at)? {
        let account = account_of(conn, balance.org_id)?;
        let minimum = minimum_in(
            Money::new(program.payout_minimum_minor, program.currency()),
            balance.amount.currency,
        );
        let decision = eligibility(
            balance.amount,
            minimum,
            balance.org_status,
            stripe_configured,
            account.as_ref().map(PayoutAccount::status).as_ref(),
        );
        lines.push(PreviewLine {
            minimum,
            stripe_account_id: account.map(|a| a.stripe_account_id),
            eligibility: decision,
            balance,
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------------------------------------------------------
// Runs and payouts

/// Starts a batch on one rail: every org the preview pays by that rail gets a pending payout holding its entries,
/// and a negative `payout` ledger entry, all in one transaction with the run itself. The program's orgs are locked
/// first, so no refund or void changes an entry between the preview reading it and the batch taking it (ledger
/// invariant 3).
#[tracing::instrument(skip_all)]
pub fn start_run(
    conn: &mut DbConn,
    program: &Program,
    rail: Rail,
    stripe_configured: bool,
    actor: &Actor,
) -> Result<(i64, usize), PayoutError> {
    db::exclusive_transaction(conn, |conn| {
        let at = now();
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(payout_runs::table)
                .values((
                    payout_runs::program_id.eq(program.id),
                    payout_runs::rail.eq(rail),
                    payout_runs::status.eq(RunStatus::Running),
                    payout_runs::started_by.eq(&actor.label),
                    payout_runs::started_at.eq(at),
                ))
                .returning(payout_runs::id)
                .get_result::<i64>(conn)
        });
        let run_id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                // The running batch may have finished since the insert saw it.
                let running: Option<i64> = payout_runs::table
                    .filter(payout_runs::program_id.eq(program.id))
                    .filter(payout_runs::status.eq(RunStatus::Running))
                    .select(payout_runs::id)
                    .first(conn)
                    .optional()?;
                return Err(PayoutError::AlreadyRunning(running));
            }
            Err(e) => return Err(e.into()),
        };
        let orgs: Vec<i64> = partner_orgs::table
            .filter(partner_orgs::program_id.eq(program.id))
            .select(partner_orgs::id)
            .load(conn)?;
        db::lock(conn, db::Lock::PartnerOrg, &orgs)?;
        let mut count = 0;
        let mut total: Vec<String> = Vec::new();
        for line in preview(conn, program, stripe_configured, at)? {
            if line.eligibility != Eligibility::Pay(rail) {
                continue;
            }
            create_payout(conn, run_id, rail, &line, at)?;
            let balance = &line.balance;
            count += 1;
            total.push(format!("{} {}", balance.org_name, balance.amount));
        }
        if count == 0 {
            return Err(PayoutError::Refused(format!(
                "Nothing to pay by {}: no org's balance qualifies.",
                rail.label().to_lowercase()
            )));
        }
        let label = format!("Payout batch #{run_id}");
        audit::record(
            conn,
            actor,
            "payout.run_started",
            &Subject {
                kind: "payout_run",
                id: Some(run_id),
                label: &label,
            },
            &Change {
                after: Some(&format!("{}: {}", rail.label(), total.join("; "))),
                ..Default::default()
            },
        )?;
        Ok((run_id, count))
    })
}

/// Marks a pending payout paid: its entries and its own ledger entry become paid, and the partner gets the
/// statement. Returns false when it was not pending any more (another worker got there first).
pub fn mark_paid(
    conn: &mut DbConn,
    payout_id: i64,
    transfer_id: Option<&str>,
    reference: &str,
    notify: PayoutNotifier<'_>,
) -> Result<bool, PayoutError> {
    conn.transaction(|conn| {
        let at = now();
        let changed = diesel::update(
            payouts::table
                .filter(payouts::id.eq(payout_id))
                .filter(payouts::status.eq(PayoutStatus::Pending)),
        )
        .set((
            payouts::status.eq(PayoutStatus::Paid),
            payouts::stripe_transfer_id.eq(transfer_id),
            payouts::reference.eq(reference),
            payouts::failure_message.eq(None::<String>),
            payouts::claimed_until.eq(None::<NaiveDateTime>),
            payouts::paid_at.eq(Some(at)),
            payouts::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        let payout = find(conn, payout_id)?.expect("just updated");
        let mut ids = entry_ids_of(conn, payout_id)?;
        ids.extend(payout.ledger_entry_id);
        crate::ledger::store::advance(
            conn,
            &ids,
            EntryStatus::Approved,
            EntryStatus::Paid,
            Some(&format!("paid by payout #{payout_id}")),
        )?;
        let program_id: i64 = partner_orgs::table
            .find(payout.partner_org_id)
            .select(partner_orgs::program_id)
            .first(conn)?;
        crate::webhooks::emit(
            conn,
            program_id,
            crate::webhooks::EventType::PayoutPaid,
            serde_json::json!({"payout_id": payout.id, "partner_id": payout.partner_org_id,
                "amount": payout.amount_minor, "currency": payout.currency, "rail": payout.rail,
                "stripe_transfer_id": payout.stripe_transfer_id, "reference": payout.reference}),
        )?;
        notify(conn, &payout)?;
        Ok(true)
    })
}

/// Marks a pending payout failed with Stripe's message: its ledger entry is voided, so the balance is back.
pub fn mark_failed(conn: &mut DbConn, payout_id: i64, message: &str) -> QueryResult<bool> {
    end_unpaid(conn, payout_id, PayoutStatus::Failed, message)
}

/// Ends a pending payout without paying it (`Failed` or `Cancelled`): its ledger entry is voided and the entries it
/// held are free again, so the balance is back for the next batch.
pub(crate) fn end_unpaid(
    conn: &mut DbConn,
    payout_id: i64,
    status: PayoutStatus,
    message: &str,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let at = now();
        let changed = diesel::update(
            payouts::table
                .filter(payouts::id.eq(payout_id))
                .filter(payouts::status.eq(PayoutStatus::Pending)),
        )
        .set((
            payouts::status.eq(status),
            payouts::failure_message.eq(Some(message)),
            payouts::claimed_until.eq(None::<NaiveDateTime>),
            payouts::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        let payout = find(conn, payout_id)?.expect("just updated");
        if let Some(entry) = payout.ledger_entry_id {
            let reason = match status {
                PayoutStatus::Cancelled => format!("payout #{payout_id} cancelled: {message}"),
                _ => format!("payout #{payout_id} failed: {message}"),
            };
            crate::ledger::store::advance(
                conn,
                &[entry],
                EntryStatus::Approved,
                EntryStatus::Void,
                Some(&reason),
            )?;
        }
        Ok(true)
    })
}

/// Stripe reversed a paid payout's transfer: the payout is marked reversed and an approved `adjustment` of its
/// amount gives the org its balance back (paid entries stay paid: the ledger only moves forward). Once per payout.
pub fn mark_reversed(conn: &mut DbConn, transfer_id: &str) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let payout: Option<Payout> = payouts::table
            .filter(payouts::stripe_transfer_id.eq(transfer_id))
            .select(Payout::as_select())
            .first(conn)
            .optional()?;
        let Some(payout) = payout else {
            return Ok(None);
        };
        let changed = diesel::update(
            payouts::table
                .filter(payouts::id.eq(payout.id))
                .filter(payouts::status.eq(PayoutStatus::Paid)),
        )
        .set((
            payouts::status.eq(PayoutStatus::Reversed),
            payouts::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        crate::ledger::store::append(
            conn,
            &NewEntry {
                partner_org_id: payout.partner_org_id,
                amount_minor: payout.amount_minor,
                currency: &payout.currency,
                kind: EntryKind::Adjustment,
                status: EntryStatus::Approved,
                available_at: now(),
                source_type: "payout_reversal",
                source_id: payout.id,
                conversion_id: None,
                rule_id: None,
                explanation: &format!("Payout #{} reversed at Stripe ({transfer_id})", payout.id),
            },
        )?;
        Ok(Some(payout.id))
    })
}

/// Closes a run with no pending payout left. Returns whether the run is finished.
pub fn finish_if_done(conn: &mut DbConn, run_id: i64) -> QueryResult<bool> {
    close_if_done(conn, run_id, RunStatus::Finished)
}

pub(crate) fn close_if_done(
    conn: &mut DbConn,
    run_id: i64,
    closed: RunStatus,
) -> QueryResult<bool> {
    let pending: i64 = payouts::table
        .filter(payouts::run_id.eq(run_id))
        .filter(payouts::status.eq(PayoutStatus::Pending))
        .count()
        .get_result(conn)?;
    if pending > 0 {
        return Ok(false);
    }
    diesel::update(
        payout_runs::table
            .filter(payout_runs::id.eq(run_id))
            .filter(payout_runs::status.eq(RunStatus::Running)),
    )
    .set((
        payout_runs::status.eq(closed),
        payout_runs::finished_at.eq(Some(now())),
    ))
    .execute(conn)?;
    Ok(true)
}

/// The manual batch was paid outside Concord (every pending payout becomes paid with the reference), or it was not
/// (every pending payout is cancelled and the batch with it; the balances are back for the next batch).
pub fn settle_manual_run(
    conn: &mut DbConn,
    program_id: i64,
    run_id: i64,
    reference: &str,
    paid: bool,
    actor: &Actor,
    notify: PayoutNotifier<'_>,
) -> Result<usize, PayoutError> {
    db::exclusive_transaction(conn, |conn| {
        let run = find_run(conn, program_id, run_id)?
            .ok_or_else(|| PayoutError::Refused("No such payout batch.".into()))?;
        if run.rail() != Rail::Manual || !run.running() {
            return Err(PayoutError::Refused(
                "Only a running manual batch can be marked paid or cancelled.".into(),
            ));
        }
        let pending: Vec<i64> = payouts::table
            .filter(payouts::run_id.eq(run_id))
            .filter(payouts::status.eq(PayoutStatus::Pending))
            .select(payouts::id)
            .load(conn)?;
        let mut changed = 0;
        for id in &pending {
            let done = if paid {
                mark_paid(conn, *id, None, reference, notify)?
            } else {
                end_unpaid(
                    conn,
                    *id,
                    PayoutStatus::Cancelled,
                    "the manual batch was not paid",
                )?
            };
            changed += usize::from(done);
        }
        diesel::update(payout_runs::table.find(run_id))
            .set(payout_runs::reference.eq(reference))
            .execute(conn)?;
        close_if_done(
            conn,
            run_id,
            if paid {
                RunStatus::Finished
            } else {
                RunStatus::Cancelled
            },
        )?;
        let label = format!("Payout batch #{run_id}");
        audit::record(
            conn,
            actor,
            if paid {
                "payout.manual_paid"
            } else {
                "payout.manual_cancelled"
            },
            &Subject {
                kind: "payout_run",
                id: Some(run_id),
                label: &label,
            },
            &Change {
                reason: Some(reference).filter(|r| !r.is_empty()),
                after: Some(&format!("{changed} payouts")),
                ..Default::default()
            },
        )?;
        Ok(changed)
    })
}

/// The program's payout rules: the minimum balance and the day of the month the schedule runs (if any).
pub fn save_settings(
    conn: &mut DbConn,
    program: &Program,
    minimum_minor: i64,
    day: Option<i64>,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::update(db::schema::programs::table.find(program.id))
            .set((
                db::schema::programs::payout_minimum_minor.eq(minimum_minor),
                db::schema::programs::payout_day.eq(day),
            ))
            .execute(conn)?;
        let describe = |minimum: i64, day: Option<i64>| {
            format!(
                "minimum {} minor units, {}",
                minimum,
                day.map(|d| format!("monthly on day {d}"))
                    .unwrap_or_else(|| "by hand only".into())
            )
        };
        audit::record(
            conn,
            actor,
            "payout.settings",
            &Subject {
                kind: "program",
                id: Some(program.id),
                label: &program.name,
            },
            &Change {
                before: Some(&describe(program.payout_minimum_minor, program.payout_day)),
                after: Some(&describe(minimum_minor, day)),
                ..Default::default()
            },
        )
    })
}

/// One org's payout in a new batch: the payout row, the ledger entries it pays, and the negative payout entry that
/// takes them out of the balance.
fn create_payout(
    conn: &mut DbConn,
    run_id: i64,
    rail: Rail,
    line: &PreviewLine,
    at: NaiveDateTime,
) -> QueryResult<i64> {
    let balance = &line.balance;
    let period_from = balance
        .entries
        .iter()
        .map(|e| e.created_at)
        .min()
        .unwrap_or(at);
    let period_to = balance
        .entries
        .iter()
        .map(|e| e.created_at)
        .max()
        .unwrap_or(at);
    let payout_id: i64 = diesel::insert_into(payouts::table)
        .values((
            payouts::run_id.eq(run_id),
            payouts::partner_org_id.eq(balance.org_id),
            payouts::amount_minor.eq(balance.amount.minor),
            payouts::currency.eq(balance.amount.currency.code()),
            payouts::rail.eq(rail),
            payouts::status.eq(PayoutStatus::Pending),
            payouts::stripe_account_id.eq(line.stripe_account_id.as_deref()),
            payouts::period_from.eq(period_from),
            payouts::period_to.eq(period_to),
            payouts::created_at.eq(at),
            payouts::updated_at.eq(at),
        ))
        .returning(payouts::id)
        .get_result(conn)?;
    for entry in &balance.entries {
        diesel::insert_into(payout_entries::table)
            .values((
                payout_entries::payout_id.eq(payout_id),
                payout_entries::ledger_entry_id.eq(entry.id),
            ))
            .execute(conn)?;
    }
    let explanation = format!("Payout #{payout_id} ({})", rail.label());
    let entry_id = crate::ledger::store::append(
        conn,
        &NewEntry {
            partner_org_id: balance.org_id,
            amount_minor: -balance.amount.minor,
            currency: balance.amount.currency.code(),
            kind: EntryKind::Payout,
            status: EntryStatus::Approved,
            available_at: at,
            source_type: "payout",
            source_id: payout_id,
            conversion_id: None,
            rule_id: None,
            explanation: &explanation,
        },
    )?
    .expect("a new payout has no ledger entry yet");
    diesel::update(payouts::table.find(payout_id))
        .set(payouts::ledger_entry_id.eq(Some(entry_id)))
        .execute(conn)?;
    Ok(payout_id)
}
