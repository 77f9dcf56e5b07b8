//! Pure partner-program logic: value types whose constructors are the only way in, and decisions over plain data.
//! Nothing here touches the database, the network or the clock; callers pass `now` in.

pub mod affiliate;
pub mod attribution;
pub mod conversion;
pub mod conversion_request;
pub mod deal;
pub mod email;
pub mod fraud;
pub mod mdf;
pub mod money;
pub mod partner;
pub mod payout;
pub mod pipeline;
pub mod report;
pub mod reseller;
pub mod stats;
pub mod stripe_event;
pub mod training;
