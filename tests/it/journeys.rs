//! Issue 11, browser journeys: headless Chromium (through chromedriver) against a real `concord serve` on SQLite.
//! Every page a journey reaches is checked: it has a `<title>`, no server error, a label for each form field, and
//! every internal link on it answers. Each step is screenshotted; the screenshots stay in
//! `target/tmp/journeys/<journey>` when a journey fails. On the PostgreSQL pass the journeys are skipped: they
//! test the pages, which are the same on both backends, and the issue asks for SQLite.

use std::collections::BTreeSet;

use crate::harness::{free_port, TestApp, PASSWORD};
use crate::webdriver::Chrome;

/// What the journey has seen: pages checked, internal links to try at the end.
#[derive(Default)]
struct Crawl {
    pages: BTreeSet<String>,
    links: BTreeSet<String>,
}

impl Crawl {
    /// Checks the page the browser shows now, and screenshots it as `step`.
    async fn check(&mut self, chrome: &mut Chrome, step: &str) -> String {
        chrome.shot(step).await;
        let url = chrome.url().await;
        let source = chrome.source().await;
        let title = chrome.title().await;
        assert!(!title.trim().is_empty(), "{url} has no <title>");
        assert!(
            !title.contains("Server error") && !source.contains("Something went wrong on our side"),
            "{url} is a server error page"
        );
        for field in form_fields(&source) {
            assert!(
                field.labelled(&source),
                "{url}: the field {:?} has no label",
                field.name
            );
        }
        for href in source.split("href=\"").skip(1) {
            let href = href.split('"').next().unwrap().replace("&amp;", "&");
            if href.starts_with('/') && !href.starts_with("//") {
                self.links.insert(href);
            }
        }
        self.pages.insert(url);
        source
    }

    /// Every internal link seen answers without an error, for the visitor the browser is now.
    async fn links_answer(&self, chrome: &Chrome, base: &str) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = chrome.cookie_header().await;
        for link in &self.links {
            let response = client
                .get(format!("{base}{link}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            // 403: a link to a page of another role (the nav of a signed-out visitor, say) is not broken.
            assert!(
                status < 400 || status == 403,
                "the link {link} answers {status}"
            );
        }
    }
}

struct Field {
    name: String,
    id: Option<String>,
    tag: String,
}

impl Field {
    fn labelled(&self, source: &str) -> bool {
        self.tag.contains("aria-label=")
            || self
                .id
                .as_ref()
                .is_some_and(|id| source.contains(&format!("for=\"{id}\"")))
    }
}

/// The fields a person fills in: inputs that are not hidden or buttons, selects and text areas.
fn form_fields(source: &str) -> Vec<Field> {
    let attribute = crate::harness::html_attribute;
    let mut fields = Vec::new();
    for kind in ["<input", "<select", "<textarea"] {
        for chunk in source.split(kind).skip(1) {
            let tag = chunk.split('>').next().unwrap_or("").to_string();
            let input_type = attribute(&tag, "type").unwrap_or_default();
            if ["hidden", "submit", "button"].contains(&input_type.as_str()) {
                continue;
            }
            let Some(name) = attribute(&tag, "name") else {
                continue;
            };
            // The honeypot that bots fill in is hidden from people on purpose.
            if name == "company_url" {
                continue;
            }
            fields.push(Field {
                id: attribute(&tag, "id"),
                name,
                tag,
            });
        }
    }
    fields
}

/// A signed-in session in the browser, after signing out whoever was there.
async fn sign_in(chrome: &mut Chrome, crawl: &mut Crawl, base: &str, email: &str) {
    chrome.delete_cookies().await;
    chrome.goto(&format!("{base}/login")).await;
    crawl.check(chrome, "login").await;
    chrome.fill("#email", email).await;
    chrome.fill("#password", PASSWORD).await;
    chrome.click("form button[type=submit]").await;
    chrome.wait_for_text("Sign out").await;
}

#[tokio::test]
async fn affiliate_joins_is_approved_shares_a_link_and_sees_the_click_sale_and_commission() {
    let app = TestApp::spawn().await;
    if app.database.is_postgres() || !crate::webdriver::available() {
        return;
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let landing = format!("{base}/");
    app.affiliate_program(false, move |s| {
        s.default_landing_url = landing;
        s.allowed_domains = vec!["127.0.0.1".into()];
        s.hold_days = 30;
    })
    .await;
    crate::commissions::sales_rule(&app, 1_000).await;
    app.create_user(
        "admin@example.test",
        concord::domain::role::Role::Admin,
        None,
    )
    .await;
    let key = app.api_key().await;
    let dir = tempfile::tempdir().unwrap();
    // The in-process app prepared the database; the journey runs against the `concord` binary on it.
    let _server = crate::cli::serve(dir.path(), app.database.url(), port, &[]);
    let mut chrome = Chrome::start("affiliate").await;
    let mut crawl = Crawl::default();

    // /join
    chrome.goto(&format!("{base}/join")).await;
    crawl.check(&mut chrome, "join").await;
    chrome.fill("#name", "Bo Blogger").await;
    chrome.fill("#email", "bo@brightdeals.example").await;
    chrome.fill("#password", PASSWORD).await;
    chrome.fill("#website", "https://brightdeals.example").await;
    chrome
        .fill("#promotion", "Weekly deal round-ups to 20k readers.")
        .await;
    chrome.fill("#country", "us").await;
    chrome.click("#accept_terms").await;
    chrome.click("form button[type=submit]").await;
    chrome.wait_for_text("Sign out").await;
    crawl.check(&mut chrome, "joined").await;

    // The admin approves.
    let org = app
        .db(|conn| {
            use concord::db::schema::partner_orgs;
            use diesel::prelude::*;
            partner_orgs::table
                .filter(partner_orgs::name.eq("Bo Blogger"))
                .select(partner_orgs::id)
                .first::<i64>(conn)
                .unwrap()
        })
        .await;
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/partners")).await;
    crawl.check(&mut chrome, "partners").await;
    chrome.goto(&format!("{base}/admin/partners/{org}")).await;
    crawl.check(&mut chrome, "partner").await;
    chrome.click("button[name=decision][value=approve]").await;
    chrome.wait_for_text("Approved").await;
    crawl.check(&mut chrome, "approved").await;
    crawl.links_answer(&chrome, &base).await;

    // The affiliate signs in and copies the link.
    sign_in(&mut chrome, &mut crawl, &base, "bo@brightdeals.example").await;
    chrome.goto(&format!("{base}/portal/links")).await;
    let links = crawl.check(&mut chrome, "links").await;
    let marker = format!("data-copy=\"{base}/r/");
    let start = links.find(&marker).expect("the link to copy") + "data-copy=\"".len();
    let link = links[start..].split('"').next().unwrap().to_string();

    // A visitor follows it and lands on the destination with the click's id.
    chrome.delete_cookies().await;
    chrome.goto(&link).await;
    let landed = url::Url::parse(&chrome.url().await).unwrap();
    crawl.check(&mut chrome, "landed").await;
    let click_id = landed
        .query_pairs()
        .find(|(k, _)| k == "concord_click")
        .expect("the landing URL carries the click")
        .1
        .into_owned();

    // The shop reports the sale.
    let sale = reqwest::Client::new()
        .post(format!("{base}/api/v1/conversions"))
        .bearer_auth(&key)
        .json(
            &serde_json::json!({"external_id": "order-1", "kind": "sale", "amount": 25_000,
                                  "currency": "USD", "click_id": click_id}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sale.status(),
        reqwest::StatusCode::CREATED,
        "{}",
        sale.text().await.unwrap()
    );

    // The affiliate sees the click, the sale and the pending commission (10% of 250.00).
    sign_in(&mut chrome, &mut crawl, &base, "bo@brightdeals.example").await;
    chrome.goto(&format!("{base}/portal")).await;
    let dashboard = crawl.check(&mut chrome, "dashboard").await;
    for text in ["<h3>Clicks</h3><p class=\"big\">1</p>", "250.00"] {
        assert!(
            dashboard.contains(text),
            "{text} on the dashboard:\n{dashboard}"
        );
    }
    chrome.goto(&format!("{base}/portal/earnings")).await;
    let earnings = crawl.check(&mut chrome, "earnings").await;
    assert!(
        earnings.contains("Pending (USD)") && earnings.contains("25.00"),
        "{earnings}"
    );
    crawl.links_answer(&chrome, &base).await;
    println!(
        "{} pages checked, {} internal links answered",
        crawl.pages.len(),
        crawl.links.len()
    );
    chrome.finish().await;
}
