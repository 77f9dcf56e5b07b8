//! Reports: what the program earned and cost, per partner, for a date range. `store` sums the rows in the
//! database; `rules` derives the rates (conversion rate, EPC), sorts and charts them.

pub mod rules;
pub mod store;
