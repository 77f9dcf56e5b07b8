//! Deal registration pages: the partner's registrations (`portal`), the approver's queue and decisions (`admin`),
//! the program's deal settings, and pipeline reports.

pub mod admin;
pub mod admin_settings;
pub mod pipeline;
pub mod portal;
