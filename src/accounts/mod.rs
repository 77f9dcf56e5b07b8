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
use crate::platform::rate_limit;

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

/// Reset requests one address may make per hour (more are answered alike and send nothing), and one IP per hour
/// across addresses (more are refused with 429, for known and unknown addresses alike).
pub const RESETS_PER_ADDRESS_PER_HOUR: i64 = 3;
pub const RESETS_PER_IP_PER_HOUR: i64 = 10;

/// Someone asked to reset the password of `email`: an active account gets a link valid for an hour; an unknown or
/// disabled address gets nothing, and the caller's page says the same either way. Limited per address (quietly:
/// the answer is the same) and per IP (`Err(Exceeded)`, whatever the address).
#[tracing::instrument(skip_all)]
pub fn request_password_reset(
    conn: &mut DbConn,
    base_url: &str,
    email: &EmailAddress,
    ip: &str,
) -> Result<Result<(), rate_limit::Exceeded>, crate::platform::mail::NotifyError> {
    use diesel::Connection;
    let now = crate::platform::db::now();
    let hour = chrono::Duration::hours(1);
    let per_ip = rate_limit::Limit::new(format!("reset:ip:{ip}"), RESETS_PER_IP_PER_HOUR, hour);
    if let Err(exceeded) = rate_limit::attempt(conn, &[per_ip], now)? {
        return Ok(Err(exceeded));
    }
    let per_address = rate_limit::Limit::new(
        rate_limit::address_bucket("reset", email.as_str()),
        RESETS_PER_ADDRESS_PER_HOUR,
        hour,
    );
    if rate_limit::attempt(conn, &[per_address], now)?.is_err() {
        tracing::info!("password reset requests for one address over the limit; nothing sent");
        return Ok(Ok(()));
    }
    conn.transaction(|conn| {
        let Some(user) = users::find_by_email(conn, email.as_str())?.filter(|u| u.active) else {
            return Ok(Ok(()));
        };
        let token = crate::platform::auth::token::new_token();
        store::password_resets::create(
            conn,
            user.id,
            &crate::platform::auth::token::hash_token(&token),
            now,
            now + chrono::Duration::minutes(notices::RESET_VALID_MINUTES),
        )?;
        notices::password_reset(conn, base_url, &user, &token).map(Ok)
    })
}
