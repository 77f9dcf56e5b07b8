//! Certification: courses with ordered modules and a quiz, attempts with a pass mark and a retake cool-down, and
//! the certifications a pass issues (public at `/certificates/{code}`), with a reminder before they expire.
//! `store` holds the SQL (scoring an attempt and issuing the certificate is one transaction there), `rules` the
//! pure scoring and dates, `notices` the expiry reminders.

pub mod forms;
pub mod notices;
pub mod rules;
pub mod store;

use diesel::prelude::*;

use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::DbConn;
use store::NewCourse;

/// Adds a course, audited.
pub fn create_course(
    conn: &mut DbConn,
    program_id: i64,
    course: &NewCourse<'_>,
    actor: &Actor,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let id = store::insert_course(conn, program_id, course)?;
        audit::record(
            conn,
            actor,
            "course.create",
            &Subject {
                kind: "course",
                id: Some(id),
                label: course.title,
            },
            &Change::default(),
        )?;
        Ok(id)
    })
}
