//! The payouts' SQL: connected accounts, balances a batch would take, runs, payouts and the entries they settle,
//! and the leases Stripe workers take.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::domain::money::{Currency, Money};
use crate::domain::partner::PartnerStatus;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::ledger::store::LedgerEntry;
use crate::payouts::rules::{AccountStatus, PayoutStatus, Rail, RunStatus};
use crate::platform::db::schema::{
    ledger_entries, partner_orgs, payout_accounts, payout_entries, payout_runs, payouts,
};
use crate::platform::db::{is_unique_violation, now, DbConn};

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
    state: &crate::payouts::stripe::AccountState,
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
pub(crate) fn held_entry_ids(conn: &mut DbConn, org_ids: Option<&[i64]>) -> QueryResult<Vec<i64>> {
    let mut query = payout_entries::table
        .inner_join(payouts::table)
        .filter(payouts::status.eq_any([PayoutStatus::Pending, PayoutStatus::Paid]))
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
    let rows: Vec<(LedgerEntry, String, PartnerStatus)> = ledger_entries::table
        .inner_join(partner_orgs::table.on(ledger_entries::partner_org_id.eq(partner_orgs::id)))
        .filter(partner_orgs::program_id.eq(program_id))
        .filter(ledger_entries::status.eq(EntryStatus::Approved))
        .filter(ledger_entries::kind.ne(EntryKind::Payout))
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
                org_status,
                amount: Money::new(entry.amount_minor, currency),
                entries: vec![entry],
            }),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payout_runs)]
pub struct PayoutRun {
    pub id: i64,
    pub program_id: i64,
    pub rail: Rail,
    pub status: RunStatus,
    pub started_by: String,
    pub reference: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl PayoutRun {
    pub fn rail(&self) -> Rail {
        self.rail
    }

    pub fn status(&self) -> RunStatus {
        self.status
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
    pub rail: Rail,
    pub status: PayoutStatus,
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
        self.status
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
        .filter(payouts::status.eq(PayoutStatus::Pending))
        .filter(payouts::rail.eq(Rail::Stripe))
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
                .filter(payouts::status.eq(PayoutStatus::Pending))
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
        .filter(payouts::status.eq(PayoutStatus::Pending))
        .select(payouts::claimed_until)
        .load(conn)?;
    if leases.is_empty() {
        return Ok(None);
    }
    Ok(Some(leases.into_iter().flatten().min()))
}

pub(crate) fn entry_ids_of(conn: &mut DbConn, payout_id: i64) -> QueryResult<Vec<i64>> {
    payout_entries::table
        .filter(payout_entries::payout_id.eq(payout_id))
        .select(payout_entries::ledger_entry_id)
        .load(conn)
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
            .filter(payouts::status.eq(PayoutStatus::Pending)),
    )
    .set((
        payouts::failure_message.eq(Some(message)),
        payouts::claimed_until.eq(Some(now() + retry_after)),
        payouts::updated_at.eq(now()),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Stripe runs that have not finished: after a crash, these are resumed.
pub fn unfinished_stripe_runs(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    payout_runs::table
        .filter(payout_runs::status.eq(RunStatus::Running))
        .filter(payout_runs::rail.eq(Rail::Stripe))
        .select(payout_runs::id)
        .load(conn)
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
