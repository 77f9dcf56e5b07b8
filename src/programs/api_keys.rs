//! Program API keys for machines (conversion tracking). Only a SHA-256 of each key is stored: keys are long random
//! strings, so a fast hash is enough, and it lets a request be matched with one indexed lookup.

use diesel::prelude::*;

use crate::platform::db::schema::api_keys;
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub key_prefix: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, name: &str, key_prefix: &str, key_hash: &str) -> QueryResult<i64> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::name.eq(name),
            api_keys::key_prefix.eq(key_prefix),
            api_keys::key_hash.eq(key_hash),
            api_keys::created_at.eq(now()),
        ))
        .returning(api_keys::id)
        .get_result(conn)
}

/// The active key with this hash, if any.
pub fn find_active_by_hash(conn: &mut DbConn, key_hash: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .order(api_keys::id.desc())
        .select(ApiKey::as_select())
        .load(conn)
}
