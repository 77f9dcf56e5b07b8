//! Pure partner-program logic: value types whose constructors are the only way in, and decisions over plain data.
//! Nothing here touches the database, the network or the clock; callers pass `now` in.

pub mod email;
pub mod login_throttle;
pub mod money;
pub mod outbox;
pub mod partner;
pub mod role;
pub mod tier;
