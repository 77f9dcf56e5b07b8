//! Tiers: ordered levels with benefits (deal margin, commission override, MDF allowance) and the criteria that
//! place an org in one (`placement`, pure). Creating, changing and removing a tier is audited here; `store` holds
//! the SQL and `rules` reads what an admin types.

pub mod placement;
pub mod rules;
pub mod store;

use diesel::prelude::*;

use crate::domain::money::Currency;
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
use rules::{benefits_summary, TierDefinition};
pub use store::{find, list, Tier};

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

fn conflict(
    conn: &mut DbConn,
    program_id: i64,
    tier: &TierDefinition,
    except_id: Option<i64>,
) -> Result<(), TierWriteError> {
    let others = store::others(conn, program_id, except_id)?;
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

#[tracing::instrument(skip_all)]
pub fn create(
    conn: &mut DbConn,
    program_id: i64,
    tier: &TierDefinition,
    actor: &Actor,
) -> Result<i64, TierWriteError> {
    conn.transaction(|conn| {
        conflict(conn, program_id, tier, None)?;
        let id = store::insert(conn, program_id, tier)?;
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
        let Some(before) = store::find(conn, program_id, id)? else {
            return Ok(false);
        };
        conflict(conn, program_id, tier, Some(id))?;
        store::update(conn, id, tier)?;
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
        let Some(tier) = store::find(conn, program_id, id)? else {
            return Ok(false);
        };
        let members = store::member_count(conn, id)?;
        if members > 0 {
            return Err(TierWriteError::InUse(members));
        }
        store::delete(conn, id)?;
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
