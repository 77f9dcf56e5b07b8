//! The tiers' SQL: their rows, and what is written when one is created, changed or removed.

use diesel::prelude::*;

use super::rules::{benefits_summary, TierDefinition};
use crate::domain::money::{Currency, Money};
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
    pub fn criteria(&self) -> super::placement::TierCriteria {
        super::placement::TierCriteria {
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

/// (name, rank) of the program's tiers other than `except_id`.
pub fn others(
    conn: &mut DbConn,
    program_id: i64,
    except_id: Option<i64>,
) -> QueryResult<Vec<(String, i64)>> {
    tiers::table
        .filter(tiers::program_id.eq(program_id))
        .filter(tiers::id.ne(except_id.unwrap_or(-1)))
        .select((tiers::name, tiers::rank))
        .load(conn)
}

pub fn insert(conn: &mut DbConn, program_id: i64, tier: &TierDefinition) -> QueryResult<i64> {
    let at = now();
    diesel::insert_into(tiers::table)
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
        .get_result(conn)
}

pub fn update(conn: &mut DbConn, id: i64, tier: &TierDefinition) -> QueryResult<()> {
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
        .execute(conn)
        .map(|_| ())
}

/// How many orgs are on the tier.
pub fn member_count(conn: &mut DbConn, id: i64) -> QueryResult<i64> {
    partner_orgs::table
        .filter(partner_orgs::tier_id.eq(id))
        .count()
        .get_result(conn)
}

/// Removes a tier. Past tier history keeps its record of the move, detached from the tier's id.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    use crate::platform::db::schema::partner_tier_history as history;
    diesel::update(history::table.filter(history::from_tier_id.eq(id)))
        .set(history::from_tier_id.eq(None::<i64>))
        .execute(conn)?;
    diesel::update(history::table.filter(history::to_tier_id.eq(id)))
        .set(history::to_tier_id.eq(None::<i64>))
        .execute(conn)?;
    diesel::delete(tiers::table.find(id)).execute(conn)?;
    Ok(())
}
