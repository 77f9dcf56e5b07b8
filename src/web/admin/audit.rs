//! `/admin/audit`: every decision, newest first, filterable by action, subject and actor.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::platform::audit::{AuditEntry, AuditFilter, PAGE_SIZE};
use crate::platform::http::{db, page, url_encode, AppError, PageContext};
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject_type: String,
    #[serde(default)]
    subject_id: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    page: i64,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageContext,
    query: AuditQuery,
    actions: Vec<String>,
    entries: Vec<AuditEntry>,
    has_next: bool,
    notice: Option<String>,
}

impl AuditPage {
    /// The link to another page of the same filtered list.
    fn page_link(&self, page: i64) -> String {
        format!(
            "/admin/audit?action={}&subject_type={}&subject_id={}&actor={}&page={}",
            url_encode(&self.query.action),
            url_encode(&self.query.subject_type),
            url_encode(&self.query.subject_id),
            url_encode(&self.query.actor),
            page
        )
    }
}

fn non_empty(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

async fn list(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let mut notice = None;
    let subject_id = match non_empty(&query.subject_id).map(|s| s.parse::<i64>()) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            notice = Some(format!(
                "'{}' is not a record number; showing all subjects.",
                query.subject_id.trim()
            ));
            None
        }
        None => None,
    };
    let filter = AuditFilter {
        action: non_empty(&query.action),
        subject_type: non_empty(&query.subject_type),
        subject_id,
        actor: non_empty(&query.actor),
    };
    let page_number = query.page.max(0);
    let (actions, mut entries) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::platform::audit::distinct_actions(conn)?,
            crate::platform::audit::list(conn, &filter, page_number)?,
        ))
    })
    .await?;
    let has_next = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    page(&AuditPage {
        ctx,
        query: AuditQuery {
            page: page_number,
            ..query
        },
        actions,
        entries,
        has_next,
        notice,
    })
}
