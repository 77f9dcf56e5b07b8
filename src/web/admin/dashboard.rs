//! The admin home: what waits for a decision, and what was decided lately.

use actix_web::HttpResponse;
use askama::Template;

use crate::domain::partner::PartnerStatus;
use crate::platform::audit::{AuditEntry, AuditFilter};
use crate::platform::http::{db, page, AppError, PageContext};
use crate::web::{Ctx, State};

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct Dashboard {
    ctx: PageContext,
    status_counts: Vec<(PartnerStatus, i64)>,
    recent: Vec<AuditEntry>,
    /// MDF requests awaiting a decision, and claims awaiting review.
    mdf_waiting: (i64, i64),
}

impl Dashboard {
    fn applied(&self) -> i64 {
        self.status_counts
            .iter()
            .find(|(s, _)| *s == PartnerStatus::Applied)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

pub async fn show(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let (counts, mut recent, mdf_waiting) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let counts = crate::partners::store::count_by_status(conn, program.id)?;
        let recent = crate::platform::audit::list(conn, &AuditFilter::default(), 0)?;
        let mdf_waiting = crate::mdf::waiting_counts(conn, program.id)?;
        Ok::<_, diesel::result::Error>((counts, recent, mdf_waiting))
    })
    .await?;
    recent.truncate(10);
    let status_counts = PartnerStatus::ALL
        .iter()
        .map(|status| {
            (
                *status,
                counts
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map(|(_, n)| *n)
                    .unwrap_or(0),
            )
        })
        .collect();
    page(&Dashboard {
        ctx,
        status_counts,
        recent,
        mdf_waiting,
    })
}
