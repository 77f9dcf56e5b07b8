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

/// Sends the partner's statement of a paid payout: amount, period, the entries it settles, clawbacks netted.
pub fn payout_statement(
    conn: &mut DbConn,
    base_url: &str,
    payout: &crate::db::payouts::Payout,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let entries = crate::db::payouts::settled_entries(conn, payout.id)?;
    let amount = payout.amount();
    let netted = crate::domain::money::sum_minor(
        entries
            .iter()
            .filter(|e| e.amount_minor < 0)
            .map(|e| e.amount_minor),
    );
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let kind = e
                .kind
                .parse::<crate::ledger::rules::EntryKind>()
                .map(|k| k.label())
                .unwrap_or("Entry");
            format!(
                "{} {} {}: {}",
                e.created_at.format("%Y-%m-%d"),
                kind,
                e.money(),
                e.explanation
            )
        })
        .collect();
    let org_name = crate::mdf::org_name(conn, payout.partner_org_id)?;
    let rail = payout
        .rail
        .parse::<crate::domain::payout::Rail>()
        .map(|r| r.label().to_string())
        .unwrap_or_default();
    for contact in users::org_contacts(conn, payout.partner_org_id)? {
        let email = PayoutStatement {
            frame: frame.clone(),
            org_name: org_name.clone(),
            payout_id: payout.id,
            amount: amount.to_string(),
            period: payout.period(),
            rail: rail.clone(),
            lines: lines.clone(),
            netted: crate::domain::money::Money::new(netted, amount.currency).to_string(),
            statement_url: frame.link(&format!("/portal/payouts/{}", payout.id)),
        };
        outbox::enqueue(conn, &email.render(&contact.email)?)?;
    }
    Ok(())
}
