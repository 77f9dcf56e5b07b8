//! Payouts: connected Stripe accounts, the balances a batch would pay, batches (runs) and their payouts, and the
//! moves that settle or restore the ledger.
//!
//! Why a payout is never paid twice:
//! - at most one batch runs per program (a partial unique index), so two admins starting one start one;
//! - an entry is in at most one live payout: a batch only takes approved entries that no pending or paid payout
//!   holds, and it writes the payout, its entries and its negative ledger entry in one transaction;
//! - the Stripe transfer's idempotency key is the payout's id, so a payout resumed after a crash (its lease
//!   expired) asks Stripe again with the same key and gets the first transfer back;
//! - marking paid is guarded on `pending`, so the second of two workers changes nothing.
//!
//! `batches` holds the use cases (preview, start, pay, fail or cancel, settle a manual batch, reversal), `store` the
//! SQL, `rules` eligibility and the minimum, `payer` the worker that pays Stripe batches, `stripe` the Stripe client,
//! `stripe_events` the incoming Stripe webhook (account updates, reversed transfers, billing as conversions), and
//! `notices` the statement email and the payouts job.

pub mod batches;
pub mod forms;
pub mod notices;
pub mod payer;
pub mod rules;
pub mod store;
pub mod stripe;
pub mod stripe_events;
pub mod webhook_rules;

use crate::platform::db::{self, DbConn};
use crate::platform::mail::NotifyError;

// ---------------------------------------------------------------------------------------------------------------
// Connected accounts
pub use batches::*;
pub use payer::Payer;
pub use store::*;

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error("A payout batch is already running{}; it must finish before another starts.", .0.map(|id| format!(" (batch #{id})")).unwrap_or_default())]
    AlreadyRunning(Option<i64>),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

impl db::DatabaseFailure for PayoutError {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        match self {
            PayoutError::Database(e) | PayoutError::Notify(NotifyError::Database(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<PayoutError> for crate::platform::http::AppError {
    fn from(error: PayoutError) -> Self {
        match error {
            PayoutError::Database(e) => e.into(),
            PayoutError::Notify(e) => e.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

/// Sends a paid payout's statement, inside the transaction that marked it paid.
pub type PayoutNotifier<'a> = &'a dyn Fn(&mut DbConn, &Payout) -> Result<(), NotifyError>;
