//! What admins configure for deal registration: the settings (SLA, protection, auto-approval, who may register
//! and see what), the open stages with their probabilities, the product list, the custom fields of the form, and
//! the direct accounts that registrations are checked against.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::deals::rules::{
    company_key, CustomFieldSpec, CustomFieldType, DealSettings, NewDirectAccount, StageDefinition,
    DEFAULT_STAGES,
};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{
    deal_custom_fields, deal_stages, deals, direct_accounts, products, programs,
};
use crate::platform::db::{self, contains_pattern, now, DbConn};

use super::DealError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deal_stages)]
pub struct Stage {
    pub id: i64,
    pub program_id: i64,
    pub position: i64,
    pub name: String,
    pub probability_percent: i64,
}

/// The program's open stages in order; a program without any gets the defaults the first time it is asked.
pub fn stages(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Stage>> {
    let load = |conn: &mut DbConn| {
        deal_stages::table
            .filter(deal_stages::program_id.eq(program_id))
            .order(deal_stages::position)
            .select(Stage::as_select())
            .load(conn)
    };
    let found = load(conn)?;
    if !found.is_empty() {
        return Ok(found);
    }
    conn.transaction(|conn| {
        for (position, (name, probability)) in DEFAULT_STAGES.iter().enumerate() {
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(deal_stages::table)
                    .values((
                        deal_stages::program_id.eq(program_id),
                        deal_stages::position.eq(position as i64 + 1),
                        deal_stages::name.eq(*name),
                        deal_stages::probability_percent.eq(*probability),
                    ))
                    .execute(conn)
            });
            match inserted {
                // Another request created the defaults at the same moment.
                Err(e) if db::is_unique_violation(&e) => {}
                other => {
                    other?;
                }
            }
        }
        load(conn)
    })
}

/// Replaces the stage list. Stages are matched by name, so deals keep theirs; a stage that deals still use
/// cannot be dropped.
pub fn save_stages(
    conn: &mut DbConn,
    program_id: i64,
    wanted: &[StageDefinition],
    actor: &Actor,
) -> Result<(), DealError> {
    conn.transaction(|conn| {
        let existing = stages(conn, program_id)?;
        for stage in &existing {
            if wanted.iter().any(|w| w.name.eq_ignore_ascii_case(&stage.name)) {
                continue;
            }
            let used: i64 = deals::table
                .filter(deals::stage_id.eq(stage.id))
                .count()
                .get_result(conn)?;
            if used > 0 {
                return Err(DealError::Refused(format!(
                    "The stage '{}' holds {used} deal{}; keep it in the list (or move those deals first).",
                    stage.name,
                    if used == 1 { "" } else { "s" }
                )));
            }
            diesel::delete(deal_stages::table.find(stage.id)).execute(conn)?;
        }
        // Positions are unique per program only in intent; shift them out of the way first.
        diesel::update(deal_stages::table.filter(deal_stages::program_id.eq(program_id)))
            .set(deal_stages::position.eq(deal_stages::position + 1000))
            .execute(conn)?;
        for (index, definition) in wanted.iter().enumerate() {
            let position = index as i64 + 1;
            match existing
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&definition.name))
            {
                Some(stage) => {
                    diesel::update(deal_stages::table.find(stage.id))
                        .set((
                            deal_stages::position.eq(position),
                            deal_stages::name.eq(&definition.name),
                            deal_stages::probability_percent.eq(definition.probability_percent),
                        ))
                        .execute(conn)?;
                }
                None => {
                    diesel::insert_into(deal_stages::table)
                        .values((
                            deal_stages::program_id.eq(program_id),
                            deal_stages::position.eq(position),
                            deal_stages::name.eq(&definition.name),
                            deal_stages::probability_percent.eq(definition.probability_percent),
                        ))
                        .execute(conn)?;
                }
            }
        }
        let summary = wanted
            .iter()
            .map(|s| format!("{} {}%", s.name, s.probability_percent))
            .collect::<Vec<_>>()
            .join(", ");
        audit::record(
            conn,
            actor,
            "deal.stages",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: "deal stages",
            },
            &Change {
                after: Some(&summary),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

pub fn products(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<String>> {
    products::table
        .filter(products::program_id.eq(program_id))
        .order(products::name)
        .select(products::name)
        .load(conn)
}

/// Replaces the product list. Deals keep the names they were registered with.
pub fn save_products(
    conn: &mut DbConn,
    program_id: i64,
    names: &[String],
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(products::table.filter(products::program_id.eq(program_id)))
            .execute(conn)?;
        for name in names {
            diesel::insert_into(products::table)
                .values((products::program_id.eq(program_id), products::name.eq(name)))
                .execute(conn)?;
        }
        audit::record(
            conn,
            actor,
            "deal.products",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: "products",
            },
            &Change {
                after: Some(&names.join(", ")),
                ..Default::default()
            },
        )
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deal_custom_fields)]
pub struct CustomField {
    pub id: i64,
    pub program_id: i64,
    pub position: i64,
    pub label: String,
    pub field_type: CustomFieldType,
    pub options: String,
    pub required: bool,
    pub active: bool,
}

impl CustomField {
    pub fn field_type(&self) -> CustomFieldType {
        self.field_type
    }

    pub fn option_list(&self) -> Vec<&str> {
        self.options
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect()
    }

    pub fn spec(&self) -> CustomFieldSpec<'_> {
        CustomFieldSpec {
            label: &self.label,
            field_type: self.field_type(),
            options: self.option_list(),
            required: self.required,
        }
    }

    /// The form field's name.
    pub fn input_name(&self) -> String {
        format!("custom_{}", self.id)
    }
}

/// The fields the registration form shows, in order.
pub fn custom_fields(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<CustomField>> {
    deal_custom_fields::table
        .filter(deal_custom_fields::program_id.eq(program_id))
        .filter(deal_custom_fields::active.eq(true))
        .order((deal_custom_fields::position, deal_custom_fields::id))
        .select(CustomField::as_select())
        .load(conn)
}

pub fn add_custom_field(
    conn: &mut DbConn,
    program_id: i64,
    label: &str,
    field_type: CustomFieldType,
    options: &[String],
    required: bool,
    actor: &Actor,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let last: Option<i64> = deal_custom_fields::table
            .filter(deal_custom_fields::program_id.eq(program_id))
            .select(diesel::dsl::max(deal_custom_fields::position))
            .first(conn)?;
        let id = diesel::insert_into(deal_custom_fields::table)
            .values((
                deal_custom_fields::program_id.eq(program_id),
                deal_custom_fields::position.eq(last.unwrap_or(0) + 1),
                deal_custom_fields::label.eq(label),
                deal_custom_fields::field_type.eq(field_type.as_str()),
                deal_custom_fields::options.eq(options.join("\n")),
                deal_custom_fields::required.eq(required),
            ))
            .returning(deal_custom_fields::id)
            .get_result(conn)?;
        audit::record(
            conn,
            actor,
            "deal.custom_field_added",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label,
            },
            &Change {
                after: Some(&format!(
                    "{}{}",
                    field_type.label(),
                    if required { ", required" } else { "" }
                )),
                ..Default::default()
            },
        )?;
        Ok(id)
    })
}

/// Takes a field off the form; deals keep the values they hold.
pub fn remove_custom_field(
    conn: &mut DbConn,
    program_id: i64,
    field_id: i64,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let label: Option<String> = deal_custom_fields::table
            .filter(deal_custom_fields::program_id.eq(program_id))
            .filter(deal_custom_fields::id.eq(field_id))
            .filter(deal_custom_fields::active.eq(true))
            .select(deal_custom_fields::label)
            .first(conn)
            .optional()?;
        let Some(label) = label else {
            return Ok(false);
        };
        diesel::update(deal_custom_fields::table.find(field_id))
            .set(deal_custom_fields::active.eq(false))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "deal.custom_field_removed",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: &label,
            },
            &Change::default(),
        )?;
        Ok(true)
    })
}

pub fn save_settings(
    conn: &mut DbConn,
    program_id: i64,
    settings: &DealSettings,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::update(programs::table.find(program_id))
            .set((
                programs::deal_sla_hours.eq(settings.sla_hours),
                programs::deal_protection_days.eq(settings.protection_days),
                programs::deal_auto_approve_below_minor.eq(settings.auto_approve_below_minor),
                programs::deal_requires_certification.eq(settings.requires_certification),
                programs::deal_reps_see_org.eq(settings.reps_see_org),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "deal.settings",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: "deal registration",
            },
            &Change {
                after: Some(&format!(
                    "SLA {} h, protection {} days, auto-approve below {:?}, certification {}, reps see org {}",
                    settings.sla_hours,
                    settings.protection_days,
                    settings.auto_approve_below_minor,
                    settings.requires_certification,
                    settings.reps_see_org
                )),
                ..Default::default()
            },
        )
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = direct_accounts)]
pub struct DirectAccount {
    pub id: i64,
    pub program_id: i64,
    pub company_name: String,
    pub company_key: String,
    pub domain: String,
    pub account_owner: String,
    pub created_at: NaiveDateTime,
}

pub fn direct_accounts(
    conn: &mut DbConn,
    program_id: i64,
    search: &str,
) -> QueryResult<Vec<DirectAccount>> {
    let mut query = direct_accounts::table
        .filter(direct_accounts::program_id.eq(program_id))
        .into_boxed();
    let search = search.trim().to_lowercase();
    if !search.is_empty() {
        let pattern = contains_pattern(&company_key(&search));
        let domain_pattern = contains_pattern(&search);
        query = query.filter(
            direct_accounts::company_key
                .like(pattern)
                .escape('\\')
                .or(direct_accounts::domain.like(domain_pattern).escape('\\')),
        );
    }
    query
        .order(direct_accounts::company_name)
        .limit(1000)
        .select(DirectAccount::as_select())
        .load(conn)
}

pub fn count_direct_accounts(conn: &mut DbConn, program_id: i64) -> QueryResult<i64> {
    direct_accounts::table
        .filter(direct_accounts::program_id.eq(program_id))
        .count()
        .get_result(conn)
}

/// Adds accounts; one already listed (same normalised name and domain) is skipped. Returns (added, skipped).
pub fn add_direct_accounts(
    conn: &mut DbConn,
    program_id: i64,
    accounts: &[NewDirectAccount],
    actor: &Actor,
) -> QueryResult<(usize, usize)> {
    conn.transaction(|conn| {
        let (mut added, mut skipped) = (0, 0);
        let at = now();
        for account in accounts {
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(direct_accounts::table)
                    .values((
                        direct_accounts::program_id.eq(program_id),
                        direct_accounts::company_name.eq(&account.company_name),
                        direct_accounts::company_key.eq(company_key(&account.company_name)),
                        direct_accounts::domain.eq(&account.domain),
                        direct_accounts::account_owner.eq(&account.owner),
                        direct_accounts::created_at.eq(at),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => added += 1,
                Err(e) if db::is_unique_violation(&e) => skipped += 1,
                Err(e) => return Err(e),
            }
        }
        audit::record(
            conn,
            actor,
            "deal.direct_accounts_added",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: "direct accounts",
            },
            &Change {
                after: Some(&format!("{added} added, {skipped} already listed")),
                ..Default::default()
            },
        )?;
        Ok((added, skipped))
    })
}

pub fn remove_direct_account(
    conn: &mut DbConn,
    program_id: i64,
    id: i64,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let name: Option<String> = direct_accounts::table
            .filter(direct_accounts::program_id.eq(program_id))
            .filter(direct_accounts::id.eq(id))
            .select(direct_accounts::company_name)
            .first(conn)
            .optional()?;
        let Some(name) = name else {
            return Ok(false);
        };
        diesel::delete(direct_accounts::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            actor,
            "deal.direct_account_removed",
            &Subject {
                kind: "direct_account",
                id: Some(id),
                label: &name,
            },
            &Change::default(),
        )?;
        Ok(true)
    })
}
