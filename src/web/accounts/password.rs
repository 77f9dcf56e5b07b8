//! Password reset: ask with an email (the answer is the same whether or not an account exists), follow the
//! emailed single-use link within an hour, choose a new password. Using the link ends every other session.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::login;
use crate::accounts::store::password_resets;
use crate::domain::email::EmailAddress;
use crate::platform::auth::password;
use crate::platform::auth::token::hash_token;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/password-reset", web::get().to(request_form))
        .route("/password-reset", web::post().to(request_submit))
        .route("/password-reset/{token}", web::get().to(choose_form))
        .route("/password-reset/{token}", web::post().to(choose_submit));
}

#[derive(Template)]
#[template(path = "auth/password_reset_request.html")]
struct RequestPage {
    ctx: PageContext,
    email: String,
    error: Option<String>,
    sent: bool,
}

async fn request_form(Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    crate::platform::http::page(&RequestPage {
        ctx,
        email: String::new(),
        error: None,
        sent: false,
    })
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    email: String,
}

async fn request_submit(
    Ctx(ctx): Ctx,
    state: State,
    req: actix_web::HttpRequest,
    form: web::Form<RequestForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().email;
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(message) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RequestPage {
                    ctx,
                    email: typed,
                    error: Some(message.into()),
                    sent: false,
                },
            );
        }
    };
    let base_url = state.settings.base_url.clone();
    let ip = crate::platform::http::client_ip(&req, state.settings.behind_proxy);
    let answered = db(&state.pool, move |conn| {
        crate::accounts::request_password_reset(conn, &base_url, &email, &ip)
    })
    .await?;
    if let Err(exceeded) = answered {
        return Err(AppError::TooManyRequests(format!(
            "Too many reset requests from your network. Try again in {} minutes.",
            exceeded.minutes_to_wait(crate::platform::db::now())
        )));
    }
    crate::platform::http::page(&RequestPage {
        ctx,
        email: typed.trim().to_string(),
        error: None,
        sent: true,
    })
}

#[derive(Template)]
#[template(path = "auth/password_reset_choose.html")]
struct ChoosePage {
    ctx: PageContext,
    token: String,
    /// False when the link is expired, used or unknown.
    valid: bool,
    errors: FieldErrors,
}

async fn choose_form(
    Ctx(ctx): Ctx,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let token_hash = hash_token(&token);
    let user = db(&state.pool, move |conn| {
        password_resets::find_user(conn, &token_hash, crate::platform::db::now())
    })
    .await?;
    let valid = user.is_some();
    render(
        if valid {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        &ChoosePage {
            ctx,
            token,
            valid,
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
struct ChooseForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn choose_submit(
    Ctx(ctx): Ctx,
    state: State,
    session: TypedSession,
    path: web::Path<String>,
    form: web::Form<ChooseForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    errors.check_new_password(&form.password, &form.password_confirm);
    if !errors.is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ChoosePage {
                ctx,
                token,
                valid: true,
                errors,
            },
        );
    }
    let token_hash = hash_token(&token);
    let new_password = form.password;
    // Argon2 takes tens of milliseconds of CPU: done off the executor and before a database connection is
    // taken, so signups and resets do not hold connections others wait for.
    let password_hash =
        crate::platform::db::run_blocking(move || password::hash(&new_password)).await?;
    let signed_in = db(&state.pool, move |conn| {
        match password_resets::consume(
            conn,
            &token_hash,
            crate::platform::db::now(),
            &password_hash,
        )? {
            Some(user_id) => login::start_session(conn, user_id).map(Some),
            None => Ok(None),
        }
    })
    .await?;
    let Some(session_token) = signed_in else {
        return render(
            StatusCode::GONE,
            &ChoosePage {
                ctx,
                token,
                valid: false,
                errors: FieldErrors::default(),
            },
        );
    };
    session.begin(&session_token);
    session.success(
        "Your password is changed, and you are signed in. Other sessions were signed out.",
    );
    Ok(redirect("/login"))
}
