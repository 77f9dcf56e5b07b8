//! The partner program: one per install for now; every other aggregate hangs off its id. Its settings are changed
//! here with an audit entry; its API keys (`api_keys`) let machines report conversions.

pub mod affiliate_settings;
pub mod api_keys;
pub mod store;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
pub use store::{current, rename, Program, DEFAULT_CURRENCY, DEFAULT_NAME};

/// Sets the partner agreement. A changed text becomes a new version, which every reseller org must accept again.
pub fn update_agreement(
    conn: &mut DbConn,
    program_id: i64,
    text: &str,
    actor: &Actor,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let before = store::current(conn)?;
        if before.agreement_text == text {
            return Ok(before.agreement_version);
        }
        let version = before.agreement_version + 1;
        store::write_agreement(conn, program_id, text, version)?;
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

/// What every email needs: the program's name and where the install lives.
pub fn mail_frame(conn: &mut DbConn, base_url: &str) -> QueryResult<crate::platform::mail::Frame> {
    Ok(crate::platform::mail::Frame {
        program_name: current(conn)?.name,
        base_url: base_url.to_string(),
    })
}
