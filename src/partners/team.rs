//! A partner's team: a partner admin invites a colleague by email (the invitation link is valid for a week); the
//! org must be approved. The form never tells which addresses have accounts elsewhere: an invitation to one is
//! answered like any other, and its link says to sign in instead. Invitations are limited per org, per address
//! and per IP each day.

use chrono::Duration;

use crate::accounts::notices::INVITATION_VALID_DAYS;
use crate::accounts::role::Role;
use crate::accounts::store::invitations::{self, NewInvitation};
use crate::accounts::store::users::{self, User};
use crate::domain::email::EmailAddress;
use crate::domain::partner::PartnerStatus;
use crate::platform::auth::token::{hash_token, new_token};
use crate::platform::db::DbConn;
use crate::platform::rate_limit::{self, Limit};
use crate::platform::use_case::UseCaseError;

/// Invitations one org may send a day, one address may receive, and one IP may send.
pub const INVITATIONS_PER_ORG_PER_DAY: i64 = 20;
pub const INVITATIONS_PER_ADDRESS_PER_DAY: i64 = 3;
pub const INVITATIONS_PER_IP_PER_DAY: i64 = 30;

/// Counts the invitation against the day's limits, or says which one is reached.
fn count_invitation(
    conn: &mut DbConn,
    org_id: i64,
    invitee: &EmailAddress,
    ip: &str,
) -> Result<(), UseCaseError> {
    let day = Duration::days(1);
    let per_org = Limit::new(
        format!("invite:org:{org_id}"),
        INVITATIONS_PER_ORG_PER_DAY,
        day,
    );
    let per_address = Limit::new(
        rate_limit::address_bucket("invite", invitee.as_str()),
        INVITATIONS_PER_ADDRESS_PER_DAY,
        day,
    );
    let per_ip = Limit::new(format!("invite:ip:{ip}"), INVITATIONS_PER_IP_PER_DAY, day);
    let limits = [per_org, per_address, per_ip];
    let now = crate::platform::db::now();
    let Err(exceeded) = rate_limit::attempt(conn, &limits, now)? else {
        return Ok(());
    };
    let wait = match exceeded.minutes_to_wait(now) {
        m if m > 90 => format!("{} hours", (m + 59) / 60),
        m => format!("{m} minutes"),
    };
    let what = if exceeded.bucket == limits[0].bucket {
        format!("Your team can send {INVITATIONS_PER_ORG_PER_DAY} invitations a day")
    } else if exceeded.bucket == limits[1].bucket {
        format!("One address can be invited {INVITATIONS_PER_ADDRESS_PER_DAY} times a day")
    } else {
        "Too many invitations came from your network today".to_string()
    };
    Err(UseCaseError::Field(
        "email",
        format!("{what}; try again in {wait}."),
    ))
}

/// Invites `invitee` to `inviter`'s org with `role`, and writes the invitation email, in one transaction.
#[tracing::instrument(skip_all, fields(org_id = org_id))]
pub fn invite_colleague(
    conn: &mut DbConn,
    base_url: &str,
    org_id: i64,
    inviter: &User,
    invitee: &EmailAddress,
    role: Role,
    ip: &str,
) -> Result<(), UseCaseError> {
    use diesel::Connection;
    count_invitation(conn, org_id, invitee, ip)?;
    conn.transaction(|conn| {
        let partner =
            crate::partners::store::overview(conn, org_id)?.ok_or(UseCaseError::NotFound)?;
        if partner.org.status != PartnerStatus::Approved {
            return Err(UseCaseError::Field(
                "email",
                "Your partnership must be approved before you can invite colleagues.".into(),
            ));
        }
        let existing = users::find_by_email(conn, invitee.as_str())?;
        if existing.is_some_and(|u| u.partner_org_id == Some(org_id)) {
            return Err(UseCaseError::Field(
                "email",
                format!("{invitee} is already on your team."),
            ));
        }
        // An account elsewhere (another org, or staff) is not revealed: the invitation goes out like any other,
        // and accepting it says the address has an account already.
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
