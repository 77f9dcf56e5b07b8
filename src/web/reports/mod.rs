//! The admin's program report.

pub mod admin;
