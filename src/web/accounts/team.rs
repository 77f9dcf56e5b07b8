//! Partner teams: a partner admin invites colleagues by email (`/portal/team`), and the invitee sets a password
//! through the emailed link (`/invitations/{token}`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::login;
use crate::accounts::role::Role;
use crate::accounts::store::invitations::{self, AcceptError, Invitation};
use crate::accounts::store::users::{self, User};
use crate::domain::email::EmailAddress;
use crate::domain::partner::PartnerStatus;
use crate::platform::auth::password;
use crate::platform::auth::token::hash_token;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::platform::use_case::UseCaseError;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

/// Pages inside `/portal` (guarded there).
pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/team", web::get().to(team))
        .route("/team/{user_id}/active", web::post().to(set_active))
        .route("/team/invitations", web::post().to(invite));
}

/// The invitee's pages, for people without an account yet.
pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/invitations/{token}", web::get().to(accept_form))
        .route("/invitations/{token}", web::post().to(accept_submit));
}

#[derive(Template)]
#[template(path = "portal/team.html")]
struct TeamPage {
    ctx: PageContext,
    org_name: String,
    members: Vec<User>,
    invitations: Vec<Invitation>,
    can_invite: bool,
    email: String,
    role: String,
    errors: FieldErrors,
    me: i64,
}

impl TeamPage {
    fn me(&self) -> i64 {
        self.me
    }
}

struct TeamData {
    org_name: String,
    org_status: PartnerStatus,
    members: Vec<User>,
    invitations: Vec<Invitation>,
}

fn load_team(conn: &mut crate::platform::db::DbConn, org_id: i64) -> Result<TeamData, AppError> {
    let partner = crate::partners::store::overview(conn, org_id)?.ok_or(AppError::NotFound)?;
    let invitations = invitations::list_open(conn, org_id, crate::platform::db::now())?;
    Ok(TeamData {
        org_name: partner.org.name.clone(),
        org_status: partner.org.status(),
        members: partner.users,
        invitations,
    })
}

async fn team_page(
    ctx: PageContext,
    state: &State,
    user: &CurrentUser,
    email: String,
    role: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let org_id = user.partner_org_id()?;
    let data = db(&state.pool, move |conn| load_team(conn, org_id)).await?;
    let can_invite =
        user.role() == Role::PartnerAdmin && data.org_status == PartnerStatus::Approved;
    render(
        status,
        &TeamPage {
            ctx,
            org_name: data.org_name,
            members: data.members,
            invitations: data.invitations,
            can_invite,
            email,
            role,
            errors,
            me: user.0.id,
        },
    )
}

async fn team(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    team_page(
        ctx,
        &state,
        &user,
        String::new(),
        Role::PartnerUser.as_str().into(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn invite(
    Ctx(ctx): Ctx,
    state: State,
    req: actix_web::HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, AppError> {
    if user.role() != Role::PartnerAdmin {
        return Err(AppError::Forbidden(
            "Only your partner admin can invite colleagues.".into(),
        ));
    }
    let org_id = user.partner_org_id()?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let role = match form.role.parse::<Role>() {
        Ok(role) if role.is_partner() => Some(role),
        _ => {
            errors.add("role", "Choose partner user or partner admin.");
            None
        }
    };
    let (Some(email), Some(role)) = (email, role) else {
        return team_page(
            ctx,
            &state,
            &user,
            form.email,
            form.role,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let base_url = state.settings.base_url.clone();
    let inviter = user.0.clone();
    let invitee = email.clone();
    let ip = crate::platform::http::client_ip(&req, state.settings.behind_proxy);
    let refusal = db(
        &state.pool,
        move |conn| match crate::partners::team::invite_colleague(
            conn, &base_url, org_id, &inviter, &invitee, role, &ip,
        ) {
            Ok(()) => Ok(None),
            Err(UseCaseError::Field(_, message) | UseCaseError::Refused(message)) => {
                Ok(Some(message))
            }
            Err(other) => Err(AppError::from(other)),
        },
    )
    .await?;
    if let Some(message) = refusal {
        let mut errors = FieldErrors::default();
        errors.add("email", message);
        return team_page(
            ctx,
            &state,
            &user,
            form.email,
            form.role,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    session.success(format!("Invitation sent to {email}."));
    Ok(redirect("/portal/team"))
}

#[derive(Template)]
#[template(path = "auth/invitation.html")]
struct AcceptPage {
    ctx: PageContext,
    token: String,
    invitation: Option<(Invitation, String)>,
    name: String,
    errors: FieldErrors,
}

async fn open_invitation(
    state: &State,
    token: &str,
) -> Result<Option<(Invitation, String)>, AppError> {
    let token_hash = hash_token(token);
    db(&state.pool, move |conn| {
        invitations::find_open(conn, &token_hash, crate::platform::db::now())
    })
    .await
}

async fn accept_form(
    Ctx(ctx): Ctx,
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let invitation = open_invitation(&state, &token).await?;
    let status = if invitation.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    render(
        status,
        &AcceptPage {
            ctx,
            token,
            invitation,
            name: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn accept_submit(
    Ctx(ctx): Ctx,
    state: State,
    session: TypedSession,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    if form.name.trim().is_empty() {
        errors.add("name", "Tell your colleagues your name.");
    }
    errors.check_new_password(&form.password, &form.password_confirm);
    if !errors.is_empty() {
        let invitation = open_invitation(&state, &token).await?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AcceptPage {
                ctx,
                token,
                invitation,
                name: form.name,
                errors,
            },
        );
    }
    let token_hash = hash_token(&token);
    let (name, secret) = (form.name.trim().to_string(), form.password);
    // Argon2 takes tens of milliseconds of CPU: done off the executor and before a database connection is
    // taken, so signups and resets do not hold connections others wait for.
    let password_hash = crate::platform::db::run_blocking(move || password::hash(&secret)).await?;
    let accepted = db(&state.pool, move |conn| {
        match invitations::accept(
            conn,
            &token_hash,
            crate::platform::db::now(),
            &name,
            &password_hash,
        ) {
            Ok(user_id) => Ok(Ok(login::start_session(conn, user_id)?)),
            Err(AcceptError::Database(e)) => Err(AppError::from(e)),
            Err(refusal) => Ok(Err(refusal.to_string())),
        }
    })
    .await?;
    match accepted {
        Ok(session_token) => {
            session.begin(&session_token);
            session.success("Welcome aboard. Your account is ready.");
            Ok(redirect("/portal"))
        }
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("invitation", message);
            render(
                StatusCode::GONE,
                &AcceptPage {
                    ctx,
                    token,
                    invitation: None,
                    name: String::new(),
                    errors,
                },
            )
        }
    }
}

#[derive(Deserialize)]
struct ActiveForm {
    active: String,
}

/// A partner admin disables a colleague who left (their session ends at once; their records stay with the org) or
/// enables them again.
async fn set_active(
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    use crate::accounts::store::users::MemberError;
    if user.role() != Role::PartnerAdmin {
        return Err(AppError::Forbidden(
            "Only your partner admin manages the team.".into(),
        ));
    }
    let org_id = user.partner_org_id()?;
    let member_id = path.into_inner();
    let active = form.into_inner().active == "1";
    let actor = user.actor();
    let outcome = db(&state.pool, move |conn| {
        Ok::<_, AppError>(users::set_member_active(
            conn, org_id, member_id, active, &actor,
        ))
    })
    .await?;
    match outcome {
        Ok(()) => session.success(if active {
            "The account is active again."
        } else {
            "The account is disabled and signed out everywhere."
        }),
        // Someone else's colleague, or nobody: the same answer as for a page that does not exist.
        Err(MemberError::NotInOrg) => return Err(AppError::NotFound),
        Err(MemberError::Yourself) => session.error(MemberError::Yourself.to_string()),
        Err(MemberError::Database(e)) => return Err(e.into()),
    }
    Ok(redirect("/portal/team"))
}
