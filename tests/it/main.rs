//! Concord's one integration test binary. Every test starts the real application (`startup::build`) on its own
//! port with its own database — a temporary SQLite file, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL=postgres://...` is set — and drives it over HTTP the way a browser would.

mod fixtures;
mod harness;
mod smtp_sink;
mod stripe_fake;
mod stripe_webhooks;
mod webdriver;

mod access;
mod admin_partners;
mod admin_tiers;
mod affiliate;
mod analytics;
mod api;
mod cli;
mod commissions;
mod crash;
mod deals;
mod email;
mod faults;
mod hardening;
mod hardening_accounts;
mod journeys;
mod ledger_model;
mod login;
mod mdf;
mod messages;
mod migrations;
mod money;
mod payouts;
mod reseller;
mod security;
mod tiers_auto;
mod training;
mod webhooks_out;
