//! Partner pages: the reseller application and the agreement (`apply`), and the admin's partner list, detail and
//! decisions, and the partner agreement's text.

pub mod admin;
pub mod admin_agreement;
pub mod apply;
