//! What an org is told when it stops qualifying for its tier: a warning with the date it moves down, written to
//! the outbox by the hourly `tier_recalculation` job in the same transaction as the warning itself.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::store::users;
use crate::partners::store::PartnerOrg;
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;
use crate::programs;

/// The placement job, hourly: every approved org moves to the highest tier it qualifies for.
pub fn job() -> Job {
    Job::new(
        "tier_recalculation",
        Duration::from_secs(3600),
        "Places every approved org in the highest tier it qualifies for",
        |ctx: Arc<JobContext>| async move {
            let base_url = ctx.settings.base_url.clone();
            let done = ctx
                .db(move |conn| super::recalculate_all(conn, &base_url, now()))
                .await?;
            Ok(match (done.moved, done.warned) {
                (0, 0) => String::new(),
                (moved, warned) => format!("{moved} moved, {warned} warned"),
            })
        },
    )
}

pub struct TierWarning {
    pub frame: Frame,
    pub org_name: String,
    pub tier_name: String,
    /// The date the org moves down unless it qualifies again, "2026-12-31".
    pub until: String,
    pub numbers: String,
    pub portal_url: String,
}
email_message!(
    TierWarning,
    "tier_warning",
    "email/tier_warning/subject.txt",
    "email/tier_warning/body.txt",
    "email/tier_warning/body.html"
);

/// Warns an org's contacts that it no longer qualifies for its tier and when it will move down.
pub fn tier_warning(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    tier_name: &str,
    until: chrono::NaiveDateTime,
    numbers: &str,
) -> Result<(), NotifyError> {
    let frame = programs::mail_frame(conn, base_url)?;
    for contact in users::org_contacts(conn, org.id)? {
        let email = TierWarning {
            frame: frame.clone(),
            org_name: org.name.clone(),
            tier_name: tier_name.to_string(),
            until: until.format("%Y-%m-%d").to_string(),
            numbers: numbers.to_string(),
            portal_url: frame.link("/portal"),
        };
        outbox::enqueue(conn, &email.render(&contact.email)?)?;
    }
    Ok(())
}
