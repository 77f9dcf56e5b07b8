//! A partner's team: a partner admin invites a colleague by email (the invitation link is valid for a week); the
//! org must be approved, and an address that already has an account cannot be invited.

use chrono::Duration;

use crate::accounts::notices::INVITATION_VALID_DAYS;
use crate::accounts::role::Role;
use crate::accounts::store::invitations::{self, NewInvitation};
use crate::accounts::store::users::{self, User};
use crate::domain::email::EmailAddress;
use crate::domain::partner::PartnerStatus;
use crate::platform::auth::token::{hash_token, new_token};
use crate::platform::db::DbConn;
use crate::platform::use_case::UseCaseError;

/// Invites `invitee` to `inviter`'s org with `role`, and writes the invitation email, in one transaction.
#[tracing::instrument(skip_all, fields(org_id = org_id))]
pub fn invite_colleague(
    conn: &mut DbConn,
    base_url: &str,
    org_id: i64,
    inviter: &User,
    invitee: &EmailAddress,
    role: Role,
) -> Result<(), UseCaseError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let partner =
            crate::partners::store::overview(conn, org_id)?.ok_or(UseCaseError::NotFound)?;
        if partner.org.status != PartnerStatus::Approved {
            return Err(UseCaseError::Field(
                "email",
                "Your partnership must be approved before you can invite colleagues.".into(),
            ));
        }
        if users::find_by_email(conn, invitee.as_str())?.is_some() {
            return Err(UseCaseError::Field(
                "email",
                "That person already has an account.".into(),
            ));
        }
        let token = new_token();
        let now = crate::platform::db::now();
        invitations::create(
            conn,
            &NewInvitation {
                partner_org_id: org_id,
                email: invitee.as_str(),
                role,
                token_hash: &hash_token(&token),
                invited_by_user_id: inviter.id,
                now,
                expires_at: now + Duration::days(INVITATION_VALID_DAYS),
            },
        )?;
        crate::accounts::notices::team_invitation(
            conn,
            base_url,
            &partner.org.name,
            inviter,
            invitee.as_str(),
            &token,
        )?;
        Ok(())
    })
}
