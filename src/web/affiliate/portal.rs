//! The affiliate side: self-serve signup at `/join`, and the affiliate's links at `/portal/links`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::accounts::login;
use crate::affiliate::rules::check_slug;
use crate::affiliate::store::links::{LinkStats, LinkWriteError, NewLink};
use crate::affiliate::NewLinkError;
use crate::domain::domain_name::normalise_domain;
use crate::domain::email::EmailAddress;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::partners::signup::{AffiliateSignup, SignupError};
use crate::platform::auth::password;
use crate::platform::http::pager::Pager;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::programs::affiliate_settings::check_destination;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/join", web::get().to(join_form))
        .route("/join", web::post().to(join_submit));
}

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/links", web::get().to(links))
        .route("/links", web::post().to(create_link));
}

#[derive(Deserialize, Validate, Default)]
struct JoinForm {
    #[serde(default)]
    #[validate(length(min = 1, max = 100, message = "Tell us your name."))]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    #[validate(length(
        min = 3,
        max = 200,
        message = "Tell us where you promote: a website or a channel."
    ))]
    website: String,
    #[serde(default)]
    #[validate(length(
        min = 10,
        max = 2000,
        message = "Describe in a sentence or two how you promote (at least 10 characters)."
    ))]
    promotion: String,
    #[serde(default)]
    #[validate(length(
        equal = 2,
        message = "Enter your country as a two-letter code, such as US or DE."
    ))]
    country: String,
    #[serde(default)]
    accept_terms: Option<String>,
    /// A field people never see. Bots fill every field.
    #[serde(default)]
    company_url: String,
}

#[derive(Template)]
#[template(path = "public/join.html")]
struct JoinPage {
    ctx: PageContext,
    form: JoinForm,
    errors: FieldErrors,
    terms_text: String,
    terms_version: i64,
}

async fn join_page(
    ctx: PageContext,
    state: &State,
    form: JoinForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let program = db(&state.pool, crate::programs::current).await?;
    render(
        status,
        &JoinPage {
            ctx,
            form,
            errors,
            terms_text: program.terms_text,
            terms_version: program.terms_version,
        },
    )
}

async fn join_form(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    join_page(
        ctx,
        &state,
        JoinForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn join_submit(
    Ctx(ctx): Ctx,
    req: HttpRequest,
    state: State,
    session: TypedSession,
    form: web::Form<JoinForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = form.into_inner();
    if let Some(answer) = crate::web::screen_signup(&req, &state, &form.company_url, "signups")? {
        return Ok(answer);
    }
    for field in [
        &mut form.name,
        &mut form.email,
        &mut form.website,
        &mut form.promotion,
        &mut form.country,
    ] {
        *field = field.trim().to_string();
    }
    form.country = form.country.to_ascii_uppercase();

    let mut errors = FieldErrors::default();
    if let Err(e) = form.validate() {
        errors.extend_validation(&e);
    }
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    if let Err(e) = password::check_policy(&form.password) {
        errors.add("password", e);
    }
    if !form.country.chars().all(|c| c.is_ascii_uppercase()) && errors.get("country").is_none() {
        errors.add(
            "country",
            "Enter your country as a two-letter code, such as US or DE.",
        );
    }
    if form.accept_terms.is_none() {
        errors.add("accept_terms", "Accept the program terms to join.");
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        form.password.clear();
        return join_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };

    // A website becomes its domain; a channel ("@bo on YouTube") is kept in the promotion text.
    let website_domain = normalise_domain(&form.website).unwrap_or_default();
    let promotion = if website_domain.is_empty() {
        format!("{}\n\n{}", form.website, form.promotion)
    } else {
        form.promotion.clone()
    };
    let (name, country, secret, base_url) = (
        form.name.clone(),
        form.country.clone(),
        form.password.clone(),
        state.settings.base_url.clone(),
    );
    // Argon2 takes tens of milliseconds of CPU: done off the executor and before a database connection is
    // taken, so signups and resets do not hold connections others wait for.
    let password_hash = crate::platform::db::run_blocking(move || password::hash(&secret)).await?;
    let created = db(&state.pool, move |conn| {
        let signup = AffiliateSignup {
            name: &name,
            email: email.as_str(),
            password_hash: &password_hash,
            website_domain: &website_domain,
            promotion_method: &promotion,
            country: &country,
        };
        match crate::partners::signup::create_affiliate(conn, &signup, &base_url) {
            Ok(done) => Ok(Ok((done.status, login::start_session(conn, done.user_id)?))),
            Err(SignupError::EmailTaken) => Ok(Err(SignupError::EmailTaken.to_string())),
            Err(other) => Err(AppError::from(other)),
        }
    })
    .await?;
    match created {
        Ok((status, session_token)) => {
            session.begin(&session_token);
            session.success(if status == PartnerStatus::Approved {
                "Welcome! Your account is ready and your first link is waiting under Links."
            } else {
                "Thanks for applying. We review every application and will email you the decision."
            });
            Ok(redirect("/portal"))
        }
        Err(message) => {
            errors.add("email", message);
            form.password.clear();
            join_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// The org of an approved affiliate, or a refusal that says why its pages are closed.
async fn approved_affiliate(
    state: &State,
    user: &CurrentUser,
) -> Result<crate::partners::store::PartnerOverview, AppError> {
    let partner = crate::web::portal::own_partner(state, user).await?;
    if partner.org.kind() != PartnerKind::Affiliate {
        return Err(AppError::Forbidden(
            "Referral links are part of the affiliate program.".into(),
        ));
    }
    Ok(partner)
}

#[derive(Deserialize, Default)]
struct LinkForm {
    #[serde(default)]
    destination_url: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    sub_id: String,
    #[serde(default)]
    utm_source: String,
    #[serde(default)]
    utm_medium: String,
    #[serde(default)]
    utm_campaign: String,
}

#[derive(Template)]
#[template(path = "portal/links.html")]
struct LinksPage {
    ctx: PageContext,
    base_url: String,
    links: Vec<LinkStats>,
    pager: Pager,
    /// How many links the org has, and may have.
    link_count: i64,
    max_links: i64,
    allowed_domains: Vec<String>,
    form: LinkForm,
    errors: FieldErrors,
}

async fn links_page(
    ctx: PageContext,
    state: &State,
    org_id: i64,
    mut pager: Pager,
    form: LinkForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    state.tracking.settle().await;
    let since = crate::platform::db::now() - chrono::Duration::days(30);
    let window = pager.window();
    let (links, link_count, program) = db(&state.pool, move |conn| {
        use crate::affiliate::store::links;
        Ok::<_, diesel::result::Error>((
            links::list_with_stats(conn, org_id, since, window)?,
            links::count_for(conn, org_id)?,
            crate::programs::current(conn)?,
        ))
    })
    .await?;
    let page = LinksPage {
        ctx,
        base_url: state.settings.base_url.clone(),
        links: pager.keep(links),
        pager,
        link_count,
        max_links: program.max_links_per_partner,
        allowed_domains: program.allowed_domains(),
        form,
        errors,
    };
    render(status, &page)
}

async fn links(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    pager: Pager,
) -> Result<HttpResponse, AppError> {
    let partner = approved_affiliate(&state, &user).await?;
    let form = LinkForm {
        destination_url: partner.program.default_landing_url.clone(),
        ..Default::default()
    };
    links_page(
        ctx,
        &state,
        partner.org.id,
        pager,
        form,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn create_link(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let partner = approved_affiliate(&state, &user).await?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let destination = check_destination(&form.destination_url, &partner.program.allowed_domains())
        .map_err(|e| errors.add("destination_url", e))
        .ok();
    let code = if form.code.trim().is_empty() {
        None
    } else {
        check_slug(&form.code)
            .map_err(|e| errors.add("code", e))
            .ok()
    };
    for (field, value) in [
        ("sub_id", &form.sub_id),
        ("utm_source", &form.utm_source),
        ("utm_medium", &form.utm_medium),
        ("utm_campaign", &form.utm_campaign),
    ] {
        if value.trim().chars().count() > 100 {
            errors.add(field, "Keep it under 100 characters.");
        }
    }
    let Some(destination) = destination.filter(|_| errors.is_empty()) else {
        return links_page(
            ctx,
            &state,
            partner.org.id,
            Pager::new("/portal/links", ""),
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let org_id = partner.org.id;
    let (sub_id, utm_source, utm_medium, utm_campaign) = (
        form.sub_id.trim().to_string(),
        form.utm_source.trim().to_string(),
        form.utm_medium.trim().to_string(),
        form.utm_campaign.trim().to_string(),
    );
    let max_links = partner.program.max_links_per_partner;
    let created = db(&state.pool, move |conn| {
        let link = NewLink {
            partner_org_id: org_id,
            code: code.as_deref().unwrap_or(""),
            destination_url: destination.as_str(),
            sub_id: &sub_id,
            utm_source: &utm_source,
            utm_medium: &utm_medium,
            utm_campaign: &utm_campaign,
            is_default: false,
        };
        match crate::affiliate::create_link(conn, &link, max_links) {
            Ok(code) => Ok(Ok(code)),
            Err(NewLinkError::Write(LinkWriteError::Database(e))) => Err(AppError::from(e)),
            Err(refusal) => Ok(Err(refusal.to_string())),
        }
    })
    .await?;
    match created {
        Ok(code) => {
            state.tracking.invalidate_link(&code);
            session.success(format!(
                "Your link {}/r/{code} is ready.",
                state.settings.base_url
            ));
            Ok(redirect("/portal/links"))
        }
        Err(message) => {
            errors.add("code", message);
            links_page(
                ctx,
                &state,
                org_id,
                Pager::new("/portal/links", ""),
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
