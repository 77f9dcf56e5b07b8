//! `/admin/conversions`: conversions as they arrive, with the flagged ones held for a person's verdict.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::affiliate::conversions::Conversion;
use crate::platform::http::{db, page, redirect, AppError, PageContext, TypedSession};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversions", web::get().to(list))
        .route("/conversions/{id}/review", web::post().to(review));
}

#[derive(Deserialize)]
struct ListQuery {
    flagged: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/conversions.html")]
struct ConversionsPage {
    ctx: PageContext,
    flagged_only: bool,
    conversions: Vec<Conversion>,
    pager: crate::platform::http::pager::Pager,
}

async fn list(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<ListQuery>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let window = pager.window();
    let flagged_only = query
        .flagged
        .as_deref()
        .is_some_and(|f| f == "1" || f == "true");
    let conversions = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::affiliate::conversions::list_for_review(conn, program.id, flagged_only, window)
    })
    .await?;
    page(&ConversionsPage {
        ctx,
        flagged_only,
        conversions: pager.keep(conversions),
        pager,
    })
}

#[derive(Deserialize)]
struct ReviewForm {
    verdict: String,
    #[serde(default)]
    reason: String,
}

async fn review(
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<ReviewForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let approve = match form.verdict.as_str() {
        "approve" => true,
        "reject" => false,
        other => return Err(AppError::BadRequest(format!("Unknown verdict '{other}'."))),
    };
    let reason = form.reason.trim().to_string();
    if reason.is_empty() {
        session.error("Give a reason for the verdict; it is kept in the audit log.");
        return Ok(redirect("/admin/conversions?flagged=1"));
    }
    let actor = user.actor();
    let done = db(&state.pool, move |conn| {
        crate::affiliate::conversions::review(conn, id, approve, &reason, &actor)
    })
    .await?;
    if done {
        session.success(if approve {
            "Conversion approved."
        } else {
            "Conversion rejected."
        });
    } else {
        session.error("That conversion is not waiting for review.");
    }
    Ok(redirect("/admin/conversions?flagged=1"))
}
