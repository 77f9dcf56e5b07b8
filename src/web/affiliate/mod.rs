//! The affiliate side's pages: joining and links (`portal`), the tracked redirect (`redirect`), and the admin's
//! conversion review and program settings.

pub mod admin_conversions;
pub mod admin_settings;
pub mod portal;
pub mod redirect;
