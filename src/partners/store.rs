//! Partner orgs: the companies and people who sell for the program, their status decisions and tier placements.

use diesel::prelude::*;

use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::platform::db::schema::{partner_orgs, partner_tier_history, tiers};
use crate::platform::db::{contains_pattern, now, DbConn};

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = partner_orgs)]
pub struct PartnerOrg {
    pub id: i64,
    pub program_id: i64,
    pub name: String,
    pub kind: PartnerKind,
    pub status: PartnerStatus,
    pub status_reason: Option<String>,
    pub tier_id: Option<i64>,
    pub country: String,
    pub website_domain: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub tier_override: bool,
    pub tier_override_until: Option<chrono::NaiveDateTime>,
    pub demotion_warned_at: Option<chrono::NaiveDateTime>,
}

impl PartnerOrg {
    pub fn kind(&self) -> PartnerKind {
        self.kind
    }

    pub fn status(&self) -> PartnerStatus {
        self.status
    }
}

/// A partner as lists show it: the org and the name of its tier.
#[derive(Debug, Clone)]
pub struct PartnerListing {
    pub org: PartnerOrg,
    pub tier_name: Option<String>,
}

pub struct NewPartnerOrg<'a> {
    pub program_id: i64,
    pub name: &'a str,
    pub kind: PartnerKind,
    pub status: PartnerStatus,
    pub tier_id: Option<i64>,
    pub country: &'a str,
    pub website_domain: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    pub status: Option<PartnerStatus>,
    pub tier_id: Option<i64>,
    /// Matches name or website domain, ignoring case.
    pub search: Option<String>,
}

pub fn insert(conn: &mut DbConn, org: &NewPartnerOrg<'_>) -> QueryResult<i64> {
    let at = now();
    diesel::insert_into(partner_orgs::table)
        .values((
            partner_orgs::program_id.eq(org.program_id),
            partner_orgs::name.eq(org.name),
            partner_orgs::kind.eq(org.kind),
            partner_orgs::status.eq(org.status),
            partner_orgs::tier_id.eq(org.tier_id),
            partner_orgs::country.eq(org.country),
            partner_orgs::website_domain.eq(org.website_domain),
            partner_orgs::created_at.eq(at),
            partner_orgs::updated_at.eq(at),
        ))
        .returning(partner_orgs::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, program_id: i64, id: i64) -> QueryResult<Option<PartnerListing>> {
    partner_orgs::table
        .left_join(tiers::table)
        .filter(partner_orgs::program_id.eq(program_id))
        .filter(partner_orgs::id.eq(id))
        .select((PartnerOrg::as_select(), tiers::name.nullable()))
        .first::<(PartnerOrg, Option<String>)>(conn)
        .optional()
        .map(|row| row.map(|(org, tier_name)| PartnerListing { org, tier_name }))
}

/// The program's partners matching `filter`, newest first, in `window`.
pub fn list(
    conn: &mut DbConn,
    program_id: i64,
    filter: &PartnerFilter,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<PartnerListing>> {
    let mut query = partner_orgs::table
        .left_join(tiers::table)
        .filter(partner_orgs::program_id.eq(program_id))
        .into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(partner_orgs::kind.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(partner_orgs::status.eq(status));
    }
    if let Some(tier_id) = filter.tier_id {
        query = query.filter(partner_orgs::tier_id.eq(tier_id));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // PostgreSQL's LIKE is case-sensitive and SQLite's is not: compare lowercased on both.
        let pattern = contains_pattern(&search.to_lowercase());
        query = query.filter(
            lower(partner_orgs::name)
                .like(pattern.clone())
                .escape('\\')
                .or(partner_orgs::website_domain.like(pattern).escape('\\')),
        );
    }
    query
        .order((partner_orgs::created_at.desc(), partner_orgs::id.desc()))
        .offset(window.offset)
        .limit(window.limit)
        .select((PartnerOrg::as_select(), tiers::name.nullable()))
        .load::<(PartnerOrg, Option<String>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(org, tier_name)| PartnerListing { org, tier_name })
                .collect()
        })
}

/// Every reseller and referral partner of the program as (id, name), newest first: the choices of a partner picker
/// (MDF allocations, deal filters), where affiliates have no place.
pub fn channel_partner_choices(
    conn: &mut DbConn,
    program_id: i64,
) -> QueryResult<Vec<(i64, String)>> {
    Ok(list(
        conn,
        program_id,
        &PartnerFilter::default(),
        crate::platform::db::Window::ALL,
    )?
    .into_iter()
    .filter(|p| p.org.kind() != PartnerKind::Affiliate)
    .map(|p| (p.org.id, p.org.name))
    .collect())
}

/// How many partners stand in each status, for the admin dashboard.
pub fn count_by_status(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<(String, i64)>> {
    partner_orgs::table
        .filter(partner_orgs::program_id.eq(program_id))
        .group_by(partner_orgs::status)
        .select((partner_orgs::status, diesel::dsl::count_star()))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = partner_tier_history)]
pub struct TierChange {
    pub id: i64,
    pub from_tier_name: String,
    pub to_tier_name: String,
    pub reason: String,
    pub changed_by_user_id: Option<i64>,
    pub changed_at: chrono::NaiveDateTime,
    /// The numbers behind an automatic change; empty for manual ones.
    pub metrics: String,
}

pub fn tier_history(conn: &mut DbConn, org_id: i64) -> QueryResult<Vec<TierChange>> {
    partner_tier_history::table
        .filter(partner_tier_history::partner_org_id.eq(org_id))
        .order((
            partner_tier_history::changed_at.desc(),
            partner_tier_history::id.desc(),
        ))
        .select(TierChange::as_select())
        .load(conn)
}

/// A partner with everything its overview pages show.
pub struct PartnerOverview {
    pub org: PartnerOrg,
    pub tier: Option<crate::tiers::store::Tier>,
    pub program: crate::programs::Program,
    pub users: Vec<crate::accounts::store::users::User>,
}

pub fn overview(conn: &mut DbConn, org_id: i64) -> QueryResult<Option<PartnerOverview>> {
    let program = crate::programs::current(conn)?;
    let Some(listing) = find(conn, program.id, org_id)? else {
        return Ok(None);
    };
    let tier = match listing.org.tier_id {
        Some(tier_id) => crate::tiers::store::find(conn, program.id, tier_id)?,
        None => None,
    };
    let users = crate::accounts::store::users::list_for_org(conn, org_id)?;
    Ok(Some(PartnerOverview {
        org: listing.org,
        tier,
        program,
        users,
    }))
}

/// Keeps how an applicant promotes and which version of the program terms they accepted, and when.
pub fn record_application(
    conn: &mut DbConn,
    org_id: i64,
    promotion_method: &str,
    terms_version: i64,
) -> QueryResult<()> {
    diesel::update(partner_orgs::table.find(org_id))
        .set((
            partner_orgs::promotion_method.eq(promotion_method),
            partner_orgs::terms_version.eq(Some(terms_version)),
            partner_orgs::terms_accepted_at.eq(Some(now())),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Keeps what a reseller applicant told us: partner type, company size and why they want to partner.
pub fn record_reseller_application(
    conn: &mut DbConn,
    org_id: i64,
    partner_type: &str,
    company_size: &str,
    note: &str,
) -> QueryResult<()> {
    diesel::update(partner_orgs::table.find(org_id))
        .set((
            partner_orgs::partner_type.eq(partner_type),
            partner_orgs::company_size.eq(company_size),
            partner_orgs::application_note.eq(note),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Moves an org from the status read to another; 0 when someone else changed it since.
pub fn set_status(
    conn: &mut DbConn,
    org_id: i64,
    before: PartnerStatus,
    after: PartnerStatus,
    reason: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        partner_orgs::table
            .filter(partner_orgs::id.eq(org_id))
            .filter(partner_orgs::status.eq(before)),
    )
    .set((
        partner_orgs::status.eq(after),
        partner_orgs::status_reason.eq(reason),
        partner_orgs::updated_at.eq(now()),
    ))
    .execute(conn)
}

/// Puts an org on a tier (or none) and keeps the move in the tier history.
pub fn move_to_tier(
    conn: &mut DbConn,
    org_id: i64,
    from: (Option<i64>, &str),
    to: (Option<i64>, &str),
    reason: &str,
    changed_by_user_id: Option<i64>,
) -> QueryResult<()> {
    diesel::update(partner_orgs::table.find(org_id))
        .set((
            partner_orgs::tier_id.eq(to.0),
            partner_orgs::updated_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::insert_into(partner_tier_history::table)
        .values((
            partner_tier_history::partner_org_id.eq(org_id),
            partner_tier_history::from_tier_id.eq(from.0),
            partner_tier_history::to_tier_id.eq(to.0),
            partner_tier_history::from_tier_name.eq(from.1),
            partner_tier_history::to_tier_name.eq(to.1),
            partner_tier_history::reason.eq(reason),
            partner_tier_history::changed_by_user_id.eq(changed_by_user_id),
            partner_tier_history::changed_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The affiliate terms version an org accepted, if any.
/// The org's status alone, as the portal's gate reads it on every request.
pub fn status_of(conn: &mut DbConn, org_id: i64) -> QueryResult<PartnerStatus> {
    partner_orgs::table
        .find(org_id)
        .select(partner_orgs::status)
        .first(conn)
}

pub fn accepted_terms_version(conn: &mut DbConn, org_id: i64) -> QueryResult<Option<i64>> {
    partner_orgs::table
        .find(org_id)
        .select(partner_orgs::terms_version)
        .first(conn)
}

pub fn set_terms_accepted(conn: &mut DbConn, org_id: i64, version: i64) -> QueryResult<()> {
    diesel::update(partner_orgs::table.find(org_id))
        .set((
            partner_orgs::terms_version.eq(Some(version)),
            partner_orgs::terms_accepted_at.eq(Some(now())),
        ))
        .execute(conn)
        .map(|_| ())
}
