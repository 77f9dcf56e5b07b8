//! `/admin/jobs`: every periodic job with its last run, duration and outcome.

use actix_web::HttpResponse;
use askama::Template;

use crate::platform::http::{db, page, AppError, PageContext};
use crate::platform::jobs::store::JobStatus;
use crate::web::{Ctx, State};

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    ctx: PageContext,
    /// (name, description, every so many seconds, last run)
    jobs: Vec<(&'static str, &'static str, u64, Option<JobStatus>)>,
}

pub async fn list(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let statuses = db(&state.pool, crate::platform::jobs::store::list).await?;
    let jobs = state
        .jobs
        .all()
        .iter()
        .map(|job| {
            (
                job.name,
                job.description,
                job.every.as_secs(),
                statuses.iter().find(|s| s.name == job.name).cloned(),
            )
        })
        .collect();
    page(&JobsPage { ctx, jobs })
}
