//! Program tiers and their benefits.

use diesel::prelude::*;

use crate::domain::money::{Currency, Money};
use crate::domain::tier::{benefits_summary, TierDefinition};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{partner_orgs, tiers};
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tiers)]
pub struct Tier {
    pub id: i64,
    pub program_id: i64,
    pub name: String,
    pub rank: i64,
    pub description: String,
    pub margin_bps: i64,
    pub commission_override_bps: Option<i64>,
    pub mdf_allowance_minor: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub min_won_revenue_minor: i64,
    pub min_certified_reps: i64,
    pub min_won_deals: i64,
    pub min_sales_revenue_minor: i64,
}

impl Tier {
    pub fn criteria(&self) -> crate::domain::tier_placement::TierCriteria {
        crate::domain::tier_placement::TierCriteria {
            tier_id: self.id,
            name: self.name.clone(),
            rank: self.rank,
            min_won_revenue_minor: self.min_won_revenue_minor,
            min_certified_reps: self.min_certified_reps,
            min_won_deals: self.min_won_deals,
            min_sales_revenue_minor: self.min_sales_revenue_minor,
        }
    }

    pub fn benefits(&self, currency: Currency) -> String {
        benefits_summary(
            self.margin_bps,
            self.commission_override_bps,
            Money::new(self.mdf_allowance_minor, currency),
        )
    }
}

/// Why a tier could not be saved or removed, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum TierWriteError {
    #[error("Another tier already has that name.")]
    NameTaken,
    #[error("Another tier already has that rank.")]
    RankTaken,
    #[error("{0} partner(s) are on this tier; move them to another tier first.")]
    InUse(i64),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub fn list(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Tier>> {
    tiers::table
        .filter(tiers::program_id.eq(program_id))
        .order(tiers::rank)
        .select(Tier::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<Tier>> {
    tiers::table
        .filter(tiers::program_id.eq(program_id))
        .filter(tiers::id.eq(id))
        .select(Tier::as_select())
        .first(conn)
        .optional()
}

fn conflict(
    conn: &mut DbConn,
    program_id: i64,
    tier: &TierDefinition,
    except_id: Option<i64>,
) -> Result<(), TierWriteError> {
    let others = tiers::table
        .filter(tiers::program_id.eq(program_id))
        .filter(tiers::id.ne(except_id.unwrap_or(-1)))
        .select((tiers::name, tiers::rank))
        .load::<(String, i64)>(conn)?;
    if others
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(&tier.name))
    {
        return Err(TierWriteError::NameTaken);
    }
    if others.iter().any(|(_, rank)| *rank == tier.rank) {
        return Err(TierWriteError::RankTaken);
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConn,
    program_id: i64,
    tier: &TierDefinition,
    actor: &Actor,
) -> Result<i64, TierWriteError> {
    conn.transaction(|conn| {
        conflict(conn, program_id, tier, None)?;
        let at = now();
        let id = diesel::insert_into(tiers::table)
            .values((
                tiers::program_id.eq(program_id),
                tiers::name.eq(&tier.name),
                tiers::rank.eq(tier.rank),
                tiers::description.eq(&tier.description),
                tiers::margin_bps.eq(tier.margin.value()),
                tiers::commission_override_bps.eq(tier.commission_override.map(|b| b.value())),
                tiers::mdf_allowance_minor.eq(tier.mdf_allowance.minor),
                tiers::min_won_revenue_minor.eq(tier.min_won_revenue.minor),
                tiers::min_certified_reps.eq(tier.min_certified_reps),
                tiers::min_won_deals.eq(tier.min_won_deals),
                tiers::min_sales_revenue_minor.eq(tier.min_sales_revenue.minor),
                tiers::created_at.eq(at),
                tiers::updated_at.eq(at),
            ))
            .returning(tiers::id)
            .get_result(conn)?;
        let after = describe(tier);
        audit::record(
            conn,
            actor,
            "tier.create",
            &Subject {
                kind: "tier",
                id: Some(id),
                label: &tier.name,
            },
            &Change {
                after: Some(&after),
                ..Default::default()
            },
        )?;
        Ok(id)
    })
}

pub fn update(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    tier: &TierDefinition,
    actor: &Actor,
) -> Result<bool, TierWriteError> {
    conn.transaction(|conn| {
        let Some(before) = find(conn, program_id, id)? else {
            return Ok(false);
        };
        conflict(conn, program_id, tier, Some(id))?;
        diesel::update(tiers::table.find(id))
            .set((
                tiers::name.eq(&tier.name),
                tiers::rank.eq(tier.rank),
                tiers::description.eq(&tier.description),
                tiers::margin_bps.eq(tier.margin.value()),
                tiers::commission_override_bps.eq(tier.commission_override.map(|b| b.value())),
                tiers::mdf_allowance_minor.eq(tier.mdf_allowance.minor),
                tiers::min_won_revenue_minor.eq(tier.min_won_revenue.minor),
                tiers::min_certified_reps.eq(tier.min_certified_reps),
                tiers::min_won_deals.eq(tier.min_won_deals),
                tiers::min_sales_revenue_minor.eq(tier.min_sales_revenue.minor),
                tiers::updated_at.eq(now()),
            ))
            .execute(conn)?;
        let before_text = describe_row(&before, tier.mdf_allowance.currency);
        let after = describe(tier);
        audit::record(
            conn,
            actor,
            "tier.update",
            &Subject {
                kind: "tier",
                id: Some(id),
                label: &tier.name,
            },
            &Change {
                before: Some(&before_text),
                after: Some(&after),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}

pub fn delete(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    currency: Currency,
    actor: &Actor,
) -> Result<bool, TierWriteError> {
    conn.transaction(|conn| {
        let Some(tier) = find(conn, program_id, id)? else {
            return Ok(false);
        };
        let members: i64 = partner_orgs::table
            .filter(partner_orgs::tier_id.eq(id))
            .count()
            .get_result(conn)?;
        if members > 0 {
            return Err(TierWriteError::InUse(members));
        }
        // Past tier history keeps pointing at the tier's id; detach it so the record survives the deletion.
        use crate::platform::db::schema::partner_tier_history as history;
        diesel::update(history::table.filter(history::from_tier_id.eq(id)))
            .set(history::from_tier_id.eq(None::<i64>))
            .execute(conn)?;
        diesel::update(history::table.filter(history::to_tier_id.eq(id)))
            .set(history::to_tier_id.eq(None::<i64>))
            .execute(conn)?;
        diesel::delete(tiers::table.find(id)).execute(conn)?;
        let before = describe_row(&tier, currency);
        audit::record(
            conn,
            actor,
            "tier.delete",
            &Subject {
                kind: "tier",
                id: Some(id),
                label: &tier.name,
            },
            &Change {
                before: Some(&before),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}

fn describe(tier: &TierDefinition) -> String {
    format!(
        "{} (rank {}): {}",
        tier.name,
        tier.rank,
        benefits_summary(
            tier.margin.value(),
            tier.commission_override.map(|b| b.value()),
            tier.mdf_allowance
        )
    )
}

fn describe_row(tier: &Tier, currency: Currency) -> String {
    format!(
        "{} (rank {}): {}",
        tier.name,
        tier.rank,
        tier.benefits(currency)
    )
}
