//! What certification holders are told: a reminder before a certification expires, once each, written to the
//! outbox by the `certification_reminders` job.

use std::sync::Arc;
use std::time::Duration;

use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

/// How long before expiry a certification holder is reminded.
pub const CERTIFICATION_REMINDER_DAYS: i64 = 30;

/// The reminder job, hourly.
pub fn job() -> Job {
    Job::new(
        "certification_reminders",
        Duration::from_secs(3600),
        "Reminds holders 30 days before a certification expires",
        |ctx: Arc<JobContext>| async move {
            let base_url = ctx.settings.base_url.clone();
            let sent = ctx
                .db(move |conn| certification_reminders(conn, &base_url, now()))
                .await?;
            Ok(if sent == 0 {
                String::new()
            } else {
                format!("{sent} reminded")
            })
        },
    )
}

pub struct CertificationExpiring {
    pub frame: Frame,
    pub name: String,
    pub course: String,
    pub expires: String,
    pub course_url: String,
}
email_message!(
    CertificationExpiring,
    "certification_expiring",
    "email/certification_expiring/subject.txt",
    "email/certification_expiring/body.txt",
    "email/certification_expiring/body.html"
);

/// Something happened to a registered deal: a decision, a protection warning or expiry, an extension answer, a
/// win confirmed or sent back.
/// Reminds holders of certifications expiring within `CERTIFICATION_REMINDER_DAYS`, once each. Returns how many.
pub fn certification_reminders(
    conn: &mut DbConn,
    base_url: &str,
    at: chrono::NaiveDateTime,
) -> Result<usize, NotifyError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let frame = crate::programs::mail_frame(conn, base_url)?;
        let due = crate::training::store::claim_reminders(conn, at, CERTIFICATION_REMINDER_DAYS)?;
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
