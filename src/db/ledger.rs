//! The ledger: append-only money movements per partner. Balances are sums computed in SQL; statuses move forward
//! through guarded updates, so a job run twice (or in two processes) changes each entry once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::domain::ledger::{EntryKind, EntryStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{conversions, ledger_entries};
use crate::platform::db::{is_unique_violation, now, DbConn};

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
/// are announced to webhook endpoints (`commission.approved`) in the same transaction. The orgs whose entries it
/// approves are locked first, so a refund deciding about the same entries waits (ledger invariant 3).
pub fn release_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        let orgs: Vec<i64> = ledger_entries::table
            .filter(ledger_entries::status.eq(EntryStatus::Pending.as_str()))
            .filter(ledger_entries::available_at.le(at))
            .select(ledger_entries::partner_org_id)
            .distinct()
            .load(conn)?;
        if orgs.is_empty() {
            return Ok(0);
        }
        crate::platform::db::lock(conn, crate::platform::db::Lock::PartnerOrg, &orgs)?;
        let approved: Vec<ApprovedEntry> = approve_due(conn, &orgs, at)?;
        for (id, org, kind, amount, currency, explanation) in &approved {
            if kind != EntryKind::Commission.as_str() {
                continue;
            }
            let program_id: i64 = crate::platform::db::schema::partner_orgs::table
                .find(org)
                .select(crate::platform::db::schema::partner_orgs::program_id)
                .first(conn)?;
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

/// (id, org, kind, amount, currency, explanation) of an entry the hold release approved.
type ApprovedEntry = (i64, i64, String, i64, String, String);

/// Approves the due entries of `orgs` (locked by the caller).
fn approve_due(
    conn: &mut DbConn,
    orgs: &[i64],
    at: NaiveDateTime,
) -> QueryResult<Vec<ApprovedEntry>> {
    let under_review = conversions::table
        .filter(conversions::review_status.eq_any(["held", "rejected"]))
        .select(conversions::id.nullable());
    diesel::update(
        ledger_entries::table
            .filter(ledger_entries::partner_org_id.eq_any(orgs))
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

/// Takes back what one source's entries (a conversion's commission and its reversals) give the partner. When no
/// payout has taken any of them (paid, or held by a payout in progress) they are voided; otherwise none is voided
/// and one approved clawback of their net amount nets against the next payout (ledger invariant 3). The caller
/// holds the org's lock (`db::lock`). Returns whether anything changed.
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
        || !super::payouts::held_among(conn, &ids)?.is_empty();
    if !taken {
        let mut changed = 0;
        for from in [EntryStatus::Pending, EntryStatus::Approved] {
            changed += advance(conn, &ids, from, EntryStatus::Void, Some(reason))?;
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
    let appended = append(
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
    let rows: Vec<(String, String, String, String, i64)> = ledger_entries::table
        .filter(ledger_entries::partner_org_id.eq(partner_org_id))
        .filter(ledger_entries::status.ne(EntryStatus::Void.as_str()))
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
        match status.parse::<EntryStatus>() {
            Ok(EntryStatus::Pending) => *pending += sum,
            Ok(EntryStatus::Approved) => *approved += sum,
            // A paid payout's own (negative) entry is the money leaving, not an earning: "paid" counts what it paid.
            Ok(EntryStatus::Paid) if kind == EntryKind::Payout.as_str() => {}
            Ok(EntryStatus::Paid) => *paid += sum,
            _ => {}
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

/// An admin approves or voids entries by hand, with a reason kept in the audit log. Voiding a commission voids the
/// reversals earlier partial refunds wrote against it too, so no clawback is left behind for money never paid.
/// Entries a payout in progress holds are left as they are (voiding one would not stop the transfer), and so is a
/// commission one of whose reversals a payout holds. Returns (changed, left because held).
pub fn decide(
    conn: &mut DbConn,
    ids: &[i64],
    to: EntryStatus,
    reason: &str,
    actor: &Actor,
) -> QueryResult<(usize, usize)> {
    crate::platform::db::exclusive_transaction(conn, |conn| {
        let orgs: Vec<i64> = ledger_entries::table
            .filter(ledger_entries::id.eq_any(ids))
            .select(ledger_entries::partner_org_id)
            .distinct()
            .load(conn)?;
        crate::platform::db::lock(conn, crate::platform::db::Lock::PartnerOrg, &orgs)?;
        let chosen: Vec<LedgerEntry> = ledger_entries::table
            .filter(ledger_entries::id.eq_any(ids))
            .order(ledger_entries::id)
            .select(LedgerEntry::as_select())
            .load(conn)?;
        let (mut changed, mut held) = (0, 0);
        for entry in chosen {
            let group = match entry.conversion_id {
                Some(conversion)
                    if to == EntryStatus::Void && entry.kind == EntryKind::Commission.as_str() =>
                {
                    for_conversion(conn, conversion)?
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
            if !super::payouts::held_among(conn, &group_ids)?.is_empty() {
                held += 1;
                continue;
            }
            for member in group.iter().filter(|e| e.status().may_become(to)) {
                changed += advance(conn, &[member.id], member.status(), to, Some(reason))?;
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
