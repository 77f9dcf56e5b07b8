//! What deal registrations tell people: every decision and change to the registering rep and the org's partner
//! admins, and overdue registrations to the staff; and the two jobs that act on time (SLA escalation, expiry).

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::store::users;
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

/// The SLA escalation job, every five minutes.
pub fn sla_job() -> Job {
    Job::new(
        "deal_sla",
        Duration::from_secs(300),
        "Emails the program's staff once about each registration waiting past the approval SLA",
        deal_sla,
    )
}

/// The expiry job, hourly.
pub fn expiry_job() -> Job {
    Job::new(
        "deal_expiry",
        Duration::from_secs(3600),
        "Warns a week before deal protection ends, and expires deals whose protection passed",
        deal_expiry,
    )
}

async fn deal_sla(ctx: Arc<JobContext>) -> anyhow::Result<String> {
    let base_url = ctx.settings.base_url.clone();
    let escalated = ctx
        .db(move |conn| {
            let program = crate::programs::current(conn)?;
            let notify = |conn: &mut DbConn, deal: &_, partner: &str, clock: &_| {
                deal_overdue(conn, &base_url, deal, partner, clock)
            };
            super::escalate_overdue(conn, &program, now(), &notify)
        })
        .await?;
    Ok(if escalated == 0 {
        String::new()
    } else {
        format!("{escalated} escalated")
    })
}

async fn deal_expiry(ctx: Arc<JobContext>) -> anyhow::Result<String> {
    let base_url = ctx.settings.base_url.clone();
    let run = ctx
        .db(move |conn| {
            let notify = |conn: &mut DbConn, deal: &_, notice: &_| {
                deal_notice(conn, &base_url, deal, notice)
            };
            super::run_expiry(conn, now(), &notify)
        })
        .await?;
    Ok(match (run.warned, run.expired) {
        (0, 0) => String::new(),
        (warned, expired) => format!("{warned} warned, {expired} expired"),
    })
}

pub struct DealUpdate {
    pub frame: Frame,
    pub org_name: String,
    pub deal_title: String,
    /// One sentence, also the subject: "Deal #12 Acme approved".
    pub headline: String,
    pub detail: String,
    pub reason: String,
    pub deal_url: String,
}
email_message!(
    DealUpdate,
    "deal_update",
    "email/deal_update/subject.txt",
    "email/deal_update/body.txt",
    "email/deal_update/body.html"
);

/// A registration waits past the approval SLA; sent once to the program's staff.
pub struct DealOverdue {
    pub frame: Frame,
    pub partner_name: String,
    pub deal_title: String,
    pub waiting: String,
    pub sla_hours: i64,
    pub review_url: String,
}
email_message!(
    DealOverdue,
    "deal_overdue",
    "email/deal_overdue/subject.txt",
    "email/deal_overdue/body.txt",
    "email/deal_overdue/body.html"
);

/// What happened to an MDF request or its claim; to the partner.
/// Tells the rep who registered a deal and the org's partner admins what happened to it.
pub fn deal_notice(
    conn: &mut DbConn,
    base_url: &str,
    deal: &crate::deals::Deal,
    notice: &crate::deals::DealNotice,
) -> Result<(), NotifyError> {
    use crate::deals::rules::DealDecision as D;
    use crate::deals::DealNotice as N;
    let frame = crate::programs::mail_frame(conn, base_url)?;
    let title = deal.title();
    let protected_until = deal
        .protection_until
        .map(|u| u.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let (headline, detail, reason) = match notice {
        N::Decided {
            decision: D::Approve,
            automatic,
            ..
        } => (
            format!("Deal {title} approved"),
            format!(
                "{}The customer is protected for you until {protected_until}. Move the deal through its stages as it progresses.",
                if *automatic { "It was approved automatically: no conflicts and below the program's auto-approval amount. " } else { "" }
            ),
            String::new(),
        ),
        N::Decided {
            decision: D::Reject,
            reason,
            ..
        } => (
            format!("Deal {title} was not approved"),
            "The registration was rejected.".to_string(),
            reason.clone(),
        ),
        N::Decided {
            decision: D::RequestInfo,
            reason,
            ..
        } => (
            format!("Deal {title} needs more information"),
            "The approver needs more information before deciding. Update the registration and submit it again.".to_string(),
            reason.clone(),
        ),
        N::ExpiringSoon => (
            format!("Protection of deal {title} ends on {protected_until}"),
            "Unless the deal is won before then, its protection ends and the customer is open again. You can ask once for an extension from the deal's page.".to_string(),
            String::new(),
        ),
        N::Expired => (
            format!("Protection of deal {title} has ended"),
            "The protection period passed without a win, so the registration has expired.".to_string(),
            String::new(),
        ),
        N::ExtensionGranted { days } => (
            format!("Extension granted for deal {title}"),
            format!("Protection is extended by {days} days, until {protected_until}."),
            String::new(),
        ),
        N::ExtensionRefused { reason } => (
            format!("Extension refused for deal {title}"),
            format!("Protection still ends on {protected_until}."),
            reason.clone(),
        ),
        N::WinConfirmed { margin } => (
            format!("Win of deal {title} confirmed"),
            margin.clone(),
            String::new(),
        ),
        N::WinSentBack { reason } => (
            format!("Win of deal {title} not confirmed yet"),
            "The deal is open again; update it and report the win once it is settled.".to_string(),
            reason.clone(),
        ),
    };
    let org_name = crate::partners::store::find(conn, deal.program_id, deal.partner_org_id)?
        .map(|p| p.org.name)
        .unwrap_or_default();
    let mut recipients: Vec<String> = users::find(conn, deal.registered_by_user_id)?
        .filter(|u| u.active)
        .map(|u| vec![u.email])
        .unwrap_or_default();
    for admin in users::org_contacts(conn, deal.partner_org_id)? {
        if admin.role() == crate::accounts::role::Role::PartnerAdmin
            && !recipients.contains(&admin.email)
        {
            recipients.push(admin.email);
        }
    }
    for recipient in recipients {
        let email = DealUpdate {
            frame: frame.clone(),
            org_name: org_name.clone(),
            deal_title: title.clone(),
            headline: headline.clone(),
            detail: detail.clone(),
            reason: reason.clone(),
            deal_url: frame.link(&format!("/portal/deals/{}", deal.id)),
        };
        outbox::enqueue(conn, &email.render(&recipient)?)?;
    }
    Ok(())
}

/// Tells the program's staff, once, that a registration waits past the approval SLA.
pub fn deal_overdue(
    conn: &mut DbConn,
    base_url: &str,
    deal: &crate::deals::Deal,
    partner_name: &str,
    clock: &crate::deals::rules::SlaClock,
) -> Result<(), NotifyError> {
    let frame = crate::programs::mail_frame(conn, base_url)?;
    for staff in users::active_staff(conn)? {
        let email = DealOverdue {
            frame: frame.clone(),
            partner_name: partner_name.to_string(),
            deal_title: deal.title(),
            waiting: clock.text(),
            sla_hours: clock.sla_hours,
            review_url: frame.link(&format!("/admin/deals/{}", deal.id)),
        };
        outbox::enqueue(conn, &email.render(&staff.email)?)?;
    }
    Ok(())
}
