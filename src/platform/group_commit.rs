//! Group commit for a hot write path (the conversion API): one thread with its own connection takes every request
//! that has queued up, runs each in its own savepoint inside one transaction, commits once, and only then answers
//! them all. So an acknowledged request is stored, a request that fails rolls back alone, and the batch shares one
//! commit.
//!
//! Why: on SQLite, writers on several connections wait for each other's lock in SQLite's busy handler, which sleeps
//! in steps of milliseconds, and each pays its own commit; here they wait in a queue instead. On PostgreSQL one WAL
//! flush serves the whole batch.

use std::sync::{Arc, Mutex};

use diesel::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::platform::db::{self, DbConn, DbPool, PooledConn};
use crate::platform::http::error::database_unavailable;
use crate::platform::http::AppError;

/// At most this many requests share one transaction.
const MAX_BATCH: usize = 256;

type Reply<R> = oneshot::Sender<Result<R, AppError>>;

pub struct GroupCommit<J, R> {
    queue: mpsc::UnboundedSender<(J, Reply<R>)>,
}

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// Starts `writers` threads named `name`, which run `work` for each job. SQLite takes one writer at a time, so
    /// one thread; PostgreSQL runs several transactions at once, and one thread would leave its round trips in a
    /// row.
    pub fn start(
        name: &str,
        pool: DbPool,
        writers: usize,
        work: fn(&mut DbConn, J) -> Result<R, AppError>,
    ) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..writers.max(1) {
            let (pool, jobs) = (pool.clone(), jobs.clone());
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || write_batches(pool, work, jobs))
                .expect("spawn a group-commit writer");
        }
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

/// `first` and whatever else is already waiting in `queue`, up to `max` in all.
fn take_batch<T>(first: T, queue: &mut mpsc::UnboundedReceiver<T>, max: usize) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < max {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch
}

/// The jobs waiting for a writer, each with where its answer goes; shared by the writer threads.
type Queue<J, R> = Arc<Mutex<mpsc::UnboundedReceiver<(J, Reply<R>)>>>;

fn write_batches<J, R>(
    pool: DbPool,
    work: fn(&mut DbConn, J) -> Result<R, AppError>,
    queue: Queue<J, R>,
) {
    // Kept between batches so its page cache stays warm; dropped after an error and taken afresh.
    let mut connection: Option<PooledConn> = None;
    loop {
        // One writer at a time takes a batch off the queue; the others wait for the next.
        let batch = {
            let mut queue = queue.lock().expect("group-commit queue");
            let Some(first) = queue.blocking_recv() else {
                return;
            };
            take_batch(first, &mut queue, MAX_BATCH)
        };
        let (jobs, replies): (Vec<J>, Vec<Reply<R>>) = batch.into_iter().unzip();
        let mut conn = match connection
            .take()
            .map(Ok)
            .unwrap_or_else(|| db::writer_connection(&pool))
        {
            Ok(conn) => conn,
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(AppError::Unavailable(format!("{e:#}"))));
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
                // Every request of the batch gets the same cause.
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(if database_unavailable(&e) {
                        AppError::Unavailable(e.to_string())
                    } else {
                        AppError::caused("a group commit failed", e.clone())
                    }));
                }
            }
        }
    }
}
