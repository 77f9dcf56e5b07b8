//! The asset library: what partners may download, and the admin's library.

pub mod admin;
pub mod portal;
