//! Market development funds: budgets and their allocations, the partner's requests and claims with proof files,
//! staff decisions, the deadline and expiry jobs, and the figures of every fund, tier and org.
//!
//! Every change that moves money within a fund starts by touching the fund's row. That first statement is a
//! write, so on PostgreSQL it takes the row lock and on SQLite the write lock before anything is read: two
//! approvals (or a request and an approval) of one fund are serialised, and neither can spend what the other
//! just reserved. Status changes are guarded on the status read, so a decision made twice at once lands once;
//! the approved claim's ledger entry is also unique per claim.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::deals::rules::DealStatus;
use crate::domain::mdf::{
    check_activity_dates, check_approved_amount, check_claim, check_claim_window, check_decision,
    check_requested_amount, claim_due_on, claim_reminder_due, org_allocation, ActivityType,
    Allocation, ClaimStatus, Decision, FundPosition, RequestStatus,
};
use crate::domain::money::{Currency, Money};
use crate::domain::partner::PartnerKind;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deals, ledger_entries, mdf_allocations, mdf_claim_deals, mdf_claims, mdf_events, mdf_expiries,
    mdf_funds, mdf_proof_files, mdf_requests, partner_orgs, programs, tiers,
};
use crate::platform::db::{is_unique_violation, now, DbConn};
use crate::platform::mail::NotifyError;
use crate::programs::Program;

#[derive(Debug, thiserror::Error)]
pub enum MdfError {
    #[error("No such request.")]
    NotFound,
    /// Understood and refused; the text is for the person who asked.
    #[error("{0}")]
    Refused(String),
    /// Refused because of one form field; the page shows the message next to it.
    #[error("{1}")]
    Field(&'static str, String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl From<MdfError> for crate::platform::http::AppError {
    fn from(error: MdfError) -> Self {
        match error {
            MdfError::NotFound => Self::NotFound,
            MdfError::Refused(message) | MdfError::Field(_, message) => Self::BadRequest(message),
            MdfError::Database(e) => e.into(),
            MdfError::Notify(e) => e.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Funds and allocations

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_funds)]
pub struct Fund {
    pub id: i64,
    pub program_id: i64,
    pub name: String,
    pub currency: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub accrual_bps: i64,
    pub expired_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Fund {
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).expect("checked on the way in")
    }

    /// An amount of the fund's currency as pages show it; templates pass references, code passes values.
    pub fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        Money::new(*minor.borrow(), self.currency()).to_string()
    }

    pub fn accrual_text(&self) -> String {
        crate::domain::money::percent_text(self.accrual_bps)
    }

    pub fn period(&self) -> String {
        format!("{} to {}", self.starts_on, self.ends_on)
    }

    /// Open for new requests on `today`: not expired and not past its last day.
    pub fn open_on(&self, today: NaiveDate) -> bool {
        self.expired_at.is_none() && today <= self.ends_on
    }

    fn accrual_range(&self) -> (NaiveDateTime, NaiveDateTime) {
        (
            self.starts_on.and_hms_opt(0, 0, 0).expect("midnight"),
            (self.ends_on + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        )
    }
}

pub struct NewFund<'a> {
    pub name: &'a str,
    pub currency: Currency,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub accrual_bps: i64,
}

/// Creates a fund; with `from_tiers`, every tier's MDF allowance (a tier benefit, in the program currency) becomes
/// its allocation when the fund is in that currency.
pub fn create_fund(
    conn: &mut DbConn,
    program_id: i64,
    fund: &NewFund<'_>,
    from_tiers: bool,
    actor: &Actor,
) -> Result<i64, MdfError> {
    conn.transaction(|conn| {
        let at = now();
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(mdf_funds::table)
                .values((
                    mdf_funds::program_id.eq(program_id),
                    mdf_funds::name.eq(fund.name),
                    mdf_funds::currency.eq(fund.currency.code()),
                    mdf_funds::starts_on.eq(fund.starts_on),
                    mdf_funds::ends_on.eq(fund.ends_on),
                    mdf_funds::accrual_bps.eq(fund.accrual_bps),
                    mdf_funds::created_at.eq(at),
                    mdf_funds::updated_at.eq(at),
                ))
                .returning(mdf_funds::id)
                .get_result::<i64>(conn)
        });
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(MdfError::Field(
                    "name",
                    format!("A fund named '{}' exists already.", fund.name),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let program_currency: String = programs::table
            .find(program_id)
            .select(programs::currency)
            .first(conn)?;
        if from_tiers && program_currency == fund.currency.code() {
            let allowances: Vec<(i64, i64)> = tiers::table
                .filter(tiers::program_id.eq(program_id))
                .filter(tiers::mdf_allowance_minor.gt(0))
                .select((tiers::id, tiers::mdf_allowance_minor))
                .load(conn)?;
            for (tier_id, amount) in allowances {
                diesel::insert_into(mdf_allocations::table)
                    .values((
                        mdf_allocations::fund_id.eq(id),
                        mdf_allocations::tier_id.eq(Some(tier_id)),
                        mdf_allocations::amount_minor.eq(amount),
                        mdf_allocations::created_at.eq(at),
                        mdf_allocations::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
        let after = format!(
            "{} {} to {}, accrual {}",
            fund.currency,
            fund.starts_on,
            fund.ends_on,
            crate::domain::money::percent_text(fund.accrual_bps)
        );
        audit::record(
            conn,
            actor,
            "mdf.fund_created",
            &Subject {
                kind: "mdf_fund",
                id: Some(id),
                label: fund.name,
            },
            &Change {
                after: Some(&after),
                ..Default::default()
            },
        )?;
        Ok(id)
    })
}

pub fn funds(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Fund>> {
    mdf_funds::table
        .filter(mdf_funds::program_id.eq(program_id))
        .order((mdf_funds::starts_on.desc(), mdf_funds::id.desc()))
        .select(Fund::as_select())
        .load(conn)
}

pub fn find_fund(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<Fund>> {
    mdf_funds::table
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_funds::id.eq(id))
        .select(Fund::as_select())
        .first(conn)
        .optional()
}

/// The fund of a request already found within its program.
pub fn fund_of(conn: &mut DbConn, request: &MdfRequest) -> QueryResult<Fund> {
    mdf_funds::table
        .find(request.fund_id)
        .select(Fund::as_select())
        .first(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_allocations)]
pub struct AllocationRow {
    pub id: i64,
    pub fund_id: i64,
    pub tier_id: Option<i64>,
    pub partner_org_id: Option<i64>,
    pub amount_minor: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl AllocationRow {
    fn rule(&self) -> Allocation {
        match (self.tier_id, self.partner_org_id) {
            (Some(tier_id), _) => Allocation::Tier {
                tier_id,
                amount_minor: self.amount_minor,
            },
            (None, Some(org_id)) => Allocation::Partner {
                org_id,
                amount_minor: self.amount_minor,
            },
            (None, None) => unreachable!("the schema requires a tier or a partner"),
        }
    }
}

/// An allocation with the name of its tier or org.
pub struct AllocationView {
    pub row: AllocationRow,
    pub label: String,
}

pub fn allocations(conn: &mut DbConn, fund_id: i64) -> QueryResult<Vec<AllocationView>> {
    let rows: Vec<(AllocationRow, Option<String>, Option<String>)> = mdf_allocations::table
        .left_join(tiers::table.on(mdf_allocations::tier_id.eq(tiers::id.nullable())))
        .left_join(
            partner_orgs::table.on(mdf_allocations::partner_org_id.eq(partner_orgs::id.nullable())),
        )
        .filter(mdf_allocations::fund_id.eq(fund_id))
        .order(mdf_allocations::id)
        .select((
            AllocationRow::as_select(),
            tiers::name.nullable(),
            partner_orgs::name.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, tier, org)| AllocationView {
            label: match (tier, org) {
                (Some(tier), _) => format!("Every {tier} partner"),
                (None, Some(org)) => org,
                (None, None) => String::new(),
            },
            row,
        })
        .collect())
}

#[derive(Debug, Clone, Copy)]
pub enum AllocationTarget {
    Tier(i64),
    Partner(i64),
}

/// Sets what a tier's orgs (or one org) receive from a fund; a second setting for the same target replaces the
/// first. Audited with the amount before and after.
pub fn set_allocation(
    conn: &mut DbConn,
    fund: &Fund,
    target: AllocationTarget,
    amount_minor: i64,
    actor: &Actor,
) -> Result<(), MdfError> {
    conn.transaction(|conn| {
        let (tier_id, org_id, label) = match target {
            AllocationTarget::Tier(id) => {
                let name: Option<String> = tiers::table
                    .filter(tiers::program_id.eq(fund.program_id))
                    .filter(tiers::id.eq(id))
                    .select(tiers::name)
                    .first(conn)
                    .optional()?;
                let name = name.ok_or(MdfError::Field(
                    "target",
                    "Choose a tier of the program.".into(),
                ))?;
                (Some(id), None, format!("tier {name}"))
            }
            AllocationTarget::Partner(id) => {
                let found: Option<(String, String)> = partner_orgs::table
                    .filter(partner_orgs::program_id.eq(fund.program_id))
                    .filter(partner_orgs::id.eq(id))
                    .select((partner_orgs::name, partner_orgs::kind))
                    .first(conn)
                    .optional()?;
                match found {
                    Some((name, kind)) if kind != PartnerKind::Affiliate.as_str() => {
                        (None, Some(id), name)
                    }
                    Some(_) => {
                        return Err(MdfError::Field(
                            "target",
                            "MDF is for reseller and referral partners, not affiliates.".into(),
                        ))
                    }
                    None => {
                        return Err(MdfError::Field(
                            "target",
                            "Choose a partner of the program.".into(),
                        ))
                    }
                }
            }
        };
        let query = mdf_allocations::table
            .filter(mdf_allocations::fund_id.eq(fund.id))
            .select(AllocationRow::as_select())
            .into_boxed();
        let query = match (tier_id, org_id) {
            (Some(tier), _) => query.filter(mdf_allocations::tier_id.eq(tier)),
            (None, org) => query.filter(mdf_allocations::partner_org_id.eq(org)),
        };
        let existing: Option<AllocationRow> = query.first(conn).optional()?;
        let at = now();
        let before = existing.as_ref().map(|row| fund.money(row.amount_minor));
        match &existing {
            Some(row) => {
                diesel::update(mdf_allocations::table.find(row.id))
                    .set((
                        mdf_allocations::amount_minor.eq(amount_minor),
                        mdf_allocations::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(mdf_allocations::table)
                    .values((
                        mdf_allocations::fund_id.eq(fund.id),
                        mdf_allocations::tier_id.eq(tier_id),
                        mdf_allocations::partner_org_id.eq(org_id),
                        mdf_allocations::amount_minor.eq(amount_minor),
                        mdf_allocations::created_at.eq(at),
                        mdf_allocations::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
        let subject = format!("{}: {label}", fund.name);
        audit::record(
            conn,
            actor,
            "mdf.allocation_set",
            &Subject {
                kind: "mdf_fund",
                id: Some(fund.id),
                label: &subject,
            },
            &Change {
                before: before.as_deref(),
                after: Some(&fund.money(amount_minor)),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

pub fn remove_allocation(
    conn: &mut DbConn,
    fund: &Fund,
    allocation_id: i64,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let label = allocations(conn, fund.id)?
            .into_iter()
            .find(|a| a.row.id == allocation_id);
        let Some(view) = label else {
            return Ok(false);
        };
        diesel::delete(mdf_allocations::table.find(allocation_id)).execute(conn)?;
        let subject = format!("{}: {}", fund.name, view.label);
        audit::record(
            conn,
            actor,
            "mdf.allocation_removed",
            &Subject {
                kind: "mdf_fund",
                id: Some(fund.id),
                label: &subject,
            },
            &Change {
                before: Some(&fund.money(view.row.amount_minor)),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}

/// The program's MDF rules: the share of actual cost a claim may ask, and the days after an activity to claim.
pub fn save_settings(
    conn: &mut DbConn,
    program: &Program,
    reimbursement_bps: i64,
    claim_days: i64,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::update(programs::table.find(program.id))
            .set((
                programs::mdf_reimbursement_bps.eq(reimbursement_bps),
                programs::mdf_claim_days.eq(claim_days),
            ))
            .execute(conn)?;
        let describe = |bps: i64, days: i64| {
            format!(
                "reimburses {} of cost, claims within {days} days",
                crate::domain::money::percent_text(bps)
            )
        };
        audit::record(
            conn,
            actor,
            "mdf.settings",
            &Subject {
                kind: "program",
                id: Some(program.id),
                label: &program.name,
            },
            &Change {
                before: Some(&describe(
                    program.mdf_reimbursement_bps,
                    program.mdf_claim_days,
                )),
                after: Some(&describe(reimbursement_bps, claim_days)),
                ..Default::default()
            },
        )
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Positions: where each org stands in a fund

/// An org's standing in one fund.
#[derive(Debug, Clone)]
pub struct OrgPosition {
    pub org_id: i64,
    pub org_name: String,
    pub tier_name: Option<String>,
    pub position: FundPosition,
}

/// Every reseller and referral org's position in the fund (or only `only_org`'s), leaving out orgs with nothing
/// allocated and nothing moved.
pub fn positions(
    conn: &mut DbConn,
    fund: &Fund,
    only_org: Option<i64>,
) -> QueryResult<Vec<OrgPosition>> {
    let mut orgs_query = partner_orgs::table
        .left_join(tiers::table)
        .filter(partner_orgs::program_id.eq(fund.program_id))
        .filter(partner_orgs::kind.ne(PartnerKind::Affiliate.as_str()))
        .select((
            partner_orgs::id,
            partner_orgs::name,
            partner_orgs::status,
            partner_orgs::tier_id,
            tiers::name.nullable(),
        ))
        .order(partner_orgs::name)
        .into_boxed();
    if let Some(org) = only_org {
        orgs_query = orgs_query.filter(partner_orgs::id.eq(org));
    }
    // (id, name, status, tier id, tier name)
    type OrgRow = (i64, String, String, Option<i64>, Option<String>);
    let orgs: Vec<OrgRow> = orgs_query.load(conn)?;
    let rules: Vec<Allocation> = mdf_allocations::table
        .filter(mdf_allocations::fund_id.eq(fund.id))
        .select(AllocationRow::as_select())
        .load(conn)?
        .iter()
        .map(AllocationRow::rule)
        .collect();
    let won = if fund.accrual_bps > 0 {
        let (from, until) = fund.accrual_range();
        deals::table
            .filter(deals::program_id.eq(fund.program_id))
            .filter(deals::status.eq(DealStatus::Won.as_str()))
            .filter(deals::currency.eq(&fund.currency))
            .filter(deals::closed_at.ge(from))
            .filter(deals::closed_at.lt(until))
            .group_by(deals::partner_org_id)
            .select((
                deals::partner_org_id,
                diesel::dsl::sql::<BigInt>("CAST(SUM(won_amount_minor) AS BIGINT)"),
            ))
            .load::<(i64, i64)>(conn)?
    } else {
        Vec::new()
    };
    let requests: Vec<(i64, i64, String, i64, Option<i64>)> = mdf_requests::table
        .filter(mdf_requests::fund_id.eq(fund.id))
        .select((
            mdf_requests::id,
            mdf_requests::partner_org_id,
            mdf_requests::status,
            mdf_requests::requested_minor,
            mdf_requests::approved_minor,
        ))
        .load(conn)?;
    // Approved claims of the fund with their ledger entry's amount and status.
    let claims: Vec<(i64, i64, i64)> = mdf_claims::table
        .inner_join(mdf_requests::table)
        .filter(mdf_requests::fund_id.eq(fund.id))
        .filter(mdf_claims::status.eq(ClaimStatus::Approved.as_str()))
        .select((
            mdf_claims::id,
            mdf_requests::partner_org_id,
            mdf_claims::claimed_minor,
        ))
        .load(conn)?;
    let claim_ids: Vec<i64> = claims.iter().map(|c| c.0).collect();
    let entries: Vec<(i64, String)> = ledger_entries::table
        .filter(ledger_entries::source_type.eq("mdf_claim"))
        .filter(ledger_entries::kind.eq(EntryKind::MdfReimbursement.as_str()))
        .filter(ledger_entries::source_id.eq_any(&claim_ids))
        .select((ledger_entries::source_id, ledger_entries::status))
        .load(conn)?;
    let linked: Vec<(i64, i64, Option<i64>)> = mdf_claim_deals::table
        .inner_join(deals::table)
        .filter(mdf_claim_deals::claim_id.eq_any(&claim_ids))
        .filter(deals::status.eq(DealStatus::Won.as_str()))
        .filter(deals::currency.eq(&fund.currency))
        .select((deals::partner_org_id, deals::id, deals::won_amount_minor))
        .distinct()
        .load(conn)?;
    let expired: Vec<(i64, i64)> = mdf_expiries::table
        .filter(mdf_expiries::fund_id.eq(fund.id))
        .select((mdf_expiries::partner_org_id, mdf_expiries::amount_minor))
        .load(conn)?;

    let mut out = Vec::new();
    for (org_id, org_name, status, tier_id, tier_name) in orgs {
        let won_minor = crate::domain::money::sum_minor(
            won.iter().filter(|(o, _)| *o == org_id).map(|(_, w)| *w),
        );
        // A suspended or rejected org keeps what it committed, but receives no new allocation.
        let allocated = if status == "approved" {
            org_allocation(org_id, tier_id, &rules, fund.accrual_bps, won_minor)
        } else {
            0
        };
        let mut position = FundPosition::default();
        for (_, _, status, requested, approved) in requests.iter().filter(|r| r.1 == org_id) {
            match status.parse::<RequestStatus>() {
                Ok(s) if RequestStatus::AWAITING.contains(&s) => {
                    position.awaiting = position.awaiting.saturating_add(*requested)
                }
                Ok(RequestStatus::Approved) => {
                    position.reserved = position.reserved.saturating_add(approved.unwrap_or(0))
                }
                _ => {}
            }
        }
        for (claim_id, _, claimed) in claims.iter().filter(|c| c.1 == org_id) {
            match entries.iter().find(|(source, _)| source == claim_id) {
                Some((_, s)) if s == EntryStatus::Paid.as_str() => {
                    position.paid = position.paid.saturating_add(*claimed)
                }
                Some((_, s)) if s == EntryStatus::Void.as_str() => {}
                _ => position.claimed = position.claimed.saturating_add(*claimed),
            }
        }
        position.linked_won = crate::domain::money::sum_minor(
            linked
                .iter()
                .filter(|(o, _, _)| *o == org_id)
                .map(|(_, _, won)| won.unwrap_or(0)),
        );
        position.expired = crate::domain::money::sum_minor(
            expired
                .iter()
                .filter(|(o, _)| *o == org_id)
                .map(|(_, amount)| *amount),
        );
        let position = position.allocate(allocated);
        if !position.is_empty() || only_org.is_some() {
            out.push(OrgPosition {
                org_id,
                org_name,
                tier_name,
                position,
            });
        }
    }
    Ok(out)
}

pub fn position_of(conn: &mut DbConn, fund: &Fund, org_id: i64) -> QueryResult<FundPosition> {
    Ok(positions(conn, fund, Some(org_id))?
        .into_iter()
        .next()
        .map(|p| p.position)
        .unwrap_or_default())
}

/// The funds an org has (or had) money in, newest first, with its position in each.
pub fn org_funds(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
) -> QueryResult<Vec<(Fund, FundPosition)>> {
    let mut out = Vec::new();
    for fund in funds(conn, program_id)? {
        let position = position_of(conn, &fund, org_id)?;
        if !position.is_empty() {
            out.push((fund, position));
        }
    }
    Ok(out)
}

/// Serialises money changes of one fund (see the module comment).
fn lock_fund(conn: &mut DbConn, fund_id: i64) -> QueryResult<()> {
    diesel::update(mdf_funds::table.find(fund_id))
        .set(mdf_funds::updated_at.eq(now()))
        .execute(conn)
        .map(|_| ())
}

fn lock_fund_of(conn: &mut DbConn, request_id: i64) -> QueryResult<()> {
    diesel::update(
        mdf_funds::table.filter(
            mdf_funds::id.eq_any(
                mdf_requests::table
                    .filter(mdf_requests::id.eq(request_id))
                    .select(mdf_requests::fund_id),
            ),
        ),
    )
    .set(mdf_funds::updated_at.eq(now()))
    .execute(conn)
    .map(|_| ())
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_requests)]
pub struct MdfRequest {
    pub id: i64,
    pub fund_id: i64,
    pub partner_org_id: i64,
    pub requested_by_user_id: i64,
    pub activity_type: String,
    pub title: String,
    pub description: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requested_minor: i64,
    pub currency: String,
    pub expected_leads: i64,
    pub expected_pipeline_minor: i64,
    pub status: String,
    pub status_reason: Option<String>,
    pub approved_minor: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub claim_due_on: Option<NaiveDate>,
    pub claim_reminded_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl MdfRequest {
    pub fn status(&self) -> RequestStatus {
        self.status.parse().expect("written from RequestStatus")
    }

    pub fn activity(&self) -> ActivityType {
        self.activity_type
            .parse()
            .expect("written from ActivityType")
    }

    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).expect("checked on the way in")
    }

    pub fn requested(&self) -> Money {
        Money::new(self.requested_minor, self.currency())
    }

    pub fn approved(&self) -> Option<Money> {
        self.approved_minor.map(|m| Money::new(m, self.currency()))
    }

    pub fn expected_pipeline(&self) -> Money {
        Money::new(self.expected_pipeline_minor, self.currency())
    }

    pub fn label(&self) -> String {
        format!("MDF #{} {}", self.id, self.title)
    }
}

/// What the partner asks for (or corrects when the request was returned).
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub fund_id: i64,
    pub activity: ActivityType,
    pub title: String,
    pub description: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requested: Money,
    pub expected_leads: i64,
    pub expected_pipeline: Money,
}

/// What happened to a request or its claim, for the email to the partner.
#[derive(Debug, Clone)]
pub enum MdfNotice {
    RequestDecided { decision: Decision, reason: String },
    ClaimDecided { decision: Decision, reason: String },
    ClaimReminder,
    Lapsed,
}

/// Writes a partner's notification inside the transaction of the change.
pub type MdfNotifier<'a> =
    &'a dyn Fn(&mut DbConn, &MdfRequest, &MdfNotice) -> Result<(), NotifyError>;
/// Tells staff that a request or claim waits for them, inside the transaction that submitted it.
pub type ReviewNotifier<'a> = &'a dyn Fn(&mut DbConn, &MdfRequest, &str) -> Result<(), NotifyError>;

pub fn event(
    conn: &mut DbConn,
    request_id: i64,
    actor: &Actor,
    kind: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(mdf_events::table)
        .values((
            mdf_events::request_id.eq(request_id),
            mdf_events::actor_user_id.eq(actor.user_id),
            mdf_events::actor_label.eq(&actor.label),
            mdf_events::kind.eq(kind),
            mdf_events::detail.eq(detail),
            mdf_events::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_events)]
pub struct MdfEvent {
    pub id: i64,
    pub request_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub kind: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

pub fn events(conn: &mut DbConn, request_id: i64) -> QueryResult<Vec<MdfEvent>> {
    mdf_events::table
        .filter(mdf_events::request_id.eq(request_id))
        .order(mdf_events::id)
        .select(MdfEvent::as_select())
        .load(conn)
}

fn audit_request(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    request: &MdfRequest,
    change: &Change<'_>,
) -> QueryResult<()> {
    audit::record(
        conn,
        actor,
        action,
        &Subject {
            kind: "mdf_request",
            id: Some(request.id),
            label: &request.label(),
        },
        change,
    )
}

/// The name of an org, for messages about its requests.
pub fn org_name(conn: &mut DbConn, org_id: i64) -> QueryResult<String> {
    partner_orgs::table
        .find(org_id)
        .select(partner_orgs::name)
        .first(conn)
}

/// A request of the program (staff), or `None`.
pub fn find_request(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
) -> QueryResult<Option<MdfRequest>> {
    mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::id.eq(id))
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()
}

/// A request of the org, or `None`: another org's request is as good as absent.
pub fn find_for_org(conn: &mut DbConn, org_id: i64, id: i64) -> QueryResult<Option<MdfRequest>> {
    mdf_requests::table
        .filter(mdf_requests::partner_org_id.eq(org_id))
        .filter(mdf_requests::id.eq(id))
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()
}

fn request_by_id(conn: &mut DbConn, id: i64) -> Result<MdfRequest, MdfError> {
    mdf_requests::table
        .find(id)
        .select(MdfRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(MdfError::NotFound)
}

/// Checks an input against the fund it names and the org's position there. `own_awaiting` is what this very
/// request already holds (when it is corrected), which is free for it.
fn check_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    input: &RequestInput,
    own_awaiting: i64,
    today: NaiveDate,
) -> Result<Fund, MdfError> {
    let fund = find_fund(conn, program_id, input.fund_id)?.ok_or(MdfError::Field(
        "fund_id",
        "Choose one of the open funds.".into(),
    ))?;
    if !fund.open_on(today) {
        return Err(MdfError::Field(
            "fund_id",
            format!(
                "The fund {} closed on {}; choose an open fund.",
                fund.name, fund.ends_on
            ),
        ));
    }
    if input.requested.currency.code() != fund.currency {
        return Err(MdfError::Field(
            "requested",
            format!("The fund {} is in {}.", fund.name, fund.currency),
        ));
    }
    check_activity_dates(input.starts_on, input.ends_on, fund.starts_on, fund.ends_on)
        .map_err(|(field, message)| MdfError::Field(field, message))?;
    let position = position_of(conn, &fund, org_id)?;
    let available = Money::new(position.available() + own_awaiting, fund.currency());
    check_requested_amount(input.requested, available)
        .map_err(|message| MdfError::Field("requested", message))?;
    Ok(fund)
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = mdf_requests)]
struct RequestColumns<'a> {
    fund_id: i64,
    activity_type: &'a str,
    title: &'a str,
    description: &'a str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    requested_minor: i64,
    currency: &'a str,
    expected_leads: i64,
    expected_pipeline_minor: i64,
}

impl<'a> RequestColumns<'a> {
    fn of(input: &'a RequestInput) -> Self {
        Self {
            fund_id: input.fund_id,
            activity_type: input.activity.as_str(),
            title: &input.title,
            description: &input.description,
            starts_on: input.starts_on,
            ends_on: input.ends_on,
            requested_minor: input.requested.minor,
            currency: input.requested.currency.code(),
            expected_leads: input.expected_leads,
            expected_pipeline_minor: input.expected_pipeline.minor,
        }
    }
}

/// A partner's request for funds. Refused (naming the field) when it asks for more than the org has available.
pub fn submit_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    user_id: i64,
    input: &RequestInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<i64, MdfError> {
    conn.transaction(|conn| {
        lock_fund(conn, input.fund_id)?;
        let today = now().date();
        let fund = check_request(conn, program_id, org_id, input, 0, today)?;
        let at = now();
        let id: i64 = diesel::insert_into(mdf_requests::table)
            .values((
                RequestColumns::of(input),
                mdf_requests::partner_org_id.eq(org_id),
                mdf_requests::requested_by_user_id.eq(user_id),
                mdf_requests::status.eq(RequestStatus::Submitted.as_str()),
                mdf_requests::created_at.eq(at),
                mdf_requests::updated_at.eq(at),
            ))
            .returning(mdf_requests::id)
            .get_result(conn)?;
        event(
            conn,
            id,
            actor,
            "submitted",
            &format!("Requested {} from {}.", input.requested, fund.name),
        )?;
        let request = request_by_id(conn, id)?;
        notify_staff(conn, &request, "A new MDF request")?;
        Ok(id)
    })
}

/// The partner corrects a request that was returned for more information; it goes back to the queue.
pub fn resubmit_request(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    request_id: i64,
    input: &RequestInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<(), MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        if request.status() != RequestStatus::InfoRequested {
            return Err(MdfError::Refused(
                "Only a request returned for more information can be changed.".into(),
            ));
        }
        // The request holds its amount in its own fund only; moved to another fund, it holds nothing there yet.
        let own = if request.fund_id == input.fund_id {
            request.requested_minor
        } else {
            0
        };
        if request.fund_id != input.fund_id {
            lock_fund(conn, input.fund_id)?;
        }
        check_request(conn, program_id, org_id, input, own, now().date())?;
        let changed = diesel::update(
            mdf_requests::table
                .filter(mdf_requests::id.eq(request_id))
                .filter(mdf_requests::status.eq(RequestStatus::InfoRequested.as_str())),
        )
        .set((
            RequestColumns::of(input),
            mdf_requests::status.eq(RequestStatus::Submitted.as_str()),
            mdf_requests::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "The request changed a moment ago; look again.".into(),
            ));
        }
        event(
            conn,
            request_id,
            actor,
            "resubmitted",
            "Updated and submitted again.",
        )?;
        let request = request_by_id(conn, request_id)?;
        notify_staff(conn, &request, "An MDF request updated after your question")?;
        Ok(())
    })
}

/// A staff decision on a request: approve all or part (which reserves it and sets the claim deadline), decline
/// or return for more information (both with a reason). Event, audit entry and the partner's email, in one
/// transaction.
#[allow(clippy::too_many_arguments)]
pub fn decide_request(
    conn: &mut DbConn,
    program: &Program,
    request_id: i64,
    decision: Decision,
    approved: Option<Money>,
    reason: &str,
    actor: &Actor,
    notify: MdfNotifier<'_>,
) -> Result<RequestStatus, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_request(conn, program.id, request_id)?.ok_or(MdfError::NotFound)?;
        let before = request.status();
        check_decision(before == RequestStatus::Submitted, decision, reason)
            .map_err(MdfError::Refused)?;
        let reason = reason.trim();
        let fund = find_fund(conn, program.id, request.fund_id)?.ok_or(MdfError::NotFound)?;
        let (after, approved_minor, due, detail) = match decision {
            Decision::Approve => {
                let approved = approved.unwrap_or(request.requested());
                if approved.currency != request.currency() {
                    return Err(MdfError::Field(
                        "approved",
                        format!("Approve an amount in {}.", request.currency),
                    ));
                }
                let position = position_of(conn, &fund, request.partner_org_id)?;
                let available = Money::new(
                    position.available() + request.requested_minor,
                    fund.currency(),
                );
                check_approved_amount(approved, request.requested(), available)
                    .map_err(|m| MdfError::Field("approved", m))?;
                let due = claim_due_on(request.ends_on, program.mdf_claim_days);
                let part = if approved.minor < request.requested_minor {
                    format!(" (of {} requested)", request.requested())
                } else {
                    String::new()
                };
                (
                    RequestStatus::Approved,
                    Some(approved.minor),
                    Some(due),
                    format!("Approved {approved}{part}; claim by {due}."),
                )
            }
            Decision::Decline => (
                RequestStatus::Declined,
                None,
                None,
                format!("Declined: {reason}"),
            ),
            Decision::ReturnForInfo => (
                RequestStatus::InfoRequested,
                None,
                None,
                format!("Returned for more information: {reason}"),
            ),
        };
        let at = now();
        let changed = diesel::update(
            mdf_requests::table
                .filter(mdf_requests::id.eq(request_id))
                .filter(mdf_requests::status.eq(before.as_str())),
        )
        .set((
            mdf_requests::status.eq(after.as_str()),
            mdf_requests::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
            mdf_requests::approved_minor.eq(approved_minor),
            mdf_requests::claim_due_on.eq(due),
            mdf_requests::decided_at.eq(Some(at)),
            mdf_requests::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "Someone else decided this request a moment ago; look again.".into(),
            ));
        }
        event(conn, request_id, actor, after.as_str(), &detail)?;
        audit_request(
            conn,
            actor,
            &format!("mdf.request_{}", decision.as_str()),
            &request,
            &Change {
                reason: Some(reason).filter(|r| !r.is_empty()),
                before: Some(before.as_str()),
                after: Some(&detail),
            },
        )?;
        if after == RequestStatus::Declined {
            settle_expired(conn, &fund, request.partner_org_id)?;
        }
        if after == RequestStatus::Approved {
            crate::webhooks::emit(
                conn,
                program.id,
                crate::webhooks::EventType::MdfRequestApproved,
                serde_json::json!({"request_id": request_id, "partner_id": request.partner_org_id,
                    "approved": approved_minor, "currency": request.currency, "claim_due_on": due.map(|d| d.to_string())}),
            )?;
        }
        let updated = request_by_id(conn, request_id)?;
        notify(
            conn,
            &updated,
            &MdfNotice::RequestDecided {
                decision,
                reason: reason.to_string(),
            },
        )?;
        Ok(after)
    })
}

/// A request with its fund's name, its org's name and its claim's status, for lists.
pub struct RequestRow {
    pub request: MdfRequest,
    pub fund_name: String,
    pub org_name: String,
    pub claim_status: Option<String>,
}

impl RequestRow {
    pub fn claim_status(&self) -> Option<ClaimStatus> {
        self.claim_status.as_deref().and_then(|s| s.parse().ok())
    }
}

fn request_rows(
    conn: &mut DbConn,
    program_id: i64,
    org_id: Option<i64>,
    statuses: Option<&[RequestStatus]>,
    claim_statuses: Option<&[ClaimStatus]>,
) -> QueryResult<Vec<RequestRow>> {
    let mut query = mdf_requests::table
        .inner_join(mdf_funds::table)
        .inner_join(partner_orgs::table)
        .left_join(mdf_claims::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .select((
            MdfRequest::as_select(),
            mdf_funds::name,
            partner_orgs::name,
            mdf_claims::status.nullable(),
        ))
        .into_boxed();
    if let Some(org) = org_id {
        query = query
            .filter(mdf_requests::partner_org_id.eq(org))
            .order(mdf_requests::id.desc());
    } else {
        // Queues: oldest first.
        query = query.order(mdf_requests::updated_at.asc());
    }
    if let Some(statuses) = statuses {
        query = query.filter(mdf_requests::status.eq_any(statuses.iter().map(|s| s.as_str())));
    }
    if let Some(statuses) = claim_statuses {
        query = query.filter(
            mdf_claims::status
                .nullable()
                .eq_any(statuses.iter().map(|s| Some(s.as_str()))),
        );
    }
    Ok(query
        .load::<(MdfRequest, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(request, fund_name, org_name, claim_status)| RequestRow {
            request,
            fund_name,
            org_name,
            claim_status,
        })
        .collect())
}

pub fn org_requests(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
) -> QueryResult<Vec<RequestRow>> {
    request_rows(conn, program_id, Some(org_id), None, None)
}

/// Staff queues: requests awaiting a decision, and claims awaiting review, oldest first.
pub fn queue(
    conn: &mut DbConn,
    program_id: i64,
) -> QueryResult<(Vec<RequestRow>, Vec<RequestRow>)> {
    Ok((
        request_rows(
            conn,
            program_id,
            None,
            Some(&[RequestStatus::Submitted]),
            None,
        )?,
        request_rows(
            conn,
            program_id,
            None,
            None,
            Some(&[ClaimStatus::Submitted]),
        )?,
    ))
}

/// How many requests wait for a decision and how many claims for review, for the admin dashboard.
pub fn waiting_counts(conn: &mut DbConn, program_id: i64) -> QueryResult<(i64, i64)> {
    let requests = mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::status.eq(RequestStatus::Submitted.as_str()))
        .count()
        .get_result(conn)?;
    let claims = mdf_claims::table
        .inner_join(mdf_requests::table.inner_join(mdf_funds::table))
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_claims::status.eq(ClaimStatus::Submitted.as_str()))
        .count()
        .get_result(conn)?;
    Ok((requests, claims))
}

/// Every request of the program, newest first (the staff list).
pub fn all_requests(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<RequestRow>> {
    let mut rows = request_rows(conn, program_id, None, None, None)?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.request.id));
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------------------------
// Claims and proof files

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_claims)]
pub struct Claim {
    pub id: i64,
    pub request_id: i64,
    pub submitted_by_user_id: i64,
    pub actual_cost_minor: i64,
    pub claimed_minor: i64,
    pub leads_generated: i64,
    pub results: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Claim {
    pub fn status(&self) -> ClaimStatus {
        self.status.parse().expect("written from ClaimStatus")
    }
}

pub fn claim_of(conn: &mut DbConn, request_id: i64) -> QueryResult<Option<Claim>> {
    mdf_claims::table
        .filter(mdf_claims::request_id.eq(request_id))
        .select(Claim::as_select())
        .first(conn)
        .optional()
}

/// A deal linked to a claim: (id, title, status, won amount).
pub struct LinkedDeal {
    pub id: i64,
    pub title: String,
    pub status: DealStatus,
    pub won: Option<Money>,
}

pub fn linked_deals(conn: &mut DbConn, claim_id: i64) -> QueryResult<Vec<LinkedDeal>> {
    let rows: Vec<(i64, String, String, Option<i64>, String)> = mdf_claim_deals::table
        .inner_join(deals::table)
        .filter(mdf_claim_deals::claim_id.eq(claim_id))
        .order(deals::id)
        .select((
            deals::id,
            deals::customer_name,
            deals::status,
            deals::won_amount_minor,
            deals::currency,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status, won, currency)| LinkedDeal {
            id,
            title: format!("#{id} {name}"),
            status: status.parse().expect("written from DealStatus"),
            won: won.map(|m| Money::new(m, Currency::parse(&currency).expect("ISO code"))),
        })
        .collect())
}

/// The org's registrations a claim may name as results: approved, reported or confirmed wins.
pub fn linkable_deals(conn: &mut DbConn, org_id: i64) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<(i64, String, String)> = deals::table
        .filter(deals::partner_org_id.eq(org_id))
        .filter(deals::status.eq_any([
            DealStatus::Approved.as_str(),
            DealStatus::WonReported.as_str(),
            DealStatus::Won.as_str(),
        ]))
        .order(deals::id.desc())
        .select((deals::id, deals::customer_name, deals::status))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status)| {
            let status: DealStatus = status.parse().expect("written from DealStatus");
            (
                id,
                format!("#{id} {name} ({})", status.label().to_lowercase()),
            )
        })
        .collect())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_proof_files)]
pub struct ProofFile {
    pub id: i64,
    pub request_id: i64,
    pub partner_org_id: i64,
    pub stored_name: String,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_by_user_id: i64,
    pub uploaded_at: NaiveDateTime,
}

impl ProofFile {
    pub fn size_text(&self) -> String {
        match self.size_bytes {
            b if b >= 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
            b if b >= 1024 => format!("{} KiB", b / 1024),
            b => format!("{b} bytes"),
        }
    }
}

pub struct NewProof<'a> {
    pub stored_name: &'a str,
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
}

/// Records files already written under the uploads directory as proof for one of the org's requests.
pub fn add_proofs(
    conn: &mut DbConn,
    org_id: i64,
    request_id: i64,
    user_id: i64,
    files: &[NewProof<'_>],
    actor: &Actor,
) -> Result<(), MdfError> {
    if files.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        let claim = claim_of(conn, request_id)?;
        let open = request.status() == RequestStatus::Approved
            && claim
                .as_ref()
                .is_none_or(|c| c.status() == ClaimStatus::InfoRequested);
        if !open {
            return Err(MdfError::Refused(
                "Proof can be added while the claim can still be filed or corrected.".into(),
            ));
        }
        let at = now();
        for file in files {
            diesel::insert_into(mdf_proof_files::table)
                .values((
                    mdf_proof_files::request_id.eq(request_id),
                    mdf_proof_files::partner_org_id.eq(org_id),
                    mdf_proof_files::stored_name.eq(file.stored_name),
                    mdf_proof_files::original_name.eq(file.original_name),
                    mdf_proof_files::content_type.eq(file.content_type),
                    mdf_proof_files::size_bytes.eq(file.size_bytes),
                    mdf_proof_files::uploaded_by_user_id.eq(user_id),
                    mdf_proof_files::uploaded_at.eq(at),
                ))
                .execute(conn)?;
        }
        let names: Vec<&str> = files.iter().map(|f| f.original_name).collect();
        event(
            conn,
            request_id,
            actor,
            "proof_added",
            &format!("Proof added: {}.", names.join(", ")),
        )?;
        Ok(())
    })
}

pub fn proof_files(conn: &mut DbConn, request_id: i64) -> QueryResult<Vec<ProofFile>> {
    mdf_proof_files::table
        .filter(mdf_proof_files::request_id.eq(request_id))
        .order(mdf_proof_files::id)
        .select(ProofFile::as_select())
        .load(conn)
}

/// A proof file, for staff of the program or for the org that uploaded it; `None` for anyone else.
pub fn find_proof(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    org_id: Option<i64>,
) -> QueryResult<Option<ProofFile>> {
    let mut query = mdf_proof_files::table
        .inner_join(partner_orgs::table)
        .filter(partner_orgs::program_id.eq(program_id))
        .filter(mdf_proof_files::id.eq(id))
        .select(ProofFile::as_select())
        .into_boxed();
    if let Some(org) = org_id {
        query = query.filter(mdf_proof_files::partner_org_id.eq(org));
    }
    query.first(conn).optional()
}

pub struct ClaimInput {
    pub actual_cost: Money,
    pub claimed: Money,
    pub leads_generated: i64,
    pub results: String,
    pub deal_ids: Vec<i64>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = mdf_claims)]
struct ClaimColumns<'a> {
    submitted_by_user_id: i64,
    actual_cost_minor: i64,
    claimed_minor: i64,
    leads_generated: i64,
    results: &'a str,
    status: &'a str,
    submitted_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Files (or, after a return for information, files again) the claim of an approved request. Refused, naming the
/// field, when the amount is over the approval or the reimbursement rate, outside the claim window, without
/// proof, or naming a deal that is not the org's.
#[allow(clippy::too_many_arguments)]
pub fn file_claim(
    conn: &mut DbConn,
    program: &Program,
    org_id: i64,
    user_id: i64,
    request_id: i64,
    input: &ClaimInput,
    actor: &Actor,
    notify_staff: ReviewNotifier<'_>,
) -> Result<i64, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_for_org(conn, org_id, request_id)?.ok_or(MdfError::NotFound)?;
        if request.status() != RequestStatus::Approved {
            return Err(MdfError::Refused(format!(
                "Claims are filed against approved requests; this one is {}.",
                request.status().label().to_lowercase()
            )));
        }
        let existing = claim_of(conn, request_id)?;
        if let Some(claim) = &existing {
            if claim.status() != ClaimStatus::InfoRequested {
                return Err(MdfError::Refused(format!(
                    "This request's claim was filed already ({}).",
                    claim.status().label().to_lowercase()
                )));
            }
        }
        let due = request.claim_due_on.expect("set on approval");
        check_claim_window(request.ends_on, due, now().date()).map_err(MdfError::Refused)?;
        let approved = request.approved().expect("set on approval");
        if let Some((field, message)) = check_claim(
            approved,
            input.actual_cost,
            input.claimed,
            program.mdf_reimbursement_bps,
        )
        .into_iter()
        .next()
        {
            return Err(MdfError::Field(field, message));
        }
        if proof_files(conn, request_id)?.is_empty() {
            return Err(MdfError::Field(
                "proof",
                "Attach proof of performance: invoices, photos or reports (PDF, PNG or JPEG)."
                    .into(),
            ));
        }
        let own: Vec<i64> = deals::table
            .filter(deals::partner_org_id.eq(org_id))
            .filter(deals::id.eq_any(&input.deal_ids))
            .select(deals::id)
            .load(conn)?;
        if own.len() != input.deal_ids.len() {
            return Err(MdfError::Field(
                "deal_ids",
                "Link only deals your organisation registered.".into(),
            ));
        }
        let at = now();
        let columns = ClaimColumns {
            submitted_by_user_id: user_id,
            actual_cost_minor: input.actual_cost.minor,
            claimed_minor: input.claimed.minor,
            leads_generated: input.leads_generated,
            results: &input.results,
            status: ClaimStatus::Submitted.as_str(),
            submitted_at: at,
            updated_at: at,
        };
        let claim_id = match &existing {
            Some(claim) => {
                let changed = diesel::update(
                    mdf_claims::table
                        .filter(mdf_claims::id.eq(claim.id))
                        .filter(mdf_claims::status.eq(ClaimStatus::InfoRequested.as_str())),
                )
                .set(&columns)
                .execute(conn)?;
                if changed == 0 {
                    return Err(MdfError::Refused(
                        "The claim changed a moment ago; look again.".into(),
                    ));
                }
                diesel::delete(
                    mdf_claim_deals::table.filter(mdf_claim_deals::claim_id.eq(claim.id)),
                )
                .execute(conn)?;
                claim.id
            }
            None => {
                let inserted = conn.transaction(|conn| {
                    diesel::insert_into(mdf_claims::table)
                        .values((
                            &columns,
                            mdf_claims::request_id.eq(request_id),
                            mdf_claims::created_at.eq(at),
                        ))
                        .returning(mdf_claims::id)
                        .get_result::<i64>(conn)
                });
                match inserted {
                    Ok(id) => id,
                    Err(e) if is_unique_violation(&e) => {
                        return Err(MdfError::Refused(
                            "This request's claim was filed a moment ago.".into(),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        for deal_id in &input.deal_ids {
            diesel::insert_into(mdf_claim_deals::table)
                .values((
                    mdf_claim_deals::claim_id.eq(claim_id),
                    mdf_claim_deals::deal_id.eq(deal_id),
                ))
                .execute(conn)?;
        }
        event(
            conn,
            request_id,
            actor,
            "claim_submitted",
            &format!(
                "{} {} of actual cost {}; {} leads, {} linked deal{}.",
                if existing.is_some() {
                    "Claim corrected and filed again:"
                } else {
                    "Claim filed:"
                },
                input.claimed,
                input.actual_cost,
                input.leads_generated,
                input.deal_ids.len(),
                if input.deal_ids.len() == 1 { "" } else { "s" }
            ),
        )?;
        notify_staff(conn, &request, "An MDF claim")?;
        Ok(claim_id)
    })
}

/// A staff decision on a claim. Approval writes the `mdf_reimbursement` ledger entry (approved, to be paid with
/// the next payout) and completes the request; rejection closes the request and frees its reservation; a return
/// lets the partner correct the claim.
pub fn decide_claim(
    conn: &mut DbConn,
    program: &Program,
    request_id: i64,
    decision: Decision,
    reason: &str,
    actor: &Actor,
    notify: MdfNotifier<'_>,
) -> Result<ClaimStatus, MdfError> {
    conn.transaction(|conn| {
        lock_fund_of(conn, request_id)?;
        let request = find_request(conn, program.id, request_id)?.ok_or(MdfError::NotFound)?;
        let claim = claim_of(conn, request_id)?.ok_or(MdfError::NotFound)?;
        check_decision(claim.status() == ClaimStatus::Submitted, decision, reason)
            .map_err(MdfError::Refused)?;
        let reason = reason.trim();
        let after = match decision {
            Decision::Approve => ClaimStatus::Approved,
            Decision::Decline => ClaimStatus::Rejected,
            Decision::ReturnForInfo => ClaimStatus::InfoRequested,
        };
        let at = now();
        let changed = diesel::update(
            mdf_claims::table
                .filter(mdf_claims::id.eq(claim.id))
                .filter(mdf_claims::status.eq(ClaimStatus::Submitted.as_str())),
        )
        .set((
            mdf_claims::status.eq(after.as_str()),
            mdf_claims::status_reason.eq(Some(reason).filter(|r| !r.is_empty())),
            mdf_claims::decided_at.eq(Some(at)),
            mdf_claims::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(MdfError::Refused(
                "Someone else decided this claim a moment ago; look again.".into(),
            ));
        }
        let claimed = Money::new(claim.claimed_minor, request.currency());
        let request_after = match after {
            ClaimStatus::Approved => Some(RequestStatus::Completed),
            ClaimStatus::Rejected => Some(RequestStatus::Closed),
            _ => None,
        };
        if let Some(status) = request_after {
            diesel::update(
                mdf_requests::table
                    .filter(mdf_requests::id.eq(request_id))
                    .filter(mdf_requests::status.eq(RequestStatus::Approved.as_str())),
            )
            .set((
                mdf_requests::status.eq(status.as_str()),
                mdf_requests::status_reason
                    .eq((status == RequestStatus::Closed)
                        .then(|| format!("Claim rejected: {reason}"))),
                mdf_requests::updated_at.eq(at),
            ))
            .execute(conn)?;
        }
        let detail = match after {
            ClaimStatus::Approved => {
                let explanation =
                    format!("{}: reimbursement of {claimed} approved", request.label());
                crate::ledger::store::append(
                    conn,
                    &crate::ledger::store::NewEntry {
                        partner_org_id: request.partner_org_id,
                        amount_minor: claim.claimed_minor,
                        currency: &request.currency,
                        kind: EntryKind::MdfReimbursement,
                        status: EntryStatus::Approved,
                        available_at: at,
                        source_type: "mdf_claim",
                        source_id: claim.id,
                        conversion_id: None,
                        rule_id: None,
                        explanation: &explanation,
                    },
                )?;
                crate::webhooks::emit(
                    conn,
                    program.id,
                    crate::webhooks::EventType::MdfClaimApproved,
                    serde_json::json!({"request_id": request_id, "claim_id": claim.id,
                        "partner_id": request.partner_org_id, "amount": claim.claimed_minor, "currency": request.currency}),
                )?;
                format!("Claim approved: {claimed} will be paid with the next payout.")
            }
            ClaimStatus::Rejected => format!("Claim rejected: {reason}"),
            _ => format!("Claim returned for more information: {reason}"),
        };
        event(
            conn,
            request_id,
            actor,
            &format!("claim_{}", after.as_str()),
            &detail,
        )?;
        audit_request(
            conn,
            actor,
            &format!("mdf.claim_{}", decision.as_str()),
            &request,
            &Change {
                reason: Some(reason).filter(|r| !r.is_empty()),
                before: Some(ClaimStatus::Submitted.as_str()),
                after: Some(&detail),
            },
        )?;
        if request_after.is_some() {
            let fund = find_fund(conn, program.id, request.fund_id)?.ok_or(MdfError::NotFound)?;
            settle_expired(conn, &fund, request.partner_org_id)?;
        }
        let updated = request_by_id(conn, request_id)?;
        notify(
            conn,
            &updated,
            &MdfNotice::ClaimDecided {
                decision,
                reason: reason.to_string(),
            },
        )?;
        Ok(after)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Expiry and deadlines

/// In a fund past its period, whatever became available again (a declined request, a claim for less than its
/// reservation, a lapsed reservation) expires at once, recorded like the period-end expiry.
fn settle_expired(conn: &mut DbConn, fund: &Fund, org_id: i64) -> QueryResult<()> {
    if fund.expired_at.is_none() {
        return Ok(());
    }
    let available = position_of(conn, fund, org_id)?.available();
    if available > 0 {
        record_expiry(
            conn,
            fund,
            org_id,
            available,
            "Released after the period ended",
        )?;
    }
    Ok(())
}

fn record_expiry(
    conn: &mut DbConn,
    fund: &Fund,
    org_id: i64,
    amount_minor: i64,
    reason: &str,
) -> QueryResult<()> {
    diesel::insert_into(mdf_expiries::table)
        .values((
            mdf_expiries::fund_id.eq(fund.id),
            mdf_expiries::partner_org_id.eq(org_id),
            mdf_expiries::amount_minor.eq(amount_minor),
            mdf_expiries::reason.eq(reason),
            mdf_expiries::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mdf_expiries)]
pub struct Expiry {
    pub id: i64,
    pub fund_id: i64,
    pub partner_org_id: i64,
    pub amount_minor: i64,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

pub fn expiries(conn: &mut DbConn, fund_id: i64) -> QueryResult<Vec<(Expiry, String)>> {
    mdf_expiries::table
        .inner_join(partner_orgs::table.on(mdf_expiries::partner_org_id.eq(partner_orgs::id)))
        .filter(mdf_expiries::fund_id.eq(fund_id))
        .order(mdf_expiries::id)
        .select((Expiry::as_select(), partner_orgs::name))
        .load(conn)
}

/// Expires every fund whose period ended before `today`: each org's unused amount is recorded as expired (and
/// audited), so nothing is silently lost. A guarded update claims each fund, so two runs expire it once.
pub fn expire_funds(conn: &mut DbConn, program_id: i64, today: NaiveDate) -> QueryResult<usize> {
    let due: Vec<i64> = mdf_funds::table
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_funds::expired_at.is_null())
        .filter(mdf_funds::ends_on.lt(today))
        .select(mdf_funds::id)
        .load(conn)?;
    let mut expired = 0;
    for fund_id in due {
        conn.transaction(|conn| {
            let claimed = diesel::update(
                mdf_funds::table
                    .filter(mdf_funds::id.eq(fund_id))
                    .filter(mdf_funds::expired_at.is_null()),
            )
            .set((
                mdf_funds::expired_at.eq(Some(now())),
                mdf_funds::updated_at.eq(now()),
            ))
            .execute(conn)?;
            if claimed == 0 {
                return Ok::<_, diesel::result::Error>(());
            }
            let fund = find_fund(conn, program_id, fund_id)?.expect("claimed just now");
            let mut total: i64 = 0;
            for org in positions(conn, &fund, None)? {
                let available = org.position.available();
                if available > 0 {
                    record_expiry(
                        conn,
                        &fund,
                        org.org_id,
                        available,
                        &format!("Unused at the end of the period ({})", fund.ends_on),
                    )?;
                    total = total.saturating_add(available);
                }
            }
            audit::record(
                conn,
                &Actor::system("MDF expiry"),
                "mdf.fund_expired",
                &Subject {
                    kind: "mdf_fund",
                    id: Some(fund.id),
                    label: &fund.name,
                },
                &Change {
                    after: Some(&format!("{} expired unused", fund.money(total))),
                    ..Default::default()
                },
            )?;
            expired += 1;
            Ok(())
        })?;
    }
    Ok(expired)
}

#[derive(Debug, Default)]
pub struct DeadlineRun {
    pub reminded: usize,
    pub lapsed: usize,
}

/// Reminds partners of approved requests whose claim is due within a week and not filed, once each; closes the
/// requests whose deadline passed without a claim (their reservation is released).
pub fn run_claim_deadlines(
    conn: &mut DbConn,
    program_id: i64,
    today: NaiveDate,
    notify: MdfNotifier<'_>,
) -> Result<DeadlineRun, MdfError> {
    let open: Vec<MdfRequest> = mdf_requests::table
        .inner_join(mdf_funds::table)
        .filter(mdf_funds::program_id.eq(program_id))
        .filter(mdf_requests::status.eq(RequestStatus::Approved.as_str()))
        .select(MdfRequest::as_select())
        .load(conn)?;
    let mut run = DeadlineRun::default();
    let system = Actor::system("MDF deadlines");
    for request in open {
        let due = request.claim_due_on.expect("set on approval");
        let claim = claim_of(conn, request.id)?;
        // A claim in review or decided is out of the deadline's reach; a returned one is still the partner's to do.
        let unfiled = claim
            .as_ref()
            .is_none_or(|c| c.status() == ClaimStatus::InfoRequested);
        if !unfiled {
            continue;
        }
        if today > due {
            conn.transaction(|conn| {
                lock_fund(conn, request.fund_id)?;
                let changed = diesel::update(
                    mdf_requests::table
                        .filter(mdf_requests::id.eq(request.id))
                        .filter(mdf_requests::status.eq(RequestStatus::Approved.as_str())),
                )
                .set((
                    mdf_requests::status.eq(RequestStatus::Closed.as_str()),
                    mdf_requests::status_reason.eq(Some(format!("No claim was filed by {due}."))),
                    mdf_requests::updated_at.eq(now()),
                ))
                .execute(conn)?;
                if changed == 0 {
                    return Ok::<_, MdfError>(());
                }
                event(
                    conn,
                    request.id,
                    &system,
                    "lapsed",
                    &format!("No claim was filed by {due}; the reservation is released."),
                )?;
                let fund =
                    find_fund(conn, program_id, request.fund_id)?.ok_or(MdfError::NotFound)?;
                settle_expired(conn, &fund, request.partner_org_id)?;
                let updated = request_by_id(conn, request.id)?;
                notify(conn, &updated, &MdfNotice::Lapsed)?;
                run.lapsed += 1;
                Ok(())
            })?;
        } else if request.claim_reminded_at.is_none() && claim_reminder_due(due, today) {
            conn.transaction(|conn| {
                let changed = diesel::update(
                    mdf_requests::table
                        .filter(mdf_requests::id.eq(request.id))
                        .filter(mdf_requests::claim_reminded_at.is_null()),
                )
                .set(mdf_requests::claim_reminded_at.eq(Some(now())))
                .execute(conn)?;
                if changed == 0 {
                    return Ok::<_, MdfError>(());
                }
                event(
                    conn,
                    request.id,
                    &system,
                    "claim_reminder",
                    &format!("Reminded that the claim is due by {due}."),
                )?;
                notify(conn, &request, &MdfNotice::ClaimReminder)?;
                run.reminded += 1;
                Ok(())
            })?;
        }
    }
    Ok(run)
}
