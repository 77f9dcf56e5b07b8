//! `/admin/jobs`: every periodic job with its last run, duration and outcome.

use actix_web::HttpResponse;
use askama::Template;

use crate::db::jobs::JobStatus;
use crate::error::AppError;
use crate::jobs::{JobSpec, JOBS};
use crate::web::{db, page, Ctx, PageContext, State};

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    ctx: PageContext,
    jobs: Vec<(&'static JobSpec, Option<JobStatus>)>,
}

pub async fn list(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let statuses = db(&state.pool, crate::db::jobs::list).await?;
    let jobs = JOBS
        .iter()
        .map(|spec| (spec, statuses.iter().find(|s| s.name == spec.name).cloned()))
        .collect();
    page(&JobsPage { ctx, jobs })
}
