//! The platform below every feature: database, HTTP helpers, mail, outbox, jobs, authentication primitives and the
//! audit log. It knows no feature; every context may use it.

pub mod audit;
pub mod auth;
pub mod db;
pub mod group_commit;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod outbound;
pub mod outbox;
pub mod rate_limit;
pub mod use_case;
