//! `TestApp`: the real application on port 0 with an isolated database, and a cookie-keeping `Browser`.

use std::sync::Arc;

use concord::accounts::role::Role;
use concord::accounts::{self, NewAccount};
use concord::config::{DatabaseUrl, Settings};
use concord::domain::partner::{PartnerKind, PartnerStatus};
use concord::partners::store::NewPartnerOrg;
use concord::platform::db::{DbConn, DbPool};
use diesel::Connection;
use reqwest::cookie::Jar;
use reqwest::StatusCode;

pub const PASSWORD: &str = "correct horse battery";

/// A database of its own for one test, removed when the test ends.
pub enum TestDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        server_url: String,
        name: String,
        url: String,
    },
}

/// A PostgreSQL database with every migration applied, made once per migration set and copied for each test
/// (`CREATE DATABASE … TEMPLATE`), which is much faster than migrating each test's database. Built under a
/// temporary name and renamed when complete, so a run killed halfway never leaves a half-migrated template.
fn postgres_template(server_url: &str) -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        use diesel::connection::SimpleConnection;
        use diesel::RunQueryDsl;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for migration in migration_tree("postgres") {
            std::hash::Hash::hash(
                &(migration.version, migration.up, migration.down),
                &mut hasher,
            );
        }
        let name = format!(
            "concord_template_{:016x}",
            std::hash::Hasher::finish(&hasher)
        );
        let mut admin =
            diesel::PgConnection::establish(server_url).expect("connect to TEST_DATABASE_URL");
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        #[derive(diesel::QueryableByName)]
        struct Named {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let existing: Vec<Named> = diesel::sql_query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'concord_template_%'",
        )
        .load(&mut admin)
        .expect("list templates");
        if existing.iter().any(|d| d.datname == name) {
            return name;
        }
        // Templates of older migration sets, and builds a killed run left, are dropped.
        for old in existing {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                old.datname
            ));
        }
        let building = format!("{name}_building_{}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .expect("create the template database");
        let mut url = url::Url::parse(server_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{building}"));
        {
            let pool = concord::platform::db::pool(&DatabaseUrl::parse(url.as_str()).unwrap())
                .expect("connect to the template database");
            let mut conn = pool.get().unwrap();
            concord::platform::db::run_migrations(&mut conn).expect("migrate the template");
        }
        // A second test process may have finished the same template first; either copy is the same.
        if let Err(e) = admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
        {
            let made: i64 = diesel::sql_query(format!(
                "SELECT count(*)::bigint AS n FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result::<Count>(&mut admin)
            .map(|c| c.n)
            .unwrap_or(0);
            assert_eq!(made, 1, "cannot finish the template database {name}: {e}");
        }
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"));
        name
    })
}

/// One migration of a tree (`migrations/sqlite` or `migrations/postgres`): its version (the folder's name) and the
/// text of its `up.sql` and `down.sql`.
pub struct Migration {
    pub version: String,
    pub up: String,
    pub down: String,
}

/// A migration tree in version order; every version must have both files.
pub fn migration_tree(backend: &str) -> Vec<Migration> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|dir| {
            let read = |file: &str| {
                std::fs::read_to_string(dir.join(file))
                    .unwrap_or_else(|_| panic!("{} has no {file}", dir.display()))
            };
            Migration {
                version: dir.file_name().unwrap().to_string_lossy().into_owned(),
                up: read("up.sql"),
                down: read("down.sql"),
            }
        })
        .collect()
}

impl TestDatabase {
    /// A database for one test, with every migration applied on PostgreSQL (copied from the template) and empty
    /// on SQLite (the app migrates it on start, which is quick there).
    pub fn create() -> Self {
        Self::make(true)
    }

    /// A database with no tables at all, for the migration tests.
    pub fn create_empty() -> Self {
        Self::make(false)
    }

    fn make(migrated: bool) -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(server_url) => {
                assert!(
                    server_url.starts_with("postgres"),
                    "TEST_DATABASE_URL must be a postgres:// URL"
                );
                let name = format!(
                    "concord_test_{}",
                    &concord::platform::auth::token::new_token()[..16]
                );
                let mut admin = diesel::PgConnection::establish(&server_url)
                    .expect("connect to TEST_DATABASE_URL");
                let create = if migrated {
                    format!(
                        "CREATE DATABASE {name} TEMPLATE {}",
                        postgres_template(&server_url)
                    )
                } else {
                    format!("CREATE DATABASE {name}")
                };
                diesel::connection::SimpleConnection::batch_execute(&mut admin, &create)
                    .expect("create test database");
                let mut url = url::Url::parse(&server_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase::Postgres {
                    server_url,
                    name,
                    url: url.to_string(),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("concord.db").display());
                TestDatabase::Sqlite { _dir: dir, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. } | TestDatabase::Postgres { url, .. } => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDatabase::Postgres { .. })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres {
            server_url, name, ..
        } = self
        {
            if let Ok(mut admin) = diesel::PgConnection::establish(server_url) {
                let _ = diesel::connection::SimpleConnection::batch_execute(
                    &mut admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
        }
    }
}

/// An HTTP client that keeps cookies and does not follow redirects, so tests see each 303.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF token on the page:\n{}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "expected {text:?} on the page (status {}):\n{}",
            self.status,
            self.body
        );
        self
    }

    pub fn assert_redirect(&self, to: &str) -> &Self {
        assert_eq!(
            self.status,
            StatusCode::SEE_OTHER,
            "expected a redirect to {to}; page:\n{}",
            self.body
        );
        assert_eq!(self.location.as_deref(), Some(to));
        self
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            // No keep-alive between requests: some tests restart the server behind the same address.
            .pool_max_idle_per_host(0)
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
            .build()
            .unwrap();
        Self {
            base: base.to_string(),
            client,
            jar,
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        Page {
            status,
            location,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts a form as it stands, without adding a CSRF token.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Loads `form_page`, takes its CSRF token, and posts `fields` to `action` the way the browser would.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf_token();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, &all).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// The raw response to a GET, headers and all.
    pub async fn response(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: DbPool,
    pub setup_url: Option<String>,
    pub database: TestDatabase,
    pub jobs: Arc<concord::platform::jobs::Jobs>,
    pub mail_dir: tempfile::TempDir,
    clicks: concord::affiliate::tracking::journal::ClickJournal,
    pub link_cache: std::sync::Arc<concord::affiliate::tracking::LinkCache>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app after `adjust` has changed the test settings (SMTP target, attempt limit, jobs...).
    /// With `CONCORD_TEST_LOG=<filter>` (e.g. `warn`) the app's log goes to the test's standard error.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        if let Ok(filter) = std::env::var("CONCORD_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let database = TestDatabase::create();
        let mail_dir = tempfile::tempdir().expect("temp dir");
        // Port 0: the server takes a free port, and links in emails name it.
        let mut settings = Settings {
            database: DatabaseUrl::parse(database.url()).unwrap(),
            bind: "127.0.0.1:0".parse().unwrap(),
            base_url: "http://127.0.0.1:0".into(),
            session_key: Some(concord::platform::auth::token::random_bytes(64)),
            cookie_secure: false,
            smtp: None,
            mail_from: "Concord Tests <partners@concord.test>".into(),
            mail_dir: mail_dir.path().to_path_buf(),
            data_dir: mail_dir.path().join("data"),
            outbox_max_attempts: 3,
            // Tests run jobs by hand, so nothing happens behind their back.
            run_jobs: false,
            behind_proxy: false,
            // The tests' webhook receivers listen on 127.0.0.1; the SSRF tests switch this off.
            webhook_allow_private: true,
            ip_salt: None,
            stripe: None,
        };
        adjust(&mut settings);
        let app = concord::startup::build(settings)
            .await
            .expect("the application starts");
        // The socket itself: the base URL may name the public https address of a proxy.
        let address = format!("http://127.0.0.1:{}", app.port);
        let (pool, setup_url, jobs) = (app.pool.clone(), app.setup_url.clone(), app.jobs.clone());
        let clicks = app.clicks.clone();
        let link_cache = app.link_cache.clone();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            pool,
            setup_url,
            database,
            jobs,
            mail_dir,
            clicks,
            link_cache,
        }
    }

    pub fn click_journal(&self) -> &concord::affiliate::tracking::journal::ClickJournal {
        &self.clicks
    }

    /// Waits until every click answered so far is stored (or spooled, when the database cannot take it), as the
    /// pages that show clicks do.
    pub async fn settle_clicks(&self) {
        self.clicks.settle().await
    }

    pub async fn run_job(&self, name: &str) -> String {
        self.jobs.run(name).await.expect("the job runs")
    }

    /// Outbox rows as (status, attempts, last_error), oldest first.
    pub async fn outbox(&self) -> Vec<concord::platform::outbox::store::OutboxMessage> {
        self.db(|conn| {
            let mut all = Vec::new();
            for status in concord::platform::outbox::rules::OutboxStatus::ALL
                .iter()
                .copied()
            {
                all.extend(
                    concord::platform::outbox::store::list(
                        conn,
                        status,
                        concord::platform::db::Window::ALL,
                    )
                    .unwrap(),
                );
            }
            all.sort_by_key(|m| m.id);
            all
        })
        .await
    }

    /// Puts `count` plain test messages in the outbox, to partner0@example.test and on.
    pub async fn enqueue_emails(&self, count: usize) {
        self.db(move |conn| {
            for n in 0..count {
                let email = concord::platform::mail::Email {
                    template: "test",
                    recipient: format!("partner{n}@example.test"),
                    subject: format!("Message {n}"),
                    text: "Hello".into(),
                    html: "<p>Hello</p>".into(),
                };
                concord::platform::outbox::store::enqueue(conn, &email).unwrap();
            }
        })
        .await;
    }

    /// Makes every pending message due now, as if its backoff had passed.
    pub async fn make_outbox_due(&self) {
        self.db(|conn| {
            use concord::platform::db::schema::outbox;
            use diesel::prelude::*;
            diesel::update(outbox::table)
                .set(outbox::next_attempt_at.eq(concord::platform::db::now()))
                .execute(conn)
                .unwrap()
        })
        .await;
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Runs database work off the test's executor.
    pub async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> T + Send + 'static,
    ) -> T {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || work(&mut pool.get().unwrap()))
            .await
            .unwrap()
    }

    pub async fn create_user(&self, email: &str, role: Role, partner_org_id: Option<i64>) -> i64 {
        let email = email.to_string();
        self.db(move |conn| {
            accounts::create(
                conn,
                &NewAccount {
                    email: &email,
                    display_name: "",
                    password: PASSWORD,
                    role,
                    partner_org_id,
                },
            )
            .unwrap()
        })
        .await
    }

    pub async fn create_partner(
        &self,
        name: &str,
        kind: PartnerKind,
        status: PartnerStatus,
    ) -> i64 {
        let name = name.to_string();
        self.db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            let org = concord::partners::store::insert(
                conn,
                &NewPartnerOrg {
                    program_id: program.id,
                    name: &name,
                    kind,
                    status,
                    tier_id: None,
                    country: "US",
                    website_domain: "",
                },
            )
            .unwrap();
            // An affiliate accepts the program terms when it joins (`/join` records the version).
            if kind == PartnerKind::Affiliate {
                concord::partners::store::record_application(conn, org, "", program.terms_version)
                    .unwrap();
            }
            org
        })
        .await
    }

    /// A browser signed in as a new admin.
    pub async fn admin_browser(&self) -> Browser {
        self.create_user("admin@example.test", Role::Admin, None)
            .await;
        let browser = self.browser();
        browser
            .login("admin@example.test", PASSWORD)
            .await
            .assert_redirect("/admin");
        browser
    }

    pub async fn partner_status(&self, org_id: i64) -> String {
        self.db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            concord::partners::store::find(conn, program.id, org_id)
                .unwrap()
                .unwrap()
                .org
                .status
                .to_string()
        })
        .await
    }
}

impl TestApp {
    /// Turns on the affiliate program: links may point at shop.test, a landing page, and the given approval mode.
    pub async fn affiliate_program(
        &self,
        auto_approve: bool,
        adjust: impl FnOnce(&mut concord::programs::affiliate_settings::AffiliateSettings)
            + Send
            + 'static,
    ) {
        self.db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            let mut settings = concord::programs::affiliate_settings::AffiliateSettings {
                cookie_window_days: 30,
                attribution_model:
                    concord::programs::affiliate_settings::AttributionModel::LastClick,
                terms_text: "Be honest.".into(),
                auto_approve_affiliates: auto_approve,
                default_landing_url: "https://shop.test/welcome".into(),
                allowed_domains: vec!["shop.test".into()],
                min_seconds_to_convert: 0,
                max_conversions_per_ip_hour: 1000,
                max_links_per_partner: 1000,
                blocked_ips: vec![],
                hold_days: 30,
            };
            adjust(&mut settings);
            concord::affiliate::update_settings(
                conn,
                program.id,
                &settings,
                &concord::platform::audit::Actor::system("test"),
            )
            .unwrap();
            // Affiliates a test made before it set these terms joined under them (tests of a new version change
            // the terms afterwards).
            use concord::platform::db::schema::partner_orgs;
            use diesel::prelude::*;
            let version = concord::programs::current(conn).unwrap().terms_version;
            diesel::update(partner_orgs::table.filter(partner_orgs::kind.eq("affiliate")))
                .set(partner_orgs::terms_version.eq(Some(version)))
                .execute(conn)
                .unwrap();
        })
        .await;
    }

    /// A program API key, as `concord api-key create` makes one.
    pub async fn api_key(&self) -> String {
        let key = format!("ck_{}", concord::platform::auth::token::new_token());
        let (prefix, hash) = (
            key[..11].to_string(),
            concord::platform::auth::token::hash_token(&key),
        );
        self.db(move |conn| {
            concord::programs::api_keys::insert(conn, "tests", &prefix, &hash).unwrap()
        })
        .await;
        key
    }

    /// An approved affiliate org with a partner admin and one link with the given code. Returns (org id, link code).
    pub async fn affiliate_with_link(&self, name: &str, email: &str, code: &str) -> (i64, String) {
        let org = self
            .create_partner(
                name,
                concord::domain::partner::PartnerKind::Affiliate,
                concord::domain::partner::PartnerStatus::Approved,
            )
            .await;
        self.create_user(
            email,
            concord::accounts::role::Role::PartnerAdmin,
            Some(org),
        )
        .await;
        let code = code.to_string();
        let link_code = code.clone();
        self.db(move |conn| {
            let link = concord::affiliate::store::links::NewLink {
                partner_org_id: org,
                code: &link_code,
                destination_url: "https://shop.test/pricing",
                sub_id: "",
                utm_source: "",
                utm_medium: "",
                utm_campaign: "",
                is_default: false,
            };
            concord::affiliate::store::links::create(conn, &link).unwrap()
        })
        .await;
        (org, code)
    }
}

/// The value of attribute `name` in an HTML start tag's text, as the page wrote it.
pub fn html_attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(tag[start..].split('"').next()?.to_string())
}
