//! The platform below every feature: database, HTTP helpers, mail, outbox, jobs, authentication primitives and the
//! audit log. It knows no feature; every context may use it.

pub mod db;
