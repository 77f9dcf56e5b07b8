//! The program's SQL: its row, created with defaults the first time it is asked for, and its settings columns.

use diesel::prelude::*;

use crate::domain::money::Currency;
use crate::platform::db::schema::programs;
use crate::platform::db::{now, DbConn};
use crate::programs::affiliate_settings::{AffiliateSettings, AttributionModel};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programs)]
pub struct Program {
    pub id: i64,
    pub name: String,
    pub currency: String,
    pub created_at: chrono::NaiveDateTime,
    pub cookie_window_days: i64,
    pub attribution_model: String,
    pub terms_text: String,
    pub terms_version: i64,
    pub auto_approve_affiliates: bool,
    pub default_landing_url: String,
    pub allowed_domains: String,
    pub min_seconds_to_convert: i64,
    pub max_conversions_per_ip_hour: i64,
    pub max_links_per_partner: i64,
    pub blocked_ips: String,
    pub hold_days: i64,
    pub agreement_text: String,
    pub agreement_version: i64,
    pub tier_grace_days: i64,
    pub deal_sla_hours: i64,
    pub deal_protection_days: i64,
    pub deal_auto_approve_below_minor: Option<i64>,
    pub deal_requires_certification: bool,
    pub deal_reps_see_org: bool,
    pub mdf_reimbursement_bps: i64,
    pub mdf_claim_days: i64,
    pub payout_minimum_minor: i64,
    pub payout_day: Option<i64>,
}

impl Program {
    pub fn attribution_model(&self) -> AttributionModel {
        self.attribution_model
            .parse()
            .unwrap_or(AttributionModel::LastClick)
    }

    pub fn allowed_domains(&self) -> Vec<String> {
        self.allowed_domains
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn blocked_ips(&self) -> Vec<String> {
        self.blocked_ips
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency)
            .expect("the schema only admits three-letter codes written by Currency")
    }
}

pub const DEFAULT_NAME: &str = "Partner Program";
pub const DEFAULT_CURRENCY: &str = "USD";

/// The install's program, created with defaults the first time it is asked for.
pub fn current(conn: &mut DbConn) -> QueryResult<Program> {
    fn first(conn: &mut DbConn) -> QueryResult<Option<Program>> {
        programs::table
            .order(programs::id)
            .select(Program::as_select())
            .first(conn)
            .optional()
    }
    // Every page asks, and the program exists on all but the first start: read it without a transaction first.
    if let Some(program) = first(conn)? {
        return Ok(program);
    }
    conn.transaction(|conn| {
        if let Some(program) = first(conn)? {
            return Ok(program);
        }
        diesel::insert_into(programs::table)
            .values((
                programs::name.eq(DEFAULT_NAME),
                programs::currency.eq(DEFAULT_CURRENCY),
                programs::created_at.eq(now()),
            ))
            .execute(conn)?;
        first(conn)?.ok_or(diesel::result::Error::NotFound)
    })
}

pub fn rename(
    conn: &mut DbConn,
    program_id: i64,
    name: &str,
    currency: Currency,
) -> QueryResult<()> {
    diesel::update(programs::table.find(program_id))
        .set((
            programs::name.eq(name),
            programs::currency.eq(currency.code()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Writes the affiliate settings and the terms version they come with.
pub fn write_affiliate_settings(
    conn: &mut DbConn,
    program_id: i64,
    settings: &AffiliateSettings,
    terms_version: i64,
) -> QueryResult<()> {
    diesel::update(programs::table.find(program_id))
        .set((
            programs::cookie_window_days.eq(settings.cookie_window_days),
            programs::attribution_model.eq(settings.attribution_model.as_str()),
            programs::terms_text.eq(&settings.terms_text),
            programs::terms_version.eq(terms_version),
            programs::auto_approve_affiliates.eq(settings.auto_approve_affiliates),
            programs::default_landing_url.eq(&settings.default_landing_url),
            programs::allowed_domains.eq(settings.allowed_domains.join("\n")),
            programs::min_seconds_to_convert.eq(settings.min_seconds_to_convert),
            programs::max_conversions_per_ip_hour.eq(settings.max_conversions_per_ip_hour),
            programs::max_links_per_partner.eq(settings.max_links_per_partner),
            programs::blocked_ips.eq(settings.blocked_ips.join("\n")),
            programs::hold_days.eq(settings.hold_days),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Writes the partner agreement's text and version.
pub fn write_agreement(
    conn: &mut DbConn,
    program_id: i64,
    text: &str,
    version: i64,
) -> QueryResult<()> {
    diesel::update(programs::table.find(program_id))
        .set((
            programs::agreement_text.eq(text),
            programs::agreement_version.eq(version),
        ))
        .execute(conn)
        .map(|_| ())
}
