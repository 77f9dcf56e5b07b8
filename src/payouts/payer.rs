//! Pays Stripe payout batches. A batch's payouts are written before any money moves (see `crate::payouts`); this
//! worker then claims them one at a time with a lease, asks Stripe for the transfer (idempotency key = payout
//! id), and marks each paid or failed. A process killed anywhere in between leaves the payout pending with an
//! expiring lease; the next worker (the same batch resumed at start-up, by the payouts job, or by an admin) asks
//! Stripe again with the same key and receives the transfer it made the first time.

use std::time::Duration;

use crate::config::Settings;
use crate::payouts::stripe::Stripe;
use crate::platform::db::{DbConn, DbPool};

/// How long a payout stays pending after Stripe could not be reached before it is tried again.
const RETRY_AFTER_SECS: i64 = 60;

#[derive(Clone)]
pub struct Payer {
    pool: DbPool,
    stripe: Stripe,
    base_url: String,
    /// Longer than a Stripe call may take, so a live worker never loses its payout to another.
    lease: chrono::Duration,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub paid: usize,
    pub failed: usize,
    pub postponed: usize,
    pub finished: bool,
}

impl Payer {
    /// A payer when Stripe is configured.
    pub fn from_settings(pool: DbPool, settings: &Settings) -> anyhow::Result<Option<Self>> {
        let Some(stripe_settings) = &settings.stripe else {
            return Ok(None);
        };
        Ok(Some(Self {
            pool,
            stripe: Stripe::new(stripe_settings)?,
            base_url: settings.base_url.clone(),
            lease: chrono::Duration::seconds(stripe_settings.timeout_secs as i64 * 2 + 2),
        }))
    }

    pub fn stripe(&self) -> &Stripe {
        &self.stripe
    }

    async fn db<T: Send + 'static, E: std::error::Error + Send + Sync + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> anyhow::Result<T> {
        crate::platform::db::run(&self.pool, work).await
    }

    /// Pays every payout of the run this worker can claim, then closes the run if nothing is pending.
    pub async fn process_run(&self, run_id: i64) -> anyhow::Result<RunOutcome> {
        let mut outcome = RunOutcome::default();
        loop {
            let lease = self.lease;
            let Some(job) = self
                .db(move |conn| crate::payouts::claim_next(conn, run_id, lease))
                .await?
            else {
                break;
            };
            let result = self
                .stripe
                .transfer(
                    job.payout_id,
                    job.amount_minor,
                    &job.currency,
                    &job.destination,
                )
                .await;
            let payout_id = job.payout_id;
            match result {
                Ok(transfer_id) => {
                    let base_url = self.base_url.clone();
                    self.db(move |conn| {
                        let notify = |conn: &mut DbConn, payout: &_| {
                            crate::payouts::notices::payout_statement(conn, &base_url, payout)
                        };
                        crate::payouts::mark_paid(conn, payout_id, Some(&transfer_id), "", &notify)
                    })
                    .await?;
                    outcome.paid += 1;
                }
                Err(error) if error.definitive => {
                    let message = error.message.clone();
                    tracing::warn!(payout_id, %message, "payout refused by Stripe");
                    self.db(move |conn| crate::payouts::mark_failed(conn, payout_id, &message))
                        .await?;
                    outcome.failed += 1;
                }
                Err(error) => {
                    let message = error.message.clone();
                    tracing::warn!(payout_id, %message, "payout postponed");
                    self.db(move |conn| {
                        crate::payouts::postpone(
                            conn,
                            payout_id,
                            &message,
                            chrono::Duration::seconds(RETRY_AFTER_SECS),
                        )
                    })
                    .await?;
                    outcome.postponed += 1;
                }
            }
        }
        outcome.finished = self
            .db(move |conn| crate::payouts::finish_if_done(conn, run_id))
            .await?;
        Ok(outcome)
    }

    /// Resumes every unfinished Stripe batch once.
    pub async fn resume(&self) -> anyhow::Result<RunOutcome> {
        let runs = self.db(crate::payouts::unfinished_stripe_runs).await?;
        let mut total = RunOutcome::default();
        for run in runs {
            let outcome = self.process_run(run).await?;
            total.paid += outcome.paid;
            total.failed += outcome.failed;
            total.postponed += outcome.postponed;
        }
        Ok(total)
    }

    /// At start-up: resumes unfinished batches, waiting out the leases a killed process left behind.
    pub async fn resume_after_start(self) {
        for _ in 0..10 {
            if let Err(e) = self.resume().await {
                tracing::error!("resuming payouts failed: {e:#}");
                return;
            }
            let runs = match self.db(crate::payouts::unfinished_stripe_runs).await {
                Ok(runs) => runs,
                Err(_) => return,
            };
            let mut wait = None;
            for run in runs {
                if let Ok(Some(Some(lease_end))) = self
                    .db(move |conn| crate::payouts::next_lease_end(conn, run))
                    .await
                {
                    let millis = (lease_end - crate::platform::db::now())
                        .num_milliseconds()
                        .max(0) as u64
                        + 200;
                    wait = Some(wait.map_or(millis, |w: u64| w.min(millis)));
                }
            }
            match wait {
                Some(millis) => tokio::time::sleep(Duration::from_millis(millis)).await,
                None => return,
            }
        }
    }
}
