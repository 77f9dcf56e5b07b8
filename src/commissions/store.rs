//! Commission rules, in the admin's order.

use diesel::prelude::*;

use super::rules::{RateType, Recurrence, Rule};
use crate::domain::conversion::ConversionKind;
use crate::platform::db::schema::commission_rules;
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = commission_rules)]
pub struct RuleRow {
    pub id: i64,
    pub program_id: i64,
    pub position: i64,
    pub name: String,
    pub applies_to: ConversionKind,
    pub rate_type: RateType,
    pub rate: i64,
    pub product_filter: String,
    pub tier_id: Option<i64>,
    pub volume_threshold: Option<i64>,
    pub volume_rate: Option<i64>,
    pub recurrence: Recurrence,
    pub recurring_months: Option<i64>,
    pub created_at: chrono::NaiveDateTime,
}

impl RuleRow {
    pub fn rule(&self) -> Rule {
        Rule {
            id: self.id,
            name: self.name.clone(),
            applies_to: self.applies_to,
            rate_type: self.rate_type,
            rate: self.rate,
            product_filter: self.product_filter.clone(),
            tier_id: self.tier_id,
            volume_threshold: self.volume_threshold,
            volume_rate: self.volume_rate,
            recurrence: self.recurrence,
            recurring_months: self.recurring_months,
        }
    }
}

pub fn list(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<RuleRow>> {
    commission_rules::table
        .filter(commission_rules::program_id.eq(program_id))
        .order((commission_rules::position, commission_rules::id))
        .select(RuleRow::as_select())
        .load(conn)
}

/// Adds a rule after the program's last one; returns its id.
pub fn insert_last(conn: &mut DbConn, program_id: i64, rule: &Rule) -> QueryResult<i64> {
    let last: Option<i64> = commission_rules::table
        .filter(commission_rules::program_id.eq(program_id))
        .select(diesel::dsl::max(commission_rules::position))
        .first(conn)?;
    diesel::insert_into(commission_rules::table)
        .values((
            commission_rules::program_id.eq(program_id),
            commission_rules::position.eq(last.unwrap_or(0) + 1),
            commission_rules::name.eq(&rule.name),
            commission_rules::applies_to.eq(rule.applies_to.as_str()),
            commission_rules::rate_type.eq(rule.rate_type.as_str()),
            commission_rules::rate.eq(rule.rate),
            commission_rules::product_filter.eq(&rule.product_filter),
            commission_rules::tier_id.eq(rule.tier_id),
            commission_rules::volume_threshold.eq(rule.volume_threshold),
            commission_rules::volume_rate.eq(rule.volume_rate),
            commission_rules::recurrence.eq(rule.recurrence.as_str()),
            commission_rules::recurring_months.eq(rule.recurring_months),
            commission_rules::created_at.eq(now()),
        ))
        .returning(commission_rules::id)
        .get_result(conn)
}

pub fn set_position(conn: &mut DbConn, rule_id: i64, position: i64) -> QueryResult<()> {
    diesel::update(commission_rules::table.find(rule_id))
        .set(commission_rules::position.eq(position))
        .execute(conn)
        .map(|_| ())
}
