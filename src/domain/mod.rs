//! Pure partner-program logic: value types whose constructors are the only way in, and decisions over plain data.
//! Nothing here touches the database, the network or the clock; callers pass `now` in.

pub mod conversion;
pub mod domain_name;
pub mod email;
pub mod money;
pub mod partner;
pub mod payout;
pub mod quarter;
pub mod refusal;
