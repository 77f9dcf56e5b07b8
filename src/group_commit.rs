//! Group commit for a hot write path (the conversion API): one thread with its own connection takes every request
//! that has queued up, runs each in its own savepoint inside one transaction, commits once, and only then answers
//! them all. So an acknowledged request is stored, a request that fails rolls back alone, and the batch shares one
//! commit.
//!
//! Why: on SQLite, writers on several connections wait for each other's lock in SQLite's busy handler, which sleeps
//! in steps of milliseconds, and each pays its own commit; here they wait in a queue instead. On PostgreSQL one WAL
//! flush serves the whole batch.

use diesel::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, DbConn, DbPool, PooledConn};
use crate::error::{database_unavailable, AppError};

/// At most this many requests share one transaction.
const MAX_BATCH: usize = 256;

type Reply<R> = oneshot::Sender<Result<R, AppError>>;

pub struct GroupCommit<J, R> {
    queue: mpsc::UnboundedSender<(J, Reply<R>)>,
}

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// Starts the writer thread `name`, which runs `work` for each job.
    pub fn start(
        name: &str,
        pool: DbPool,
        work: fn(&mut DbConn, J) -> Result<R, AppError>,
    ) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || write_batches(pool, work, jobs))
            .expect("spawn a group-commit writer");
        Self { queue }
    }

    /// Queues `job` and waits until the transaction that ran it has committed.
    pub async fn submit(&self, job: J) -> Result<R, AppError> {
        let (reply, committed) = oneshot::channel();
        let stopped = || AppError::Unavailable("the writer thread has stopped".into());
        self.queue.send((job, reply)).map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

fn write_batches<J, R>(
    pool: DbPool,
    work: fn(&mut DbConn, J) -> Result<R, AppError>,
    mut queue: mpsc::UnboundedReceiver<(J, Reply<R>)>,
) {
    // Kept between batches so its page cache stays warm; dropped after an error and taken afresh.
    let mut connection: Option<PooledConn> = None;
    while let Some(first) = queue.blocking_recv() {
        let (mut jobs, mut replies) = (Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some((job, reply)) = next {
            jobs.push(job);
            replies.push(reply);
            next = (jobs.len() < MAX_BATCH)
                .then(|| queue.try_recv().ok())
                .flatten();
        }
        let mut conn = match connection
            .take()
            .map(Ok)
            .unwrap_or_else(|| db::writer_connection(&pool))
        {
            Ok(conn) => conn,
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(AppError::Unavailable(e.clone())));
                }
                continue;
            }
        };
        let committed = (*conn).transaction(|conn| {
            db::take_write_lock(conn)?;
            Ok::<_, diesel::result::Error>(
                jobs.into_iter()
                    .map(|job| conn.transaction(|conn| work(conn, job)))
                    .collect::<Vec<_>>(),
            )
        });
        match committed {
            Ok(results) => {
                connection = Some(conn);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = replies.len(), "a group commit failed");
                for reply in replies {
                    let _ = reply.send(Err(if database_unavailable(&e) {
                        AppError::Unavailable(e.to_string())
                    } else {
                        AppError::Internal(e.to_string())
                    }));
                }
            }
        }
    }
}
