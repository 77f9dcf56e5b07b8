//! What MDF tells people: each decision and deadline to the requesting org, and new requests and claims to the
//! staff; and the deadline job (fund expiry, claim reminders, lapsed reservations).

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::store::users;
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

/// The deadline job, hourly.
pub fn job() -> Job {
    Job::new(
        "mdf_deadlines",
        Duration::from_secs(3600),
        "Expires MDF funds at their period end, reminds partners of claims due within a week, and releases reservations whose claim deadline passed",
        mdf_deadlines,
    )
}

async fn mdf_deadlines(ctx: Arc<JobContext>) -> anyhow::Result<String> {
    let base_url = ctx.settings.base_url.clone();
    let (expired, run) = ctx
        .db(move |conn| {
            let program = crate::programs::current(conn)?;
            let today = now().date();
            let expired = super::expire_funds(conn, program.id, today)?;
            let notify = |conn: &mut DbConn, request: &_, notice: &_| {
                mdf_notice(conn, &base_url, request, notice)
            };
            let run = super::run_claim_deadlines(conn, program.id, today, &notify)?;
            Ok::<_, super::MdfError>((expired, run))
        })
        .await?;
    Ok(match (expired, run.reminded, run.lapsed) {
        (0, 0, 0) => String::new(),
        (expired, reminded, lapsed) => format!(
            "{expired} funds expired, {reminded} claims reminded, {lapsed} reservations lapsed"
        ),
    })
}

pub struct MdfUpdate {
    pub frame: Frame,
    pub org_name: String,
    /// One sentence, also the subject: "MDF request #3 Trade show approved".
    pub headline: String,
    pub detail: String,
    pub reason: String,
    pub request_url: String,
}
email_message!(
    MdfUpdate,
    "mdf_update",
    "email/mdf_update/subject.txt",
    "email/mdf_update/body.txt",
    "email/mdf_update/body.html"
);

/// An MDF request or claim waits for review; to the program's staff.
pub struct MdfReview {
    pub frame: Frame,
    /// "A new MDF request", "An MDF claim"...
    pub what: String,
    pub partner_name: String,
    pub title: String,
    pub amount: String,
    pub review_url: String,
}
email_message!(
    MdfReview,
    "mdf_review",
    "email/mdf_review/subject.txt",
    "email/mdf_review/body.txt",
    "email/mdf_review/body.html"
);

/// A payout was paid; to the partner, with what it settles.
/// Tells the org's contacts and the requester what happened to an MDF request or its claim.
pub fn mdf_notice(
    conn: &mut DbConn,
    base_url: &str,
    request: &crate::mdf::MdfRequest,
    notice: &crate::mdf::MdfNotice,
) -> Result<(), NotifyError> {
    use crate::mdf::rules::Decision as D;
    use crate::mdf::MdfNotice as N;
    let frame = crate::programs::mail_frame(conn, base_url)?;
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
    let org_name = crate::mdf::org_name(conn, request.partner_org_id)?;
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
    request: &crate::mdf::MdfRequest,
    what: &str,
) -> Result<(), NotifyError> {
    let frame = crate::programs::mail_frame(conn, base_url)?;
    let partner_name = crate::mdf::org_name(conn, request.partner_org_id)?;
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
