//! The partner program: one per install for now; every other aggregate hangs off its id. Its settings are changed
//! here with an audit entry; its API keys (`api_keys`) let machines report conversions.

pub mod api_keys;
pub mod store;

use diesel::prelude::*;

use crate::domain::affiliate::AffiliateSettings;
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
pub use store::{current, rename, Program, DEFAULT_CURRENCY, DEFAULT_NAME};

/// Saves the affiliate settings. Changed terms text gets a new terms version, so acceptances can be told apart.
pub fn update_affiliate_settings(
    conn: &mut DbConn,
    program_id: i64,
    settings: &AffiliateSettings,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let before = store::current(conn)?;
        let terms_version = if before.terms_text != settings.terms_text {
            before.terms_version + 1
        } else {
            before.terms_version
        };
        store::write_affiliate_settings(conn, program_id, settings, terms_version)?;
        let summary = |window: i64, model: &str, auto: bool, version: i64| {
            format!(
                "cookie window {window} days, {model}, auto-approve {}, terms v{version}",
                if auto { "on" } else { "off" }
            )
        };
        audit::record(
            conn,
            actor,
            "program.settings",
            &Subject {
                kind: "program",
                id: Some(program_id),
                label: &before.name,
            },
            &Change {
                reason: None,
                before: Some(&summary(
                    before.cookie_window_days,
                    &before.attribution_model,
                    before.auto_approve_affiliates,
                    before.terms_version,
                )),
                after: Some(&summary(
                    settings.cookie_window_days,
                    settings.attribution_model.as_str(),
                    settings.auto_approve_affiliates,
                    terms_version,
                )),
            },
        )?;
        Ok(())
    })
}

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
