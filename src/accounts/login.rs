//! Signing in: throttling, password check and a new server-side session, as one blocking unit of work.

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

pub fn attempt(
    conn: &mut DbConn,
    email: &EmailAddress,
    password_typed: &str,
    ip: &str,
) -> diesel::QueryResult<LoginOutcome> {
    let now = db::now();
    let failures =
        login_attempts::failures_since(conn, email.as_str(), login_throttle::window_start(now))?;
    if let Some(retry_at) = login_throttle::refused_until(&failures, now) {
        return Ok(LoginOutcome::Throttled {
            minutes: login_throttle::minutes_to_wait(retry_at, now),
        });
    }
    let user = users::find_by_email(conn, email.as_str())?;
    let verified = match &user {
        Some(user) => password::verify(password_typed, &user.password_hash),
        None => {
            password::verify_against_nothing(password_typed);
            false
        }
    };
    login_attempts::record(conn, email.as_str(), verified, ip, now)?;
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
