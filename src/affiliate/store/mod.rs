//! The affiliate side's SQL: links, clicks and their hourly rollups, coupons and the customers bound to partners.

pub mod clicks;
pub mod coupons;
pub mod customers;
pub mod links;
pub mod rollups;
