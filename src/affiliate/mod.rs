//! The affiliate side: links and the tracked redirect (`tracking`, with its click journal), coupons and customer
//! bindings (`store`), conversions with attribution, fraud checks, commissions and refunds (`conversions`), the
//! program's affiliate settings (`update_settings`), and the performance figures a dashboard shows (`stats`).

pub mod attribution;
pub mod conversions;
pub mod fraud;
pub mod rules;
pub mod stats;
pub mod store;
pub mod tracking;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
use crate::programs::affiliate_settings::AffiliateSettings;

/// Saves the affiliate settings. Changed terms text gets a new terms version, so acceptances can be told apart.
pub fn update_settings(
    conn: &mut DbConn,
    program_id: i64,
    settings: &AffiliateSettings,
    actor: &Actor,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let before = crate::programs::current(conn)?;
        let terms_version = if before.terms_text != settings.terms_text {
            before.terms_version + 1
        } else {
            before.terms_version
        };
        crate::programs::store::write_affiliate_settings(
            conn,
            program_id,
            settings,
            terms_version,
        )?;
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

/// Why a new referral link was not made.
#[derive(Debug, thiserror::Error)]
pub enum NewLinkError {
    #[error("You have {0} links, as many as the program allows. Reuse one, with a sub-id to tell uses apart.")]
    CapReached(i64),
    #[error(transparent)]
    Write(#[from] store::links::LinkWriteError),
}

impl From<diesel::result::Error> for NewLinkError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Write(e.into())
    }
}

/// Creates a referral link for an affiliate, with the code asked for or (when `link.code` is empty) a random one,
/// unless the org has `max_links` already. The count and the insert run under a lock on the org's links, so
/// concurrent requests cannot pass the cap together. Returns the code.
pub fn create_link(
    conn: &mut DbConn,
    link: &store::links::NewLink<'_>,
    max_links: i64,
) -> Result<String, NewLinkError> {
    conn.transaction(|conn| {
        crate::platform::rate_limit::lock_buckets(
            conn,
            &[&format!("links:org:{}", link.partner_org_id)],
        )?;
        if store::links::count_for(conn, link.partner_org_id)? >= max_links {
            return Err(NewLinkError::CapReached(max_links));
        }
        if link.code.is_empty() {
            Ok(store::links::create_with_random_code(conn, link)?.1)
        } else {
            Ok(store::links::create(conn, link).map(|_| link.code.to_string())?)
        }
    })
}
