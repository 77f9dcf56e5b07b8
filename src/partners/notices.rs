//! What partners and staff are told about applications and decisions, written to the outbox (and announced to
//! webhook endpoints) in the caller's transaction.

use super::store::PartnerOrg;
use crate::accounts::store::users::{self, User};
use crate::domain::partner::PartnerStatus;
use crate::platform::db::DbConn;
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

pub struct ApplicationReceived {
    pub frame: Frame,
    pub org_name: String,
    pub applicant_name: String,
    pub status_url: String,
}
email_message!(
    ApplicationReceived,
    "application_received",
    "email/application_received/subject.txt",
    "email/application_received/body.txt",
    "email/application_received/body.html"
);

pub struct NewApplication {
    pub frame: Frame,
    pub org_name: String,
    pub kind_label: String,
    pub review_url: String,
}
email_message!(
    NewApplication,
    "new_application",
    "email/new_application/subject.txt",
    "email/new_application/body.txt",
    "email/new_application/body.html"
);

pub struct PartnerApproved {
    pub frame: Frame,
    pub org_name: String,
    /// True when a suspended partner is reinstated rather than newly approved.
    pub reinstated: bool,
    pub portal_url: String,
}
email_message!(
    PartnerApproved,
    "partner_approved",
    "email/partner_approved/subject.txt",
    "email/partner_approved/body.txt",
    "email/partner_approved/body.html"
);

pub struct PartnerRejected {
    pub frame: Frame,
    pub org_name: String,
    pub reason: String,
}
email_message!(
    PartnerRejected,
    "partner_rejected",
    "email/partner_rejected/subject.txt",
    "email/partner_rejected/body.txt",
    "email/partner_rejected/body.html"
);

pub struct PartnerSuspended {
    pub frame: Frame,
    pub org_name: String,
    pub reason: String,
}
email_message!(
    PartnerSuspended,
    "partner_suspended",
    "email/partner_suspended/subject.txt",
    "email/partner_suspended/body.txt",
    "email/partner_suspended/body.html"
);

/// Tells the partner's contacts about an approval, rejection, suspension or reinstatement.
pub fn partner_decided(
    conn: &mut DbConn,
    base_url: &str,
    org: &PartnerOrg,
    from: PartnerStatus,
    to: PartnerStatus,
    reason: Option<&str>,
) -> Result<(), NotifyError> {
    if to == PartnerStatus::Approved {
        crate::webhooks::emit(
            conn,
            org.program_id,
            crate::webhooks::EventType::PartnerApproved,
            serde_json::json!({"partner_id": org.id, "name": org.name, "kind": org.kind,
                "reinstated": from == PartnerStatus::Suspended}),
        )?;
    }
    let frame = crate::programs::mail_frame(conn, base_url)?;
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
    crate::webhooks::emit(
        conn,
        org.program_id,
        crate::webhooks::EventType::PartnerApplied,
        serde_json::json!({"partner_id": org.id, "name": org.name, "kind": org.kind}),
    )?;
    let frame = crate::programs::mail_frame(conn, base_url)?;
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
