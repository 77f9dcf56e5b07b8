//! Signing in and out.

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::login::{self, BeforePassword, LoginOutcome, Throttled};
use crate::domain::email::EmailAddress;
use crate::platform::auth::token::hash_token;
use crate::platform::http::{db, redirect, render, safe_next, AppError, PageContext, TypedSession};
use crate::web::guard::MaybeUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login_submit))
        .route("/logout", web::post().to(logout));
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    ctx: PageContext,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn home_of(user: &crate::accounts::store::users::User) -> &'static str {
    if user.role().is_staff() {
        "/admin"
    } else {
        "/portal"
    }
}

async fn login_form(
    req: HttpRequest,
    MaybeUser(user): MaybeUser,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    // A signed-in visitor goes home, flash messages and all: the page context is only taken when the form shows.
    if let Some(user) = user {
        return Ok(redirect(home_of(&user)));
    }
    let Ctx(ctx) = Ctx::extract(&req).await?;
    let next = safe_next(query.next.as_deref()).unwrap_or_default();
    crate::platform::http::page(&LoginPage {
        ctx,
        email: String::new(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(
    Ctx(ctx): Ctx,
    state: State,
    session: TypedSession,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(Some(&form.next)).unwrap_or_default();
    let refuse = |ctx, status, error: String| {
        render(
            status,
            &LoginPage {
                ctx,
                email: form.email.trim().to_string(),
                next: next.clone(),
                error: Some(error),
            },
        )
    };

    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(message) => return refuse(ctx, StatusCode::UNPROCESSABLE_ENTITY, message.into()),
    };
    let ip = crate::platform::http::client_ip(&req, state.settings.behind_proxy);
    let password = form.password.clone();
    let lookup = email.clone();
    let before = db(&state.pool, move |conn| {
        login::before_password(conn, &lookup, &ip)
    })
    .await?;
    let outcome = match before {
        BeforePassword::Throttled(throttled) => LoginOutcome::Throttled(throttled),
        BeforePassword::Check { user, attempt_id } => {
            let (user, verified) = crate::platform::db::run_blocking(move || {
                let verified = login::check_password(user.as_ref(), &password);
                (user, verified)
            })
            .await?;
            db(&state.pool, move |conn| {
                login::after_password(conn, attempt_id, user, verified)
            })
            .await?
        }
    };
    match outcome {
        LoginOutcome::Success {
            user,
            session_token,
        } => {
            session.begin(&session_token);
            tracing::info!(user_id = user.id, "signed in");
            Ok(redirect(if next.is_empty() {
                home_of(&user)
            } else {
                &next
            }))
        }
        LoginOutcome::WrongCredentials => refuse(
            ctx,
            StatusCode::UNAUTHORIZED,
            "That email and password do not match an account.".into(),
        ),
        LoginOutcome::Disabled => refuse(
            ctx,
            StatusCode::FORBIDDEN,
            "This account has been disabled. Ask your program manager.".into(),
        ),
        LoginOutcome::Throttled(Throttled {
            minutes,
            whole_network,
        }) => refuse(
            ctx,
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts {}. Try again in {minutes} minute{}.",
                if whole_network {
                    "from your network"
                } else {
                    "for this email from your network"
                },
                if minutes == 1 { "" } else { "s" }
            ),
        ),
    }
}

async fn logout(state: State, session: TypedSession) -> Result<HttpResponse, AppError> {
    if let Some(token) = session.session_token() {
        let token_hash = hash_token(&token);
        db(&state.pool, move |conn| {
            crate::accounts::store::sessions::delete(conn, &token_hash)
        })
        .await?;
    }
    session.end();
    session.success("You are signed out.");
    Ok(redirect("/login"))
}
