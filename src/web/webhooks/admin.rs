//! `/admin/webhooks` (admins): endpoints that receive Concord's signed events, each endpoint's deliveries with
//! status and response code, and replay.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::platform::http::{
    db, page, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};
use crate::webhooks::store::{Delivery, Endpoint};
use crate::webhooks::EventType;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks", web::post().to(create))
        .route("/webhooks/{id}", web::get().to(show))
        .route("/webhooks/{id}/active", web::post().to(set_active))
        .route("/webhooks/deliveries/{id}/replay", web::post().to(replay));
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct ListPage {
    ctx: PageContext,
    endpoints: Vec<Endpoint>,
    url: String,
    chosen: Vec<String>,
    errors: FieldErrors,
}

impl ListPage {
    /// (event, what it means) for each event an endpoint can choose.
    fn event_types(&self) -> Vec<(&'static str, &'static str)> {
        EventType::ALL
            .iter()
            .map(|e| (e.as_str(), e.label()))
            .collect()
    }

    fn is_chosen(&self, event: &str) -> bool {
        self.chosen.iter().any(|c| c == event)
    }
}

async fn list_page(
    ctx: PageContext,
    state: &State,
    url: String,
    chosen: Vec<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let endpoints = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        crate::webhooks::store::endpoints(conn, program.id)
    })
    .await?;
    render(
        status,
        &ListPage {
            ctx,
            endpoints,
            url,
            chosen,
            errors,
        },
    )
}

async fn list(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    list_page(
        ctx,
        &state,
        String::new(),
        Vec::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn create(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    web::Form(fields): web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let url = fields
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let chosen: Vec<String> = fields
        .iter()
        .filter(|(k, v)| k == "events" && v.parse::<EventType>().is_ok())
        .map(|(_, v)| v.clone())
        .collect();
    let mut errors = FieldErrors::default();
    let checked =
        crate::platform::outbound::check_public_url(&url, state.settings.webhook_allow_private)
            .await;
    if let Err(why) = &checked {
        errors.add("url", why.to_string());
    }
    if chosen.is_empty() {
        errors.add("events", "Choose at least one event.");
    }
    if !errors.is_empty() {
        return list_page(
            ctx,
            &state,
            url,
            chosen,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let actor = user.actor();
    let (id, _) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let events: Vec<&str> = chosen.iter().map(String::as_str).collect();
        crate::webhooks::create_endpoint(conn, program.id, &url, &events, &actor)
    })
    .await?;
    session.success("Endpoint added. Its signing secret is below; verify every delivery with it.");
    Ok(redirect(&format!("/admin/webhooks/{id}")))
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct EndpointPage {
    ctx: PageContext,
    endpoint: Endpoint,
    deliveries: Vec<Delivery>,
    pager: crate::platform::http::pager::Pager,
}

async fn show(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let window = pager.window();
    let (endpoint, deliveries) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let endpoint = crate::webhooks::store::find_endpoint(conn, program.id, id)?
            .ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((
            endpoint,
            crate::webhooks::store::deliveries(conn, id, window)?,
        ))
    })
    .await?;
    page(&EndpointPage {
        ctx,
        endpoint,
        deliveries: pager.keep(deliveries),
        pager,
    })
}

#[derive(serde::Deserialize)]
struct ActiveForm {
    active: String,
}

async fn set_active(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (id, active, actor) = (path.into_inner(), form.active == "on", user.actor());
    let found = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::webhooks::set_active(conn, program.id, id, active, &actor)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    session.success(if active {
        "Endpoint enabled."
    } else {
        "Endpoint disabled: no new deliveries."
    });
    Ok(redirect(&format!("/admin/webhooks/{id}")))
}

async fn replay(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (id, actor) = (path.into_inner(), user.actor());
    let endpoint = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::webhooks::replay(conn, program.id, id, &actor)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    session
        .success("Queued again with the same event id; the webhooks job sends it within seconds.");
    Ok(redirect(&format!("/admin/webhooks/{endpoint}")))
}
