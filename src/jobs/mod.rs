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
        crate::payouts::notices::job(payer),
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
