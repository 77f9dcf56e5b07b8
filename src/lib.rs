//! Concord: a self-hostable partner portal for affiliates and resellers, served from one binary over SQLite or
//! PostgreSQL.

pub mod accounts;
pub mod affiliate;
pub mod assets;
pub mod commissions;
pub mod config;
pub mod deals;
pub mod demo;
pub mod domain;
pub mod ledger;
pub mod mdf;
pub mod partners;
pub mod payouts;
pub mod placement;
pub mod platform;
pub mod programs;
pub mod reports;
pub mod startup;
pub mod tiers;
pub mod training;
pub mod web;
pub mod webhooks;
