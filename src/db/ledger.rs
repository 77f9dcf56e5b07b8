//! The ledger: append-only money movements per partner. Balances are sums computed in SQL; statuses move forward
//! through guarded updates, so a job run twice (or in two processes) changes each entry once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::audit::{self, Actor, Change, Subject};
use super::schema::{conversions, ledger_entries};
use super::{is_unique_violation, now, DbConn};
use crate::domain::ledger::{EntryKind, EntryStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub kind: String,
    pub status: String,
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
        self.status.parse().expect("written from EntryStatus")
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
                ledger_entries::kind.eq(entry.kind.as_str()),
                ledger_entries::status.eq(entry.status.as_str()),
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
            .filter(ledger_entries::status.eq(from.as_str())),
    )
    .set((
        ledger_entries::status.eq(to.as_str()),
        ledger_entries::status_changed_at.eq(now()),
        ledger_entries::status_reason.eq(reason),
    ))
    .execute(conn)
}

/// The hold release: pending entries whose hold has ended become approved, except commissions of conversions held
/// for fraud review. One guarded statement, so concurrent runs approve each entry once; the entries it approved
/// are announced to webhook endpoints (`commission.approved`) in the same transaction.
pub fn release_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let approved: Vec<ApprovedEntry> = approve_due(conn, at)?;
        for (id, org, kind, amount, currency, explanation) in &approved {
            if kind != EntryKind::Commission.as_str() {
                continue;
            }
            let program_id: i64 = super::schema::partner_orgs::table
                .find(org)
                .select(super::schema::partner_orgs::program_id)
                .first(conn)?;
            super::webhooks::emit(
                conn,
                program_id,
                "commission.approved",
                serde_json::json!({"entry_id": id, "partner_id": org, "amount": amount, "currency": currency,
                    "explanation": explanation}),
            )?;
        }
        Ok(approved.len())
    })
}

/// (id, org, kind, amount, currency, explanation) of an entry the hold release approved.
type ApprovedEntry = (i64, i64, String, i64, String, String);

fn approve_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<Vec<ApprovedEntry>> {
    let under_review = conversions::table
        .filter(conversions::review_status.eq_any(["held", "rejected"]))
        .select(conversions::id.nullable());
    diesel::update(
        ledger_entries::table
            .filter(ledger_entries::status.eq(EntryStatus::Pending.as_str()))
            .filter(ledger_entries::available_at.le(at))
            .filter(
                ledger_entries::conversion_id
                    .is_null()
                    .or(ledger_entries::conversion_id.ne_all(under_review)),
            ),
    )
    .set((
        ledger_entries::status.eq(EntryStatus::Approved.as_str()),
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
    pub pending: i64,
    pub approved: i64,
    pub paid: i64,
}

impl Balance {
    /// What is owed to the partner now; negative when clawbacks exceed approved earnings (carried to the next payout).
    pub fn available(&self) -> i64 {
        self.approved
    }
}

pub fn balances(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Vec<Balance>> {
    // SUM over BIGINT is NUMERIC on PostgreSQL; cast it back so both backends read an i64.
    let rows: Vec<(String, String, i64)> = ledger_entries::table
        .filter(ledger_entries::partner_org_id.eq(partner_org_id))
        .filter(ledger_entries::status.ne(EntryStatus::Void.as_str()))
        .group_by((ledger_entries::currency, ledger_entries::status))
        .select((
            ledger_entries::currency,
            ledger_entries::status,
            diesel::dsl::sql::<BigInt>("CAST(SUM(amount_minor) AS BIGINT)"),
        ))
        .order(ledger_entries::currency)
        .load(conn)?;
    let mut balances: Vec<Balance> = Vec::new();
    for (currency, status, sum) in rows {
        let index = match balances.iter().position(|b| b.currency == currency) {
            Some(i) => i,
            None => {
                balances.push(Balance {
                    currency: currency.clone(),
                    ..Default::default()
                });
                balances.len() - 1
            }
        };
        match status.as_str() {
            "pending" => balances[index].pending = sum,
            "approved" => balances[index].approved = sum,
            "paid" => balances[index].paid = sum,
            _ => {}
        }
    }
    Ok(balances)
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
pub fn list(conn: &mut DbConn, filter: &EntryFilter, limit: i64) -> QueryResult<Vec<LedgerEntry>> {
    let mut query = ledger_entries::table.into_boxed();
    if let Some(partner) = filter.partner_org_id {
        query = query.filter(ledger_entries::partner_org_id.eq(partner));
    }
    if let Some(status) = filter.status {
        query = query.filter(ledger_entries::status.eq(status.as_str()));
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
        .limit(limit)
        .select(LedgerEntry::as_select())
        .load(conn)
}

/// An admin approves or voids entries by hand, with a reason kept in the audit log. Entries a payout in progress
/// holds are left as they are (voiding one would not stop the transfer). Returns (changed, left because held).
pub fn decide(
    conn: &mut DbConn,
    ids: &[i64],
    to: EntryStatus,
    reason: &str,
    actor: &Actor,
) -> QueryResult<(usize, usize)> {
    conn.transaction(|conn| {
        let held = super::payouts::held_among(conn, ids)?;
        let ids: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !held.contains(id))
            .collect();
        let ids = ids.as_slice();
        let mut changed = 0;
        for from in [EntryStatus::Pending, EntryStatus::Approved] {
            if from.may_become(to) {
                let targets: Vec<LedgerEntry> = ledger_entries::table
                    .filter(ledger_entries::id.eq_any(ids))
                    .filter(ledger_entries::status.eq(from.as_str()))
                    .select(LedgerEntry::as_select())
                    .load(conn)?;
                let target_ids: Vec<i64> = targets.iter().map(|e| e.id).collect();
                changed += advance(conn, &target_ids, from, to, Some(reason))?;
                for entry in &targets {
                    let label = format!(
                        "{} {} for partner #{}",
                        entry.kind,
                        entry.money(),
                        entry.partner_org_id
                    );
                    audit::record(
                        conn,
                        actor,
                        &format!("ledger.{}", to.as_str()),
                        &Subject {
                            kind: "ledger_entry",
                            id: Some(entry.id),
                            label: &label,
                        },
                        &Change {
                            reason: Some(reason),
                            before: Some(from.as_str()),
                            after: Some(to.as_str()),
                        },
                    )?;
                }
            }
        }
        Ok((changed, held.len()))
    })
}
