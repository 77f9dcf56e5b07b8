//! People: users and their roles, signing in (`login`, throttled by `login_throttle`), sessions, password resets,
//! invitations to a partner's team, and the first-run setup. `create` is how accounts are made outside the web
//! forms: the CLI's `create-admin`, demo data and tests share it, so a password policy or email rule holds
//! everywhere.

pub mod login;
pub mod login_throttle;
pub mod notices;
pub mod role;
pub mod setup;
pub mod store;

use crate::accounts::role::Role;
use crate::accounts::store::users::{self, NewUser};
use crate::domain::email::EmailAddress;
use crate::platform::auth::password;
use crate::platform::db::{is_unique_violation, DbConn};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("password: {0}")]
    WeakPassword(String),
    #[error("an account with the email {0} already exists")]
    EmailTaken(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub struct NewAccount<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub partner_org_id: Option<i64>,
}

pub fn create(conn: &mut DbConn, account: &NewAccount<'_>) -> Result<i64, AccountError> {
    let email =
        EmailAddress::parse(account.email).map_err(|r| AccountError::InvalidEmail(r.into()))?;
    password::check_policy(account.password).map_err(|r| AccountError::WeakPassword(r.into()))?;
    let password_hash = password::hash(account.password);
    let new_user = NewUser {
        email: email.as_str(),
        display_name: account.display_name.trim(),
        password_hash: &password_hash,
        role: account.role,
        partner_org_id: account.partner_org_id,
    };
    users::insert(conn, &new_user).map_err(|e| {
        if is_unique_violation(&e) {
            AccountError::EmailTaken(email.to_string())
        } else {
            e.into()
        }
    })
}

/// Someone asked to reset the password of `email`: an active account gets a link valid for an hour; an unknown or
/// disabled address gets nothing, and the caller's page says the same either way.
#[tracing::instrument(skip_all)]
pub fn request_password_reset(
    conn: &mut DbConn,
    base_url: &str,
    email: &EmailAddress,
) -> Result<(), crate::platform::mail::NotifyError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let Some(user) = users::find_by_email(conn, email.as_str())?.filter(|u| u.active) else {
            return Ok(());
        };
        let token = crate::platform::auth::token::new_token();
        let now = crate::platform::db::now();
        store::password_resets::create(
            conn,
            user.id,
            &crate::platform::auth::token::hash_token(&token),
            now,
            now + chrono::Duration::minutes(notices::RESET_VALID_MINUTES),
        )?;
        notices::password_reset(conn, base_url, &user, &token)
    })
}
