//! Funds: creating them, allocating money per tier or org, the program's MDF settings, every org's position in a
//! fund, and expiring what is left at the period's end.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::deals::rules::DealStatus;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::mdf::rules::{org_allocation, Allocation, ClaimStatus, FundPosition, RequestStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deals, ledger_entries, mdf_allocations, mdf_claim_deals, mdf_claims, mdf_expiries, mdf_funds,
    mdf_requests, partner_orgs, programs, tiers,
};
use crate::platform::db::{is_unique_violation, now, DbConn};
use crate::programs::Program;

use super::store::*;
use super::*;

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
        .filter(partner_orgs::kind.ne(PartnerKind::Affiliate))
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
    type OrgRow = (i64, String, PartnerStatus, Option<i64>, Option<String>);
    let orgs: Vec<OrgRow> = orgs_query.load(conn)?;
    let facts = FundFacts::load(conn, fund)?;

    let mut out = Vec::new();
    for (org_id, org_name, status, tier_id, tier_name) in orgs {
        let position = facts.position(fund, org_id, status, tier_id);
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

/// What a fund's positions are computed from, loaded once for all its orgs.
struct FundFacts {
    rules: Vec<Allocation>,
    /// Won deal revenue per org in the accrual range (empty without accrual).
    won: Vec<(i64, i64)>,
    /// (request, org, status, requested, approved)
    requests: Vec<(i64, i64, RequestStatus, i64, Option<i64>)>,
    /// Approved claims: (claim, org, claimed)
    claims: Vec<(i64, i64, i64)>,
    /// The ledger status of each approved claim's reimbursement: (claim, status)
    entries: Vec<(i64, String)>,
    /// Won deals linked to approved claims: (org, deal, won amount)
    linked: Vec<(i64, i64, Option<i64>)>,
    /// What lapsed at the fund's end: (org, amount)
    expired: Vec<(i64, i64)>,
}

impl FundFacts {
    fn load(conn: &mut DbConn, fund: &Fund) -> QueryResult<Self> {
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
                .filter(deals::status.eq(DealStatus::Won))
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
        let requests: Vec<(i64, i64, RequestStatus, i64, Option<i64>)> = mdf_requests::table
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
            .filter(mdf_claims::status.eq(ClaimStatus::Approved))
            .select((
                mdf_claims::id,
                mdf_requests::partner_org_id,
                mdf_claims::claimed_minor,
            ))
            .load(conn)?;
        let claim_ids: Vec<i64> = claims.iter().map(|c| c.0).collect();
        let entries: Vec<(i64, String)> = ledger_entries::table
            .filter(ledger_entries::source_type.eq("mdf_claim"))
            .filter(ledger_entries::kind.eq(EntryKind::MdfReimbursement))
            .filter(ledger_entries::source_id.eq_any(&claim_ids))
            .select((ledger_entries::source_id, ledger_entries::status))
            .load(conn)?;
        let linked: Vec<(i64, i64, Option<i64>)> = mdf_claim_deals::table
            .inner_join(deals::table)
            .filter(mdf_claim_deals::claim_id.eq_any(&claim_ids))
            .filter(deals::status.eq(DealStatus::Won))
            .filter(deals::currency.eq(&fund.currency))
            .select((deals::partner_org_id, deals::id, deals::won_amount_minor))
            .distinct()
            .load(conn)?;
        let expired: Vec<(i64, i64)> = mdf_expiries::table
            .filter(mdf_expiries::fund_id.eq(fund.id))
            .select((mdf_expiries::partner_org_id, mdf_expiries::amount_minor))
            .load(conn)?;
        Ok(Self {
            rules,
            won,
            requests,
            claims,
            entries,
            linked,
            expired,
        })
    }

    /// One org's position; `status` is the org's, as a suspended or rejected org gets no new allocation.
    fn position(
        &self,
        fund: &Fund,
        org_id: i64,
        status: PartnerStatus,
        tier_id: Option<i64>,
    ) -> FundPosition {
        let Self {
            rules,
            won,
            requests,
            claims,
            entries,
            linked,
            expired,
        } = self;
        let won_minor = crate::domain::money::sum_minor(
            won.iter().filter(|(o, _)| *o == org_id).map(|(_, w)| *w),
        );
        // A suspended or rejected org keeps what it committed, but receives no new allocation.
        let allocated = if status == PartnerStatus::Approved {
            org_allocation(org_id, tier_id, rules, fund.accrual_bps, won_minor)
        } else {
            0
        };
        let mut position = FundPosition::default();
        for (_, _, status, requested, approved) in requests.iter().filter(|r| r.1 == org_id) {
            match *status {
                s if RequestStatus::AWAITING.contains(&s) => {
                    position.awaiting = position.awaiting.saturating_add(*requested)
                }
                RequestStatus::Approved => {
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
        position.allocate(allocated)
    }
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

/// In a fund past its period, whatever became available again (a declined request, a claim for less than its
/// reservation, a lapsed reservation) expires at once, recorded like the period-end expiry.
pub(crate) fn settle_expired(conn: &mut DbConn, fund: &Fund, org_id: i64) -> QueryResult<()> {
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
