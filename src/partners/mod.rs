//! Partners: the orgs of the program (affiliates, resellers, referral partners), how they join (`signup`: the
//! affiliate's `/join` and the reseller's `/apply`), the decisions on them (approve, reject, suspend, reinstate),
//! their tier moves, and the agreement (channel partners) or program terms (affiliates) they accept before their
//! portal opens. `store` holds the SQL, `rules` the pure agreement rules, `notices` what they are told.

pub mod agreements;
pub mod notices;
pub mod rules;
pub mod signup;
pub mod store;
pub mod team;

use diesel::prelude::*;

use crate::domain::partner::{decide, PartnerDecision, PartnerKind, PartnerStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
pub use store::{find, overview, PartnerListing, PartnerOrg, PartnerOverview};

/// Why a write to a partner did not happen.
pub type PartnerWriteError = crate::platform::use_case::UseCaseError;

/// Applies an admin's decision (approve, reject, suspend, reinstate), records it in the audit log and writes the
/// partner's notification, in one transaction. The update is conditional on the status read, so two admins deciding
/// at once cannot both win.
#[tracing::instrument(skip_all, fields(org_id = org_id))]
pub fn apply_decision(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    decision: PartnerDecision,
    reason: Option<&str>,
    actor: &Actor,
    base_url: &str,
) -> Result<PartnerStatus, PartnerWriteError> {
    conn.transaction(|conn| {
        let org = store::find(conn, program_id, org_id)?
            .ok_or(PartnerWriteError::NotFound)?
            .org;
        let before = org.status();
        let after = decide(before, decision, reason)
            .map_err(|e| PartnerWriteError::Refused(e.to_string()))?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let changed = store::set_status(conn, org_id, before, after, reason)?;
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
        notices::partner_decided(conn, base_url, &org, before, after, reason)?;
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
#[tracing::instrument(skip_all, fields(org_id = org_id))]
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
        let listing = store::find(conn, program_id, org_id)?.ok_or(PartnerWriteError::NotFound)?;
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
        store::move_to_tier(
            conn,
            org_id,
            (
                listing.org.tier_id,
                listing.tier_name.as_deref().unwrap_or_default(),
            ),
            (to_tier_id, to_tier_name.as_deref().unwrap_or_default()),
            reason,
            actor.user_id,
        )?;
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

/// What the portal lets an org's people see: everything, only the agreement until it is accepted, or only the
/// status page while the org is not approved (an applicant, a rejected applicant, a suspended partner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalGate {
    Open,
    AgreementDue,
    Closed(PartnerStatus),
}

/// The gate for the org's people, checked on every `/portal` request.
pub fn portal_gate(conn: &mut DbConn, org_id: i64) -> QueryResult<PortalGate> {
    let status = store::status_of(conn, org_id)?;
    if status != PartnerStatus::Approved {
        return Ok(PortalGate::Closed(status));
    }
    Ok(match agreement_due(conn, org_id)? {
        Some(_) => PortalGate::AgreementDue,
        None => PortalGate::Open,
    })
}

/// What the org must accept before its portal opens, if anything: channel partners the current partner
/// agreement, affiliates the current program terms.
pub fn agreement_due(
    conn: &mut DbConn,
    org_id: i64,
) -> QueryResult<Option<crate::partners::rules::DueTerms>> {
    use crate::partners::rules::{affiliate_terms_required, agreement_required, DueTerms};
    let program = crate::programs::current(conn)?;
    let Some(listing) = store::find(conn, program.id, org_id)? else {
        return Ok(None);
    };
    if listing.org.kind() == PartnerKind::Affiliate {
        let accepted = store::accepted_terms_version(conn, org_id)?;
        let required = affiliate_terms_required(
            listing.org.status(),
            !program.terms_text.trim().is_empty(),
            program.terms_version,
            accepted,
        );
        return Ok(required.then_some(DueTerms::AffiliateTerms(program.terms_version)));
    }
    let accepted = agreements::latest(conn, org_id)?.map(|a| a.version);
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
        store::set_terms_accepted(conn, org_id, version)?;
        let name = store::overview(conn, org_id)?
            .map(|o| o.org.name)
            .unwrap_or_default();
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
/// Sets the partner agreement. A changed text becomes a new version, which every reseller org must accept again.
pub fn update_agreement(
    conn: &mut DbConn,
    program_id: i64,
    text: &str,
    actor: &Actor,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let before = crate::programs::current(conn)?;
        if before.agreement_text == text {
            return Ok(before.agreement_version);
        }
        let version = before.agreement_version + 1;
        crate::programs::store::write_agreement(conn, program_id, text, version)?;
        audit::record(
            conn,
            actor,
            "program.agreement",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: &before.name,
            },
            &Change {
                before: Some(&format!("version {}", before.agreement_version)),
                after: Some(&format!("version {version}")),
                ..Default::default()
            },
        )?;
        Ok(version)
    })
}
