//! A small WebDriver client for the browser journeys: Debian's `chromedriver` driving headless `chromium`, spoken
//! to over HTTP with reqwest (already a test dependency) instead of a WebDriver crate and its own HTTP stack. Tests
//! install nothing: without both, a journey fails and says what to install.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether Debian's chromium and chromedriver are here (`.ci/run` installs them; the README says how).
fn available() -> bool {
    std::path::Path::new("/usr/bin/chromedriver").exists()
        && std::path::Path::new("/usr/bin/chromium").exists()
}

pub struct Chrome {
    driver: Child,
    base: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
    /// Where each step's screenshot goes; kept only when the journey fails.
    shots: std::path::PathBuf,
    step: usize,
}

impl Chrome {
    pub async fn start(journey: &str) -> Self {
        assert!(
            available(),
            "the browser journeys need /usr/bin/chromium and /usr/bin/chromedriver: see the README's Set up"
        );
        // Port 0: chromedriver binds a port of its own and says which ("... started successfully on port N.").
        let mut driver = Command::new("/usr/bin/chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let port = reported_port(driver.stdout.take().unwrap());
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let session: Value = client
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--disable-quic", "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                             // Headless Chrome says "HeadlessChrome", which Concord rightly files as a bot.
                             "--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
                             format!("--user-data-dir={}", profile.path().display())]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_string();
        let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("journeys")
            .join(journey);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            driver,
            base: format!("{base}/session/{id}"),
            client,
            _profile: profile,
            shots,
            step: 0,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// A text the session answers with: `/url`, `/source`, `/title`.
    async fn text(&self, path: &str) -> String {
        self.call(reqwest::Method::GET, path, None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn url(&self) -> String {
        self.text("/url").await
    }

    pub async fn source(&self) -> String {
        self.text("/source").await
    }

    pub async fn title(&self) -> String {
        self.text("/title").await
    }

    /// Runs `script` in the page with `args`, and returns what it returns.
    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    /// Types into the field the CSS selector finds, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Sets a field's value by script, for the fields whose typing depends on the browser's locale: `<select>`s
    /// and date inputs (Chrome's date fields do not take a typed ISO date).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.script(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        )
        .await;
    }

    /// Waits (up to 10 s) until the element `css` is shown: for what a page's script reveals.
    pub async fn wait_until_shown(&self, css: &str) {
        for _ in 0..100 {
            let shown = self
                .script(
                    "const e = document.querySelector(arguments[0]); return !!e && !e.hidden;",
                    json!([css]),
                )
                .await;
            if shown == json!(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{css} was never shown on {}", self.url().await);
    }

    /// Chooses a file for a file input: WebDriver takes its path as the typed text.
    pub async fn upload(&self, css: &str, path: &std::path::Path) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": path.to_str().unwrap() })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Waits until the page holds `text` (pages after a form post load asynchronously to the driver).
    pub async fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            if Instant::now() > deadline {
                panic!("{text:?} never appeared on {}:\n{source}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The session cookie, so that plain HTTP checks can see what the browser sees.
    pub async fn cookie_header(&self) -> String {
        let cookies = self.call(reqwest::Method::GET, "/cookie", None).await;
        cookies
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}={}",
                    c["name"].as_str().unwrap(),
                    c["value"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Saves a screenshot named after the step.
    pub async fn shot(&mut self, step: &str) {
        self.step += 1;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(
            self.shots.join(format!("{:02}-{step}.png", self.step)),
            bytes,
        )
        .unwrap();
    }

    /// Ends the session; the screenshots stay only if the journey failed.
    pub async fn finish(mut self) {
        let _ = self.client.delete(&self.base).send().await;
        let _ = std::fs::remove_dir_all(&self.shots);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        self.step = 0;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if self.step > 0 && std::thread::panicking() {
            eprintln!("screenshots of each step: {}", self.shots.display());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Reads chromedriver's output until it names the port it listens on; later output is drained on a thread so the
/// driver never blocks on a full pipe.
fn reported_port(stdout: std::process::ChildStdout) -> u16 {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').trim().parse().ok())
        })
        .expect("chromedriver did not report its port");
    std::thread::spawn(move || lines.for_each(drop));
    port
}
