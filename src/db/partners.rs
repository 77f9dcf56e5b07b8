//! Partner orgs: the companies and people who sell for the program, their status decisions and tier placements.

use diesel::prelude::*;

use crate::domain::partner::{decide, PartnerDecision, PartnerKind, PartnerStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{partner_orgs, partner_tier_history, tiers};
use crate::platform::db::{contains_pattern, now, DbConn};

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = partner_orgs)]
pub struct PartnerOrg {
    pub id: i64,
    pub program_id: i64,
    pub name: String,
    pub kind: String,
    pub status: String,
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
            .parse()
            .expect("the schema only admits known kinds")
    }

    pub fn status(&self) -> PartnerStatus {
        self.status
            .parse()
            .expect("the schema only admits known statuses")
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

/// Why a write to a partner did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PartnerWriteError {
    #[error("No such partner.")]
    NotFound,
    /// The request was understood and refused; the text is for the person who asked.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] crate::platform::mail::NotifyError),
}

/// Writes the notifications of a partner decision inside its transaction: (org, status before, status after, reason).
pub type DecisionNotifier<'a> = &'a dyn Fn(
    &mut DbConn,
    &PartnerOrg,
    PartnerStatus,
    PartnerStatus,
    Option<&str>,
) -> Result<(), crate::platform::mail::NotifyError>;

pub fn insert(conn: &mut DbConn, org: &NewPartnerOrg<'_>) -> QueryResult<i64> {
    let at = now();
    diesel::insert_into(partner_orgs::table)
        .values((
            partner_orgs::program_id.eq(org.program_id),
            partner_orgs::name.eq(org.name),
            partner_orgs::kind.eq(org.kind.as_str()),
            partner_orgs::status.eq(org.status.as_str()),
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

pub fn list(
    conn: &mut DbConn,
    program_id: i64,
    filter: &PartnerFilter,
) -> QueryResult<Vec<PartnerListing>> {
    let mut query = partner_orgs::table
        .left_join(tiers::table)
        .filter(partner_orgs::program_id.eq(program_id))
        .into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(partner_orgs::kind.eq(kind.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(partner_orgs::status.eq(status.as_str()));
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
        .limit(500)
        .select((PartnerOrg::as_select(), tiers::name.nullable()))
        .load::<(PartnerOrg, Option<String>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(org, tier_name)| PartnerListing { org, tier_name })
                .collect()
        })
}

/// How many partners stand in each status, for the admin dashboard.
pub fn count_by_status(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<(String, i64)>> {
    partner_orgs::table
        .filter(partner_orgs::program_id.eq(program_id))
        .group_by(partner_orgs::status)
        .select((partner_orgs::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Applies an admin's decision (approve, reject, suspend, reinstate), records it in the audit log and writes the
/// partner's notification, in one transaction. The update is conditional on the status read, so two admins deciding
/// at once cannot both win.
pub fn apply_decision(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    decision: PartnerDecision,
    reason: Option<&str>,
    actor: &Actor,
    notify: DecisionNotifier<'_>,
) -> Result<PartnerStatus, PartnerWriteError> {
    conn.transaction(|conn| {
        let org = find(conn, program_id, org_id)?
            .ok_or(PartnerWriteError::NotFound)?
            .org;
        let before = org.status();
        let after = decide(before, decision, reason)
            .map_err(|e| PartnerWriteError::Refused(e.to_string()))?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let changed = diesel::update(
            partner_orgs::table
                .filter(partner_orgs::id.eq(org_id))
                .filter(partner_orgs::status.eq(before.as_str())),
        )
        .set((
            partner_orgs::status.eq(after.as_str()),
            partner_orgs::status_reason.eq(reason),
            partner_orgs::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(PartnerWriteError::Refused(
                "Someone else changed this partner a moment ago; look again.".into(),
            ));
        }
        // An approved affiliate can start promoting at once: it gets a link to the program's landing page.
        if after == PartnerStatus::Approved && org.kind() == PartnerKind::Affiliate {
            let landing = crate::programs::current(conn)?.default_landing_url;
            crate::affiliate::store::links::ensure_default(conn, org_id, &landing)?;
        }
        notify(conn, &org, before, after, reason)?;
        audit::record(
            conn,
            actor,
            decision.audit_action(),
            &Subject {
                kind: "partner",
                id: Some(org_id),
                label: &org.name,
            },
            &Change {
                reason,
                before: Some(before.as_str()),
                after: Some(after.as_str()),
            },
        )?;
        Ok(after)
    })
}

/// Moves a partner to another tier (or to none), keeping the move in tier history and the audit log.
pub fn change_tier(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    to_tier_id: Option<i64>,
    reason: &str,
    actor: &Actor,
) -> Result<(), PartnerWriteError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(PartnerWriteError::Refused(
            "Give a reason for the tier change.".into(),
        ));
    }
    conn.transaction(|conn| {
        let listing = find(conn, program_id, org_id)?.ok_or(PartnerWriteError::NotFound)?;
        if listing.org.tier_id == to_tier_id {
            return Err(PartnerWriteError::Refused(
                "The partner is already on that tier.".into(),
            ));
        }
        let to_tier_name = match to_tier_id {
            Some(id) => Some(
                crate::tiers::store::find(conn, program_id, id)?
                    .ok_or_else(|| {
                        PartnerWriteError::Refused("That tier no longer exists.".into())
                    })?
                    .name,
            ),
            None => None,
        };
        diesel::update(partner_orgs::table.find(org_id))
            .set((
                partner_orgs::tier_id.eq(to_tier_id),
                partner_orgs::updated_at.eq(now()),
            ))
            .execute(conn)?;
        diesel::insert_into(partner_tier_history::table)
            .values((
                partner_tier_history::partner_org_id.eq(org_id),
                partner_tier_history::from_tier_id.eq(listing.org.tier_id),
                partner_tier_history::to_tier_id.eq(to_tier_id),
                partner_tier_history::from_tier_name
                    .eq(listing.tier_name.clone().unwrap_or_default()),
                partner_tier_history::to_tier_name.eq(to_tier_name.clone().unwrap_or_default()),
                partner_tier_history::reason.eq(reason),
                partner_tier_history::changed_by_user_id.eq(actor.user_id),
                partner_tier_history::changed_at.eq(now()),
            ))
            .execute(conn)?;
        let before = listing.tier_name.unwrap_or_else(|| "no tier".into());
        let after = to_tier_name.unwrap_or_else(|| "no tier".into());
        audit::record(
            conn,
            actor,
            "partner.tier_change",
            &Subject {
                kind: "partner",
                id: Some(org_id),
                label: &listing.org.name,
            },
            &Change {
                reason: Some(reason),
                before: Some(&before),
                after: Some(&after),
            },
        )?;
        Ok(())
    })
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

/// What the org must accept before its portal opens, if anything: channel partners the current partner
/// agreement, affiliates the current program terms.
pub fn agreement_due(
    conn: &mut DbConn,
    org_id: i64,
) -> QueryResult<Option<crate::domain::reseller::DueTerms>> {
    use crate::domain::reseller::{affiliate_terms_required, agreement_required, DueTerms};
    let program = crate::programs::current(conn)?;
    let Some(listing) = find(conn, program.id, org_id)? else {
        return Ok(None);
    };
    if listing.org.kind() == PartnerKind::Affiliate {
        let accepted: Option<i64> = partner_orgs::table
            .find(org_id)
            .select(partner_orgs::terms_version)
            .first(conn)?;
        let required = affiliate_terms_required(
            listing.org.status(),
            !program.terms_text.trim().is_empty(),
            program.terms_version,
            accepted,
        );
        return Ok(required.then_some(DueTerms::AffiliateTerms(program.terms_version)));
    }
    let accepted = super::agreements::latest(conn, org_id)?.map(|a| a.version);
    let required = agreement_required(
        listing.org.kind(),
        listing.org.status(),
        program.agreement_version,
        accepted,
    );
    Ok(required.then_some(DueTerms::PartnerAgreement(program.agreement_version)))
}

/// An affiliate's partner admin accepts a version of the program terms: kept on the org, and in the audit log.
pub fn accept_terms(
    conn: &mut DbConn,
    org_id: i64,
    version: i64,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::update(partner_orgs::table.find(org_id))
            .set((
                partner_orgs::terms_version.eq(Some(version)),
                partner_orgs::terms_accepted_at.eq(Some(now())),
            ))
            .execute(conn)?;
        let name: String = partner_orgs::table
            .find(org_id)
            .select(partner_orgs::name)
            .first(conn)?;
        audit::record(
            conn,
            actor,
            "terms.accept",
            &Subject {
                kind: "partner_org",
                id: Some(org_id),
                label: &name,
            },
            &Change {
                after: Some(&format!("program terms version {version}")),
                ..Default::default()
            },
        )
    })
}
