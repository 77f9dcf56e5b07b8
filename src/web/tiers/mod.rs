//! The admin's tier pages.

pub mod admin;
