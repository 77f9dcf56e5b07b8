//! The affiliate side's SQL: links, clicks, coupons and the customers bound to partners.

pub mod clicks;
pub mod coupons;
pub mod customers;
pub mod links;
