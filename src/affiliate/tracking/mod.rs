//! The redirect's hot path, kept off the database as far as correctness allows: links and the program's tracking
//! settings are cached in memory (invalidated on change, and refreshed after `CACHE_TTL` so other processes' edits
//! arrive), and clicks go to the click journal (`journal`), which makes them durable on the worker
//! thread and stores them in the database in batches. So a 302 that was sent is never a lost click.
//!
//! When the database cannot store a batch (down, locked by another process, read-only), its journal segments move to
//! the spool directory `CONCORD_DATA_DIR/click-spool`: the visitor still reaches the destination, and a replay
//! thread stores the spooled clicks whose `click_id` is not stored yet when the database is back, then removes the
//! file, so a crash between the two stores nothing twice. Only when the journal cannot be written does the redirect
//! answer 503. Links and settings already cached keep working while the database is away.

pub mod journal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use crate::affiliate::rules::{is_bot, ClickFilter, DestinationTemplate};
use crate::affiliate::store::clicks::NewClick;
use crate::affiliate::store::links::LinkTarget;
use crate::affiliate::tracking::journal::{recover_abandoned_segments, ClickJournal};
use crate::platform::db::DbPool;

const CACHE_TTL: Duration = Duration::from_secs(30);

/// A link as the redirect uses it: the link, and its destination with the link's fields already added.
pub struct CachedLink {
    pub target: LinkTarget,
    pub destination: DestinationTemplate,
}

impl CachedLink {
    fn new(target: LinkTarget) -> Self {
        let link = &target.link;
        let destination = DestinationTemplate::new(
            &link.destination_url,
            &[
                ("sub_id", link.sub_id.as_str()),
                ("utm_source", link.utm_source.as_str()),
                ("utm_medium", link.utm_medium.as_str()),
                ("utm_campaign", link.utm_campaign.as_str()),
            ],
        );
        Self {
            target,
            destination,
        }
    }
}

/// The program settings the redirect needs.
#[derive(Debug, Clone)]
pub struct TrackingSettings {
    pub cookie_window_days: i64,
    pub blocked_ips: Vec<String>,
}

/// One request for a tracked link, as far as deciding whether it counts goes.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// A HEAD request (link checkers, previews): never counted.
    pub head: bool,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub ip_hash: &'a str,
    pub link_id: i64,
    pub at: NaiveDateTime,
}

/// The longest code a link may have (custom codes take at most 40 characters, generated ones 8); anything longer
/// is not a link and is answered 404 before any lookup.
pub const MAX_CODE_LEN: usize = 64;
/// How many codes that are links the cache keeps.
pub const MAX_CACHED_LINKS: usize = 20_000;
/// How many codes that are not links the cache keeps: anyone can make up codes without end, so misses get a small
/// share of their own and never push links out.
pub const MAX_CACHED_MISSES: usize = 2_000;
/// The most clicks remembered for duplicate detection (about 100 bytes each).
const MAX_RECENT_CLICKS: usize = 200_000;

/// Whether `code` could be a link's code at all: short enough, and only letters, digits, dashes and underscores.
pub fn may_be_link_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The redirect's cache of codes looked up, bounded in entries (and so in bytes: a code is at most
/// `MAX_CODE_LEN` bytes and a link's fields are bounded when it is made). Entries live `CACHE_TTL`; a full share
/// first drops its expired entries, then an eighth of the rest (in the map's arbitrary order).
#[derive(Default)]
pub struct LinkCache {
    links: RwLock<HashMap<String, (Instant, Arc<CachedLink>)>>,
    misses: RwLock<HashMap<String, Instant>>,
}

/// What the cache holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCacheSize {
    pub links: usize,
    pub misses: usize,
    /// The bytes of the codes held.
    pub code_bytes: usize,
}

impl LinkCache {
    /// `Some(None)` for a code known not to be a link; `None` when the code is not cached (or, unless `stale`,
    /// its entry expired).
    fn get(&self, code: &str, stale: bool) -> Option<Option<Arc<CachedLink>>> {
        let fresh = |at: &Instant| stale || at.elapsed() < CACHE_TTL;
        if let Some((at, link)) = self.links.read().expect("link cache").get(code) {
            return fresh(at).then(|| Some(link.clone()));
        }
        let misses = self.misses.read().expect("link cache");
        misses.get(code).filter(|at| fresh(at)).map(|_| None)
    }

    fn put(&self, code: &str, link: Option<Arc<CachedLink>>) {
        let now = Instant::now();
        match link {
            Some(link) => {
                self.misses.write().expect("link cache").remove(code);
                let mut links = self.links.write().expect("link cache");
                make_room(&mut links, MAX_CACHED_LINKS, |(at, _)| *at);
                links.insert(code.to_string(), (now, link));
            }
            None => {
                self.links.write().expect("link cache").remove(code);
                let mut misses = self.misses.write().expect("link cache");
                make_room(&mut misses, MAX_CACHED_MISSES, |at| *at);
                misses.insert(code.to_string(), now);
            }
        }
    }

    fn remove(&self, code: &str) {
        self.links.write().expect("link cache").remove(code);
        self.misses.write().expect("link cache").remove(code);
    }

    fn clear(&self) {
        self.links.write().expect("link cache").clear();
        self.misses.write().expect("link cache").clear();
    }

    pub fn size(&self) -> LinkCacheSize {
        let links = self.links.read().expect("link cache");
        let misses = self.misses.read().expect("link cache");
        LinkCacheSize {
            links: links.len(),
            misses: misses.len(),
            code_bytes: links.keys().chain(misses.keys()).map(String::len).sum(),
        }
    }
}

/// Keeps `map` below `cap` before an insert: expired entries go first, then an eighth of the rest.
fn make_room<V>(map: &mut HashMap<String, V>, cap: usize, at: impl Fn(&V) -> Instant) {
    if map.len() < cap {
        return;
    }
    map.retain(|_, v| at(v).elapsed() < CACHE_TTL);
    if map.len() >= cap {
        let evict: Vec<String> = map.keys().take(cap / 8 + 1).cloned().collect();
        for code in evict {
            map.remove(&code);
        }
    }
}

pub struct Tracking {
    // Links behind `Arc`s so a redirect clones a pointer, not the link's strings.
    links: Arc<LinkCache>,
    settings: RwLock<Option<(Instant, Arc<TrackingSettings>)>>,
    /// Last click per (link, visitor) for duplicate detection, in this process.
    recent: Mutex<HashMap<(i64, [u8; 16]), NaiveDateTime>>,
    journal: ClickJournal,
    ip_salt: String,
}

impl Tracking {
    /// Opens the click journal in `data_dir` and starts its ingest and the spool replay threads on `pool`.
    /// `ip_salt` keeps IP hashes unlinkable across installs.
    ///
    /// Clicks a killed process journaled but had not stored are stored before this returns (when the database
    /// answers), so a restarted server shows every click it answered before the crash.
    pub fn start(pool: DbPool, ip_salt: String, data_dir: &Path) -> std::io::Result<Self> {
        let (journal_dir, spool_dir) =
            (data_dir.join("click-journal"), data_dir.join("click-spool"));
        let journal = ClickJournal::start(pool.clone(), journal_dir.clone(), spool_dir.clone())?;
        recover_abandoned_segments(&journal_dir, &spool_dir);
        replay_spool(&pool, &spool_dir);
        std::thread::Builder::new()
            .name("click-spool".into())
            .spawn(move || loop {
                std::thread::sleep(SPOOL_REPLAY_EVERY);
                recover_abandoned_segments(&journal_dir, &spool_dir);
                replay_spool(&pool, &spool_dir);
            })?;
        Ok(Self {
            links: Arc::default(),
            settings: RwLock::default(),
            recent: Mutex::default(),
            journal,
            ip_salt,
        })
    }

    /// The click journal, for what waits until clicks are stored (tests, and [`Tracking::settle`]).
    pub fn journal(&self) -> &ClickJournal {
        &self.journal
    }

    /// The link cache, for what watches its size (tests, and the bound it keeps).
    pub fn link_cache(&self) -> Arc<LinkCache> {
        self.links.clone()
    }

    pub async fn link(
        &self,
        pool: &DbPool,
        code: &str,
    ) -> Result<Option<Arc<CachedLink>>, crate::platform::http::AppError> {
        if !may_be_link_code(code) {
            return Ok(None);
        }
        if let Some(cached) = self.links.get(code, false) {
            return Ok(cached);
        }
        let lookup = code.to_string();
        let target = match crate::platform::http::db(pool, move |conn| {
            crate::affiliate::store::links::find_target(conn, &lookup)
        })
        .await
        {
            Ok(target) => target.map(|target| Arc::new(CachedLink::new(target))),
            Err(e) => return self.stale_link(code).ok_or(e),
        };
        self.links.put(code, target.clone());
        Ok(target)
    }

    /// A cached link past its refresh time, for when the database does not answer.
    fn stale_link(&self, code: &str) -> Option<Option<Arc<CachedLink>>> {
        let cached = self.links.get(code, true)?;
        tracing::warn!(
            code,
            "the database did not answer; redirecting with the cached link"
        );
        Some(cached)
    }

    /// Forget a code, after its link was created or changed in this process.
    pub fn invalidate_link(&self, code: &str) {
        self.links.remove(code);
    }

    pub async fn settings(
        &self,
        pool: &DbPool,
    ) -> Result<Arc<TrackingSettings>, crate::platform::http::AppError> {
        if let Some((at, settings)) = self.settings.read().expect("settings cache").as_ref() {
            if at.elapsed() < CACHE_TTL {
                return Ok(settings.clone());
            }
        }
        let program = match crate::platform::http::db(pool, crate::programs::current).await {
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
        self.links.clear();
    }

    pub fn hash_ip(&self, ip: &str) -> String {
        let digest = Sha256::new()
            .chain_update(&self.ip_salt)
            .chain_update(b"|")
            .chain_update(ip)
            .finalize();
        hex::encode(&digest[..16])
    }

    /// Why a click does not count, if it does not: HEAD requests, bots, blocked IPs, and the same visitor on the same
    /// link within an hour.
    pub fn classify(&self, visit: &Visit<'_>, settings: &TrackingSettings) -> Option<ClickFilter> {
        let Visit {
            head,
            user_agent,
            ip,
            ip_hash,
            link_id,
            at,
        } = *visit;
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
        let digest = Sha256::new()
            .chain_update(ip_hash)
            .chain_update(b"|")
            .chain_update(user_agent)
            .finalize();
        visitor.copy_from_slice(&digest[..16]);
        let mut recent = self.recent.lock().expect("recent clicks");
        if recent.len() >= MAX_RECENT_CLICKS {
            recent.retain(|_, seen| at - *seen < chrono::Duration::hours(1));
            if recent.len() >= MAX_RECENT_CLICKS {
                // A flood of distinct visitors within the hour: forgetting them may count a repeat click twice,
                // which the fraud filters and the review queue still see; memory must not grow without bound.
                tracing::warn!(
                    remembered = recent.len(),
                    "duplicate-click memory full; starting afresh"
                );
                recent.clear();
            }
        }
        match recent.insert((link_id, visitor), at) {
            Some(previous) if at - previous < chrono::Duration::hours(1) => {
                Some(ClickFilter::Duplicate)
            }
            _ => None,
        }
    }

    /// Journals a click: when this returns Ok, the click survives a crash and reaches the database. Waits first
    /// when the database is far behind the journal.
    pub async fn record(&self, click: NewClick) -> anyhow::Result<()> {
        self.journal.wait_for_room().await;
        self.journal.append(click)
    }

    /// Waits until every click already answered is stored (see [`ClickJournal::settle`]). Called before reading
    /// clicks, so a page never misses a click that was just made (clicks reach the database a few milliseconds
    /// after their redirect).
    pub async fn settle(&self) {
        self.journal.settle().await
    }
}

/// A new click id: 12 hex digits of the time in milliseconds, then 80 random bits (20 hex digits). Unguessable like
/// a random token, but ids made close in time sort close together, so storing a batch touches a page or two of the
/// unique index on `click_id` instead of one random page per click.
pub fn new_click_id() -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64 & 0xffff_ffff_ffff;
    let random = crate::platform::auth::token::random_bytes(10);
    format!("{millis:012x}{}", hex::encode(random))
}

/// How often the replay thread looks for spooled clicks.
const SPOOL_REPLAY_EVERY: Duration = Duration::from_secs(2);

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
            crate::affiliate::store::clicks::insert_batch(&mut conn, clicks)
                .map_err(|e| e.to_string())
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

/// The clicks of a spool file. A last line without its newline is a click whose redirect was still being written
/// when its process died, and was never answered: it is left out.
fn read_spool(file: &Path) -> Result<Vec<NewClick>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    if complete.len() < text.len() {
        tracing::warn!(file = %file.display(), "a click spool file ends in half a line; that click was never answered");
    }
    complete
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str::<NewClick>(line).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::new_click_id;
    use crate::affiliate::rules::ClickFilter;
    use crate::affiliate::store::clicks::NewClick;

    #[test]
    fn a_spooled_click_keeps_its_filter_as_the_database_text_and_reads_back() {
        let click = NewClick {
            click_id: new_click_id(),
            link_id: 7,
            partner_org_id: 3,
            clicked_at: crate::platform::db::now(),
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
