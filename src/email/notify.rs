//! Notifications written to the outbox inside the caller's transaction: if the decision rolls back, so does the
//! message; if the process dies after commit, the outbox job still delivers it.

use super::messages::*;
use crate::accounts::store::users;
use crate::partners::store::PartnerOrg;
use crate::platform::db::DbConn;
use crate::platform::mail::NotifyError;
use crate::platform::outbox;
use crate::programs;

fn frame(conn: &mut DbConn, base_url: &str) -> Result<Frame, NotifyError> {
    Ok(Frame {
        program_name: programs::current(conn)?.name,
        base_url: base_url.to_string(),
    })
}

/// Warns an org's contacts that it no longer qualifies for its tier and when it will move down.
pub fn tier_warning(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    tier_name: &str,
    until: chrono::NaiveDateTime,
    numbers: &str,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
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
