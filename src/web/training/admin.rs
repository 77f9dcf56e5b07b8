//! `/admin/training`: authoring certification courses: modules to read and a quiz to pass.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::partner::PartnerKind;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::training::forms::{CourseForm, CourseInput};
use crate::training::rules::Question;
use crate::training::store::{Course, CourseContent};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/training", web::get().to(list))
        .route("/training", web::post().to(create))
        .route("/training/{id}", web::get().to(edit))
        .route("/training/{id}/modules", web::post().to(add_module))
        .route("/training/{id}/questions", web::post().to(add_question));
}

#[derive(Template)]
#[template(path = "admin/training.html")]
struct TrainingPage {
    ctx: PageContext,
    courses: Vec<Course>,
    form: CourseForm,
    errors: FieldErrors,
}

impl TrainingPage {
    fn kinds(&self) -> &'static [PartnerKind] {
        PartnerKind::ALL
    }
}

async fn training_page(
    ctx: PageContext,
    state: &State,
    form: CourseForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let courses = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        crate::training::store::list_courses(conn, program.id)
    })
    .await?;
    render(
        status,
        &TrainingPage {
            ctx,
            courses,
            form,
            errors,
        },
    )
}

async fn list(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let form = CourseForm {
        pass_mark_percent: "80".into(),
        validity_months: "12".into(),
        retake_cooldown_hours: "24".into(),
        min_tier_rank: "0".into(),
        ..Default::default()
    };
    training_page(ctx, &state, form, FieldErrors::default(), StatusCode::OK).await
}

async fn create(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<CourseForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let course = match CourseInput::try_from(&form) {
        Ok(course) => course,
        Err(errors) => {
            return training_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    };
    let actor = user.actor();
    let id = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::training::create_course(conn, program.id, &course.as_new_course(), &actor)
    })
    .await?;
    session.success("Course created. Add its modules and quiz questions.");
    Ok(redirect(&format!("/admin/training/{id}")))
}

#[derive(Template)]
#[template(path = "admin/course.html")]
struct CoursePage {
    ctx: PageContext,
    content: CourseContent,
    errors: FieldErrors,
}

async fn load(state: &State, id: i64) -> Result<CourseContent, AppError> {
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::training::store::content(conn, program.id, id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

async fn edit(Ctx(ctx): Ctx, state: State, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let content = load(&state, path.into_inner()).await?;
    render(
        StatusCode::OK,
        &CoursePage {
            ctx,
            content,
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
struct ModuleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    link_url: String,
}

async fn add_module(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<ModuleForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let content = load(&state, id).await?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    if form.title.trim().is_empty() || form.body.trim().is_empty() {
        errors.add("module", "A module needs a title and some text.");
    }
    let link = form.link_url.trim().to_string();
    errors.web_link(
        "module",
        &link,
        true,
        "The link must be an http:// or https:// address.",
    );
    if !errors.is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &CoursePage {
                ctx,
                content,
                errors,
            },
        );
    }
    let (title, body) = (form.title.trim().to_string(), form.body.trim().to_string());
    db(&state.pool, move |conn| {
        crate::training::store::add_module(conn, id, &title, &body, &link)
    })
    .await?;
    session.success("Module added.");
    Ok(redirect(&format!("/admin/training/{id}")))
}

#[derive(Deserialize)]
struct QuestionForm {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    options: String,
    #[serde(default)]
    correct: String,
}

async fn add_question(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<QuestionForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let content = load(&state, id).await?;
    let form = form.into_inner();
    let question = match Question::parse(&form.prompt, &form.options, &form.correct) {
        Ok(q) => q,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &CoursePage {
                    ctx,
                    content,
                    errors: FieldErrors::from_pairs(errors),
                },
            )
        }
    };
    db(&state.pool, move |conn| {
        crate::training::store::add_question(conn, id, &question)
    })
    .await?;
    session.success("Question added.");
    Ok(redirect(&format!("/admin/training/{id}")))
}
