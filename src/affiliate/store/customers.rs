//! The merchant's customers, bound to the partner that first brought them, so later conversions of the same
//! customer (another device, a renewal) are attributed without a click.

use diesel::prelude::*;

use crate::platform::db::schema::customers;
use crate::platform::db::{is_unique_violation, now, DbConn};

pub fn bound_partner(
    conn: &mut DbConn,
    program_id: i64,
    external_id: &str,
) -> QueryResult<Option<i64>> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::external_id.eq(external_id))
        .select(customers::partner_org_id)
        .first(conn)
        .optional()
}

/// Binds a customer to a partner unless it is bound already (the first binding stands).
pub fn bind(
    conn: &mut DbConn,
    program_id: i64,
    external_id: &str,
    partner_org_id: i64,
) -> QueryResult<()> {
    // In a savepoint: on PostgreSQL a failed insert would otherwise abort the caller's transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(customers::table)
            .values((
                customers::program_id.eq(program_id),
                customers::external_id.eq(external_id),
                customers::partner_org_id.eq(partner_org_id),
                customers::bound_at.eq(now()),
            ))
            .execute(conn)
    });
    match inserted {
        Err(e) if !is_unique_violation(&e) => Err(e),
        _ => Ok(()),
    }
}
