//! The asset library: creatives and content (uploaded files kept in the database, or links) that partners of the
//! right kind and tier may download, some only once a rep holds a certification. `store` holds the SQL.

pub mod forms;
pub mod store;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
use store::NewAsset;

/// Adds an asset to the library, audited.
pub fn create(
    conn: &mut DbConn,
    program_id: i64,
    asset: &NewAsset<'_>,
    actor: &Actor,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let id = store::insert(conn, program_id, asset)?;
        audit::record(
            conn,
            actor,
            "asset.create",
            &Subject {
                kind: "asset",
                id: Some(id),
                label: asset.title,
            },
            &Change::default(),
        )?;
        Ok(id)
    })
}
