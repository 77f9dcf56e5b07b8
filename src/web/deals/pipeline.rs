//! `/admin/reports/pipeline`: open pipeline by stage, partner and tier (count, amount, weighted by stage
//! probability), the forecast for this and next quarter, win rate and average won deal size per tier and partner,
//! and time to approval; with SVG charts and a CSV export. Amounts are in the program currency; deals in other
//! currencies are counted and named, never converted.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::deals::pipeline::{bars, report, OutcomeRow, PipelineReport};
use crate::deals::rules::Quarter;
use crate::domain::money::{percent_text, Currency, Money};
use crate::platform::http::{csv_field, db, page, AppError, PageContext};
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/pipeline", web::get().to(show))
        .route("/reports/pipeline.csv", web::get().to(csv));
}

/// The report over the whole program, or one org's deals.
pub struct Pipeline {
    pub report: PipelineReport,
    pub currency: Currency,
    pub other_currencies: i64,
    pub sla_hours: i64,
}

impl Pipeline {
    pub fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::domain::money::Money::new(*minor.borrow(), self.currency).to_string()
    }

    pub fn maybe_money(&self, minor: Option<i64>) -> String {
        minor.map(|m| self.money(m)).unwrap_or_else(|| "—".into())
    }

    pub fn rate(&self, bps: Option<i64>) -> String {
        bps.map(percent_text).unwrap_or_else(|| "—".into())
    }

    /// The win-rate tables: (title, first column, rows).
    pub fn outcome_tables(&self) -> Vec<(&'static str, &'static str, &[OutcomeRow])> {
        vec![
            ("By tier", "Tier", &self.report.outcomes_by_tier),
            ("By partner", "Partner", &self.report.outcomes_by_partner),
        ]
    }

    /// Bars of the weighted pipeline per stage: (label, amount text, width).
    pub fn stage_bars(&self) -> Vec<(String, String, i64)> {
        self.money_bars(
            self.report
                .by_stage
                .iter()
                .map(|r| (r.label.clone(), r.weighted_minor))
                .collect(),
        )
    }

    /// Bars of the expected revenue per quarter (confirmed wins plus weighted open pipeline).
    pub fn forecast_bars(&self) -> Vec<(String, String, i64)> {
        self.money_bars(
            self.report
                .forecasts
                .iter()
                .map(|f| (f.quarter.to_string(), f.expected_minor()))
                .collect(),
        )
    }

    fn money_bars(&self, rows: Vec<(String, i64)>) -> Vec<(String, String, i64)> {
        bars(&rows, 380)
            .into_iter()
            .map(|(label, value, width)| (label, self.money(value), width))
            .collect()
    }
}

/// Runs the report for this quarter and the next; `org_id` limits it to one partner.
/// The pipeline of the whole program, or of what one partner user may see.
pub async fn run(
    state: &State,
    viewer: Option<crate::deals::Viewer>,
) -> Result<Pipeline, AppError> {
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let (facts, other_currencies) =
            crate::deals::facts(conn, program.id, &program.currency, viewer.as_ref())?;
        let now = crate::platform::db::now();
        let this_quarter = Quarter::of(now.date());
        Ok::<_, diesel::result::Error>(Pipeline {
            report: report(
                &facts,
                &[this_quarter, this_quarter.next()],
                program.deal_sla_hours,
                now,
            ),
            currency: program.currency(),
            other_currencies,
            sla_hours: program.deal_sla_hours,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "admin/pipeline.html")]
struct PipelinePage {
    ctx: PageContext,
    pipeline: Pipeline,
}

async fn show(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let pipeline = run(&state, None).await?;
    page(&PipelinePage { ctx, pipeline })
}

async fn csv(state: State) -> Result<HttpResponse, AppError> {
    let pipeline = run(&state, None).await?;
    let decimal = |minor: i64| {
        Money::new(minor, pipeline.currency)
            .amount_text()
            .replace(',', "")
    };
    let optional = |minor: Option<i64>| minor.map(decimal).unwrap_or_default();
    let report = &pipeline.report;
    let mut out = format!(
        "section,label,count,amount_{c},weighted_{c},won,lost,win_rate_percent,average_won_{c}\r\n",
        c = pipeline.currency.code().to_lowercase()
    );
    for (section, rows) in [
        ("stage", &report.by_stage),
        ("partner", &report.by_partner),
        ("tier", &report.by_tier),
    ] {
        for r in rows.iter() {
            out.push_str(&format!(
                "{section},{},{},{},{},,,,\r\n",
                csv_field(&r.label),
                r.count,
                decimal(r.amount_minor),
                decimal(r.weighted_minor)
            ));
        }
    }
    for f in &report.forecasts {
        out.push_str(&format!(
            "forecast,{},{},{},{},{},,,\r\n",
            f.quarter,
            f.open_count,
            decimal(f.open_minor),
            decimal(f.weighted_minor),
            decimal(f.won_minor)
        ));
    }
    for (section, rows) in [
        ("outcome_tier", &report.outcomes_by_tier),
        ("outcome_partner", &report.outcomes_by_partner),
    ] {
        for r in rows.iter() {
            out.push_str(&format!(
                "{section},{},,,,{},{},{},{}\r\n",
                csv_field(&r.label),
                r.won,
                r.lost,
                r.win_rate_bps()
                    .map(|b| percent_text(b).trim_end_matches('%').to_string())
                    .unwrap_or_default(),
                optional(r.average_won_minor())
            ));
        }
    }
    Ok(crate::platform::http::csv_response("pipeline.csv", out))
}
