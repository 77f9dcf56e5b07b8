//! What payouts tell people: the statement of a paid payout, written to the outbox when it is marked paid; and the
//! payouts job (resuming unfinished Stripe batches, and the monthly batch on the program's payout day).

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::store::users;
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};
use crate::platform::mail::{email_message, Frame, NotifyError};
use crate::platform::outbox;

/// The payouts job, every minute. `payer` pays Stripe batches (`None` without Stripe: the job does nothing).
pub fn job(payer: Option<super::Payer>) -> Job {
    Job::new(
        "payouts",
        Duration::from_secs(60),
        "Resumes unfinished Stripe payout batches, and starts the monthly batch on the program's payout day",
        move |ctx: Arc<JobContext>| {
            let payer = payer.clone();
            async move { payouts(&ctx, payer.as_ref()).await }
        },
    )
}

async fn payouts(
    ctx: &JobContext,
    payer: Option<&crate::payouts::Payer>,
) -> anyhow::Result<String> {
    let Some(payer) = payer else {
        return Ok(String::new());
    };
    // The monthly batch, on the program's day, once that day.
    let started = ctx
        .db(|conn| {
            let program = crate::programs::current(conn)?;
            let today = now().date();
            let midnight = today.and_hms_opt(0, 0, 0).expect("midnight");
            let started_today = super::started_since(conn, program.id, midnight)?;
            if !super::rules::scheduled_batch_due(program.payout_day, today, started_today) {
                return Ok(None);
            }
            let schedule = crate::platform::audit::Actor::system("payout schedule");
            match super::start_run(conn, &program, super::rules::Rail::Stripe, true, &schedule) {
                Ok((run, _)) => Ok(Some(run)),
                Err(super::PayoutError::Database(e)) => Err(e),
                Err(_) => Ok(None),
            }
        })
        .await?;
    let outcome = payer.resume().await?;
    Ok(
        match (started, outcome.paid, outcome.failed, outcome.postponed) {
            (None, 0, 0, 0) => String::new(),
            (started, paid, failed, postponed) => format!(
                "{}{paid} paid, {failed} failed, {postponed} postponed",
                started
                    .map(|r| format!("batch #{r} started; "))
                    .unwrap_or_default()
            ),
        },
    )
}

pub struct PayoutStatement {
    pub frame: Frame,
    pub org_name: String,
    pub payout_id: i64,
    pub amount: String,
    pub period: String,
    pub rail: String,
    /// One line per settled entry: "2026-11-02 Commission 12.00 USD: sale #881".
    pub lines: Vec<String>,
    /// Clawbacks netted, "0.00 USD" when none.
    pub netted: String,
    pub statement_url: String,
}
email_message!(
    PayoutStatement,
    "payout_statement",
    "email/payout_statement/subject.txt",
    "email/payout_statement/body.txt",
    "email/payout_statement/body.html"
);

/// Sends the partner's statement of a paid payout: amount, period, the entries it settles, clawbacks netted.
pub fn payout_statement(
    conn: &mut DbConn,
    base_url: &str,
    payout: &crate::payouts::Payout,
) -> Result<(), NotifyError> {
    let frame = crate::programs::mail_frame(conn, base_url)?;
    let entries = crate::payouts::settled_entries(conn, payout.id)?;
    let amount = payout.amount();
    let netted = crate::domain::money::sum_minor(
        entries
            .iter()
            .filter(|e| e.amount_minor < 0)
            .map(|e| e.amount_minor),
    );
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let kind = e.kind.label();
            format!(
                "{} {} {}: {}",
                e.created_at.format("%Y-%m-%d"),
                kind,
                e.money(),
                e.explanation
            )
        })
        .collect();
    let org_name = crate::mdf::org_name(conn, payout.partner_org_id)?;
    let rail = payout.rail.label().to_string();
    for contact in users::org_contacts(conn, payout.partner_org_id)? {
        let email = PayoutStatement {
            frame: frame.clone(),
            org_name: org_name.clone(),
            payout_id: payout.id,
            amount: amount.to_string(),
            period: payout.period(),
            rail: rail.clone(),
            lines: lines.clone(),
            netted: crate::domain::money::Money::new(netted, amount.currency).to_string(),
            statement_url: frame.link(&format!("/portal/payouts/{}", payout.id)),
        };
        outbox::enqueue(conn, &email.render(&contact.email)?)?;
    }
    Ok(())
}
