//! The ledger's SQL: append-only entries, guarded status moves (so a job run twice, or in two processes, changes each
//! entry once), balances summed by the database, and which entries a payout holds.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::rules::{EntryKind, EntryStatus};
use crate::domain::conversion::ReviewStatus;
use crate::domain::payout::PayoutStatus;
use crate::platform::db::schema::{conversions, ledger_entries};
use crate::platform::db::{is_unique_violation, now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub kind: EntryKind,
    pub status: EntryStatus,
    pub available_at: NaiveDateTime,
    pub source_type: String,
    pub source_id: i64,
    pub conversion_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub explanation: String,
    pub created_at: NaiveDateTime,
    pub status_changed_at: NaiveDateTime,
    pub status_reason: Option<String>,
}

impl LedgerEntry {
    pub fn status(&self) -> EntryStatus {
        self.status
    }

    pub fn money(&self) -> crate::domain::money::Money {
        crate::domain::money::Money::new(
            self.amount_minor,
            crate::domain::money::Currency::parse(&self.currency).expect("ISO code"),
        )
    }
}

pub struct NewEntry<'a> {
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub kind: EntryKind,
    pub status: EntryStatus,
    pub available_at: NaiveDateTime,
    pub source_type: &'a str,
    pub source_id: i64,
    pub conversion_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub explanation: &'a str,
}

/// Appends an entry. One entry per (source, kind): a repeat returns `Ok(None)` and writes nothing.
pub fn append(conn: &mut DbConn, entry: &NewEntry<'_>) -> QueryResult<Option<i64>> {
    let at = now();
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(ledger_entries::table)
            .values((
                ledger_entries::partner_org_id.eq(entry.partner_org_id),
                ledger_entries::amount_minor.eq(entry.amount_minor),
                ledger_entries::currency.eq(entry.currency),
                ledger_entries::kind.eq(entry.kind),
                ledger_entries::status.eq(entry.status),
                ledger_entries::available_at.eq(entry.available_at),
                ledger_entries::source_type.eq(entry.source_type),
                ledger_entries::source_id.eq(entry.source_id),
                ledger_entries::conversion_id.eq(entry.conversion_id),
                ledger_entries::rule_id.eq(entry.rule_id),
                ledger_entries::explanation.eq(entry.explanation),
                ledger_entries::created_at.eq(at),
                ledger_entries::status_changed_at.eq(at),
            ))
            .returning(ledger_entries::id)
            .get_result(conn)
    });
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Moves entries from one status to the next; only rows still in `from` change. Returns how many changed.
pub fn advance(
    conn: &mut DbConn,
    ids: &[i64],
    from: EntryStatus,
    to: EntryStatus,
    reason: Option<&str>,
) -> QueryResult<usize> {
    assert!(from.may_become(to), "ledger status only moves forward");
    diesel::update(
        ledger_entries::table
            .filter(ledger_entries::id.eq_any(ids))
            .filter(ledger_entries::status.eq(from)),
    )
    .set((
        ledger_entries::status.eq(to),
        ledger_entries::status_changed_at.eq(now()),
        ledger_entries::status_reason.eq(reason),
    ))
    .execute(conn)
}

/// (id, org, kind, amount, currency, explanation) of an entry the hold release approved.
pub type ApprovedEntry = (i64, i64, String, i64, String, String);

/// Approves the due entries of `orgs` (locked by the caller), except those of conversions under review.
pub fn approve_due(
    conn: &mut DbConn,
    orgs: &[i64],
    at: NaiveDateTime,
) -> QueryResult<Vec<ApprovedEntry>> {
    let under_review = conversions::table
        .filter(conversions::review_status.eq_any([ReviewStatus::Held, ReviewStatus::Rejected]))
        .select(conversions::id.nullable());
    diesel::update(
        ledger_entries::table
            .filter(ledger_entries::partner_org_id.eq_any(orgs))
            .filter(ledger_entries::status.eq(EntryStatus::Pending))
            .filter(ledger_entries::available_at.le(at))
            .filter(
                ledger_entries::conversion_id
                    .is_null()
                    .or(ledger_entries::conversion_id.ne_all(under_review)),
            ),
    )
    .set((
        ledger_entries::status.eq(EntryStatus::Approved),
        ledger_entries::status_changed_at.eq(at),
        ledger_entries::status_reason.eq("hold period ended"),
    ))
    .returning((
        ledger_entries::id,
        ledger_entries::partner_org_id,
        ledger_entries::kind,
        ledger_entries::amount_minor,
        ledger_entries::currency,
        ledger_entries::explanation,
    ))
    .get_results(conn)
}

/// Entries written for a conversion (its commission and any reversals), oldest first.
pub fn for_conversion(conn: &mut DbConn, conversion_id: i64) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::conversion_id.eq(conversion_id))
        .order(ledger_entries::id)
        .select(LedgerEntry::as_select())
        .load(conn)
}

/// Balance of one partner in one currency, by status: sums computed by the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    pub currency: String,
    /// Earned and still in the hold period.
    pub pending: i64,
    /// Earned and payable, net of clawbacks and of payouts in progress (their negative entry is approved until
    /// they are paid).
    pub approved: i64,
    /// Earnings that payouts have paid and that stayed paid (a payout Stripe reversed gives its amount back).
    pub paid: i64,
}

impl Balance {
    /// What is owed to the partner now; negative when clawbacks exceed approved earnings (carried to the next payout).
    pub fn available(&self) -> i64 {
        self.approved
    }
}

pub fn balances(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Vec<Balance>> {
    // SUM over BIGINT is NUMERIC on PostgreSQL; cast it back so both backends read an i64. Every stored amount is
    // bounded (money::MAX_AMOUNT_MINOR), so a group's sum fits; the groups are added in i128.
    let rows: Vec<(String, EntryStatus, EntryKind, String, i64)> = ledger_entries::table
        .filter(ledger_entries::partner_org_id.eq(partner_org_id))
        .filter(ledger_entries::status.ne(EntryStatus::Void))
        .group_by((
            ledger_entries::currency,
            ledger_entries::status,
            ledger_entries::kind,
            ledger_entries::source_type,
        ))
        .select((
            ledger_entries::currency,
            ledger_entries::status,
            ledger_entries::kind,
            ledger_entries::source_type,
            diesel::dsl::sql::<BigInt>("CAST(SUM(amount_minor) AS BIGINT)"),
        ))
        .order(ledger_entries::currency)
        .load(conn)?;
    let mut sums: Vec<(String, i128, i128, i128)> = Vec::new();
    for (currency, status, kind, source_type, sum) in rows {
        let index = match sums.iter().position(|b| b.0 == currency) {
            Some(i) => i,
            None => {
                sums.push((currency, 0, 0, 0));
                sums.len() - 1
            }
        };
        let sum = i128::from(sum);
        let (_, pending, approved, paid) = &mut sums[index];
        match status {
            EntryStatus::Pending => *pending += sum,
            EntryStatus::Approved => *approved += sum,
            // A paid payout's own (negative) entry is the money leaving, not an earning: "paid" counts what it paid.
            EntryStatus::Paid if kind == EntryKind::Payout => {}
            EntryStatus::Paid => *paid += sum,
            EntryStatus::Void => {}
        }
        // A reversed payout's amount is back in the approved balance, so it no longer counts as paid.
        if source_type == "payout_reversal" {
            *paid -= sum;
        }
    }
    let fit = crate::domain::money::clamp_minor;
    Ok(sums
        .into_iter()
        .map(|(currency, pending, approved, paid)| Balance {
            currency,
            pending: fit(pending),
            approved: fit(approved),
            paid: fit(paid),
        })
        .collect())
}

#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub partner_org_id: Option<i64>,
    pub status: Option<EntryStatus>,
    /// Entries created in [from, to).
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Only entries with an id below this (the cursor of the next page, newest first).
    pub before_id: Option<i64>,
}

/// Newest first.
pub fn list(
    conn: &mut DbConn,
    filter: &EntryFilter,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<LedgerEntry>> {
    let mut query = ledger_entries::table.into_boxed();
    if let Some(partner) = filter.partner_org_id {
        query = query.filter(ledger_entries::partner_org_id.eq(partner));
    }
    if let Some(status) = filter.status {
        query = query.filter(ledger_entries::status.eq(status));
    }
    if let Some(from) = filter.from {
        query = query.filter(ledger_entries::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(ledger_entries::created_at.lt(to));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(ledger_entries::id.lt(before));
    }
    query
        .order(ledger_entries::id.desc())
        .offset(window.offset)
        .limit(window.limit)
        .select(LedgerEntry::as_select())
        .load(conn)
}

/// Orgs with pending entries whose hold has ended at `at`.
pub fn orgs_with_due_entries(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<Vec<i64>> {
    ledger_entries::table
        .filter(ledger_entries::status.eq(EntryStatus::Pending))
        .filter(ledger_entries::available_at.le(at))
        .select(ledger_entries::partner_org_id)
        .distinct()
        .load(conn)
}

/// The program an org belongs to.
pub fn program_of_org(conn: &mut DbConn, org_id: i64) -> QueryResult<i64> {
    crate::platform::db::schema::partner_orgs::table
        .find(org_id)
        .select(crate::platform::db::schema::partner_orgs::program_id)
        .first(conn)
}

/// Orgs the entries belong to.
pub fn orgs_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<i64>> {
    ledger_entries::table
        .filter(ledger_entries::id.eq_any(ids))
        .select(ledger_entries::partner_org_id)
        .distinct()
        .load(conn)
}

/// The entries, oldest first.
pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::id.eq_any(ids))
        .order(ledger_entries::id)
        .select(LedgerEntry::as_select())
        .load(conn)
}

/// Which of `ids` a pending or paid payout holds: money on its way to the partner (or there), not to be voided.
pub fn held_by_payout(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<i64>> {
    use crate::platform::db::schema::{payout_entries, payouts};
    payout_entries::table
        .inner_join(payouts::table)
        .filter(payouts::status.eq_any([PayoutStatus::Pending, PayoutStatus::Paid]))
        .filter(payout_entries::ledger_entry_id.eq_any(ids))
        .select(payout_entries::ledger_entry_id)
        .load(conn)
}
