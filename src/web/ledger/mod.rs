//! The ledger's pages: a partner's earnings, and the admin's commission queue.

pub mod admin;
pub mod earnings;
