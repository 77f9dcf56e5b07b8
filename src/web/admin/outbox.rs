//! `/admin/outbox`: what email is waiting, what failed and why, and a resend button for dead messages.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::platform::http::{db, page, redirect, AppError, PageContext, TypedSession};
use crate::platform::outbox::rules::OutboxStatus;
use crate::platform::outbox::store::{self as outbox, OutboxMessage};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/outbox", web::get().to(list))
        .route("/outbox/{id}/resend", web::post().to(resend));
}

#[derive(Deserialize)]
struct OutboxQuery {
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    ctx: PageContext,
    status: OutboxStatus,
    counts: Vec<(OutboxStatus, i64)>,
    messages: Vec<OutboxMessage>,
    pager: crate::platform::http::pager::Pager,
}

async fn list(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<OutboxQuery>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let window = pager.window();
    // Dead messages first: they are the ones that need a person.
    let status = query
        .into_inner()
        .status
        .and_then(|s| s.parse().ok())
        .unwrap_or(OutboxStatus::Dead);
    let (counts, messages) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            outbox::count_by_status(conn)?,
            outbox::list(conn, status, window)?,
        ))
    })
    .await?;
    let counts = [
        OutboxStatus::Dead,
        OutboxStatus::Pending,
        OutboxStatus::Sent,
    ]
    .into_iter()
    .map(|s| {
        (
            s,
            counts
                .iter()
                .find(|(c, _)| *c == s)
                .map(|(_, n)| *n)
                .unwrap_or(0),
        )
    })
    .collect();
    page(&OutboxPage {
        ctx,
        status,
        counts,
        messages: pager.keep(messages),
        pager,
    })
}

async fn resend(
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor();
    let resent = db(&state.pool, move |conn| {
        crate::platform::outbox::resend_dead(conn, id, &actor)?.ok_or(AppError::NotFound)
    })
    .await?;
    match resent {
        Some(recipient) => session.success(format!(
            "The message to {recipient} will be sent again within a few seconds."
        )),
        None => session.error("That message is not dead, so there is nothing to resend."),
    }
    Ok(redirect("/admin/outbox"))
}
