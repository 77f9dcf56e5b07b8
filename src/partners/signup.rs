//! Self-serve affiliate signup as one transaction: the org, its first user, the terms acceptance, the default link
//! when the program approves affiliates at once, and the emails that go with it.

use diesel::Connection;

use crate::accounts::role::Role;
use crate::accounts::store::users::{self, NewUser};
use crate::affiliate::store::links;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::partners::notices as notify;
use crate::partners::store::{self as partners, NewPartnerOrg};
use crate::platform::db::{is_unique_violation, DbConn};
use crate::platform::mail::NotifyError;
use crate::programs;

pub struct AffiliateSignup<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub website_domain: &'a str,
    pub promotion_method: &'a str,
    pub country: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("An account with this email exists already. Sign in, or reset your password.")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// The applicant becomes the new org's partner admin; a taken email is `SignupError::EmailTaken`.
fn first_partner_admin(
    conn: &mut DbConn,
    program_id: i64,
    org_id: i64,
    name: &str,
    email: &str,
    password_hash: &str,
) -> Result<(i64, partners::PartnerOrg, users::User), SignupError> {
    let user = NewUser {
        email,
        display_name: name,
        password_hash,
        role: Role::PartnerAdmin,
        partner_org_id: Some(org_id),
    };
    let user_id = users::insert(conn, &user).map_err(|e| {
        if is_unique_violation(&e) {
            SignupError::EmailTaken
        } else {
            e.into()
        }
    })?;
    let org = partners::find(conn, program_id, org_id)?
        .ok_or(diesel::result::Error::NotFound)?
        .org;
    let applicant = users::find(conn, user_id)?.ok_or(diesel::result::Error::NotFound)?;
    Ok((user_id, org, applicant))
}

pub struct SignedUp {
    pub user_id: i64,
    pub status: PartnerStatus,
}

pub fn create_affiliate(
    conn: &mut DbConn,
    signup: &AffiliateSignup<'_>,
    base_url: &str,
) -> Result<SignedUp, SignupError> {
    conn.transaction(|conn| {
        let program = programs::current(conn)?;
        let status = if program.auto_approve_affiliates {
            PartnerStatus::Approved
        } else {
            PartnerStatus::Applied
        };
        let org_id = partners::insert(
            conn,
            &NewPartnerOrg {
                program_id: program.id,
                name: signup.name,
                kind: PartnerKind::Affiliate,
                status,
                tier_id: None,
                country: signup.country,
                website_domain: signup.website_domain,
            },
        )?;
        partners::record_application(conn, org_id, signup.promotion_method, program.terms_version)?;
        let (user_id, org, applicant) = first_partner_admin(
            conn,
            program.id,
            org_id,
            signup.name,
            signup.email,
            signup.password_hash,
        )?;
        match status {
            PartnerStatus::Approved => {
                links::ensure_default(conn, org_id, &program.default_landing_url)?;
                notify::partner_decided(
                    conn,
                    base_url,
                    &org,
                    PartnerStatus::Applied,
                    PartnerStatus::Approved,
                    None,
                )?;
            }
            _ => notify::application_submitted(conn, base_url, &org, &applicant)?,
        }
        Ok(SignedUp { user_id, status })
    })
}

pub struct ResellerApplication<'a> {
    pub company_name: &'a str,
    pub website_domain: &'a str,
    pub country: &'a str,
    pub partner_type: crate::partners::rules::PartnerType,
    pub company_size: crate::partners::rules::CompanySize,
    pub applicant_name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub why_us: &'a str,
}

/// A reseller application: an `applied` org whose applicant is its partner admin, with the emails both ways.
pub fn create_reseller(
    conn: &mut DbConn,
    application: &ResellerApplication<'_>,
    base_url: &str,
) -> Result<i64, SignupError> {
    conn.transaction(|conn| {
        let program = programs::current(conn)?;
        let org_id = partners::insert(
            conn,
            &NewPartnerOrg {
                program_id: program.id,
                name: application.company_name,
                kind: application.partner_type.kind(),
                status: PartnerStatus::Applied,
                tier_id: None,
                country: application.country,
                website_domain: application.website_domain,
            },
        )?;
        partners::record_reseller_application(
            conn,
            org_id,
            application.partner_type.as_str(),
            application.company_size.as_str(),
            application.why_us,
        )?;
        let (user_id, org, applicant) = first_partner_admin(
            conn,
            program.id,
            org_id,
            application.applicant_name,
            application.email,
            application.password_hash,
        )?;
        notify::application_submitted(conn, base_url, &org, &applicant)?;
        Ok(user_id)
    })
}

/// A signup failure of ours. (A taken email is the applicant's to fix; handlers show it next to the field first.)
impl From<SignupError> for crate::platform::http::AppError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::Database(e) => Self::from(e),
            SignupError::Notify(e) => Self::from(e),
            taken @ SignupError::EmailTaken => Self::BadRequest(taken.to_string()),
        }
    }
}
