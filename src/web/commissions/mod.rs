//! The admin's commission rules page.

pub mod admin;
