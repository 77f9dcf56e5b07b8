//! Staff pages under `/admin`: the approval queues and the program's configuration. The whole scope is guarded by
//! `auth::guard::require_staff`; configuration changes (tiers) are further limited to admins.

pub mod audit;
pub mod dashboard;
pub mod jobs;
pub mod outbox;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::accounts::role::Role;
use crate::platform::http::AppError;
use crate::web::guard::{require_staff, CurrentUser};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(require_staff))
            .route("", web::get().to(dashboard::show))
            .configure(crate::web::deals::admin::routes)
            .configure(crate::web::mdf::admin::routes)
            .configure(crate::web::payouts::admin::routes)
            .configure(crate::web::webhooks::admin::routes)
            .configure(crate::web::deals::pipeline::routes)
            .configure(crate::web::partners::admin::routes)
            .configure(crate::web::tiers::admin::routes)
            .configure(audit::routes)
            .configure(outbox::routes)
            .configure(crate::web::affiliate::admin_settings::routes)
            .configure(crate::web::affiliate::admin_conversions::routes)
            .configure(crate::web::commissions::admin::routes)
            .configure(crate::web::ledger::admin::routes)
            .configure(crate::web::reports::admin::routes)
            .configure(crate::web::partners::admin_agreement::routes)
            .configure(crate::web::training::admin::routes)
            .configure(crate::web::assets::admin::routes)
            .route("/jobs", web::get().to(jobs::list)),
    );
}

/// Program configuration is for admins; partner managers run the queues.
pub fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.role() == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only administrators can change the program's configuration.".into(),
        ))
    }
}
