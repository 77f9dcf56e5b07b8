//! Market development funds: budgets and their allocations, the partner's requests and claims with proof files,
//! staff decisions, the deadline and expiry jobs, and the figures of every fund, tier and org.
//!
//! Every change that moves money within a fund starts by touching the fund's row. That first statement is a
//! write, so on PostgreSQL it takes the row lock and on SQLite the write lock before anything is read: two
//! approvals (or a request and an approval) of one fund are serialised, and neither can spend what the other
//! just reserved. Status changes are guarded on the status read, so a decision made twice at once lands once;
//! the approved claim's ledger entry is also unique per claim.
//!
//! `funds` (budgets, allocations, positions, expiry), `requests` and `claims` hold the use cases, `store` the SQL,
//! `rules` the pure checks and accounting, `notices` what partners and staff are told, `uploads` the proof files.

pub mod claims;
pub mod forms;
pub mod funds;
pub mod notices;
pub mod requests;
pub mod rules;
pub mod store;
pub mod uploads;

use crate::mdf::rules::Decision;
use crate::platform::db::DbConn;
use crate::platform::mail::NotifyError;
pub use claims::*;
pub use funds::*;
pub use requests::*;
pub use store::*;

/// Why an MDF use case did not happen.
pub type MdfError = crate::platform::use_case::UseCaseError;

// ---------------------------------------------------------------------------------------------------------------
// Funds and allocations

/// What happened to a request or its claim, for the email to the partner.
#[derive(Debug, Clone)]
pub enum MdfNotice {
    RequestDecided { decision: Decision, reason: String },
    ClaimDecided { decision: Decision, reason: String },
    ClaimReminder,
    Lapsed,
}

/// Writes a partner's notification inside the transaction of the change.
pub type MdfNotifier<'a> =
    &'a dyn Fn(&mut DbConn, &MdfRequest, &MdfNotice) -> Result<(), NotifyError>;

/// Tells staff that a request or claim waits for them, inside the transaction that submitted it.
pub type ReviewNotifier<'a> = &'a dyn Fn(&mut DbConn, &MdfRequest, &str) -> Result<(), NotifyError>;
