//! The stores of the first layout, one module per aggregate, moving into their contexts (`platform::db` holds the
//! connection, pool, migrations and schema).

pub mod placement;
pub mod reports;
