//! Certification for partners: `/portal/training` lists the courses meant for the org, a course page shows its
//! modules (progress is saved) and its quiz; a pass issues a certification with a public certificate page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::domain::partner::PartnerStatus;
use crate::platform::http::{db, redirect, render, AppError, PageContext, TypedSession};
use crate::training::rules::course_open_to;
use crate::training::store::{AttemptOutcome, Certification, Course, CourseContent, Standing};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/training", web::get().to(list))
        .route("/training/{id}", web::get().to(course))
        .route(
            "/training/{id}/modules/{module}",
            web::post().to(complete_module),
        )
        .route("/training/{id}/quiz", web::post().to(take_quiz));
}

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/certificates/{code}", web::get().to(certificate));
}

/// The courses meant for the user's org (kind and tier), for listing and for checking a course id.
async fn open_courses(state: &State, user: &CurrentUser) -> Result<Vec<Course>, AppError> {
    let partner = crate::web::portal::own_partner(state, user).await?;
    let (kind, rank) = (
        partner.org.kind(),
        partner.tier.as_ref().map(|t| t.rank).unwrap_or(0),
    );
    let program_id = partner.program.id;
    let courses = db(&state.pool, move |conn| {
        crate::training::store::list_courses(conn, program_id)
    })
    .await?;
    Ok(courses
        .into_iter()
        .filter(|c| course_open_to(&c.partner_kinds, c.min_tier_rank, kind, rank))
        .collect())
}

#[derive(Template)]
#[template(path = "portal/training.html")]
struct TrainingList {
    ctx: PageContext,
    courses: Vec<(Course, Option<Certification>)>,
    now: chrono::NaiveDateTime,
}

async fn list(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let courses = open_courses(&state, &user).await?;
    let user_id = user.0.id;
    let with_status = db(&state.pool, move |conn| {
        courses
            .into_iter()
            .map(|c| {
                crate::training::store::standing(conn, user_id, c.id).map(|s| (c, s.certification))
            })
            .collect::<diesel::QueryResult<Vec<_>>>()
    })
    .await?;
    render(
        StatusCode::OK,
        &TrainingList {
            ctx,
            courses: with_status,
            now: crate::platform::db::now(),
        },
    )
}

#[derive(Template)]
#[template(path = "portal/course.html")]
struct CoursePage {
    ctx: PageContext,
    content: CourseContent,
    done: Vec<i64>,
    standing: Standing,
    now: chrono::NaiveDateTime,
}

impl CoursePage {
    fn done(&self, module_id: &i64) -> bool {
        self.done.contains(module_id)
    }

    fn retake_at(&self) -> Option<chrono::NaiveDateTime> {
        self.standing
            .last_failed_at
            .map(|failed| {
                crate::training::rules::retake_allowed_at(
                    failed,
                    self.content.course.retake_cooldown_hours,
                )
            })
            .filter(|at| *at > self.now)
    }
}

/// A course the user may take, or 404: a course of another program, kind or tier is as good as absent.
async fn course_for(state: &State, user: &CurrentUser, id: i64) -> Result<CourseContent, AppError> {
    if !open_courses(state, user).await?.iter().any(|c| c.id == id) {
        return Err(AppError::NotFound);
    }
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::training::store::content(conn, program.id, id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

async fn course(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let content = course_for(&state, &user, id).await?;
    let user_id = user.0.id;
    let (done, standing) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::training::store::completed_modules(conn, user_id, id)?,
            crate::training::store::standing(conn, user_id, id)?,
        ))
    })
    .await?;
    render(
        StatusCode::OK,
        &CoursePage {
            ctx,
            content,
            done,
            standing,
            now: crate::platform::db::now(),
        },
    )
}

async fn complete_module(
    state: State,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, module) = path.into_inner();
    course_for(&state, &user, id).await?;
    let user_id = user.0.id;
    let found = db(&state.pool, move |conn| {
        crate::training::store::complete_module(conn, user_id, id, module)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(redirect(&format!("/portal/training/{id}#module-{module}")))
}

async fn take_quiz(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let content = course_for(&state, &user, id).await?;
    // Answers arrive as q<question index>=<option index>, repeated for multiple choice.
    let mut answers = vec![Vec::new(); content.questions.len()];
    for (key, value) in form.into_inner() {
        let (Some(q), Ok(option)) = (
            key.strip_prefix('q').and_then(|n| n.parse::<usize>().ok()),
            value.parse::<usize>(),
        ) else {
            continue;
        };
        if let Some(slot) = answers.get_mut(q) {
            slot.push(option);
        }
    }
    let (user_id, org_id) = (user.0.id, user.partner_org_id()?);
    let pass_mark = content.course.pass_mark_percent;
    let outcome = db(&state.pool, move |conn| {
        crate::training::store::attempt(
            conn,
            user_id,
            org_id,
            &content,
            &answers,
            crate::platform::db::now(),
        )
    })
    .await?;
    match outcome {
        AttemptOutcome::Passed { score, code } => session.success(format!(
            "You scored {score}% and passed. Your certificate: /certificates/{code}"
        )),
        AttemptOutcome::Failed { score, retake_at } => session.error(format!(
            "You scored {score}%; the pass mark is {pass_mark}%. You can try again from {}.",
            crate::platform::http::when(retake_at)
        )),
        AttemptOutcome::CoolingDown { until } => session.error(format!(
            "You can take the quiz again from {}.",
            crate::platform::http::when(until)
        )),
    }
    Ok(redirect(&format!("/portal/training/{id}")))
}

#[derive(Template)]
#[template(path = "public/certificate.html")]
struct CertificatePage {
    ctx: PageContext,
    certification: Certification,
    holder: String,
    course: String,
    valid: bool,
    /// The holder's org is suspended.
    suspended: bool,
}

async fn certificate(
    Ctx(ctx): Ctx,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let code = path.into_inner();
    let found = db(&state.pool, move |conn| {
        crate::training::store::certificate(conn, &code)
    })
    .await?;
    let (certification, name, email, course, standing) = found.ok_or(AppError::NotFound)?;
    // Only partners of the program hold certificates: an applicant's or a rejected org's code shows nothing, and a
    // suspended org's certificate says so instead of "Valid".
    let suspended = match standing {
        PartnerStatus::Approved => false,
        PartnerStatus::Suspended => true,
        PartnerStatus::Applied | PartnerStatus::Rejected => return Err(AppError::NotFound),
    };
    let holder = if name.trim().is_empty() { email } else { name };
    let valid = !suspended && certification.expires_at > crate::platform::db::now();
    render(
        StatusCode::OK,
        &CertificatePage {
            ctx,
            certification,
            holder,
            course,
            valid,
            suspended,
        },
    )
}
