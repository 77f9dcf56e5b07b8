//! The partner program. One per install for now; every other aggregate hangs off its id.

use diesel::prelude::*;

use super::schema::programs;
use super::{now, DbConn};
use crate::domain::money::Currency;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programs)]
pub struct Program {
    pub id: i64,
    pub name: String,
    pub currency: String,
    pub created_at: chrono::NaiveDateTime,
}

impl Program {
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency)
            .expect("the schema only admits three-letter codes written by Currency")
    }
}

pub const DEFAULT_NAME: &str = "Partner Program";
pub const DEFAULT_CURRENCY: &str = "USD";

/// The install's program, created with defaults the first time it is asked for.
pub fn current(conn: &mut DbConn) -> QueryResult<Program> {
    conn.transaction(|conn| {
        if let Some(program) = programs::table
            .order(programs::id)
            .select(Program::as_select())
            .first(conn)
            .optional()?
        {
            return Ok(program);
        }
        diesel::insert_into(programs::table)
            .values((
                programs::name.eq(DEFAULT_NAME),
                programs::currency.eq(DEFAULT_CURRENCY),
                programs::created_at.eq(now()),
            ))
            .execute(conn)?;
        programs::table
            .order(programs::id)
            .select(Program::as_select())
            .first(conn)
    })
}

pub fn rename(
    conn: &mut DbConn,
    program_id: i64,
    name: &str,
    currency: Currency,
) -> QueryResult<()> {
    diesel::update(programs::table.find(program_id))
        .set((
            programs::name.eq(name),
            programs::currency.eq(currency.code()),
        ))
        .execute(conn)
        .map(|_| ())
}
