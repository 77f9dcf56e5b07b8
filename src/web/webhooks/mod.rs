//! The admin's webhook endpoint pages.

pub mod admin;
