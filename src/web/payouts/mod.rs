//! Payout pages: the partner's payouts and statements and the Stripe connection (`portal`), the admin's batches,
//! and the incoming Stripe webhook.

pub mod admin;
pub mod portal;
pub mod stripe_webhook;
