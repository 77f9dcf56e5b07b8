//! The audit log: who decided what about whom, why, and what it was before and after. Append-only.

use diesel::prelude::*;

use crate::platform::db::schema::audit_log;
use crate::platform::db::{contains_pattern, now, DbConn};

/// Who acted. `user_id` is `None` for the system itself (CLI, jobs).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Self {
            user_id: None,
            label: label.to_string(),
        }
    }
}

pub struct Subject<'a> {
    pub kind: &'a str,
    pub id: Option<i64>,
    pub label: &'a str,
}

#[derive(Default)]
pub struct Change<'a> {
    pub reason: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    subject: &Subject<'_>,
    change: &Change<'_>,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_user_id.eq(actor.user_id),
            audit_log::actor_label.eq(&actor.label),
            audit_log::action.eq(action),
            audit_log::subject_type.eq(subject.kind),
            audit_log::subject_id.eq(subject.id),
            audit_log::subject_label.eq(subject.label),
            audit_log::reason.eq(change.reason),
            audit_log::before_summary.eq(change.before),
            audit_log::after_summary.eq(change.after),
            audit_log::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    pub subject_label: String,
    pub reason: Option<String>,
    pub before_summary: Option<String>,
    pub after_summary: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    /// Matches the actor's label (their email).
    pub actor: Option<String>,
}

pub const PAGE_SIZE: i64 = 50;

/// Newest first, one page of `PAGE_SIZE` (plus one row, so the caller knows whether there is a next page).
pub fn list(conn: &mut DbConn, filter: &AuditFilter, page: i64) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table.into_boxed();
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(kind) = &filter.subject_type {
        query = query.filter(audit_log::subject_type.eq(kind.clone()));
    }
    if let Some(id) = filter.subject_id {
        query = query.filter(audit_log::subject_id.eq(id));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(
            audit_log::actor_label
                .like(contains_pattern(&actor.to_lowercase()))
                .escape('\\'),
        );
    }
    query
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(PAGE_SIZE + 1)
        .offset(page.max(0) * PAGE_SIZE)
        .select(AuditEntry::as_select())
        .load(conn)
}

/// Every action name seen so far, for the filter's drop-down.
pub fn distinct_actions(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action)
        .load(conn)
}
