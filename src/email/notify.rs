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

/// Tells the org's contacts and the requester what happened to an MDF request or its claim.
pub fn mdf_notice(
    conn: &mut DbConn,
    base_url: &str,
    request: &crate::db::mdf::MdfRequest,
    notice: &crate::db::mdf::MdfNotice,
) -> Result<(), NotifyError> {
    use crate::db::mdf::MdfNotice as N;
    use crate::domain::mdf::Decision as D;
    let frame = frame(conn, base_url)?;
    let title = format!("MDF request #{} {}", request.id, request.title);
    let approved = request
        .approved()
        .map(|m| m.to_string())
        .unwrap_or_default();
    let due = request
        .claim_due_on
        .map(|d| d.to_string())
        .unwrap_or_default();
    let (headline, detail, reason) = match notice {
        N::RequestDecided { decision, reason } => match decision {
            D::Approve => (
                format!("{title} approved"),
                format!("{approved} is reserved for this activity (you asked for {}). After the activity, file your claim with proof of performance by {due}.", request.requested()),
                String::new(),
            ),
            D::Decline => (format!("{title} declined"), "The request was declined.".to_string(), reason.clone()),
            D::ReturnForInfo => (
                format!("{title} needs more information"),
                "Update the request and submit it again.".to_string(),
                reason.clone(),
            ),
        },
        N::ClaimDecided { decision, reason } => match decision {
            D::Approve => (
                format!("Claim for {title} approved"),
                "The reimbursement is in your balance and will be paid with the next payout.".to_string(),
                String::new(),
            ),
            D::Decline => (format!("Claim for {title} rejected"), "The claim was rejected.".to_string(), reason.clone()),
            D::ReturnForInfo => (
                format!("Claim for {title} needs more information"),
                format!("Correct the claim and file it again by {due}."),
                reason.clone(),
            ),
        },
        N::ClaimReminder => (
            format!("Claim for {title} due by {due}"),
            format!("{approved} is reserved for this activity. File the claim with proof of performance by {due}, or the reservation lapses."),
            String::new(),
        ),
        N::Lapsed => (
            format!("Reservation for {title} lapsed"),
            format!("No claim was filed by {due}, so the reserved {approved} is released."),
            String::new(),
        ),
    };
    let org_name = crate::db::mdf::org_name(conn, request.partner_org_id)?;
    let mut recipients: Vec<String> = users::find(conn, request.requested_by_user_id)?
        .filter(|u| u.active)
        .map(|u| vec![u.email])
        .unwrap_or_default();
    for contact in users::org_contacts(conn, request.partner_org_id)? {
        if !recipients.contains(&contact.email) {
            recipients.push(contact.email);
        }
    }
    for recipient in recipients {
        let email = MdfUpdate {
            frame: frame.clone(),
            org_name: org_name.clone(),
            headline: headline.clone(),
            detail: detail.clone(),
            reason: reason.clone(),
            request_url: frame.link(&format!("/portal/mdf/{}", request.id)),
        };
        outbox::enqueue(conn, &email.render(&recipient)?)?;
    }
    Ok(())
}

/// Tells the program's staff that an MDF request or claim waits for review.
pub fn mdf_review(
    conn: &mut DbConn,
    base_url: &str,
    request: &crate::db::mdf::MdfRequest,
    what: &str,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let partner_name = crate::db::mdf::org_name(conn, request.partner_org_id)?;
    for staff in users::active_staff(conn)? {
        let email = MdfReview {
            frame: frame.clone(),
            what: what.to_string(),
            partner_name: partner_name.clone(),
            title: request.label(),
            amount: request.requested().to_string(),
            review_url: frame.link(&format!("/admin/mdf/{}", request.id)),
        };
        outbox::enqueue(conn, &email.render(&staff.email)?)?;
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
    let org_name = crate::db::mdf::org_name(conn, payout.partner_org_id)?;
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
