//! `/admin/reports`: per partner, for a date range: clicks, conversions, conversion rate, EPC, revenue and
//! commission cost, sortable, with a chart of the top partners and a CSV export.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use crate::domain::money::{Currency, Money};
use crate::platform::http::{db, page, url_encode, AppError, PageContext};
use crate::reports::rules::{revenue_bars, sort, PartnerFigures, ReportSort};
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(show))
        .route("/reports.csv", web::get().to(csv));
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sort: String,
}

struct Report {
    from: NaiveDate,
    to: NaiveDate,
    sort: ReportSort,
    currency: Currency,
    rows: Vec<PartnerFigures>,
    notices: Vec<String>,
}

/// Reads the range (default: the last 30 days, `to` inclusive) and runs the report.
async fn run(state: &State, query: &ReportQuery) -> Result<Report, AppError> {
    state.tracking.settle().await;
    let today = crate::platform::db::now().date();
    let mut notices = Vec::new();
    let mut date = |raw: &str, fallback: NaiveDate, what: &str| match raw.trim() {
        "" => fallback,
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| {
            notices.push(format!(
                "'{text}' is not a date like 2026-11-23; the {what} date is {fallback}."
            ));
            fallback
        }),
    };
    let from = date(&query.from, today - Duration::days(29), "start");
    let mut to = date(&query.to, today, "end");
    if to < from {
        notices.push("The end date was before the start date; both are the start date now.".into());
        to = from;
    }
    let sort_by = query.sort.parse().unwrap_or(ReportSort::Revenue);
    let (start, end) = (
        from.and_hms_opt(0, 0, 0).expect("midnight"),
        (to + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let (currency, mut rows) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let rows = crate::reports::store::partner_figures(
            conn,
            program.id,
            &program.currency,
            start,
            end,
        )?;
        Ok::<_, diesel::result::Error>((program.currency(), rows))
    })
    .await?;
    sort(&mut rows, sort_by);
    Ok(Report {
        from,
        to,
        sort: sort_by,
        currency,
        rows,
        notices,
    })
}

#[derive(Template)]
#[template(path = "admin/reports.html")]
struct ReportPage {
    ctx: PageContext,
    report: Report,
    /// (partner, revenue as text, bar width).
    bars: Vec<(String, String, i64)>,
}

impl ReportPage {
    /// Takes the amount by value or by reference, as the template has it.
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        Money::new(*minor.borrow(), self.report.currency).to_string()
    }

    fn sort_link(&self, by: &str) -> String {
        format!(
            "/admin/reports?from={}&to={}&sort={}",
            self.report.from,
            self.report.to,
            url_encode(by)
        )
    }

    fn csv_link(&self) -> String {
        format!(
            "/admin/reports.csv?from={}&to={}&sort={}",
            self.report.from,
            self.report.to,
            self.report.sort.as_str()
        )
    }

    fn sorts(&self) -> &'static [ReportSort] {
        ReportSort::ALL
    }
}

async fn show(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let report = run(&state, &query.into_inner()).await?;
    let currency = report.currency;
    let bars = revenue_bars(&report.rows, 10)
        .into_iter()
        .map(|(name, revenue, width)| (name, Money::new(revenue, currency).to_string(), width))
        .collect();
    page(&ReportPage { ctx, report, bars })
}

async fn csv(state: State, query: web::Query<ReportQuery>) -> Result<HttpResponse, AppError> {
    let report = run(&state, &query.into_inner()).await?;
    let currency = report.currency;
    let decimal = |minor: i64| {
        crate::domain::money::Money::new(minor, currency)
            .amount_text()
            .replace(',', "")
    };
    let mut out = format!("partner_id,partner,clicks,conversions,conversion_rate_percent,epc_per_100_clicks_{c},revenue_{c},commission_{c},other_currencies\r\n", c = currency.code().to_lowercase());
    for r in &report.rows {
        let name = crate::platform::http::csv_field(&r.name);
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\r\n",
            r.partner_org_id,
            name,
            r.clicks,
            r.conversions,
            r.conversion_rate().trim_end_matches('%'),
            decimal(r.epc_minor()),
            decimal(r.revenue_minor),
            decimal(r.commission_minor),
            r.other_currencies
        ));
    }
    Ok(crate::platform::http::csv_response(
        &format!("partners-{}-{}.csv", report.from, report.to),
        out,
    ))
}
