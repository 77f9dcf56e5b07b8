//! What accounts tell people: a password reset link and a team invitation, written to the outbox in the caller's
//! transaction.

use super::store::users::User;
use crate::platform::db::DbConn;
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

/// How long a password reset link works.
pub const RESET_VALID_MINUTES: i64 = 60;
/// How long an invitation to join a partner's team works.
pub const INVITATION_VALID_DAYS: i64 = 7;

pub struct PasswordReset {
    pub frame: Frame,
    pub name: String,
    pub reset_url: String,
    pub valid_minutes: i64,
}
email_message!(
    PasswordReset,
    "password_reset",
    "email/password_reset/subject.txt",
    "email/password_reset/body.txt",
    "email/password_reset/body.html"
);

pub struct TeamInvitation {
    pub frame: Frame,
    pub org_name: String,
    pub inviter_name: String,
    pub accept_url: String,
    pub valid_days: i64,
}
email_message!(
    TeamInvitation,
    "team_invitation",
    "email/team_invitation/subject.txt",
    "email/team_invitation/body.txt",
    "email/team_invitation/body.html"
);

pub fn password_reset(
    conn: &mut DbConn,
    base_url: &str,
    user: &User,
    token: &str,
) -> Result<(), NotifyError> {
    let frame = crate::programs::mail_frame(conn, base_url)?;
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
    let frame = crate::programs::mail_frame(conn, base_url)?;
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
