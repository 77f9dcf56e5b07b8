//! The accounts' SQL: users, server-side sessions, sign-in attempts, password resets and invitations.

pub mod invitations;
pub mod login_attempts;
pub mod password_resets;
pub mod sessions;
pub mod users;
