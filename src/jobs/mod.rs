//! Periodic work. `concord serve` runs every registered job on its interval; `concord jobs run-once [NAME]` runs
//! them once for scripts and tests. Jobs are idempotent and safe to run in two processes at once: each claims its
//! rows with a guarded update. Every run is recorded for `/admin/jobs`.

pub mod outbox;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::db::{self};
use crate::email::Mailer;
use crate::platform::db::{DbConn, DbPool};

pub struct JobSpec {
    pub name: &'static str,
    pub every: Duration,
    pub description: &'static str,
}

/// Every job Concord runs, in the order `run-once` without a name runs them.
pub const JOBS: &[JobSpec] = &[
    JobSpec {
        name: "outbox",
        every: Duration::from_secs(5),
        description: "Delivers pending email from the outbox",
    },
    JobSpec {
        name: "tier_recalculation",
        every: Duration::from_secs(3600),
        description: "Places every approved org in the highest tier it qualifies for",
    },
    JobSpec {
        name: "certification_reminders",
        every: Duration::from_secs(3600),
        description: "Reminds holders 30 days before a certification expires",
    },
    JobSpec {
        name: "hold_release",
        every: Duration::from_secs(60),
        description: "Approves commissions whose hold period has ended",
    },
    JobSpec {
        name: "deal_sla",
        every: Duration::from_secs(300),
        description:
            "Emails the program's staff once about each registration waiting past the approval SLA",
    },
    JobSpec {
        name: "deal_expiry",
        every: Duration::from_secs(3600),
        description:
            "Warns a week before deal protection ends, and expires deals whose protection passed",
    },
    JobSpec {
        name: "webhooks",
        every: Duration::from_secs(5),
        description: "Posts signed outgoing webhooks, retrying failures with backoff",
    },
    JobSpec {
        name: "payouts",
        every: Duration::from_secs(60),
        description:
            "Resumes unfinished Stripe payout batches, and starts the monthly batch on the program's payout day",
    },
    JobSpec {
        name: "mdf_deadlines",
        every: Duration::from_secs(3600),
        description:
            "Expires MDF funds at their period end, reminds partners of claims due within a week, and releases reservations whose claim deadline passed",
    },
];

/// What jobs work with. One per process.
pub struct JobContext {
    pub pool: DbPool,
    pub settings: Settings,
    pub mailer: Mailer,
    /// Names this process in outbox leases.
    pub worker_id: String,
    /// Pays Stripe payout batches; `None` without Stripe.
    pub payer: Option<crate::payouts::Payer>,
}

impl JobContext {
    pub fn new(pool: DbPool, settings: Settings) -> Result<Self, String> {
        let mailer = Mailer::from_settings(&settings)?;
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &crate::auth::token::new_token()[..8]
        );
        let payer = crate::payouts::Payer::from_settings(pool.clone(), &settings)?;
        Ok(Self {
            pool,
            settings,
            mailer,
            worker_id,
            payer,
        })
    }

    /// Runs blocking database work on the blocking pool.
    pub async fn db<T, E>(
        &self,
        work: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> anyhow::Result<T>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        on_pool(&self.pool, work).await
    }
}

/// Runs blocking database work on the blocking pool with a pooled connection: for jobs and background workers,
/// which report failures as `anyhow` errors rather than pages.
pub async fn on_pool<T, E>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<T> { Ok(work(&mut *pool.get()?)?) })
        .await?
}

/// Runs one job by name and records the run. Returns the job's one-line summary.
pub async fn run(ctx: &JobContext, name: &str) -> anyhow::Result<String> {
    let started = crate::platform::db::now();
    let result = match name {
        "outbox" => outbox::deliver_due(ctx).await,
        "tier_recalculation" => {
            let base_url = ctx.settings.base_url.clone();
            let done = ctx
                .db(move |conn| {
                    let warn = |conn: &mut DbConn, org: &_, tier: &str, until, numbers: &str| {
                        crate::email::notify::tier_warning(
                            conn, &base_url, org, tier, until, numbers,
                        )
                    };
                    db::placement::recalculate_all(conn, crate::platform::db::now(), &warn)
                })
                .await?;
            Ok(match (done.moved, done.warned) {
                (0, 0) => String::new(),
                (moved, warned) => format!("{moved} moved, {warned} warned"),
            })
        }
        "certification_reminders" => {
            let base_url = ctx.settings.base_url.clone();
            let sent = ctx
                .db(move |conn| {
                    crate::email::notify::certification_reminders(
                        conn,
                        &base_url,
                        crate::platform::db::now(),
                    )
                })
                .await?;
            Ok(if sent == 0 {
                String::new()
            } else {
                format!("{sent} reminded")
            })
        }
        "hold_release" => {
            let released = ctx
                .db(|conn| db::ledger::release_due(conn, crate::platform::db::now()))
                .await?;
            Ok(if released == 0 {
                String::new()
            } else {
                format!("{released} approved")
            })
        }
        "deal_sla" => {
            let base_url = ctx.settings.base_url.clone();
            let escalated = ctx
                .db(move |conn| {
                    let program = db::programs::current(conn)?;
                    let notify = |conn: &mut DbConn, deal: &_, partner: &str, clock: &_| {
                        crate::email::notify::deal_overdue(conn, &base_url, deal, partner, clock)
                    };
                    db::deals::escalate_overdue(conn, &program, crate::platform::db::now(), &notify)
                })
                .await?;
            Ok(if escalated == 0 {
                String::new()
            } else {
                format!("{escalated} escalated")
            })
        }
        "deal_expiry" => {
            let base_url = ctx.settings.base_url.clone();
            let run = ctx
                .db(move |conn| {
                    let notify = |conn: &mut DbConn, deal: &_, notice: &_| {
                        crate::email::notify::deal_notice(conn, &base_url, deal, notice)
                    };
                    db::deals::run_expiry(conn, crate::platform::db::now(), &notify)
                })
                .await?;
            Ok(match (run.warned, run.expired) {
                (0, 0) => String::new(),
                (warned, expired) => format!("{warned} warned, {expired} expired"),
            })
        }
        "mdf_deadlines" => {
            let base_url = ctx.settings.base_url.clone();
            let (expired, run) = ctx
                .db(move |conn| {
                    let program = db::programs::current(conn)?;
                    let today = crate::platform::db::now().date();
                    let expired = db::mdf::expire_funds(conn, program.id, today)?;
                    let notify = |conn: &mut DbConn, request: &_, notice: &_| {
                        crate::email::notify::mdf_notice(conn, &base_url, request, notice)
                    };
                    let run = db::mdf::run_claim_deadlines(conn, program.id, today, &notify)?;
                    Ok::<_, db::mdf::MdfError>((expired, run))
                })
                .await?;
            Ok(match (expired, run.reminded, run.lapsed) {
                (0, 0, 0) => String::new(),
                (expired, reminded, lapsed) => format!(
                    "{expired} funds expired, {reminded} claims reminded, {lapsed} reservations lapsed"
                ),
            })
        }
        "webhooks" => webhooks::deliver_due(ctx).await,
        "payouts" => {
            let Some(payer) = &ctx.payer else {
                return Ok(String::new());
            };
            // The monthly batch, on the program's day, once that day.
            let started = ctx
                .db(|conn| {
                    let program = db::programs::current(conn)?;
                    let today = crate::platform::db::now().date();
                    let midnight = today.and_hms_opt(0, 0, 0).expect("midnight");
                    let started_today = db::payouts::started_since(conn, program.id, midnight)?;
                    if !crate::domain::payout::scheduled_batch_due(
                        program.payout_day,
                        today,
                        started_today,
                    ) {
                        return Ok(None);
                    }
                    let schedule = db::audit::Actor::system("payout schedule");
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
        other => anyhow::bail!(
            "there is no job named '{other}'; jobs: {}",
            JOBS.iter().map(|j| j.name).collect::<Vec<_>>().join(", ")
        ),
    };
    let finished = crate::platform::db::now();
    let (ok, detail) = match &result {
        Ok(summary) => (true, summary.clone()),
        Err(e) => (false, format!("{e:#}")),
    };
    let job = name.to_string();
    ctx.db(move |conn| db::jobs::record(conn, &job, started, finished, ok, &detail))
        .await?;
    result
}

/// Starts every job on its interval, in the background of the current runtime.
pub fn spawn_scheduler(ctx: Arc<JobContext>) {
    for job in JOBS {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(job.every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match run(&ctx, job.name).await {
                    Ok(summary) if summary.is_empty() => {}
                    Ok(summary) => tracing::info!(job = job.name, "{summary}"),
                    Err(e) => {
                        tracing::warn!(job = job.name, error = %format!("{e:#}"), "job failed")
                    }
                }
            }
        });
    }
}
