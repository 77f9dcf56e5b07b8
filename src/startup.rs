//! Builds the application from `Settings`: pool, migrations, session key, first-run setup link, and the HTTP
//! server bound to its listener. `main` and the integration tests both start Concord through `build`.

use actix_session::config::PersistentSession;
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Compress, DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpServer};

use crate::platform::group_commit::GroupCommit;
use crate::platform::http::request_log::RedactedRootSpan;
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::config::Settings;
use crate::platform::db::DbPool;
use crate::platform::http::throttle::IpThrottle;
use crate::platform::http::{csrf, AppError};
use crate::platform::jobs::{JobContext, Jobs};
use crate::web::{self as routes, AppState};

pub struct Application {
    pub port: u16,
    /// Where links in pages and emails point: `CONCORD_BASE_URL`, or this server's own address.
    pub base_url: String,
    pub pool: DbPool,
    /// The first-run link, present while no admin exists.
    pub setup_url: Option<String>,
    /// The periodic jobs and what they run with; tests run jobs through it by hand.
    pub jobs: Arc<Jobs>,
    /// The click journal the redirects write to; tests wait on it until clicks are stored.
    pub clicks: crate::affiliate::tracking::journal::ClickJournal,
    /// The redirect's link cache; tests watch that it stays bounded.
    pub link_cache: Arc<crate::affiliate::tracking::LinkCache>,
    server: Server,
}

impl Application {
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Opens the database and applies pending migrations. Errors name `DATABASE_URL`.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let database = settings.database.clone();
    tokio::task::spawn_blocking(move || {
        let pool = crate::platform::db::pool(&database).context("DATABASE_URL")?;
        let mut conn = pool
            .get()
            .map_err(|e| anyhow::anyhow!("DATABASE_URL: cannot connect: {e}"))?;
        let applied = crate::platform::db::run_migrations(&mut conn)
            .map_err(|e| anyhow::anyhow!("DATABASE_URL: migrations failed: {e}"))?;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), "applied database migrations");
        }
        crate::programs::current(&mut conn)?;
        Ok(pool)
    })
    .await?
}

/// The cookie key: from `CONCORD_SESSION_KEY`, or generated once and kept in the database so restarts (and other
/// servers on the same database) keep sessions valid.
async fn session_key(settings: &Settings, pool: &DbPool) -> anyhow::Result<Key> {
    if let Some(bytes) = &settings.session_key {
        return Ok(Key::from(bytes));
    }
    let generated = hex::encode(crate::platform::auth::token::random_bytes(64));
    let stored = crate::platform::db::run(pool, move |conn| {
        crate::platform::db::settings::get_or_insert(
            conn,
            crate::platform::db::settings::SESSION_KEY,
            &generated,
        )
    })
    .await
    .context("cannot keep the session key in the database")?;
    let bytes = hex::decode(stored).context("the stored session key is not hex")?;
    Ok(Key::from(&bytes))
}

/// Prepares the database and everything the server runs with, and binds `CONCORD_BIND`. On port 0 the system
/// picks a free port; without `CONCORD_BASE_URL`, links then name the port it picked (tests start servers so,
/// with no window between choosing a port and listening on it).
pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
    let listener = TcpListener::bind(settings.bind)
        .map_err(|e| anyhow::anyhow!("CONCORD_BIND: cannot listen on {}: {e}", settings.bind))?;
    let port = listener.local_addr()?.port();
    if settings.bind.port() == 0 && settings.base_url == format!("http://{}", settings.bind) {
        settings.base_url = format!("http://{}:{port}", settings.bind.ip());
    }
    let pool = prepare_database(&settings).await?;
    let key = session_key(&settings, &pool).await?;
    crate::platform::db::run(&pool, forget_expired)
        .await
        .context("cannot tidy sessions")?;
    let setup_url = crate::platform::db::run(&pool, crate::accounts::setup::open_if_no_admin)
        .await
        .context("cannot prepare first-run setup")?
        .map(|token| format!("{}/setup?token={token}", settings.base_url));

    let cookie_secure = settings.cookie_secure;
    let tracking = start_tracking(&pool, &settings).await?;
    // Uploads cut off by a crash leave partial files; nothing refers to them.
    let abandoned = crate::mdf::uploads::Uploads::new(&settings.data_dir).remove_abandoned();
    if abandoned > 0 {
        tracing::info!(abandoned, "removed partial uploads left by an earlier run");
    }
    let clicks = tracking.journal().clone();
    let link_cache = tracking.link_cache();
    let payer = crate::payouts::Payer::from_settings(pool.clone(), &settings)?;
    if let Some(payer) = payer.clone() {
        // A batch a killed process left unfinished is resumed with the same idempotency keys.
        tokio::spawn(payer.resume_after_start());
    }
    let jobs = start_jobs(&pool, &settings, payer.clone())?;
    let conversion_writers = match settings.database.backend {
        crate::config::Backend::Sqlite => 1,
        crate::config::Backend::Postgres => 4,
    };
    let base_url = settings.base_url.clone();
    let https = base_url.starts_with("https://");
    let state = web::Data::new(AppState {
        pool: pool.clone(),
        settings,
        payer,
        jobs: jobs.clone(),
        tracking,
        conversions: GroupCommit::start(
            "conversion-writer",
            pool.clone(),
            conversion_writers,
            routes::api::record_conversion_job,
        ),
        signups: IpThrottle::new(5, std::time::Duration::from_secs(600)),
    });

    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().error_handler(|err, _| {
                AppError::BadRequest(format!("The form could not be read: {err}")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                AppError::BadRequest(format!("The address has a bad parameter: {err}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .wrap(security_headers(https))
            // The tracked redirect is the hot path and needs none of what pages need (session, CSRF, compression,
            // a request span), so it is matched first and served outside them.
            .configure(routes::affiliate::redirect::routes)
            .service(
                web::scope("")
                    .wrap(from_fn(csrf::verify))
                    .wrap(
                        SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                            .cookie_name("concord_session".into())
                            .cookie_secure(cookie_secure)
                            .cookie_http_only(true)
                            .cookie_same_site(SameSite::Lax)
                            .session_lifecycle(
                                PersistentSession::default()
                                    .session_ttl(actix_web::cookie::time::Duration::days(14)),
                            )
                            .build(),
                    )
                    .wrap(Compress::default())
                    // Pages hold a person's data and downloads (the payout bank file) partners' emails: no cache
                    // keeps them, unless a response says otherwise (the fingerprinted static assets do).
                    .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
                    .wrap(from_fn(echo_request_id))
                    .wrap(TracingLogger::<RedactedRootSpan>::new())
                    .configure(routes::routes)
                    .default_service(web::to(routes::not_found)),
            )
            // Scopes without a default of their own (`/api/v1`, `/admin`, …) fall back to the app's, not the
            // enclosing scope's.
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .run();

    Ok(Application {
        port,
        base_url,
        pool,
        setup_url,
        jobs,
        clicks,
        link_cache,
        server,
    })
}

/// The redirect's link cache and click journal, with this install's IP salt: `CONCORD_IP_SALT` when set (then no
/// copy stays in the database, so the database alone cannot turn hashes back into addresses), else one kept in
/// the database, so IP hashes stay comparable across restarts and instances.
async fn start_tracking(
    pool: &DbPool,
    settings: &Settings,
) -> anyhow::Result<crate::affiliate::tracking::Tracking> {
    let outside = settings.ip_salt.clone();
    let generated = crate::platform::auth::token::new_token();
    let ip_salt = crate::platform::db::run(pool, move |conn| match outside {
        Some(salt) => {
            if crate::platform::db::settings::get(conn, "ip_salt")?.is_some() {
                crate::platform::db::settings::delete(conn, "ip_salt")?;
                tracing::info!(
                    "CONCORD_IP_SALT is set: the IP salt kept in the database was removed"
                );
            }
            Ok(salt)
        }
        None => crate::platform::db::settings::get_or_insert(conn, "ip_salt", &generated),
    })
    .await
    .context("cannot read the IP salt")?;
    let tracking =
        crate::affiliate::tracking::Tracking::start(pool.clone(), ip_salt, &settings.data_dir)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the click journal in {}: {e}",
                    settings.data_dir.display()
                )
            })?;
    Ok(tracking)
}

/// Every job, scheduled unless `CONCORD_JOBS` is off (another instance runs them, or `run-once` does).
fn start_jobs(
    pool: &DbPool,
    settings: &Settings,
    payer: Option<crate::payouts::Payer>,
) -> anyhow::Result<Arc<Jobs>> {
    let jobs = Arc::new(Jobs::new(
        JobContext::new(pool.clone(), settings.clone())?,
        jobs(payer),
    ));
    if settings.run_jobs {
        tracing::info!(
            "jobs run every few seconds; email goes to {}",
            jobs.ctx.mailer.describe()
        );
        jobs.spawn_scheduler();
    }
    Ok(jobs)
}

/// Drops sessions past their end, and sign-in attempts and rate-limit events too old to count, so no table grows
/// without bound.
fn forget_expired(conn: &mut crate::platform::db::DbConn) -> diesel::QueryResult<()> {
    let now = crate::platform::db::now();
    crate::accounts::store::sessions::prune_expired(conn, now)?;
    crate::accounts::store::login_attempts::prune(
        conn,
        crate::accounts::login_throttle::window_start(now),
    )?;
    // No rate limit looks back further than a day.
    crate::platform::rate_limit::prune(conn, now - chrono::Duration::days(1))?;
    Ok(())
}

/// Scripts, styles and images come only from Concord itself (no inline script or style anywhere), no plugins, no
/// `<base>` rewriting, and nothing may frame a page. `form-action` is left out on purpose: Chrome applies it to the
/// redirect after a form, and connecting a payout account redirects to Stripe.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every response carries; HSTS too when Concord is reached over https (its base URL), so a browser
/// never tries plain http again.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY));
    if https {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Returns the request id in `X-Request-Id`, so a person reporting an error can quote the line in the log.
async fn echo_request_id(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(response)
}

/// Every job Concord runs, in the order `run-once` without a name runs them. `payer` pays Stripe batches (`None`
/// without Stripe).
pub fn jobs(payer: Option<crate::payouts::Payer>) -> Vec<crate::platform::jobs::Job> {
    vec![
        crate::platform::outbox::job(),
        crate::placement::notices::job(),
        crate::training::notices::job(),
        crate::ledger::hold_release_job(),
        crate::deals::notices::sla_job(),
        crate::deals::notices::expiry_job(),
        crate::webhooks::delivery::job(),
        crate::payouts::notices::job(payer),
        crate::mdf::notices::job(),
    ]
}
