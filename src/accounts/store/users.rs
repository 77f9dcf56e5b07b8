//! People who sign in: staff (no partner org) and partner users (exactly one org).

use diesel::prelude::*;

use crate::accounts::role::Role;
use crate::platform::db::schema::users;
use crate::platform::db::{now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub partner_org_id: Option<i64>,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub last_login_at: Option<chrono::NaiveDateTime>,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }

    /// The name to show: the display name, or the email when none was given.
    pub fn name(&self) -> &str {
        if self.display_name.trim().is_empty() {
            &self.email
        } else {
            &self.display_name
        }
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub partner_org_id: Option<i64>,
}

/// Inserts a user; a taken email surfaces as a unique violation (see `db::is_unique_violation`).
pub fn insert(conn: &mut DbConn, user: &NewUser<'_>) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values((
            users::email.eq(user.email),
            users::display_name.eq(user.display_name),
            users::password_hash.eq(user.password_hash),
            users::role.eq(user.role),
            users::partner_org_id.eq(user.partner_org_id),
            users::active.eq(true),
            users::created_at.eq(now()),
        ))
        .returning(users::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn admin_exists(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::role.eq(Role::Admin)),
    ))
    .get_result(conn)
}

pub fn list_for_org(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::partner_org_id.eq(partner_org_id))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

pub fn record_login(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(Some(now())))
        .execute(conn)
        .map(|_| ())
}

/// Who hears about decisions on a partner org: its active partner admins, or every active member when it has none.
pub fn org_contacts(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<Vec<User>> {
    let members: Vec<User> = list_for_org(conn, partner_org_id)?
        .into_iter()
        .filter(|u| u.active)
        .collect();
    let admins: Vec<User> = members
        .iter()
        .filter(|u| u.role() == Role::PartnerAdmin)
        .cloned()
        .collect();
    Ok(if admins.is_empty() { members } else { admins })
}

/// Active staff (admins and managers), who hear about new applications.
pub fn active_staff(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::role.eq_any([Role::Admin, Role::Manager]))
        .filter(users::active.eq(true))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("No such member of your team.")]
    NotInOrg,
    #[error("You cannot disable your own account.")]
    Yourself,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// A partner admin disables (or re-enables) a member of their own org. Disabling ends the member's sessions at
/// once; their records stay with the org.
pub fn set_member_active(
    conn: &mut DbConn,
    org_id: i64,
    member_id: i64,
    active: bool,
    actor: &crate::platform::audit::Actor,
) -> Result<(), MemberError> {
    conn.transaction(|conn| {
        let member = find(conn, member_id)?
            .filter(|u| u.partner_org_id == Some(org_id))
            .ok_or(MemberError::NotInOrg)?;
        if actor.user_id == Some(member_id) {
            return Err(MemberError::Yourself);
        }
        diesel::update(users::table.find(member_id))
            .set(users::active.eq(active))
            .execute(conn)?;
        if !active {
            super::sessions::delete_for_user(conn, member_id)?;
        }
        crate::platform::audit::record(
            conn,
            actor,
            if active {
                "user.enable"
            } else {
                "user.disable"
            },
            &crate::platform::audit::Subject {
                kind: "user",
                id: Some(member_id),
                label: &member.email,
            },
            &crate::platform::audit::Change {
                before: Some(if member.active { "active" } else { "disabled" }),
                after: Some(if active { "active" } else { "disabled" }),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}
