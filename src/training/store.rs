//! Courses, their modules and quizzes, learners' progress and attempts, and the certifications they earn.

use crate::domain::partner::PartnerStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::schema::{
    certifications, course_modules, courses, module_progress, partner_orgs, quiz_attempts,
    quiz_questions, users,
};
use crate::platform::db::{now, DbConn};
use crate::training::rules::{expires_at, retake_allowed_at, score, Question};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = courses)]
pub struct Course {
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    pub summary: String,
    pub pass_mark_percent: i64,
    pub validity_months: i64,
    pub retake_cooldown_hours: i64,
    pub partner_kinds: String,
    pub min_tier_rank: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = course_modules)]
pub struct Module {
    pub id: i64,
    pub course_id: i64,
    pub position: i64,
    pub title: String,
    pub body: String,
    pub link_url: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = quiz_questions)]
pub struct QuestionRow {
    pub id: i64,
    pub course_id: i64,
    pub position: i64,
    pub prompt: String,
    pub options: String,
    pub correct: String,
}

impl QuestionRow {
    pub fn question(&self) -> Question {
        Question {
            prompt: self.prompt.clone(),
            options: self.options.lines().map(str::to_string).collect(),
            correct: self
                .correct
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certifications)]
pub struct Certification {
    pub id: i64,
    pub code: String,
    pub user_id: i64,
    pub partner_org_id: i64,
    pub course_id: i64,
    pub passed_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub reminded_at: Option<NaiveDateTime>,
}

pub struct NewCourse<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub pass_mark_percent: i64,
    pub validity_months: i64,
    pub retake_cooldown_hours: i64,
    pub partner_kinds: &'a str,
    pub min_tier_rank: i64,
}

pub fn insert_course(
    conn: &mut DbConn,
    program_id: i64,
    course: &NewCourse<'_>,
) -> QueryResult<i64> {
    diesel::insert_into(courses::table)
        .values((
            courses::program_id.eq(program_id),
            courses::title.eq(course.title),
            courses::summary.eq(course.summary),
            courses::pass_mark_percent.eq(course.pass_mark_percent),
            courses::validity_months.eq(course.validity_months),
            courses::retake_cooldown_hours.eq(course.retake_cooldown_hours),
            courses::partner_kinds.eq(course.partner_kinds),
            courses::min_tier_rank.eq(course.min_tier_rank),
            courses::created_at.eq(now()),
        ))
        .returning(courses::id)
        .get_result(conn)
}

pub fn list_courses(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Course>> {
    courses::table
        .filter(courses::program_id.eq(program_id))
        .order(courses::id)
        .select(Course::as_select())
        .load(conn)
}

pub struct CourseContent {
    pub course: Course,
    pub modules: Vec<Module>,
    pub questions: Vec<QuestionRow>,
}

pub fn content(
    conn: &mut DbConn,
    program_id: i64,
    course_id: i64,
) -> QueryResult<Option<CourseContent>> {
    let Some(course) = courses::table
        .filter(courses::program_id.eq(program_id))
        .filter(courses::id.eq(course_id))
        .select(Course::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let modules = course_modules::table
        .filter(course_modules::course_id.eq(course_id))
        .order(course_modules::position)
        .select(Module::as_select())
        .load(conn)?;
    let questions = quiz_questions::table
        .filter(quiz_questions::course_id.eq(course_id))
        .order(quiz_questions::position)
        .select(QuestionRow::as_select())
        .load(conn)?;
    Ok(Some(CourseContent {
        course,
        modules,
        questions,
    }))
}

fn next_position(current: Option<i64>) -> i64 {
    current.unwrap_or(0) + 1
}

pub fn add_module(
    conn: &mut DbConn,
    course_id: i64,
    title: &str,
    body: &str,
    link_url: &str,
) -> QueryResult<i64> {
    let last: Option<i64> = course_modules::table
        .filter(course_modules::course_id.eq(course_id))
        .select(diesel::dsl::max(course_modules::position))
        .first(conn)?;
    diesel::insert_into(course_modules::table)
        .values((
            course_modules::course_id.eq(course_id),
            course_modules::position.eq(next_position(last)),
            course_modules::title.eq(title),
            course_modules::body.eq(body),
            course_modules::link_url.eq(link_url),
        ))
        .returning(course_modules::id)
        .get_result(conn)
}

pub fn add_question(conn: &mut DbConn, course_id: i64, question: &Question) -> QueryResult<i64> {
    let last: Option<i64> = quiz_questions::table
        .filter(quiz_questions::course_id.eq(course_id))
        .select(diesel::dsl::max(quiz_questions::position))
        .first(conn)?;
    let correct: Vec<String> = question.correct.iter().map(|n| n.to_string()).collect();
    diesel::insert_into(quiz_questions::table)
        .values((
            quiz_questions::course_id.eq(course_id),
            quiz_questions::position.eq(next_position(last)),
            quiz_questions::prompt.eq(&question.prompt),
            quiz_questions::options.eq(question.options.join("\n")),
            quiz_questions::correct.eq(correct.join(",")),
        ))
        .returning(quiz_questions::id)
        .get_result(conn)
}

/// Marks a module done for a user (once).
pub fn complete_module(
    conn: &mut DbConn,
    user_id: i64,
    course_id: i64,
    module_id: i64,
) -> QueryResult<bool> {
    let belongs: i64 = course_modules::table
        .filter(course_modules::id.eq(module_id))
        .filter(course_modules::course_id.eq(course_id))
        .count()
        .get_result(conn)?;
    if belongs == 0 {
        return Ok(false);
    }
    let done: i64 = module_progress::table
        .filter(module_progress::user_id.eq(user_id))
        .filter(module_progress::module_id.eq(module_id))
        .count()
        .get_result(conn)?;
    if done == 0 {
        diesel::insert_into(module_progress::table)
            .values((
                module_progress::user_id.eq(user_id),
                module_progress::module_id.eq(module_id),
                module_progress::completed_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

pub fn completed_modules(conn: &mut DbConn, user_id: i64, course_id: i64) -> QueryResult<Vec<i64>> {
    module_progress::table
        .inner_join(course_modules::table)
        .filter(module_progress::user_id.eq(user_id))
        .filter(course_modules::course_id.eq(course_id))
        .select(module_progress::module_id)
        .load(conn)
}

/// The learner's standing in a course: the newest certification, and the last failed attempt (for the cool-down).
pub struct Standing {
    pub certification: Option<Certification>,
    pub last_failed_at: Option<NaiveDateTime>,
    pub last_score: Option<i64>,
}

pub fn standing(conn: &mut DbConn, user_id: i64, course_id: i64) -> QueryResult<Standing> {
    let certification = certifications::table
        .filter(certifications::user_id.eq(user_id))
        .filter(certifications::course_id.eq(course_id))
        .order(certifications::passed_at.desc())
        .select(Certification::as_select())
        .first(conn)
        .optional()?;
    let last: Option<(i64, bool, NaiveDateTime)> = quiz_attempts::table
        .filter(quiz_attempts::user_id.eq(user_id))
        .filter(quiz_attempts::course_id.eq(course_id))
        .order(quiz_attempts::attempted_at.desc())
        .select((
            quiz_attempts::score_percent,
            quiz_attempts::passed,
            quiz_attempts::attempted_at,
        ))
        .first(conn)
        .optional()?;
    Ok(Standing {
        certification,
        last_failed_at: last.filter(|(_, passed, _)| !passed).map(|(_, _, at)| at),
        last_score: last.map(|(score, _, _)| score),
    })
}

pub enum AttemptOutcome {
    Passed {
        score: i64,
        code: String,
    },
    Failed {
        score: i64,
        retake_at: NaiveDateTime,
    },
    CoolingDown {
        until: NaiveDateTime,
    },
}

/// Scores a quiz attempt; a pass issues a certification valid for the course's validity period.
pub fn attempt(
    conn: &mut DbConn,
    user_id: i64,
    partner_org_id: i64,
    content: &CourseContent,
    answers: &[Vec<usize>],
    at: NaiveDateTime,
) -> QueryResult<AttemptOutcome> {
    conn.transaction(|conn| {
        let course = &content.course;
        if let Some(failed) = standing(conn, user_id, course.id)?.last_failed_at {
            let until = retake_allowed_at(failed, course.retake_cooldown_hours);
            if at < until {
                return Ok(AttemptOutcome::CoolingDown { until });
            }
        }
        let questions: Vec<Question> = content
            .questions
            .iter()
            .map(QuestionRow::question)
            .collect();
        let result = score(&questions, answers);
        let passed = result >= course.pass_mark_percent;
        diesel::insert_into(quiz_attempts::table)
            .values((
                quiz_attempts::user_id.eq(user_id),
                quiz_attempts::course_id.eq(course.id),
                quiz_attempts::score_percent.eq(result),
                quiz_attempts::passed.eq(passed),
                quiz_attempts::attempted_at.eq(at),
            ))
            .execute(conn)?;
        if !passed {
            return Ok(AttemptOutcome::Failed {
                score: result,
                retake_at: retake_allowed_at(at, course.retake_cooldown_hours),
            });
        }
        let code = crate::platform::auth::token::new_token()[..12].to_uppercase();
        diesel::insert_into(certifications::table)
            .values((
                certifications::code.eq(&code),
                certifications::user_id.eq(user_id),
                certifications::partner_org_id.eq(partner_org_id),
                certifications::course_id.eq(course.id),
                certifications::passed_at.eq(at),
                certifications::expires_at.eq(expires_at(at, course.validity_months)),
            ))
            .execute(conn)?;
        Ok(AttemptOutcome::Passed {
            score: result,
            code,
        })
    })
}

/// A certificate as its public page shows it: (certification, holder's name, course title).
/// A certificate with its holder's name and email, the course's title and the standing of the holder's org.
pub type PublicCertificate = (Certification, String, String, String, PartnerStatus);

pub fn certificate(conn: &mut DbConn, code: &str) -> QueryResult<Option<PublicCertificate>> {
    certifications::table
        .inner_join(users::table)
        .inner_join(courses::table)
        .inner_join(partner_orgs::table.on(partner_orgs::id.eq(certifications::partner_org_id)))
        .filter(certifications::code.eq(code.to_uppercase()))
        .select((
            Certification::as_select(),
            users::display_name,
            users::email,
            courses::title,
            partner_orgs::status,
        ))
        .first(conn)
        .optional()
}

/// Reps of an org holding at least one certification valid at `at`.
pub fn certified_reps(
    conn: &mut DbConn,
    partner_org_id: i64,
    at: NaiveDateTime,
) -> QueryResult<i64> {
    let holders: Vec<i64> = certifications::table
        .filter(certifications::partner_org_id.eq(partner_org_id))
        .filter(certifications::expires_at.gt(at))
        .select(certifications::user_id)
        .distinct()
        .load(conn)?;
    Ok(holders.len() as i64)
}

/// Certifications expiring within `days` that have not been reminded yet, claimed for reminding (guarded update:
/// one reminder each, even with two job processes). Returns (certification, holder email, holder name, course).
pub fn claim_reminders(
    conn: &mut DbConn,
    at: NaiveDateTime,
    days: i64,
) -> QueryResult<Vec<(Certification, String, String, String)>> {
    let due: Vec<i64> = certifications::table
        .filter(certifications::reminded_at.is_null())
        .filter(certifications::expires_at.gt(at))
        .filter(certifications::expires_at.le(at + chrono::Duration::days(days)))
        .select(certifications::id)
        .load(conn)?;
    let mut claimed = Vec::new();
    for id in due {
        let won = diesel::update(
            certifications::table
                .filter(certifications::id.eq(id))
                .filter(certifications::reminded_at.is_null()),
        )
        .set(certifications::reminded_at.eq(Some(at)))
        .execute(conn)?;
        if won == 1 {
            let row = certifications::table
                .inner_join(users::table)
                .inner_join(courses::table)
                .filter(certifications::id.eq(id))
                .select((
                    Certification::as_select(),
                    users::email,
                    users::display_name,
                    courses::title,
                ))
                .first(conn)?;
            claimed.push(row);
        }
    }
    Ok(claimed)
}
