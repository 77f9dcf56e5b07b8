//! The `concord` binary itself: a fresh start with no environment, configuration errors, and the commands
//! scripts use. On the PostgreSQL pass the binary gets a fresh PostgreSQL database through `DATABASE_URL`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{Browser, TestApp, TestDatabase, PASSWORD};
use reqwest::StatusCode;

const BINARY: &str = env!("CARGO_BIN_EXE_concord");

pub(crate) fn concord(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    command
}

/// `concord serve` on 127.0.0.1:`port` (0: a free port the server picks and reports, in `Server::port`) and
/// `database_url`, jobs off, with `extra` variables; returns once it listens. Restarting on the port a first start
/// reported keeps the addresses a test already holds valid.
pub(crate) fn serve(
    dir: &std::path::Path,
    database_url: &str,
    port: u16,
    extra: &[(&str, &str)],
) -> Server {
    let mut command = concord(dir);
    command
        .arg("serve")
        .env("CONCORD_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("CONCORD_DATA_DIR", dir.join("data"))
        .env("CONCORD_JOBS", "off")
        .envs(extra.iter().copied());
    let mut server = Server::start(command);
    let line = server.wait_for("listening on port ");
    server.port = line
        .split("listening on port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    server
}

/// A running `concord serve`, stopped when dropped.
pub(crate) struct Server {
    /// The port it listens on, once `serve` has seen it say so.
    pub(crate) port: u16,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start concord");
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Self {
            port: 0,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first output line containing `needle`, waiting up to 60 s.
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "concord never printed {needle:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Server {
    /// The peak resident set of the server process so far (`VmHWM`), in bytes.
    pub(crate) fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }

    /// Everything printed so far.
    pub(crate) fn output_so_far(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn fresh_start_with_no_environment_creates_the_database_and_logs_the_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create();
    let mut command = concord(dir.path());
    command.arg("serve");
    // The SQLite pass runs with no environment at all; the PostgreSQL pass names only its database.
    if database.is_postgres() {
        command.env("DATABASE_URL", database.url());
    }
    let mut server = Server::start(command);
    let line = server.wait_for("/setup?token=");
    server.wait_for("listening on");
    let setup_url = line[line.find("http://").unwrap()..].trim().to_string();
    assert!(
        setup_url.starts_with("http://127.0.0.1:8080/setup?token="),
        "{setup_url}"
    );
    if !database.is_postgres() {
        assert!(
            dir.path().join("concord.db").exists(),
            "the SQLite file is created in the working directory"
        );
    }

    let browser = Browser::new("http://127.0.0.1:8080");
    assert_eq!(browser.get("/healthz").await.status, StatusCode::OK);
    let path = &setup_url["http://127.0.0.1:8080".len()..];
    let form = browser.get(path).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf_token();
    let token = path.split("token=").nth(1).unwrap();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("token", token),
        ("program_name", "First Run Partners"),
        ("currency", "USD"),
        ("email", "owner@example.test"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    browser
        .post_raw("/setup", &fields)
        .await
        .assert_redirect("/admin");
    browser
        .get("/admin")
        .await
        .assert_contains("First Run Partners");
    assert_eq!(browser.get(path).await.status, StatusCode::NOT_FOUND);
    drop(server);

    // After a restart the admin exists: no new setup link, and the stored session key keeps the session valid.
    let mut command = concord(dir.path());
    command.arg("serve");
    if database.is_postgres() {
        command.env("DATABASE_URL", database.url());
    }
    let mut server = Server::start(command);
    server.wait_for("listening on");
    assert!(!server.seen.iter().any(|l| l.contains("/setup?token=")));
    browser
        .get("/admin")
        .await
        .assert_contains("First Run Partners");
}

#[test]
fn bad_configuration_is_one_line_naming_the_variable_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    for (variable, value) in [
        ("CONCORD_BIND", "not-an-address"),
        ("DATABASE_URL", "mysql://localhost/concord"),
        ("CONCORD_SESSION_KEY", "abc"),
    ] {
        let output = concord(dir.path())
            .arg("serve")
            .env(variable, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{variable}={value} must fail");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<_> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line for {variable}: {stderr}");
        assert!(
            lines[0].starts_with(&format!("error: {variable}:")),
            "{stderr}"
        );
    }
    assert!(
        !dir.path().join("concord.db").exists(),
        "nothing is created when the configuration is bad"
    );
}

#[tokio::test]
async fn create_admin_then_login() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let output = concord(dir.path())
        .args([
            "create-admin",
            "--email",
            "Ops@Example.test",
            "--password",
            PASSWORD,
            "--name",
            "Ops",
        ])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    app.browser()
        .login("ops@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");

    // The password can come on standard input, and a duplicate email is refused clearly.
    let mut child = concord(dir.path())
        .args(["create-admin", "--email", "second@example.test"])
        .env("DATABASE_URL", app.database.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    app.browser()
        .login("second@example.test", PASSWORD)
        .await
        .assert_redirect("/admin");

    let output = concord(dir.path())
        .args([
            "create-admin",
            "--email",
            "ops@example.test",
            "--password",
            PASSWORD,
        ])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    let output = concord(dir.path())
        .args([
            "create-admin",
            "--email",
            "weak@example.test",
            "--password",
            "short",
        ])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 10 characters"));
}

#[tokio::test]
async fn api_keys_are_printed_once_and_authenticate_the_api() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let output = concord(dir.path())
        .args(["api-key", "create", "--name", "Web shop"])
        .env("DATABASE_URL", app.database.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("ck_") && key.len() > 40, "{key}");

    let stored = app
        .db(|conn| concord::programs::api_keys::list(conn).unwrap())
        .await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Web shop");
    assert!(key.starts_with(&stored[0].key_prefix));

    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/program", app.address);
    let response = client.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["currency"], "USD");

    let response = client
        .get(&url)
        .bearer_auth("ck_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn serve_demo_loads_demo_data_once_and_prints_the_logins() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create();
    let start = || {
        let mut command = concord(dir.path());
        command
            .args(["serve", "--demo"])
            .env("CONCORD_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database.url());
        Server::start(command)
    };
    let mut server = start();
    let admin_line = server.wait_for("admin@demo.concord.test");
    let password = admin_line
        .split("password ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let listening = server.wait_for("Concord is listening on port");
    let port: u16 = listening
        .split("port ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !server.seen.iter().any(|l| l.contains("/setup?token=")),
        "the demo has an admin, so no setup link"
    );

    let browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    browser
        .login("admin@demo.concord.test", &password)
        .await
        .assert_redirect("/admin");
    let page = browser.get("/admin/partners").await;
    page.assert_contains("Northwind Systems")
        .assert_contains("Bright Deals Blog")
        .assert_contains("Contoso IT Services");
    browser
        .get("/admin/tiers")
        .await
        .assert_contains("Platinum");
    // Deals in every state: one waiting, one conflicting with a direct account, open stages, a win, a loss.
    browser
        .get("/admin/deals")
        .await
        .assert_contains("Initech")
        .assert_contains("1 possible");
    browser
        .get("/admin/reports/pipeline")
        .await
        .assert_contains("Negotiation")
        .assert_contains("51,500.00 USD");
    // MDF: a request waiting for review, and Northwind's allocation (Gold allowance plus 1% of its win).
    browser
        .get("/admin/mdf")
        .await
        .assert_contains("LinkedIn campaign for Acme Backup");
    browser
        .get("/admin/reports/mdf")
        .await
        .assert_contains("10,515.00 USD");
    let hop = browser.get("/r/spring-sale").await;
    let location = hop.location.expect("the demo link redirects");
    assert!(
        location
            .starts_with("https://acme.example/pricing?sub_id=newsletter&utm_source=brightdeals"),
        "{location}"
    );
    browser
        .get("/admin/rules")
        .await
        .assert_contains("20% per sale; 25% from sale 51 in a month; 12 months of renewals");
    drop(server);

    let mut server = start();
    server.wait_for("demo data was not loaded");
}
