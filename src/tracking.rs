//! The redirect's hot path, kept off the database as far as correctness allows: links and the program's tracking
//! settings are cached in memory (invalidated on change, and refreshed after `CACHE_TTL` so other processes' edits
//! arrive), and clicks go to one writer thread that stores whatever has queued up in a single transaction (group
//! commit). Each redirect waits for the commit of its click before it answers, so a 302 that was sent is never a
//! lost click.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
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
    links: RwLock<HashMap<String, (Instant, Option<LinkTarget>)>>,
    settings: RwLock<Option<(Instant, TrackingSettings)>>,
    /// Last click per (link, visitor) for duplicate detection, in this process.
    recent: Mutex<HashMap<(i64, [u8; 16]), NaiveDateTime>>,
    writer: mpsc::UnboundedSender<(NewClick, ClickReply)>,
    ip_salt: String,
}

impl Tracking {
    /// Starts the click writer thread on `pool`. `ip_salt` keeps IP hashes unlinkable across installs.
    pub fn start(pool: DbPool, ip_salt: String) -> Self {
        let (writer, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("click-writer".into())
            .spawn(move || write_clicks(pool, queue))
            .expect("spawn the click writer");
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
    ) -> Result<Option<LinkTarget>, crate::error::AppError> {
        if let Some((at, target)) = self.links.read().expect("link cache").get(code) {
            if at.elapsed() < CACHE_TTL {
                return Ok(target.clone());
            }
        }
        let lookup = code.to_string();
        let target =
            crate::web::db(pool, move |conn| db::links::find_target(conn, &lookup)).await?;
        self.links
            .write()
            .expect("link cache")
            .insert(code.to_string(), (Instant::now(), target.clone()));
        Ok(target)
    }

    /// Forget a code, after its link was created or changed in this process.
    pub fn invalidate_link(&self, code: &str) {
        self.links.write().expect("link cache").remove(code);
    }

    pub async fn settings(
        &self,
        pool: &DbPool,
    ) -> Result<TrackingSettings, crate::error::AppError> {
        if let Some((at, settings)) = self.settings.read().expect("settings cache").as_ref() {
            if at.elapsed() < CACHE_TTL {
                return Ok(settings.clone());
            }
        }
        let program = crate::web::db(pool, db::programs::current).await?;
        let settings = TrackingSettings {
            cookie_window_days: program.cookie_window_days,
            blocked_ips: program.blocked_ips(),
        };
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
/// transaction, and answer every waiting redirect.
fn write_clicks(pool: DbPool, mut queue: mpsc::UnboundedReceiver<(NewClick, ClickReply)>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let clicks: Vec<NewClick> = batch.iter().map(|(click, _)| click.clone()).collect();
        let result = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
            db::clicks::insert_batch(&mut conn, &clicks).map_err(|e| e.to_string())
        });
        if let Err(e) = &result {
            tracing::error!(error = %e, clicks = clicks.len(), "clicks could not be stored; their redirects fail");
        }
        for (_, reply) in batch {
            let _ = reply.send(result.clone());
        }
    }
}
