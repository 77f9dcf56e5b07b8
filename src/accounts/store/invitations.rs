//! Team invitations: a partner admin invites a colleague by email; the colleague sets a password through the
//! emailed link (single-use token, hashed at rest) and joins the org.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::users::{self, NewUser};
use crate::accounts::role::Role;
use crate::platform::db::schema::{invitations, partner_orgs};
use crate::platform::db::{is_unique_violation, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: i64,
    pub partner_org_id: i64,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by_user_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl Invitation {
    pub fn role(&self) -> Role {
        self.role
    }
}

pub struct NewInvitation<'a> {
    pub partner_org_id: i64,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by_user_id: i64,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Records an invitation. An earlier open invitation of the same person to the same org is revoked, so only the
/// newest link works.
pub fn create(conn: &mut DbConn, invitation: &NewInvitation<'_>) -> QueryResult<i64> {
    diesel::update(
        invitations::table
            .filter(invitations::partner_org_id.eq(invitation.partner_org_id))
            .filter(invitations::email.eq(invitation.email))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(Some(invitation.now)))
    .execute(conn)?;
    diesel::insert_into(invitations::table)
        .values((
            invitations::partner_org_id.eq(invitation.partner_org_id),
            invitations::email.eq(invitation.email),
            invitations::role.eq(invitation.role),
            invitations::token_hash.eq(invitation.token_hash),
            invitations::invited_by_user_id.eq(Some(invitation.invited_by_user_id)),
            invitations::created_at.eq(invitation.now),
            invitations::expires_at.eq(invitation.expires_at),
        ))
        .returning(invitations::id)
        .get_result(conn)
}

/// An open invitation (not accepted, revoked or expired) and the name of its org.
pub fn find_open(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(Invitation, String)>> {
    invitations::table
        .inner_join(partner_orgs::table)
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(now))
        .select((Invitation::as_select(), partner_orgs::name))
        .first(conn)
        .optional()
}

pub fn list_open(
    conn: &mut DbConn,
    partner_org_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::partner_org_id.eq(partner_org_id))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(now))
        .order(invitations::id.desc())
        .select(Invitation::as_select())
        .load(conn)
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("This invitation is no longer valid. Ask your partner admin for a new one.")]
    NotOpen,
    #[error("An account with this email exists already. Sign in instead.")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Accepts an invitation: creates the user in the org, once.
pub fn accept(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
    display_name: &str,
    password_hash: &str,
) -> Result<i64, AcceptError> {
    conn.transaction(|conn| {
        let (invitation, _) = find_open(conn, token_hash, now)?.ok_or(AcceptError::NotOpen)?;
        let taken = diesel::update(
            invitations::table
                .filter(invitations::id.eq(invitation.id))
                .filter(invitations::accepted_at.is_null()),
        )
        .set(invitations::accepted_at.eq(Some(now)))
        .execute(conn)?;
        if taken != 1 {
            return Err(AcceptError::NotOpen);
        }
        let user = NewUser {
            email: &invitation.email,
            display_name,
            password_hash,
            role: invitation.role(),
            partner_org_id: Some(invitation.partner_org_id),
        };
        users::insert(conn, &user).map_err(|e| {
            if is_unique_violation(&e) {
                AcceptError::EmailTaken
            } else {
                e.into()
            }
        })
    })
}
