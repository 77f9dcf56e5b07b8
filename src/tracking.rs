//! The redirect's hot path, kept off the database as far as correctness allows: links and the program's tracking
//! settings are cached in memory (invalidated on change, and refreshed after `CACHE_TTL` so other processes' edits
//! arrive), and clicks go to one writer thread that stores whatever has queued up in a single transaction (group
//! commit). Each redirect waits for the commit of its click before it answers, so a 302 that was sent is never a
//! lost click.
//!
//! When the database cannot store a batch (down, locked by another process, read-only), the writer appends the batch
//! to a spool file under `CONCORD_DATA_DIR/click-spool` and syncs it before any of its redirects answer: the visitor
//! still reaches the destination, and the click is stored when the database is back. A replay thread inserts spooled
//! clicks whose `click_id` is not stored yet, then removes the file, so a crash between the two stores nothing twice.
//! Only when the spool cannot be written either does the redirect answer 503. Links and settings already cached keep
//! working while the database is away.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::db::clicks::NewClick;
use crate::db::links::LinkTarget;
use crate::db::{self, DbPool};
use crate::domain::affiliate::{is_bot, ClickFilter};

const CACHE_TTL: Duration = Duration::from_secs(30);
/// At most this many clicks go into one transaction.
const MAX_BATCH: usize = 512;

/// The program settings the redirect needs.
#[derive(Debug, Clone)]
pub struct TrackingSettings {
    pub cookie_window_days: i64,
    pub blocked_ips: Vec<String>,
}

type ClickReply = oneshot::Sender<Result<(), String>>;

pub struct Tracking {
    // Behind `Arc`s so a redirect clones a pointer, not the link's strings.
    links: RwLock<HashMap<String, (Instant, Option<Arc<LinkTarget>>)>>,
    settings: RwLock<Option<(Instant, Arc<TrackingSettings>)>>,
    /// Last click per (link, visitor) for duplicate detection, in this process.
    recent: Mutex<HashMap<(i64, [u8; 16]), NaiveDateTime>>,
    writer: mpsc::UnboundedSender<(NewClick, ClickReply)>,
    ip_salt: String,
}

impl Tracking {
    /// Starts the click writer and spool replay threads on `pool`. `ip_salt` keeps IP hashes unlinkable across
    /// installs; `spool_dir` holds the clicks the database could not take.
    pub fn start(pool: DbPool, ip_salt: String, spool_dir: PathBuf) -> Self {
        let (writer, queue) = mpsc::unbounded_channel();
        let writer_pool = pool.clone();
        let writer_spool = spool_dir.clone();
        std::thread::Builder::new()
            .name("click-writer".into())
            .spawn(move || write_clicks(writer_pool, writer_spool, queue))
            .expect("spawn the click writer");
        std::thread::Builder::new()
            .name("click-spool".into())
            .spawn(move || loop {
                replay_spool(&pool, &spool_dir);
                std::thread::sleep(SPOOL_REPLAY_EVERY);
            })
            .expect("spawn the click spool replay");
        Self {
            links: RwLock::default(),
            settings: RwLock::default(),
            recent: Mutex::default(),
            writer,
            ip_salt,
        }
    }

    pub async fn link(
        &self,
        pool: &DbPool,
        code: &str,
    ) -> Result<Option<Arc<LinkTarget>>, crate::error::AppError> {
        if let Some((at, target)) = self.links.read().expect("link cache").get(code) {
            if at.elapsed() < CACHE_TTL {
                return Ok(target.clone());
            }
        }
        let lookup = code.to_string();
        let target =
            match crate::web::db(pool, move |conn| db::links::find_target(conn, &lookup)).await {
                Ok(target) => target.map(Arc::new),
                Err(e) => return self.stale_link(code).ok_or(e),
            };
        self.links
            .write()
            .expect("link cache")
            .insert(code.to_string(), (Instant::now(), target.clone()));
        Ok(target)
    }

    /// A cached link past its refresh time, for when the database does not answer.
    fn stale_link(&self, code: &str) -> Option<Option<Arc<LinkTarget>>> {
        let cached = self.links.read().expect("link cache").get(code)?.1.clone();
        tracing::warn!(
            code,
            "the database did not answer; redirecting with the cached link"
        );
        Some(cached)
    }

    /// Forget a code, after its link was created or changed in this process.
    pub fn invalidate_link(&self, code: &str) {
        self.links.write().expect("link cache").remove(code);
    }

    pub async fn settings(
        &self,
        pool: &DbPool,
    ) -> Result<Arc<TrackingSettings>, crate::error::AppError> {
        if let Some((at, settings)) = self.settings.read().expect("settings cache").as_ref() {
            if at.elapsed() < CACHE_TTL {
                return Ok(settings.clone());
            }
        }
        let program = match crate::web::db(pool, db::programs::current).await {
            Ok(program) => program,
            Err(e) => {
                let cached = self.settings.read().expect("settings cache").clone();
                return cached.map(|(_, settings)| settings).ok_or(e);
            }
        };
        let settings = Arc::new(TrackingSettings {
            cookie_window_days: program.cookie_window_days,
            blocked_ips: program.blocked_ips(),
        });
        *self.settings.write().expect("settings cache") = Some((Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// Forget everything cached: after program settings or a partner's status changed in this process.
    pub fn invalidate_settings(&self) {
        *self.settings.write().expect("settings cache") = None;
        self.links.write().expect("link cache").clear();
    }

    pub fn hash_ip(&self, ip: &str) -> String {
        hex::encode(&Sha256::digest(format!("{}|{ip}", self.ip_salt).as_bytes())[..16])
    }

    /// Why a click does not count, if it does not: HEAD requests, bots, blocked IPs, and the same visitor on the same
    /// link within an hour.
    pub fn classify(
        &self,
        head: bool,
        user_agent: &str,
        ip: &str,
        ip_hash: &str,
        link_id: i64,
        at: NaiveDateTime,
        settings: &TrackingSettings,
    ) -> Option<ClickFilter> {
        if head {
            return Some(ClickFilter::Head);
        }
        if is_bot(user_agent) {
            return Some(ClickFilter::Bot);
        }
        if settings.blocked_ips.iter().any(|blocked| blocked == ip) {
            return Some(ClickFilter::BlockedIp);
        }
        let mut visitor = [0u8; 16];
        visitor
            .copy_from_slice(&Sha256::digest(format!("{ip_hash}|{user_agent}").as_bytes())[..16]);
        let mut recent = self.recent.lock().expect("recent clicks");
        if recent.len() > 200_000 {
            recent.retain(|_, seen| at - *seen < chrono::Duration::hours(1));
        }
        match recent.insert((link_id, visitor), at) {
            Some(previous) if at - previous < chrono::Duration::hours(1) => {
                Some(ClickFilter::Duplicate)
            }
            _ => None,
        }
    }

    /// Hands a click to the writer and waits until its transaction has committed.
    pub async fn record(&self, click: NewClick) -> Result<(), String> {
        let (reply, committed) = oneshot::channel();
        self.writer
            .send((click, reply))
            .map_err(|_| "the click writer has stopped".to_string())?;
        committed
            .await
            .map_err(|_| "the click writer has stopped".to_string())?
    }
}

/// The writer thread: take one click, then everything else already waiting (up to `MAX_BATCH`), store them in one
/// transaction (or, when the database cannot, in a synced spool file), and answer every waiting redirect.
fn write_clicks(
    pool: DbPool,
    spool_dir: PathBuf,
    mut queue: mpsc::UnboundedReceiver<(NewClick, ClickReply)>,
) {
    // Kept between batches so its page cache stays warm; dropped after an error and taken afresh for the next batch.
    let mut connection: Option<db::PooledConn> = None;
    while let Some(first) = queue.blocking_recv() {
        let (clicks, replies): (Vec<NewClick>, Vec<ClickReply>) =
            crate::group_commit::take_batch(first, &mut queue, MAX_BATCH)
                .into_iter()
                .unzip();
        let mut result = match connection.take() {
            Some(conn) => Ok(conn),
            None => db::writer_connection(&pool),
        }
        .and_then(|mut conn| {
            db::clicks::insert_batch(&mut conn, &clicks).map_err(|e| e.to_string())?;
            connection = Some(conn);
            Ok(())
        });
        if let Err(e) = &result {
            result = match spool(&spool_dir, &clicks) {
                Ok(file) => {
                    tracing::warn!(error = %e, clicks = clicks.len(), file = %file.display(),
                        "the database could not store clicks; they are spooled until it can");
                    Ok(())
                }
                Err(spool_error) => {
                    tracing::error!(error = %e, %spool_error, clicks = clicks.len(),
                        "clicks could be neither stored nor spooled; their redirects fail");
                    Err(e.clone())
                }
            };
        }
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }
}

/// A new click id: 12 hex digits of the time in milliseconds, then 80 random bits (20 hex digits). Unguessable like
/// a random token, but ids made close in time sort close together, so storing a batch touches a page or two of the
/// unique index on `click_id` instead of one random page per click.
pub fn new_click_id() -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64 & 0xffff_ffff_ffff;
    let random = crate::auth::token::random_bytes(10);
    format!("{millis:012x}{}", hex::encode(random))
}

/// How often the replay thread looks for spooled clicks.
const SPOOL_REPLAY_EVERY: Duration = Duration::from_secs(2);

/// Writes a batch to a new spool file: written and synced under a temporary name, then renamed, so the replay never
/// reads half a batch and a batch the redirects were told is safe is on disk.
fn spool(dir: &Path, clicks: &[NewClick]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S%f"),
        &crate::auth::token::new_token()[..16]
    );
    let partial = dir.join(format!("{name}.partial"));
    let done = dir.join(format!("{name}.jsonl"));
    let mut file = std::fs::File::create(&partial)?;
    for click in clicks {
        serde_json::to_writer(&mut file, click)?;
        file.write_all(b"\n")?;
    }
    file.sync_all()?;
    std::fs::rename(&partial, &done)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(done)
}

/// Stores every spooled batch the database will take now, oldest first, and removes its file.
pub fn replay_spool(pool: &DbPool, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let clicks = match read_spool(&file) {
            Ok(clicks) => clicks,
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e, "a click spool file cannot be read; left in place");
                continue;
            }
        };
        let stored = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
            db::clicks::insert_missing(&mut conn, &clicks).map_err(|e| e.to_string())
        });
        match stored {
            Ok(count) => {
                tracing::info!(file = %file.display(), stored = count, "spooled clicks stored");
                if let Err(e) = std::fs::remove_file(&file) {
                    tracing::error!(file = %file.display(), error = %e, "cannot remove a replayed click spool file");
                }
            }
            // Still unavailable: try again on the next round, in the same order.
            Err(_) => return,
        }
    }
}

fn read_spool(file: &Path) -> Result<Vec<NewClick>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str::<NewClick>(line).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::new_click_id;
    use crate::db::clicks::NewClick;
    use crate::domain::affiliate::ClickFilter;

    #[test]
    fn a_spooled_click_keeps_its_filter_as_the_database_text_and_reads_back() {
        let click = NewClick {
            click_id: new_click_id(),
            link_id: 7,
            partner_org_id: 3,
            clicked_at: crate::db::now(),
            ip_hash: "ab".into(),
            user_agent: "Mozilla/5.0".into(),
            referrer: String::new(),
            sub_id: String::new(),
            prior_click_id: None,
            filtered_reason: Some(ClickFilter::BlockedIp),
        };
        let line = serde_json::to_string(&click).unwrap();
        assert!(line.contains(r#""filtered_reason":"blocked_ip""#), "{line}");
        let back: NewClick = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (back.click_id, back.filtered_reason, back.clicked_at),
            (click.click_id, click.filtered_reason, click.clicked_at)
        );
        let unknown = line.replace("blocked_ip", "sneaky");
        assert!(serde_json::from_str::<NewClick>(&unknown).is_err());
    }

    #[test]
    fn click_ids_are_32_hex_digits_sorted_by_time_and_distinct() {
        let first = new_click_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_click_id();
        for id in [&first, &second] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        assert!(first[..12] < second[..12], "{first} then {second}");
        let same_moment: std::collections::HashSet<String> =
            (0..1000).map(|_| new_click_id()).collect();
        assert_eq!(same_moment.len(), 1000);
    }
}
