//! Commission rules: the program's ordered rules (percent or flat, per lead, sale or renewal, by product and tier,
//! with volume rates), kept in `store` and changed here with an audit entry; `rules` computes a conversion's
//! commission from them, and explains it.

pub mod rules;
pub mod store;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
use rules::Rule;
pub use store::{list, RuleRow};

/// Adds a rule at the end of the list.
#[tracing::instrument(skip_all)]
pub fn create(conn: &mut DbConn, program_id: i64, rule: &Rule, actor: &Actor) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let id = store::insert_last(conn, program_id, rule)?;
        audit::record(
            conn,
            actor,
            "rule.create",
            &Subject {
                kind: "rule",
                id: Some(id),
                label: &rule.name,
            },
            &Change::default(),
        )?;
        Ok(id)
    })
}

/// Moves a rule one place up (earlier) in the order. Returns false when it is first already or unknown.
pub fn move_up(
    conn: &mut DbConn,
    program_id: i64,
    rule_id: i64,
    actor: &Actor,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let rules = store::list(conn, program_id)?;
        let Some(index) = rules
            .iter()
            .position(|r| r.id == rule_id)
            .filter(|i| *i > 0)
        else {
            return Ok(false);
        };
        let (above, this) = (&rules[index - 1], &rules[index]);
        store::set_position(conn, this.id, above.position)?;
        store::set_position(conn, above.id, this.position)?;
        if above.position == this.position {
            // Equal positions (never written by us, but harmless): make the order explicit.
            store::set_position(conn, above.id, this.position + 1)?;
        }
        audit::record(
            conn,
            actor,
            "rule.reorder",
            &Subject {
                kind: "rule",
                id: Some(rule_id),
                label: &this.name,
            },
            &Change {
                after: Some(&format!("before '{}'", above.name)),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}
