//! The click journal: how a redirect makes its click durable without waiting for the database.
//!
//! A redirect appends its click as one JSON line to a journal segment file (a copy into the file's memory mapping
//! on the worker thread, under a mutex per worker thread) and answers. An ingest thread takes every journaled click that is not stored yet,
//! stores them in one transaction, and deletes the segments whose clicks are all stored. After a crash, the segments
//! left behind are replayed by click id, so a click is stored exactly once.
//!
//! Why not answer after the database commit, as before: that handed each click to a writer thread and woke the
//! worker again after the commit, two cross-thread wake-ups per redirect, which left the redirect at a third of a
//! bare 302's rate on two cores. A line in the page cache survives `kill -9` exactly as a SQLite commit with
//! `synchronous = NORMAL` does (neither survives a power cut before the next sync), so the guarantee is the same.
//!
//! Pages and APIs that read clicks call [`ClickJournal::settle`] first, which waits for an ingest round that began
//! after the call: a click whose 302 was sent is visible to the next request, as it was when redirects waited.
//!
//! Segment files live in the journal directory as `*.live`, each locked (`flock`) by the process writing it. When
//! the database cannot take a round, its segments move to the spool directory as `*.jsonl`, where the spool replay
//! stores them once the database is back; a `*.live` file nobody holds the lock of was left by a dead process and
//! goes the same way.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::affiliate::store::clicks::NewClick;
use crate::platform::db::DbPool;

/// The size of a segment file, reserved on disk when it is created, so writing into its mapping never needs space
/// the disk no longer has.
const SEGMENT_CAPACITY: usize = 4 << 20;
/// A live segment is sealed (and deleted once its clicks are stored) when it fills past this size ...
const SEGMENT_BYTES: usize = 1 << 20;
/// ... or gets this old, so an idle process does not keep an old segment around.
const SEGMENT_AGE: Duration = Duration::from_secs(60);
/// Journaled clicks the database has not stored yet, beyond which a redirect waits for the ingest thread before it
/// journals its own: when clicks come faster than the database stores them (PostgreSQL stores about 20,000 a
/// second over one connection), redirects slow down to its pace, memory stays bounded, and a page that waits for
/// the clicks to be stored waits a fraction of a second, not for a backlog of minutes.
const MAX_BACKLOG: usize = 10_000;
/// Under load, an ingest round starts at most this often; a settle waits at most about this long.
const ROUND_SPACING: Duration = Duration::from_millis(20);
/// Segments one process writes side by side at most; each worker thread keeps to one of them.
const MAX_SHARDS: usize = 8;

/// A segment file, mapped into memory: appending a click is a copy into the page cache, which the kernel keeps
/// when the process dies, without a system call (a `write` per click was a tenth of a redirect's time).
struct Segment {
    path: PathBuf,
    /// Open (and locked) until the segment is deleted or handed to the replay.
    file: File,
    map: memmap2::MmapMut,
    /// Bytes written; the rest of the file is zeros.
    len: usize,
    opened: Instant,
}

struct Shard {
    segment: Segment,
    /// Segments a worker filled before the ingest thread sealed them; their clicks are in `pending`.
    full: Vec<Segment>,
    /// Clicks written to this shard's segments and not yet taken by the ingest thread.
    pending: Vec<NewClick>,
}

struct Shared {
    dir: PathBuf,
    spool_dir: PathBuf,
    shards: Vec<Mutex<Shard>>,
    /// Clicks journaled and not yet through an ingest round.
    unsettled: AtomicUsize,
    /// Set by [`ClickJournal::settle`]: run a round even when nothing is pending.
    round_wanted: AtomicBool,
    /// The ingest thread is waiting (or about to) and needs a notification to start a round.
    ingest_idle: AtomicBool,
    wake: (Mutex<()>, Condvar),
    rounds_started: AtomicU64,
    rounds_finished: watch::Sender<u64>,
}

/// Cheap to clone; the ingest thread stops once the last clone is dropped.
#[derive(Clone)]
pub struct ClickJournal {
    shared: Arc<Shared>,
}

impl ClickJournal {
    /// Opens a journal in `dir` and starts its ingest thread on `pool`; rounds the database refuses go to
    /// `spool_dir`.
    pub fn start(pool: DbPool, dir: PathBuf, spool_dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&spool_dir)?;
        let shards = (0..shard_count())
            .map(|_| {
                Ok(Mutex::new(Shard {
                    segment: Segment::create(&dir)?,
                    full: Vec::new(),
                    pending: Vec::new(),
                }))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            dir,
            spool_dir,
            shards,
            unsettled: AtomicUsize::new(0),
            round_wanted: AtomicBool::new(false),
            ingest_idle: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
            rounds_started: AtomicU64::new(0),
            rounds_finished: watch::channel(0).0,
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("click-ingest".into())
            .spawn(move || ingest(pool, weak))?;
        Ok(Self { shared })
    }

    /// Journals `click`: when this returns Ok, the click is on its way to the database and survives a crash of
    /// this process.
    pub fn append(&self, click: NewClick) -> anyhow::Result<()> {
        let shared = &self.shared;
        let mut line = serde_json::to_vec(&click)?;
        line.push(b'\n');
        let mut shard = shared.shards[shard_of_this_thread(shared.shards.len())]
            .lock()
            .expect("journal shard");
        if !shard.segment.append(&line) {
            // Filled before the ingest thread sealed it.
            let fresh = Segment::create(&shared.dir).map_err(|e| {
                anyhow::Error::new(e).context("cannot open a new click journal segment")
            })?;
            let full = std::mem::replace(&mut shard.segment, fresh);
            shard.full.push(full);
            if !shard.segment.append(&line) {
                anyhow::bail!("a click does not fit in a journal segment");
            }
        }
        // Counted before the ingest thread can take it (it takes under this lock), so the count never underflows.
        shared.unsettled.fetch_add(1, SeqCst);
        shard.pending.push(click);
        drop(shard);
        if shared.ingest_idle.load(SeqCst) {
            let _guard = shared.wake.0.lock().expect("journal wake");
            shared.wake.1.notify_one();
        }
        Ok(())
    }

    /// Waits while more than `MAX_BACKLOG` journaled clicks wait for the database. Returns at once otherwise.
    pub async fn wait_for_room(&self) {
        let shared = &self.shared;
        if shared.unsettled.load(SeqCst) < MAX_BACKLOG {
            return;
        }
        // The ingest thread runs round after round while clicks are waiting; each finished round may make room.
        let mut finished = shared.rounds_finished.subscribe();
        while shared.unsettled.load(SeqCst) >= MAX_BACKLOG {
            if finished.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until every click journaled before this call has been through an ingest round: stored, or (when the
    /// database could not take it) handed to the spool replay. Returns at once when nothing is waiting.
    pub async fn settle(&self) {
        let shared = &self.shared;
        if shared.unsettled.load(SeqCst) == 0 {
            return;
        }
        let mut finished = shared.rounds_finished.subscribe();
        // A round that starts after this point takes every click journaled before it.
        let wanted = shared.rounds_started.load(SeqCst) + 1;
        shared.round_wanted.store(true, SeqCst);
        {
            let _guard = shared.wake.0.lock().expect("journal wake");
            shared.wake.1.notify_one();
        }
        let _ = finished.wait_for(|round| *round >= wanted).await;
    }
}

/// One shard per core (the server runs a worker thread per core).
fn shard_count() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get())
        .min(MAX_SHARDS)
}

/// Each thread keeps to one shard, so the worker threads rarely wait for each other's writes.
fn shard_of_this_thread(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static THREAD: usize = NEXT.fetch_add(1, SeqCst);
    }
    THREAD.with(|thread| *thread % shards)
}

impl Segment {
    fn create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(format!(
            "{}-{}.live",
            chrono::Utc::now().format("%Y%m%d%H%M%S%f"),
            &crate::platform::auth::token::new_token()[..16]
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.lock()?;
        reserve(&file, SEGMENT_CAPACITY)?;
        // SAFETY: the file is this segment's own, locked against other Concord processes, and never shortened
        // while mapped; writes go through `append`, under the shard's lock.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        Ok(Self {
            path,
            file,
            map,
            len: 0,
            opened: Instant::now(),
        })
    }

    /// Copies `line` in after the last one; false when it does not fit.
    fn append(&mut self, line: &[u8]) -> bool {
        let end = self.len + line.len();
        if end > self.map.len() {
            return false;
        }
        self.map[self.len..end].copy_from_slice(line);
        self.len = end;
        true
    }

    fn due(&self) -> bool {
        self.len >= SEGMENT_BYTES || (self.len > 0 && self.opened.elapsed() >= SEGMENT_AGE)
    }

    fn delete(self) {
        drop(self.map);
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::error!(file = %self.path.display(), error = %e,
                "cannot delete a stored click journal segment; its clicks are replayed once");
        }
    }

    /// Moves the segment to the spool replay, which stores the clicks not stored yet.
    fn hand_to_replay(self, spool_dir: &Path) {
        drop(self.map);
        // Without the zeros after the last line.
        let _ = self.file.set_len(self.len as u64);
        move_to_spool(&self.path, spool_dir);
    }
}

/// Reserves the file's blocks, so a write into its mapping cannot fail for want of space (which would kill the
/// process with SIGBUS rather than return an error).
fn reserve(file: &File, size: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a descriptor this function borrows.
    #[allow(unsafe_code)]
    let reserved = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    match reserved {
        0 => Ok(()),
        error => Err(std::io::Error::from_raw_os_error(error)),
    }
}

fn move_to_spool(path: &Path, spool_dir: &Path) {
    let name = path.file_name().expect("a segment file name");
    let replay = spool_dir.join(name).with_extension("jsonl");
    if let Err(e) = std::fs::rename(path, &replay) {
        tracing::error!(file = %path.display(), error = %e,
            "cannot hand a click journal segment to the replay; it is replayed after a restart");
    }
}

/// The ingest thread: waits for journaled clicks (or a settle), takes every shard's pending clicks, stores them in
/// one transaction, then deletes the segments sealed before the round.
fn ingest(pool: DbPool, shared: Weak<Shared>) {
    // Kept between rounds so its page cache stays warm; dropped after an error and taken afresh.
    let mut connection: Option<crate::platform::db::PooledConn> = None;
    // Segments whose clicks have all been taken; deleted after the next successful round.
    let mut sealed: Vec<Segment> = Vec::new();
    let mut last_round = Instant::now();
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        wait_for_work(&shared, last_round + ROUND_SPACING);
        last_round = Instant::now();
        // Cleared before the round is counted: a settle that reads the new count sets it again for the next round.
        shared.round_wanted.store(false, SeqCst);
        let round = shared.rounds_started.fetch_add(1, SeqCst) + 1;
        let mut clicks = Vec::new();
        for shard in &shared.shards {
            // Created before taking the lock, so a worker never waits for a file to be created.
            let fresh = if shard.lock().expect("journal shard").segment.due() {
                Segment::create(&shared.dir).ok()
            } else {
                None
            };
            let mut shard = shard.lock().expect("journal shard");
            clicks.append(&mut shard.pending);
            sealed.append(&mut shard.full);
            if let Some(fresh) = fresh {
                sealed.push(std::mem::replace(&mut shard.segment, fresh));
            }
        }
        // Stored in the order they happened, whichever shard each went through.
        clicks.sort_by_key(|click| click.clicked_at);
        let count = clicks.len();
        let stored = if clicks.is_empty() {
            Ok(())
        } else {
            match connection.take() {
                Some(conn) => Ok(conn),
                None => crate::platform::db::writer_connection(&pool),
            }
            .and_then(|mut conn| {
                crate::affiliate::store::clicks::insert_batch(&mut conn, clicks)?;
                connection = Some(conn);
                Ok(())
            })
        };
        match stored {
            Ok(()) => sealed.drain(..).for_each(Segment::delete),
            Err(e) => {
                tracing::warn!(error = %e, clicks = count,
                    "the database could not store clicks; their journal is kept until it can");
                hand_everything_to_replay(&shared, &mut sealed);
            }
        }
        shared.unsettled.fetch_sub(count, SeqCst);
        shared.rounds_finished.send_replace(round);
    }
}

/// Sleeps until there is work: journaled clicks, once `not_before` has come (rounds under load are spaced out, so
/// each stores many clicks and the same index pages are written once per round, not once per click), or at once when
/// a settle asks. Wakes after a second with nothing to do, to notice a dropped journal.
fn wait_for_work(shared: &Shared, not_before: Instant) {
    let (lock, wake) = &shared.wake;
    let mut guard = lock.lock().expect("journal wake");
    loop {
        if shared.round_wanted.load(SeqCst) {
            return;
        }
        if shared.unsettled.load(SeqCst) > 0 {
            let now = Instant::now();
            if now >= not_before {
                return;
            }
            // Only a settle wakes this early: workers notify an idle thread only.
            guard = wake
                .wait_timeout(guard, not_before - now)
                .expect("journal wake")
                .0;
            continue;
        }
        // Announced before looking again, and a worker counts its click before it looks at this: one of the two
        // sees the other, so no click is left waiting for a notification that never comes.
        shared.ingest_idle.store(true, SeqCst);
        if shared.unsettled.load(SeqCst) > 0 || shared.round_wanted.load(SeqCst) {
            shared.ingest_idle.store(false, SeqCst);
            continue;
        }
        let (next, waited) = wake
            .wait_timeout(guard, Duration::from_secs(1))
            .expect("journal wake");
        guard = next;
        shared.ingest_idle.store(false, SeqCst);
        if waited.timed_out() {
            return;
        }
    }
}

/// After a round the database refused: every segment holding a click of it goes to the spool replay, which stores
/// them (by click id, once) when the database is back.
fn hand_everything_to_replay(shared: &Shared, sealed: &mut Vec<Segment>) {
    for shard in &shared.shards {
        let Ok(fresh) = Segment::create(&shared.dir) else {
            // Could not open a new segment: this one stays live, and is replayed after a restart.
            continue;
        };
        let mut shard = shard.lock().expect("journal shard");
        let full = std::mem::replace(&mut shard.segment, fresh);
        sealed.push(full);
        sealed.append(&mut shard.full);
    }
    for segment in sealed.drain(..) {
        segment.hand_to_replay(&shared.spool_dir);
    }
}

/// Moves every `*.live` segment in the journal `dir` that no live process holds (its writer died) to `spool_dir`.
pub fn recover_abandoned_segments(dir: &Path, spool_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
        if path.extension().is_none_or(|ext| ext != "live") {
            continue;
        }
        let Ok(file) = File::options().read(true).write(true).open(&path) else {
            continue;
        };
        // The writing process holds the lock for as long as it may append; a lock we get is a dead writer's.
        if file.try_lock().is_ok() {
            tracing::info!(file = %path.display(), "replaying a click journal segment a stopped process left");
            // Without the zeros after the last line the writer wrote.
            if let Ok(bytes) = std::fs::read(&path) {
                let written = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
                let _ = file.set_len(written as u64);
            }
            move_to_spool(&path, spool_dir);
        }
    }
}
