//! The reseller side: the application at `/apply`, and the partner agreement at `/portal/agreement` that gates the
//! rest of the portal until the org's partner admin accepts the current version.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::accounts::login;
use crate::accounts::role::Role;
use crate::domain::domain_name::normalise_domain;
use crate::domain::email::EmailAddress;
use crate::partners::rules::{CompanySize, PartnerType};
use crate::partners::signup::{ResellerApplication, SignupError};
use crate::platform::auth::password;
use crate::platform::http::{
    client_ip, db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/apply", web::get().to(apply_form))
        .route("/apply", web::post().to(apply_submit));
}

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/agreement", web::get().to(agreement))
        .route("/agreement", web::post().to(accept));
}

#[derive(Deserialize, Validate, Default)]
struct ApplyForm {
    #[serde(default)]
    #[validate(length(min = 2, max = 120, message = "Enter your company's name."))]
    company_name: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    #[validate(length(
        equal = 2,
        message = "Enter the country as a two-letter code, such as US or DE."
    ))]
    country: String,
    #[serde(default)]
    partner_type: String,
    #[serde(default)]
    company_size: String,
    #[serde(default)]
    #[validate(length(min = 1, max = 100, message = "Tell us your name."))]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    #[validate(length(
        min = 20,
        max = 3000,
        message = "Tell us in a few sentences why you want to partner (at least 20 characters)."
    ))]
    why_us: String,
    /// Never shown to people; bots fill it.
    #[serde(default)]
    company_url: String,
}

#[derive(Template)]
#[template(path = "public/apply.html")]
struct ApplyPage {
    ctx: PageContext,
    form: ApplyForm,
    errors: FieldErrors,
}

impl ApplyPage {
    fn partner_types(&self) -> &'static [PartnerType] {
        PartnerType::ALL
    }
    fn company_sizes(&self) -> &'static [CompanySize] {
        CompanySize::ALL
    }
}

async fn apply_form(Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &ApplyPage {
            ctx,
            form: ApplyForm::default(),
            errors: FieldErrors::default(),
        },
    )
}

async fn apply_submit(
    Ctx(ctx): Ctx,
    req: HttpRequest,
    state: State,
    session: TypedSession,
    form: web::Form<ApplyForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = form.into_inner();
    if let Some(answer) =
        crate::web::screen_signup(&req, &state, &form.company_url, "applications")?
    {
        return Ok(answer);
    }
    for field in [
        &mut form.company_name,
        &mut form.website,
        &mut form.country,
        &mut form.name,
        &mut form.email,
        &mut form.why_us,
    ] {
        *field = field.trim().to_string();
    }
    form.country = form.country.to_ascii_uppercase();
    let mut errors = FieldErrors::default();
    if let Err(e) = form.validate() {
        errors.extend_validation(&e);
    }
    let domain = match normalise_domain(&form.website) {
        Ok(d) if !d.is_empty() => Some(d),
        Ok(_) => {
            errors.add("website", "Enter your company's website, like example.com.");
            None
        }
        Err(e) => {
            errors.add("website", e);
            None
        }
    };
    let partner_type = form
        .partner_type
        .parse::<PartnerType>()
        .map_err(|_| errors.add("partner_type", "Choose the kind of partner you are."))
        .ok();
    let company_size = form
        .company_size
        .parse::<CompanySize>()
        .map_err(|_| errors.add("company_size", "Choose your company's size."))
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    if let Err(e) = password::check_policy(&form.password) {
        errors.add("password", e);
    }
    let (Some(domain), Some(partner_type), Some(company_size), Some(email), true) =
        (domain, partner_type, company_size, email, errors.is_empty())
    else {
        form.password.clear();
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ApplyPage { ctx, form, errors },
        );
    };
    let (company, country, name, why, secret, base_url) = (
        form.company_name.clone(),
        form.country.clone(),
        form.name.clone(),
        form.why_us.clone(),
        form.password.clone(),
        state.settings.base_url.clone(),
    );
    // Argon2 takes tens of milliseconds of CPU: done off the executor and before a database connection is
    // taken, so signups and resets do not hold connections others wait for.
    let password_hash = crate::platform::db::run_blocking(move || password::hash(&secret)).await?;
    let created = db(&state.pool, move |conn| {
        let application = ResellerApplication {
            company_name: &company,
            website_domain: &domain,
            country: &country,
            partner_type,
            company_size,
            applicant_name: &name,
            email: email.as_str(),
            password_hash: &password_hash,
            why_us: &why,
        };
        match crate::partners::signup::create_reseller(conn, &application, &base_url) {
            Ok(user_id) => Ok(Ok(login::start_session(conn, user_id)?)),
            Err(SignupError::EmailTaken) => Ok(Err(SignupError::EmailTaken.to_string())),
            Err(other) => Err(AppError::from(other)),
        }
    })
    .await?;
    match created {
        Ok(session_token) => {
            session.begin(&session_token);
            session.success(
                "Thanks for applying. We review every application and will email you the decision.",
            );
            Ok(redirect("/portal"))
        }
        Err(message) => {
            errors.add("email", message);
            form.password.clear();
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ApplyPage { ctx, form, errors },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "portal/agreement.html")]
struct AgreementPage {
    ctx: PageContext,
    /// "Partner agreement" for channel partners, "Program terms" for affiliates.
    title: &'static str,
    text: String,
    version: i64,
    /// Only the org's partner admin accepts; others wait for them.
    can_accept: bool,
    due: bool,
}

impl AgreementPage {
    /// "the agreement" or "the program terms", as sentences name it.
    fn noun(&self) -> &'static str {
        if self.title == "Program terms" {
            "the program terms"
        } else {
            "the agreement"
        }
    }
}

async fn agreement(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let org_id = user.partner_org_id()?;
    let (program, due, kind) = db(&state.pool, move |conn| {
        Ok::<_, AppError>((
            crate::programs::current(conn)?,
            crate::partners::agreement_due(conn, org_id)?,
            crate::partners::store::overview(conn, org_id)?
                .ok_or(AppError::NotFound)?
                .org
                .kind(),
        ))
    })
    .await?;
    let can_accept = user.role() == Role::PartnerAdmin;
    let affiliate = kind == crate::domain::partner::PartnerKind::Affiliate;
    render(
        StatusCode::OK,
        &AgreementPage {
            ctx,
            title: if affiliate {
                "Program terms"
            } else {
                "Partner agreement"
            },
            text: if affiliate {
                program.terms_text
            } else {
                program.agreement_text
            },
            version: if affiliate {
                program.terms_version
            } else {
                program.agreement_version
            },
            can_accept,
            due: due.is_some(),
        },
    )
}

#[derive(Deserialize)]
struct AcceptForm {
    version: i64,
}

async fn accept(
    req: HttpRequest,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    if user.role() != Role::PartnerAdmin {
        return Err(AppError::Forbidden(
            "Only your partner admin can accept the agreement for your company.".into(),
        ));
    }
    let org_id = user.partner_org_id()?;
    let (user_id, version, ip) = (
        user.0.id,
        form.into_inner().version,
        client_ip(&req, state.settings.behind_proxy),
    );
    let actor = user.actor();
    let accepted = db(&state.pool, move |conn| {
        use crate::partners::rules::DueTerms;
        // Accepting a text the page showed earlier than the current one would accept words nobody read.
        match crate::partners::agreement_due(conn, org_id)? {
            Some(DueTerms::PartnerAgreement(current)) if current == version => {
                crate::partners::agreements::accept(conn, org_id, user_id, version, &ip)?;
                Ok::<_, diesel::result::Error>(Some("The partner agreement is accepted"))
            }
            Some(DueTerms::AffiliateTerms(current)) if current == version => {
                crate::partners::accept_terms(conn, org_id, version, &actor)?;
                Ok(Some("The program terms are accepted"))
            }
            _ => Ok(None),
        }
    })
    .await?;
    if let Some(accepted) = accepted {
        session.success(format!("Thank you. {accepted} and your portal is open."));
        Ok(redirect("/portal"))
    } else {
        session.error("The agreement changed while you were reading it. Read the current version and accept again.");
        Ok(redirect("/portal/agreement"))
    }
}
