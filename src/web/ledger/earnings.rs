//! `/portal/earnings`: a partner's balances per currency and every ledger entry with its explanation, filtered by
//! status and month, and the same as CSV.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::domain::money::{Currency, Money};
use crate::ledger::rules::EntryStatus;
use crate::ledger::store::{Balance, EntryFilter, LedgerEntry};
use crate::platform::http::{db, page, AppError, PageContext};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/earnings", web::get().to(show))
        .route("/earnings.csv", web::get().to(csv));
}

#[derive(Deserialize, Default)]
struct EarningsQuery {
    #[serde(default)]
    status: String,
    /// "2026-11"
    #[serde(default)]
    month: String,
}

struct Filters {
    filter: EntryFilter,
    notice: Option<String>,
}

fn filters(org_id: i64, query: &EarningsQuery) -> Filters {
    let mut notice = None;
    let status = match query.status.trim() {
        "" => None,
        s => s
            .parse::<EntryStatus>()
            .map_err(|_| notice = Some(format!("There is no status '{s}'; showing all.")))
            .ok(),
    };
    let (from, to) = match query.month.trim() {
        "" => (None, None),
        m => match NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d") {
            Ok(first) => {
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                };
                (
                    first.and_hms_opt(0, 0, 0),
                    next.and_then(|n| n.and_hms_opt(0, 0, 0)),
                )
            }
            Err(_) => {
                notice = Some(format!(
                    "'{m}' is not a month like 2026-11; showing every month."
                ));
                (None, None)
            }
        },
    };
    Filters {
        filter: EntryFilter {
            partner_org_id: Some(org_id),
            status,
            from,
            to,
            before_id: None,
        },
        notice,
    }
}

struct BalanceCard {
    currency: String,
    pending: Money,
    approved: Money,
    paid: Money,
    negative: bool,
}

impl From<&Balance> for BalanceCard {
    fn from(b: &Balance) -> Self {
        let currency = Currency::parse(&b.currency).expect("ISO code");
        Self {
            currency: b.currency.clone(),
            pending: Money::new(b.pending, currency),
            approved: Money::new(b.approved, currency),
            paid: Money::new(b.paid, currency),
            negative: b.available() < 0,
        }
    }
}

#[derive(Template)]
#[template(path = "portal/earnings.html")]
struct EarningsPage {
    ctx: PageContext,
    balances: Vec<BalanceCard>,
    pager: crate::platform::http::pager::Pager,
    entries: Vec<LedgerEntry>,
    status: String,
    month: String,
    notice: Option<String>,
}

impl EarningsPage {
    fn statuses(&self) -> &'static [EntryStatus] {
        EntryStatus::ALL
    }
}

async fn show(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    query: web::Query<EarningsQuery>,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let org_id = user.partner_org_id()?;
    let query = query.into_inner();
    let Filters { filter, notice } = filters(org_id, &query);
    let window = pager.window();
    let (balances, entries) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::ledger::store::balances(conn, org_id)?,
            crate::ledger::store::list(conn, &filter, window)?,
        ))
    })
    .await?;
    let balances = balances.iter().map(BalanceCard::from).collect();
    page(&EarningsPage {
        ctx,
        balances,
        entries: pager.keep(entries),
        pager,
        status: query.status,
        month: query.month,
        notice,
    })
}

async fn csv(
    state: State,
    user: CurrentUser,
    query: web::Query<EarningsQuery>,
) -> Result<HttpResponse, AppError> {
    let org_id = user.partner_org_id()?;
    let Filters { filter, .. } = filters(org_id, &query.into_inner());
    let entries = db(&state.pool, move |conn| {
        crate::ledger::store::list(conn, &filter, crate::platform::db::Window::ALL)
    })
    .await?;
    let mut out =
        String::from("id,created_at,kind,status,amount,currency,available_at,explanation\r\n");
    for e in &entries {
        let fields = [
            e.id.to_string(),
            e.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            e.kind.to_string(),
            e.status.to_string(),
            e.money().amount_text().replace(',', ""),
            e.currency.clone(),
            e.available_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            e.explanation.clone(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| crate::platform::http::csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    Ok(crate::platform::http::csv_response("earnings.csv", out))
}
