//! Payouts: connected Stripe accounts, the balances a batch would pay, batches (runs) and their payouts, and the
//! moves that settle or restore the ledger.
//!
//! Why a payout is never paid twice:
//! - at most one batch runs per program (a partial unique index), so two admins starting one start one;
//! - an entry is in at most one live payout: a batch only takes approved entries that no pending or paid payout
//!   holds, and it writes the payout, its entries and its negative ledger entry in one transaction;
//! - the Stripe transfer's idempotency key is the payout's id, so a payout resumed after a crash (its lease
//!   expired) asks Stripe again with the same key and gets the first transfer back;
//! - marking paid is guarded on `pending`, so the second of two workers changes nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::domain::money::{Currency, Money};
use crate::domain::partner::PartnerStatus;
use crate::domain::payout::{
    eligibility, minimum_in, AccountStatus, Eligibility, PayoutStatus, Rail, RunStatus,
};
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::ledger::store::{LedgerEntry, NewEntry};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    ledger_entries, partner_orgs, payout_accounts, payout_entries, payout_runs, payouts,
};
use crate::platform::db::{self, is_unique_violation, now, DbConn};
use crate::platform::mail::NotifyError;
use crate::programs::Program;

// ---------------------------------------------------------------------------------------------------------------
// Connected accounts

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payout_accounts)]
pub struct PayoutAccount {
    pub id: i64,
    pub partner_org_id: i64,
    pub stripe_account_id: String,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    pub requirements: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl PayoutAccount {
    pub fn status(&self) -> AccountStatus {
        AccountStatus {
            payouts_enabled: self.payouts_enabled,
            requirements: self
                .requirements
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

pub fn account_of(conn: &mut DbConn, org_id: i64) -> QueryResult<Option<PayoutAccount>> {
    payout_accounts::table
        .filter(payout_accounts::partner_org_id.eq(org_id))
        .select(PayoutAccount::as_select())
        .first(conn)
        .optional()
}

/// Remembers the org's new Stripe account. A second connect of the same org keeps the first account.
pub fn save_account(conn: &mut DbConn, org_id: i64, stripe_account_id: &str) -> QueryResult<()> {
    let at = now();
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(payout_accounts::table)
            .values((
                payout_accounts::partner_org_id.eq(org_id),
                payout_accounts::stripe_account_id.eq(stripe_account_id),
                payout_accounts::created_at.eq(at),
                payout_accounts::updated_at.eq(at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Stores what Stripe says about an account (on return from onboarding, or from an `account.updated` event).
pub fn update_account_state(
    conn: &mut DbConn,
    stripe_account_id: &str,
    state: &crate::stripe::AccountState,
) -> QueryResult<usize> {
    diesel::update(
        payout_accounts::table.filter(payout_accounts::stripe_account_id.eq(stripe_account_id)),
    )
    .set((
        payout_accounts::payouts_enabled.eq(state.payouts_enabled),
        payout_accounts::details_submitted.eq(state.details_submitted),
        payout_accounts::requirements.eq(state.currently_due.join("\n")),
        payout_accounts::updated_at.eq(now()),
    ))
    .execute(conn)
}

// ---------------------------------------------------------------------------------------------------------------
// Balances and the preview

/// What one org would be paid in one currency: approved entries no live payout holds.
#[derive(Debug, Clone)]
pub struct Balance {
    pub org_id: i64,
    pub org_name: String,
    pub org_status: PartnerStatus,
    pub amount: Money,
    pub entries: Vec<LedgerEntry>,
}

impl Balance {
    /// Clawbacks and other negative entries netted in this balance.
    pub fn netted(&self) -> Money {
        Money::new(
            crate::domain::money::sum_minor(
                self.entries
                    .iter()
                    .filter(|e| e.amount_minor < 0)
                    .map(|e| e.amount_minor),
            ),
            self.amount.currency,
        )
    }
}

/// Entry ids held by a pending or paid payout.
fn held_entry_ids(conn: &mut DbConn, org_ids: Option<&[i64]>) -> QueryResult<Vec<i64>> {
    let mut query = payout_entries::table
        .inner_join(payouts::table)
        .filter(
            payouts::status.eq_any([PayoutStatus::Pending.as_str(), PayoutStatus::Paid.as_str()]),
        )
        .select(payout_entries::ledger_entry_id)
        .into_boxed();
    if let Some(orgs) = org_ids {
        query = query.filter(payouts::partner_org_id.eq_any(orgs.to_vec()));
    }
    query.load(conn)
}

/// Every org's payable balance per currency, at `at`.
pub fn balances(
    conn: &mut DbConn,
    program_id: i64,
    at: NaiveDateTime,
) -> QueryResult<Vec<Balance>> {
    let rows: Vec<(LedgerEntry, String, String)> = ledger_entries::table
        .inner_join(partner_orgs::table.on(ledger_entries::partner_org_id.eq(partner_orgs::id)))
        .filter(partner_orgs::program_id.eq(program_id))
        .filter(ledger_entries::status.eq(EntryStatus::Approved.as_str()))
        .filter(ledger_entries::kind.ne(EntryKind::Payout.as_str()))
        .filter(ledger_entries::available_at.le(at))
        .order((
            partner_orgs::name,
            ledger_entries::currency,
            ledger_entries::id,
        ))
        .select((
            LedgerEntry::as_select(),
            partner_orgs::name,
            partner_orgs::status,
        ))
        .load(conn)?;
    let held = held_entry_ids(conn, None)?;
    let mut out: Vec<Balance> = Vec::new();
    for (entry, org_name, org_status) in rows {
        if held.contains(&entry.id) {
            continue;
        }
        let currency = Currency::parse(&entry.currency).expect("ISO code");
        match out
            .iter_mut()
            .find(|b| b.org_id == entry.partner_org_id && b.amount.currency == currency)
        {
            Some(balance) => {
                balance.amount.minor =
                    crate::domain::money::add_minor(balance.amount.minor, entry.amount_minor);
                balance.entries.push(entry);
            }
            None => out.push(Balance {
                org_id: entry.partner_org_id,
                org_name,
                org_status: org_status.parse().expect("written from PartnerStatus"),
                amount: Money::new(entry.amount_minor, currency),
                entries: vec![entry],
            }),
        }
    }
    Ok(out)
}

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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payout_runs)]
pub struct PayoutRun {
    pub id: i64,
    pub program_id: i64,
    pub rail: String,
    pub status: String,
    pub started_by: String,
    pub reference: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl PayoutRun {
    pub fn rail(&self) -> Rail {
        self.rail.parse().expect("written from Rail")
    }

    pub fn status(&self) -> RunStatus {
        self.status.parse().expect("written from RunStatus")
    }

    pub fn running(&self) -> bool {
        self.status() == RunStatus::Running
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    pub id: i64,
    pub run_id: i64,
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub rail: String,
    pub status: String,
    pub stripe_account_id: Option<String>,
    pub stripe_transfer_id: Option<String>,
    pub failure_message: Option<String>,
    pub reference: String,
    pub ledger_entry_id: Option<i64>,
    pub period_from: NaiveDateTime,
    pub period_to: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub attempts: i64,
    pub created_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

impl Payout {
    pub fn status(&self) -> PayoutStatus {
        self.status.parse().expect("written from PayoutStatus")
    }

    pub fn amount(&self) -> Money {
        Money::new(
            self.amount_minor,
            Currency::parse(&self.currency).expect("ISO code"),
        )
    }

    pub fn period(&self) -> String {
        format!(
            "{} to {}",
            self.period_from.format("%Y-%m-%d"),
            self.period_to.format("%Y-%m-%d")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error("A payout batch is already running{}; it must finish before another starts.", .0.map(|id| format!(" (batch #{id})")).unwrap_or_default())]
    AlreadyRunning(Option<i64>),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl db::DatabaseFailure for PayoutError {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        match self {
            PayoutError::Database(e) | PayoutError::Notify(NotifyError::Database(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<PayoutError> for crate::platform::http::AppError {
    fn from(error: PayoutError) -> Self {
        match error {
            PayoutError::Database(e) => e.into(),
            PayoutError::Notify(e) => e.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

/// Sends a paid payout's statement, inside the transaction that marked it paid.
pub type PayoutNotifier<'a> = &'a dyn Fn(&mut DbConn, &Payout) -> Result<(), NotifyError>;

/// Starts a batch on one rail: every org the preview pays by that rail gets a pending payout holding its entries,
/// and a negative `payout` ledger entry, all in one transaction with the run itself. The program's orgs are locked
/// first, so no refund or void changes an entry between the preview reading it and the batch taking it (ledger
/// invariant 3).
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
                    payout_runs::rail.eq(rail.as_str()),
                    payout_runs::status.eq(RunStatus::Running.as_str()),
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
                    .filter(payout_runs::status.eq(RunStatus::Running.as_str()))
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
                    payouts::rail.eq(rail.as_str()),
                    payouts::status.eq(PayoutStatus::Pending.as_str()),
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

/// What a worker needs to pay one payout through Stripe.
#[derive(Debug, Clone)]
pub struct TransferJob {
    pub payout_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub destination: String,
}

/// Claims the next pending Stripe payout of a run whose lease is free, for `lease`.
pub fn claim_next(
    conn: &mut DbConn,
    run_id: i64,
    lease: Duration,
) -> QueryResult<Option<TransferJob>> {
    let at = now();
    let candidates: Vec<Payout> = payouts::table
        .filter(payouts::run_id.eq(run_id))
        .filter(payouts::status.eq(PayoutStatus::Pending.as_str()))
        .filter(payouts::rail.eq(Rail::Stripe.as_str()))
        .filter(
            payouts::claimed_until
                .is_null()
                .or(payouts::claimed_until.lt(at)),
        )
        .order(payouts::id)
        .select(Payout::as_select())
        .load(conn)?;
    for payout in candidates {
        let claimed = diesel::update(
            payouts::table
                .filter(payouts::id.eq(payout.id))
                .filter(payouts::status.eq(PayoutStatus::Pending.as_str()))
                .filter(
                    payouts::claimed_until
                        .is_null()
                        .or(payouts::claimed_until.lt(at)),
                ),
        )
        .set((
            payouts::claimed_until.eq(Some(at + lease)),
            payouts::attempts.eq(payout.attempts + 1),
        ))
        .execute(conn)?;
        if claimed == 1 {
            return Ok(Some(TransferJob {
                payout_id: payout.id,
                amount_minor: payout.amount_minor,
                currency: payout.currency.clone(),
                destination: payout.stripe_account_id.clone().unwrap_or_default(),
            }));
        }
    }
    Ok(None)
}

/// When the soonest lease of a run's pending payouts ends, if any payout is still pending.
pub fn next_lease_end(
    conn: &mut DbConn,
    run_id: i64,
) -> QueryResult<Option<Option<NaiveDateTime>>> {
    let leases: Vec<Option<NaiveDateTime>> = payouts::table
        .filter(payouts::run_id.eq(run_id))
        .filter(payouts::status.eq(PayoutStatus::Pending.as_str()))
        .select(payouts::claimed_until)
        .load(conn)?;
    if leases.is_empty() {
        return Ok(None);
    }
    Ok(Some(leases.into_iter().flatten().min()))
}

fn entry_ids_of(conn: &mut DbConn, payout_id: i64) -> QueryResult<Vec<i64>> {
    payout_entries::table
        .filter(payout_entries::payout_id.eq(payout_id))
        .select(payout_entries::ledger_entry_id)
        .load(conn)
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
                .filter(payouts::status.eq(PayoutStatus::Pending.as_str())),
        )
        .set((
            payouts::status.eq(PayoutStatus::Paid.as_str()),
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
fn end_unpaid(
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
                .filter(payouts::status.eq(PayoutStatus::Pending.as_str())),
        )
        .set((
            payouts::status.eq(status.as_str()),
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

/// A call that may succeed later (Stripe unreachable, rate limited): the payout stays pending, its lease runs on
/// for `retry_after`, and the message is kept for the admin.
pub fn postpone(
    conn: &mut DbConn,
    payout_id: i64,
    message: &str,
    retry_after: Duration,
) -> QueryResult<()> {
    diesel::update(
        payouts::table
            .filter(payouts::id.eq(payout_id))
            .filter(payouts::status.eq(PayoutStatus::Pending.as_str())),
    )
    .set((
        payouts::failure_message.eq(Some(message)),
        payouts::claimed_until.eq(Some(now() + retry_after)),
        payouts::updated_at.eq(now()),
    ))
    .execute(conn)
    .map(|_| ())
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
                .filter(payouts::status.eq(PayoutStatus::Paid.as_str())),
        )
        .set((
            payouts::status.eq(PayoutStatus::Reversed.as_str()),
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

fn close_if_done(conn: &mut DbConn, run_id: i64, closed: RunStatus) -> QueryResult<bool> {
    let pending: i64 = payouts::table
        .filter(payouts::run_id.eq(run_id))
        .filter(payouts::status.eq(PayoutStatus::Pending.as_str()))
        .count()
        .get_result(conn)?;
    if pending > 0 {
        return Ok(false);
    }
    diesel::update(
        payout_runs::table
            .filter(payout_runs::id.eq(run_id))
            .filter(payout_runs::status.eq(RunStatus::Running.as_str())),
    )
    .set((
        payout_runs::status.eq(closed.as_str()),
        payout_runs::finished_at.eq(Some(now())),
    ))
    .execute(conn)?;
    Ok(true)
}

/// Stripe runs that have not finished: after a crash, these are resumed.
pub fn unfinished_stripe_runs(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    payout_runs::table
        .filter(payout_runs::status.eq(RunStatus::Running.as_str()))
        .filter(payout_runs::rail.eq(Rail::Stripe.as_str()))
        .select(payout_runs::id)
        .load(conn)
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
            .filter(payouts::status.eq(PayoutStatus::Pending.as_str()))
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

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Payout>> {
    payouts::table
        .find(id)
        .select(Payout::as_select())
        .first(conn)
        .optional()
}

pub fn find_for_org(conn: &mut DbConn, org_id: i64, id: i64) -> QueryResult<Option<Payout>> {
    payouts::table
        .filter(payouts::partner_org_id.eq(org_id))
        .filter(payouts::id.eq(id))
        .select(Payout::as_select())
        .first(conn)
        .optional()
}

pub fn find_run(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<PayoutRun>> {
    payout_runs::table
        .filter(payout_runs::program_id.eq(program_id))
        .filter(payout_runs::id.eq(id))
        .select(PayoutRun::as_select())
        .first(conn)
        .optional()
}

pub fn runs(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<PayoutRun>> {
    payout_runs::table
        .filter(payout_runs::program_id.eq(program_id))
        .order(payout_runs::id.desc())
        .limit(50)
        .select(PayoutRun::as_select())
        .load(conn)
}

/// A run's payouts with their org's name and contact email (for the manual batch file).
pub fn run_payouts(conn: &mut DbConn, run_id: i64) -> QueryResult<Vec<(Payout, String, String)>> {
    let rows: Vec<(Payout, String)> = payouts::table
        .inner_join(partner_orgs::table)
        .filter(payouts::run_id.eq(run_id))
        .order(payouts::id)
        .select((Payout::as_select(), partner_orgs::name))
        .load(conn)?;
    let mut out = Vec::new();
    for (payout, name) in rows {
        let email = crate::accounts::store::users::org_contacts(conn, payout.partner_org_id)?
            .into_iter()
            .next()
            .map(|u| u.email)
            .unwrap_or_default();
        out.push((payout, name, email));
    }
    Ok(out)
}

pub fn org_payouts(conn: &mut DbConn, org_id: i64) -> QueryResult<Vec<Payout>> {
    payouts::table
        .filter(payouts::partner_org_id.eq(org_id))
        .order(payouts::id.desc())
        .select(Payout::as_select())
        .load(conn)
}

/// The entries a payout settles, oldest first.
pub fn settled_entries(conn: &mut DbConn, payout_id: i64) -> QueryResult<Vec<LedgerEntry>> {
    let ids = entry_ids_of(conn, payout_id)?;
    ledger_entries::table
        .filter(ledger_entries::id.eq_any(ids))
        .order(ledger_entries::id)
        .select(LedgerEntry::as_select())
        .load(conn)
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

/// Whether a scheduled batch already started today (so the monthly job starts one per day at most).
pub fn started_since(
    conn: &mut DbConn,
    program_id: i64,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    let count: i64 = payout_runs::table
        .filter(payout_runs::program_id.eq(program_id))
        .filter(payout_runs::started_at.ge(since))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}
