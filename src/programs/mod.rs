//! The partner program: one per install for now; every other aggregate hangs off its id. Its settings are changed
//! here with an audit entry; its API keys (`api_keys`) let machines report conversions.

pub mod affiliate_settings;
pub mod api_keys;
pub mod store;

use diesel::prelude::*;

use crate::platform::db::DbConn;
pub use store::{current, rename, Program, DEFAULT_CURRENCY, DEFAULT_NAME};

/// What every email needs: the program's name and where the install lives.
pub fn mail_frame(conn: &mut DbConn, base_url: &str) -> QueryResult<crate::platform::mail::Frame> {
    Ok(crate::platform::mail::Frame {
        program_name: current(conn)?.name,
        base_url: base_url.to_string(),
    })
}
