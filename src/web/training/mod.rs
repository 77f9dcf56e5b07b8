//! Certification pages: a rep's courses and quiz, public certificates, and the admin's course editor.

pub mod admin;
pub mod portal;
