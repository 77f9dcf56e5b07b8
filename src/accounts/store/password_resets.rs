//! Single-use password reset tokens (hashed at rest) that expire.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sessions;
use super::users::User;
use crate::platform::db::schema::{password_resets, users};
use crate::platform::db::DbConn;

pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(password_resets::table)
        .values((
            password_resets::user_id.eq(user_id),
            password_resets::token_hash.eq(token_hash),
            password_resets::created_at.eq(now),
            password_resets::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The user a token would reset, while it is unused, unexpired and the user active.
pub fn find_user(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<User>> {
    password_resets::table
        .inner_join(users::table)
        .filter(password_resets::token_hash.eq(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(now))
        .filter(users::active.eq(true))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Uses the token to set a new password and ends every other reset token and every session of the user. The guarded update on `used_at` makes
/// the token work once even when two requests race. Returns the user id, or `None` when the token no longer works.
pub fn consume(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
    new_password_hash: &str,
) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let Some(user) = find_user(conn, token_hash, now)? else {
            return Ok(None);
        };
        let used = diesel::update(
            password_resets::table
                .filter(password_resets::token_hash.eq(token_hash))
                .filter(password_resets::used_at.is_null()),
        )
        .set(password_resets::used_at.eq(Some(now)))
        .execute(conn)?;
        if used != 1 {
            return Ok(None);
        }
        // Every other link the user was sent dies with this one.
        diesel::update(
            password_resets::table
                .filter(password_resets::user_id.eq(user.id))
                .filter(password_resets::used_at.is_null()),
        )
        .set(password_resets::used_at.eq(Some(now)))
        .execute(conn)?;
        diesel::update(users::table.find(user.id))
            .set(users::password_hash.eq(new_password_hash))
            .execute(conn)?;
        sessions::delete_for_user(conn, user.id)?;
        Ok(Some(user.id))
    })
}
