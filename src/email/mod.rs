//! The messages Concord sends and the notifications that write them to the outbox; moving into their contexts.

pub mod messages;
pub mod notify;

pub use crate::platform::mail::{Email, NotifyError};
