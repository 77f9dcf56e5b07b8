//! First-run setup: the one-time token that lets the first admin be created in the browser.

use diesel::prelude::*;

use super::users::{self, NewUser};
use crate::domain::money::Currency;
use crate::platform::db::schema::settings;
use crate::platform::db::settings::SETUP_TOKEN_HASH;
use crate::platform::db::DbConn;
use crate::programs;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The token is wrong, already used, or an admin exists: setup is over.
    #[error("This setup link is no longer valid.")]
    Closed,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Whether `token_hash` opens setup now: it matches the stored hash and no admin exists yet.
pub fn is_open(conn: &mut DbConn, token_hash: &str) -> QueryResult<bool> {
    if users::admin_exists(conn)? {
        return Ok(false);
    }
    Ok(crate::platform::db::settings::get(conn, SETUP_TOKEN_HASH)?
        .is_some_and(|stored| crate::platform::auth::token::same_secret(&stored, token_hash)))
}

pub struct FirstAdmin<'a> {
    pub program_name: &'a str,
    pub currency: Currency,
    pub admin: NewUser<'a>,
}

/// Creates the first admin and names the program. The token row is deleted in the same transaction and only one
/// request can delete it, so two browsers racing on the link cannot both create an admin.
pub fn complete(
    conn: &mut DbConn,
    token_hash: &str,
    first: &FirstAdmin<'_>,
) -> Result<i64, SetupError> {
    conn.transaction(|conn| {
        if users::admin_exists(conn)? {
            return Err(SetupError::Closed);
        }
        let claimed = diesel::delete(
            settings::table
                .filter(settings::key.eq(SETUP_TOKEN_HASH))
                .filter(settings::value.eq(token_hash)),
        )
        .execute(conn)?;
        if claimed != 1 {
            return Err(SetupError::Closed);
        }
        let program = programs::current(conn)?;
        programs::rename(conn, program.id, first.program_name, first.currency)?;
        Ok(users::insert(conn, &first.admin)?)
    })
}

/// Opens setup with a new token if there is no admin yet; returns the token to show once.
pub fn open_if_no_admin(conn: &mut DbConn) -> QueryResult<Option<String>> {
    if users::admin_exists(conn)? {
        crate::platform::db::settings::delete(conn, SETUP_TOKEN_HASH)?;
        return Ok(None);
    }
    let token = crate::platform::auth::token::new_token();
    crate::platform::db::settings::put(
        conn,
        SETUP_TOKEN_HASH,
        &crate::platform::auth::token::hash_token(&token),
    )?;
    Ok(Some(token))
}
