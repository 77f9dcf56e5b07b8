//! The periodic jobs of the features still in the first layout, as typed `Job` values; each moves into its context
//! with the context. `registry` lists every job in the order `run-once` without a name runs them.

use std::sync::Arc;
use std::time::Duration;

use crate::db;
use crate::platform::db::{now, DbConn};
use crate::platform::jobs::{Job, JobContext};

/// Every job Concord runs. `payer` pays Stripe batches (`None` without Stripe).
pub fn registry(payer: Option<crate::payouts::Payer>) -> Vec<Job> {
    vec![
        crate::platform::outbox::job(),
        Job::new(
            "tier_recalculation",
            Duration::from_secs(3600),
            "Places every approved org in the highest tier it qualifies for",
            tier_recalculation,
        ),
        crate::training::notices::job(),
        Job::new(
            "hold_release",
            Duration::from_secs(60),
            "Approves commissions whose hold period has ended",
            hold_release,
        ),
        crate::deals::notices::sla_job(),
        crate::deals::notices::expiry_job(),
        crate::webhooks::delivery::job(),
        Job::new(
            "payouts",
            Duration::from_secs(60),
            "Resumes unfinished Stripe payout batches, and starts the monthly batch on the program's payout day",
            move |ctx: Arc<JobContext>| {
                let payer = payer.clone();
                async move { payouts(&ctx, payer.as_ref()).await }
            },
        ),
        crate::mdf::notices::job(),
    ]
}

async fn tier_recalculation(ctx: Arc<JobContext>) -> anyhow::Result<String> {
    let base_url = ctx.settings.base_url.clone();
    let done = ctx
        .db(move |conn| {
            let warn = |conn: &mut DbConn, org: &_, tier: &str, until, numbers: &str| {
                crate::email::notify::tier_warning(conn, &base_url, org, tier, until, numbers)
            };
            db::placement::recalculate_all(conn, now(), &warn)
        })
        .await?;
    Ok(match (done.moved, done.warned) {
        (0, 0) => String::new(),
        (moved, warned) => format!("{moved} moved, {warned} warned"),
    })
}

async fn hold_release(ctx: Arc<JobContext>) -> anyhow::Result<String> {
    let released = ctx
        .db(|conn| crate::ledger::release_due(conn, now()))
        .await?;
    Ok(if released == 0 {
        String::new()
    } else {
        format!("{released} approved")
    })
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
            let started_today = db::payouts::started_since(conn, program.id, midnight)?;
            if !crate::domain::payout::scheduled_batch_due(program.payout_day, today, started_today)
            {
                return Ok(None);
            }
            let schedule = crate::platform::audit::Actor::system("payout schedule");
            match db::payouts::start_run(
                conn,
                &program,
                crate::domain::payout::Rail::Stripe,
                true,
                &schedule,
            ) {
                Ok((run, _)) => Ok(Some(run)),
                Err(db::payouts::PayoutError::Database(e)) => Err(e),
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
