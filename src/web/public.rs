//! Pages anyone may see, and the health check.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{Ctx, State};
use crate::platform::http::{db, page, AppError, PageContext};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(landing))
        .route("/healthz", web::get().to(healthz));
}

#[derive(Template)]
#[template(path = "public/landing.html")]
struct Landing {
    ctx: PageContext,
}

async fn landing(Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    page(&Landing { ctx })
}

/// 200 when the database answers, 503 when it does not.
async fn healthz(state: State) -> HttpResponse {
    match db(&state.pool, crate::platform::db::ping).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
