//! Periodic work. Each context offers its jobs as typed values (`Job`); `startup` gathers them into `Jobs`, which
//! `concord serve` runs on their intervals and `concord jobs run-once [NAME]` runs once, for scripts and tests.
//! Jobs are idempotent and safe to run in two processes at once: each claims its rows with a guarded update.
//! Every run is recorded for `/admin/jobs`.

pub mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::platform::db::{self, DbConn, DbPool};
use crate::platform::mail::Mailer;

/// What every job works with. One per process.
pub struct JobContext {
    pub pool: DbPool,
    pub settings: Settings,
    pub mailer: Mailer,
    /// Names this process in outbox and webhook leases.
    pub worker_id: String,
}

impl JobContext {
    pub fn new(pool: DbPool, settings: Settings) -> anyhow::Result<Self> {
        let mailer = Mailer::from_settings(&settings)?;
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &crate::platform::auth::token::new_token()[..8]
        );
        Ok(Self {
            pool,
            settings,
            mailer,
            worker_id,
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
        db::run(&self.pool, work).await
    }
}

/// What a run of a job comes to: a one-line summary ("3 sent, 1 failed"), empty when there was nothing to do.
pub type JobRun = Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send>>;

/// One periodic job: its name (for `run-once` and `/admin/jobs`), how often it runs, what it does, and the work.
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    pub description: &'static str,
    work: Box<dyn Fn(Arc<JobContext>) -> JobRun + Send + Sync>,
}

impl Job {
    pub fn new<F, Fut>(
        name: &'static str,
        every: Duration,
        description: &'static str,
        work: F,
    ) -> Self
    where
        F: Fn(Arc<JobContext>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<String>> + Send + 'static,
    {
        Self {
            name,
            every,
            description,
            work: Box::new(move |ctx| Box::pin(work(ctx))),
        }
    }
}

/// Every job of the process, in the order `run-once` without a name runs them, with their context.
pub struct Jobs {
    pub ctx: Arc<JobContext>,
    jobs: Vec<Job>,
}

impl Jobs {
    pub fn new(ctx: JobContext, jobs: Vec<Job>) -> Self {
        Self {
            ctx: Arc::new(ctx),
            jobs,
        }
    }

    pub fn all(&self) -> &[Job] {
        &self.jobs
    }

    /// Runs one job by name and records the run. Returns the job's one-line summary.
    pub async fn run(&self, name: &str) -> anyhow::Result<String> {
        let Some(job) = self.jobs.iter().find(|j| j.name == name) else {
            anyhow::bail!(
                "there is no job named '{name}'; jobs: {}",
                self.jobs
                    .iter()
                    .map(|j| j.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        self.run_job(job).await
    }

    #[tracing::instrument(name = "job", skip_all, fields(job = job.name))]
    async fn run_job(&self, job: &Job) -> anyhow::Result<String> {
        let started = db::now();
        let result = (job.work)(self.ctx.clone()).await;
        let finished = db::now();
        let (ok, detail) = match &result {
            Ok(summary) => (true, summary.clone()),
            Err(e) => (false, format!("{e:#}")),
        };
        let name = job.name;
        self.ctx
            .db(move |conn| store::record(conn, name, started, finished, ok, &detail))
            .await?;
        result
    }

    /// Starts every job on its interval, in the background of the current runtime.
    pub fn spawn_scheduler(self: &Arc<Self>) {
        for index in 0..self.jobs.len() {
            let jobs = self.clone();
            tokio::spawn(async move {
                let job = &jobs.jobs[index];
                let mut ticker = tokio::time::interval(job.every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    match jobs.run_job(job).await {
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
}
