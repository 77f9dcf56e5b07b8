//! Install-wide key/value settings that Concord generates for itself (session key, setup token hash).

use diesel::prelude::*;

use crate::platform::db::schema::settings;
use crate::platform::db::{is_unique_violation, now, DbConn};

pub const SESSION_KEY: &str = "session_key";
pub const SETUP_TOKEN_HASH: &str = "setup_token_hash";

pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}

/// Stores `value` unless the key already has one, and returns the value that is kept. Two servers starting at once
/// on one database end up with the same value.
pub fn get_or_insert(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<String> {
    if let Some(existing) = get(conn, key)? {
        return Ok(existing);
    }
    let inserted = diesel::insert_into(settings::table)
        .values((
            settings::key.eq(key),
            settings::value.eq(value),
            settings::updated_at.eq(now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value.to_string()),
        Err(e) if is_unique_violation(&e) => get(conn, key)?.ok_or(e),
        Err(e) => Err(e),
    }
}

pub fn put(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(settings::table.find(key))
            .set((settings::value.eq(value), settings::updated_at.eq(now())))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(settings::table)
                .values((
                    settings::key.eq(key),
                    settings::value.eq(value),
                    settings::updated_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

pub fn delete(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    diesel::delete(settings::table.find(key))
        .execute(conn)
        .map(|_| ())
}
