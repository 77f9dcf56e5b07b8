//! Coupon codes assigned to partners. Unique without regard to case.

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::coupons;
use crate::platform::db::{is_unique_violation, now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = coupons)]
pub struct Coupon {
    pub id: i64,
    pub partner_org_id: i64,
    pub code: String,
    pub code_key: String,
    pub created_at: chrono::NaiveDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    #[error("The coupon code {0} is already assigned.")]
    Taken(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub fn assign(
    conn: &mut DbConn,
    partner_org_id: i64,
    partner_name: &str,
    code: &str,
    code_key: &str,
    actor: &Actor,
) -> Result<i64, CouponError> {
    conn.transaction(|conn| {
        let id = diesel::insert_into(coupons::table)
            .values((
                coupons::partner_org_id.eq(partner_org_id),
                coupons::code.eq(code),
                coupons::code_key.eq(code_key),
                coupons::created_at.eq(now()),
            ))
            .returning(coupons::id)
            .get_result(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    CouponError::Taken(code.to_string())
                } else {
                    e.into()
                }
            })?;
        audit::record(
            conn,
            actor,
            "partner.coupon_assign",
            &Subject {
                kind: "partner",
                id: Some(partner_org_id),
                label: partner_name,
            },
            &Change {
                after: Some(code),
                ..Default::default()
            },
        )?;
        Ok(id)
    })
}

pub fn list_for_org(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Vec<Coupon>> {
    coupons::table
        .filter(coupons::partner_org_id.eq(partner_org_id))
        .order(coupons::code_key)
        .select(Coupon::as_select())
        .load(conn)
}

pub fn find_by_key(conn: &mut DbConn, code_key: &str) -> QueryResult<Option<Coupon>> {
    coupons::table
        .filter(coupons::code_key.eq(code_key))
        .select(Coupon::as_select())
        .first(conn)
        .optional()
}
