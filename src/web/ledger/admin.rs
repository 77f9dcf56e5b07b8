//! `/admin/commissions`: the commission queue by status, with bulk approval and voiding (each with a reason kept in
//! the audit log).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::ledger::rules::EntryStatus;
use crate::ledger::store::{EntryFilter, LedgerEntry};
use crate::platform::http::{db, page, redirect, AppError, PageContext, TypedSession};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/commissions", web::get().to(list))
        .route("/commissions", web::post().to(decide));
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/commissions.html")]
struct CommissionsPage {
    ctx: PageContext,
    status: String,
    entries: Vec<LedgerEntry>,
    pager: crate::platform::http::pager::Pager,
    /// Approving early and voiding change what partners are paid: administrators only.
    can_decide: bool,
}

async fn list(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    query: web::Query<ListQuery>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let window = pager.window();
    let status = query
        .into_inner()
        .status
        .and_then(|s| s.parse::<EntryStatus>().ok())
        .unwrap_or(EntryStatus::Pending);
    let filter = EntryFilter {
        status: Some(status),
        ..Default::default()
    };
    let entries = db(&state.pool, move |conn| {
        crate::ledger::store::list(conn, &filter, window)
    })
    .await?;
    page(&CommissionsPage {
        ctx,
        status: status.as_str().to_string(),
        entries: pager.keep(entries),
        pager,
        can_decide: crate::web::admin::require_admin(&user).is_ok(),
    })
}

async fn decide(
    user: CurrentUser,
    state: State,
    session: TypedSession,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    crate::web::admin::require_admin(&user)?;
    let fields = form.into_inner();
    let value = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let ids: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "entry")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let to = match value("action").as_str() {
        "approve" => EntryStatus::Approved,
        "void" => EntryStatus::Void,
        other => return Err(AppError::BadRequest(format!("Unknown action '{other}'."))),
    };
    let back = format!("/admin/commissions?status={}", value("status"));
    let reason = value("reason");
    if ids.is_empty() || reason.is_empty() {
        session.error(
            "Tick at least one entry and give a reason; the reason is kept in the audit log.",
        );
        return Ok(redirect(&back));
    }
    let actor = user.actor();
    let (changed, held) = db(&state.pool, move |conn| {
        crate::ledger::decide(conn, &ids, to, &reason, &actor)
    })
    .await?;
    session.success(format!(
        "{changed} entr{} {}.{}",
        if changed == 1 { "y" } else { "ies" },
        if to == EntryStatus::Approved {
            "approved"
        } else {
            "voided"
        },
        if held > 0 {
            format!(" {held} held by a payout in progress were left as they are.")
        } else {
            String::new()
        }
    ));
    Ok(redirect(&back))
}
