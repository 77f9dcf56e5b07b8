//! Signing in: checking a password against the throttle and starting a session. Moving into `accounts`.

pub mod login;
