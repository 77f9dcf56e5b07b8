//! Signing in: throttling, the password check and a new server-side session, in three steps so that the argon2
//! check (tens of milliseconds of CPU) holds no database connection.

use chrono::Duration;

use crate::accounts::login_throttle;
use crate::accounts::store::{login_attempts, sessions, users};
use crate::domain::email::EmailAddress;
use crate::platform::auth::password;
use crate::platform::auth::token::{hash_token, new_token};
use crate::platform::db::{self, DbConn};

pub fn session_lifetime() -> Duration {
    Duration::days(14)
}

pub enum LoginOutcome {
    /// Signed in: the user and the new session's token for the cookie.
    Success {
        user: users::User,
        session_token: String,
    },
    WrongCredentials,
    Disabled,
    Throttled {
        minutes: i64,
    },
}

/// What is known before the password is checked: the address is throttled, or here is the user (if any).
pub enum BeforePassword {
    Throttled { minutes: i64 },
    Check(Option<users::User>),
}

/// Step one of signing in (database): refuses a throttled address, else finds the user.
#[tracing::instrument(skip_all)]
pub fn before_password(
    conn: &mut DbConn,
    email: &EmailAddress,
) -> diesel::QueryResult<BeforePassword> {
    let now = db::now();
    let failures =
        login_attempts::failures_since(conn, email.as_str(), login_throttle::window_start(now))?;
    if let Some(retry_at) = login_throttle::refused_until(&failures, now) {
        return Ok(BeforePassword::Throttled {
            minutes: login_throttle::minutes_to_wait(retry_at, now),
        });
    }
    Ok(BeforePassword::Check(users::find_by_email(
        conn,
        email.as_str(),
    )?))
}

/// Step two (CPU, no connection held): the argon2 check; an unknown address costs the same time as a known one.
pub fn check_password(user: Option<&users::User>, password_typed: &str) -> bool {
    match user {
        Some(user) => password::verify(password_typed, &user.password_hash),
        None => {
            password::verify_against_nothing(password_typed);
            false
        }
    }
}

/// Step three (database): records the attempt and, for a verified active user, starts a session.
#[tracing::instrument(skip_all)]
pub fn after_password(
    conn: &mut DbConn,
    email: &EmailAddress,
    user: Option<users::User>,
    verified: bool,
    ip: &str,
) -> diesel::QueryResult<LoginOutcome> {
    login_attempts::record(conn, email.as_str(), verified, ip, db::now())?;
    let Some(user) = user.filter(|_| verified) else {
        return Ok(LoginOutcome::WrongCredentials);
    };
    if !user.active {
        return Ok(LoginOutcome::Disabled);
    }
    let session_token = start_session(conn, user.id)?;
    Ok(LoginOutcome::Success {
        user,
        session_token,
    })
}

/// Creates a server-side session for a user and returns the token for the cookie.
pub fn start_session(conn: &mut DbConn, user_id: i64) -> diesel::QueryResult<String> {
    let now = db::now();
    let token = new_token();
    sessions::create(
        conn,
        user_id,
        &hash_token(&token),
        now,
        now + session_lifetime(),
    )?;
    users::record_login(conn, user_id)?;
    Ok(token)
}
