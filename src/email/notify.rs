//! Notifications written to the outbox inside the caller's transaction: if the decision rolls back, so does the
//! message; if the process dies after commit, the outbox job still delivers it.

use super::messages::*;
use super::NotifyError;
use crate::db::partners::PartnerOrg;
use crate::db::users::User;
use crate::db::{outbox, programs, users, DbConn};
use crate::domain::partner::PartnerStatus;

pub const RESET_VALID_MINUTES: i64 = 60;
/// How long before expiry a certification holder is reminded.
pub const CERTIFICATION_REMINDER_DAYS: i64 = 30;
pub const INVITATION_VALID_DAYS: i64 = 7;

fn frame(conn: &mut DbConn, base_url: &str) -> Result<Frame, NotifyError> {
    Ok(Frame {
        program_name: programs::current(conn)?.name,
        base_url: base_url.to_string(),
    })
}

/// Tells the partner's contacts about an approval, rejection, suspension or reinstatement.
pub fn partner_decided(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    from: PartnerStatus,
    to: PartnerStatus,
    reason: Option<&str>,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let reason = reason.unwrap_or("").trim().to_string();
    for contact in users::org_contacts(conn, org.id)? {
        let email = match to {
            PartnerStatus::Approved => PartnerApproved {
                frame: frame.clone(),
                org_name: org.name.clone(),
                reinstated: from == PartnerStatus::Suspended,
                portal_url: frame.link("/portal"),
            }
            .render(&contact.email)?,
            PartnerStatus::Rejected => PartnerRejected {
                frame: frame.clone(),
                org_name: org.name.clone(),
                reason: reason.clone(),
            }
            .render(&contact.email)?,
            PartnerStatus::Suspended => PartnerSuspended {
                frame: frame.clone(),
                org_name: org.name.clone(),
                reason: reason.clone(),
            }
            .render(&contact.email)?,
            PartnerStatus::Applied => continue,
        };
        outbox::enqueue(conn, &email)?;
    }
    Ok(())
}

/// Confirms an application to the applicant and tells the staff it waits for them. For `/join` and `/apply`.
pub fn application_submitted(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    applicant: &User,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let received = ApplicationReceived {
        frame: frame.clone(),
        org_name: org.name.clone(),
        applicant_name: applicant.name().to_string(),
        status_url: frame.link("/portal"),
    };
    outbox::enqueue(conn, &received.render(&applicant.email)?)?;
    for staff in users::active_staff(conn)? {
        let new = NewApplication {
            frame: frame.clone(),
            org_name: org.name.clone(),
            kind_label: org.kind().label().to_lowercase(),
            review_url: frame.link(&format!("/admin/partners/{}", org.id)),
        };
        outbox::enqueue(conn, &new.render(&staff.email)?)?;
    }
    Ok(())
}

pub fn password_reset(
    conn: &mut DbConn,
    base_url: &str,
    user: &User,
    token: &str,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let email = PasswordReset {
        reset_url: frame.link(&format!("/password-reset/{token}")),
        frame,
        name: user.name().to_string(),
        valid_minutes: RESET_VALID_MINUTES,
    };
    outbox::enqueue(conn, &email.render(&user.email)?)?;
    Ok(())
}

pub fn team_invitation(
    conn: &mut DbConn,
    base_url: &str,
    org_name: &str,
    inviter: &User,
    invitee_email: &str,
    token: &str,
) -> Result<(), NotifyError> {
    let frame = frame(conn, base_url)?;
    let email = TeamInvitation {
        accept_url: frame.link(&format!("/invitations/{token}")),
        frame,
        org_name: org_name.to_string(),
        inviter_name: inviter.name().to_string(),
        valid_days: INVITATION_VALID_DAYS,
    };
    outbox::enqueue(conn, &email.render(invitee_email)?)?;
    Ok(())
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

/// Reminds holders of certifications expiring within `CERTIFICATION_REMINDER_DAYS`, once each. Returns how many.
pub fn certification_reminders(
    conn: &mut DbConn,
    base_url: &str,
    at: chrono::NaiveDateTime,
) -> Result<usize, NotifyError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let frame = frame(conn, base_url)?;
        let due = crate::db::training::claim_reminders(conn, at, CERTIFICATION_REMINDER_DAYS)?;
        for (certification, email, name, course) in &due {
            let message = CertificationExpiring {
                frame: frame.clone(),
                name: if name.trim().is_empty() {
                    email.clone()
                } else {
                    name.clone()
                },
                course: course.clone(),
                expires: certification.expires_at.format("%Y-%m-%d").to_string(),
                course_url: frame.link(&format!("/portal/training/{}", certification.course_id)),
            };
            outbox::enqueue(conn, &message.render(email)?)?;
        }
        Ok(due.len())
    })
}
