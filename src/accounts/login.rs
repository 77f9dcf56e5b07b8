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
    Throttled(Throttled),
}

/// Why an attempt was refused before its password was checked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub minutes: i64,
    /// Refused for the IP's failures across emails, not this email's.
    pub whole_network: bool,
}

/// What is known before the password is checked: the attempt is throttled, or here is the user (if any) and the
/// attempt, already counted as a failure until the password proves right.
pub enum BeforePassword {
    Throttled(Throttled),
    Check {
        user: Option<users::User>,
        attempt_id: i64,
    },
}

/// Step one of signing in (database): refuses a throttled (email, IP) pair or IP, else counts the attempt as a
/// failure and finds the user. Counting before the check, under a lock on the pair and the IP, makes concurrent
/// attempts count exactly: the sixth of 24 simultaneous wrong guesses is refused, not checked.
#[tracing::instrument(skip_all)]
pub fn before_password(
    conn: &mut DbConn,
    email: &EmailAddress,
    ip: &str,
) -> diesel::QueryResult<BeforePassword> {
    use diesel::Connection;
    let now = db::now();
    let since = login_throttle::window_start(now);
    conn.transaction(|conn| {
        let pair = format!("login:{}:{ip}", email.as_str());
        let network = format!("login:ip:{ip}");
        crate::platform::rate_limit::lock_buckets(conn, &[&pair, &network])?;
        let refusal = |failures: &[chrono::NaiveDateTime], max, whole_network| {
            login_throttle::refused_until(failures, max, now).map(|retry_at| Throttled {
                minutes: login_throttle::minutes_to_wait(retry_at, now),
                whole_network,
            })
        };
        let for_pair = login_attempts::failures_since(conn, email.as_str(), ip, since)?;
        let for_ip = login_attempts::failures_from_ip_since(conn, ip, since)?;
        if let Some(throttled) = refusal(&for_pair, login_throttle::MAX_FAILURES, false)
            .or_else(|| refusal(&for_ip, login_throttle::MAX_FAILURES_PER_IP, true))
        {
            return Ok(BeforePassword::Throttled(throttled));
        }
        let attempt_id = login_attempts::record(conn, email.as_str(), false, ip, now)?;
        Ok(BeforePassword::Check {
            user: users::find_by_email(conn, email.as_str())?,
            attempt_id,
        })
    })
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

/// Step three (database): a verified attempt is recorded as a success and, for an active user, starts a session.
#[tracing::instrument(skip_all)]
pub fn after_password(
    conn: &mut DbConn,
    attempt_id: i64,
    user: Option<users::User>,
    verified: bool,
) -> diesel::QueryResult<LoginOutcome> {
    let Some(user) = user.filter(|_| verified) else {
        return Ok(LoginOutcome::WrongCredentials);
    };
    login_attempts::mark_succeeded(conn, attempt_id)?;
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
