//! Acceptances of the partner agreement: who accepted which version for their org, when and from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::agreement_acceptances;
use crate::platform::db::{is_unique_violation, now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agreement_acceptances)]
pub struct Acceptance {
    pub id: i64,
    pub partner_org_id: i64,
    pub user_id: i64,
    pub version: i64,
    pub accepted_at: NaiveDateTime,
    pub ip: String,
}

/// The newest version an org has accepted, if any.
pub fn latest(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Option<Acceptance>> {
    agreement_acceptances::table
        .filter(agreement_acceptances::partner_org_id.eq(partner_org_id))
        .order(agreement_acceptances::version.desc())
        .select(Acceptance::as_select())
        .first(conn)
        .optional()
}

/// Records an acceptance; accepting the same version twice keeps the first record.
pub fn accept(
    conn: &mut DbConn,
    partner_org_id: i64,
    user_id: i64,
    version: i64,
    ip: &str,
) -> QueryResult<()> {
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(agreement_acceptances::table)
            .values((
                agreement_acceptances::partner_org_id.eq(partner_org_id),
                agreement_acceptances::user_id.eq(user_id),
                agreement_acceptances::version.eq(version),
                agreement_acceptances::accepted_at.eq(now()),
                agreement_acceptances::ip.eq(ip),
            ))
            .execute(conn)
    });
    match inserted {
        Err(e) if !is_unique_violation(&e) => Err(e),
        _ => Ok(()),
    }
}
