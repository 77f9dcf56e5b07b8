//! Pages about people: signing in and out, password resets, the first-run setup, and a partner's team.

pub mod login;
pub mod password;
pub mod setup;
pub mod team;
