//! MDF pages: the partner's funds, requests and claims (`portal`), and the staff's queue, budgets and reports.

pub mod admin;
pub mod portal;
