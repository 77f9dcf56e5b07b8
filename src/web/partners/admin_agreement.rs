//! `/admin/agreement`: the partner agreement's text. A change makes a new version every reseller org accepts again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::platform::http::{db, redirect, render, AppError, PageContext, TypedSession};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/agreement", web::get().to(show))
        .route("/agreement", web::post().to(save));
}

#[derive(Template)]
#[template(path = "admin/agreement.html")]
struct AgreementPage {
    ctx: PageContext,
    text: String,
    version: i64,
    error: Option<String>,
}

async fn show(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let program = db(&state.pool, crate::programs::current).await?;
    render(
        StatusCode::OK,
        &AgreementPage {
            ctx,
            text: program.agreement_text,
            version: program.agreement_version,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct AgreementForm {
    #[serde(default)]
    text: String,
}

async fn save(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<AgreementForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let text = form.into_inner().text.trim().to_string();
    if text.chars().count() < 20 {
        let program = db(&state.pool, crate::programs::current).await?;
        let error = Some(
            "Write the agreement out (at least 20 characters); partners accept exactly this text."
                .to_string(),
        );
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AgreementPage {
                ctx,
                text,
                version: program.agreement_version,
                error,
            },
        );
    }
    let actor = user.actor();
    let version = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::partners::update_agreement(conn, program.id, &text, &actor)
    })
    .await?;
    session.success(format!("Agreement saved as version {version}. Reseller portals stay closed until each org accepts it."));
    Ok(redirect("/admin/agreement"))
}
