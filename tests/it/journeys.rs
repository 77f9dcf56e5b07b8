//! Issue 11, browser journeys: headless Chromium (through chromedriver) against a real `concord serve` on SQLite.
//! Every page a journey reaches is checked: it has a `<title>`, no server error, a label for each form field, and
//! every internal link on it answers. Each step is screenshotted; the screenshots stay in
//! `target/tmp/journeys/<journey>` when a journey fails. They need Chromium and chromedriver, so they are ignored by a
//! plain `cargo test`; `.ci/run` installs both and runs them with `--ignored` on SQLite (the pages are the same on
//! both backends). Without a browser they fail, never pass.

use std::collections::BTreeSet;

use crate::harness::{TestApp, PASSWORD};
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
#[ignore = "needs chromium and chromedriver"]
async fn affiliate_joins_is_approved_shares_a_link_and_sees_the_click_sale_and_commission() {
    let app = TestApp::spawn().await;
    // The in-process app prepared the database; the journey runs against the `concord` binary on it, started
    // first so the landing page can name the port it got.
    let dir = tempfile::tempdir().unwrap();
    let server = crate::cli::serve(dir.path(), app.database.url(), 0, &[]);
    let base = format!("http://127.0.0.1:{}", server.port);
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
        concord::accounts::role::Role::Admin,
        None,
    )
    .await;
    let key = app.api_key().await;
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
            use concord::platform::db::schema::partner_orgs;
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

/// The id in the last path segment of the page the browser shows.
async fn id_in_url(chrome: &Chrome) -> i64 {
    let url = chrome.url().await;
    url.rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no id in {url}"))
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn reseller_applies_is_approved_invites_a_rep_who_certifies_and_registers_a_conflicting_deal_that_is_won(
) {
    let app = TestApp::spawn().await;
    // The program as staff set it up: another partner's deal, then an agreement and a course with one question.
    let staff = app.admin_browser().await;
    let contoso = crate::fixtures::reseller(&app, "Contoso Partners")
        .with_rep()
        .await;
    let first = crate::deals::registered(contoso.rep(), "Acme, Inc.", "acme.com").await;
    staff
        .submit(
            "/admin/agreement",
            "/admin/agreement",
            &[(
                "text",
                "Resell honestly and register deals before you quote.",
            )],
        )
        .await
        .assert_redirect("/admin/agreement");
    let course = crate::training::selling_concord(&staff).await;
    for (action, fields) in [
        (
            "modules",
            vec![
                ("title", "Positioning"),
                ("body", "Who buys us and why."),
                ("link_url", ""),
            ],
        ),
        (
            "questions",
            vec![
                ("prompt", "Who is our buyer?"),
                ("options", "IT lead\nCFO"),
                ("correct", "1"),
            ],
        ),
    ] {
        staff
            .submit(&course, &format!("{course}/{action}"), &fields)
            .await;
    }

    let dir = tempfile::tempdir().unwrap();
    let server = crate::cli::serve(dir.path(), app.database.url(), 0, &[]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut chrome = Chrome::start("reseller").await;
    let mut crawl = Crawl::default();

    // /apply
    chrome.goto(&format!("{base}/apply")).await;
    crawl.check(&mut chrome, "apply").await;
    for (field, value) in [
        ("#company_name", "Northwind Systems"),
        ("#website", "https://www.northwind.example/"),
        ("#country", "de"),
        (
            "#why_us",
            "We run IT for 300 mid-sized firms and your product fits our stack.",
        ),
        ("#name", "Nia Northwind"),
        ("#email", "nia@northwind.example"),
        ("#password", PASSWORD),
    ] {
        chrome.fill(field, value).await;
    }
    chrome.set_value("#partner_type", "msp").await;
    chrome.set_value("#company_size", "51-200").await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_for_text("under review").await;
    crawl.check(&mut chrome, "applied").await;

    // Staff approve.
    let org = app
        .db(|conn| {
            use concord::platform::db::schema::partner_orgs;
            use diesel::prelude::*;
            partner_orgs::table
                .filter(partner_orgs::name.eq("Northwind Systems"))
                .select(partner_orgs::id)
                .first::<i64>(conn)
                .unwrap()
        })
        .await;
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/partners/{org}")).await;
    crawl.check(&mut chrome, "partner").await;
    chrome.click("button[name=decision][value=approve]").await;
    chrome.wait_for_text("Approved").await;
    crawl.links_answer(&chrome, &base).await;

    // The partner admin accepts the agreement and invites a rep.
    sign_in(&mut chrome, &mut crawl, &base, "nia@northwind.example").await;
    chrome.goto(&format!("{base}/portal")).await;
    chrome.wait_for_text("Resell honestly").await;
    crawl.check(&mut chrome, "agreement").await;
    chrome.click("main form button[type=submit]").await;
    chrome
        .wait_for_text("The partner agreement is accepted")
        .await;
    crawl.check(&mut chrome, "accepted").await;
    chrome.goto(&format!("{base}/portal/team")).await;
    crawl.check(&mut chrome, "team").await;
    chrome.fill("#email", "raj@northwind.example").await;
    chrome.set_value("#role", "partner_user").await;
    chrome
        .click("form[action='/portal/team/invitations'] button[type=submit]")
        .await;
    chrome
        .wait_for_text("Invitation sent to raj@northwind.example")
        .await;
    crawl.check(&mut chrome, "invited").await;
    crawl.links_answer(&chrome, &base).await;
    let invitation = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == "raj@northwind.example")
        .expect("the invitation email");
    let start = invitation
        .body_text
        .find(&base)
        .expect("a link in the invitation");
    let link = invitation.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    // The rep joins through the link and passes the course.
    chrome.delete_cookies().await;
    chrome.goto(&link).await;
    crawl.check(&mut chrome, "invitation").await;
    chrome.fill("#name", "Raj Rep").await;
    chrome.fill("#password", PASSWORD).await;
    chrome.fill("#password_confirm", PASSWORD).await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_for_text("Welcome aboard").await;
    crawl.check(&mut chrome, "joined").await;
    chrome.goto(&format!("{base}/portal/training")).await;
    crawl.check(&mut chrome, "training").await;
    let course_id = course.rsplit('/').next().unwrap();
    chrome
        .goto(&format!("{base}/portal/training/{course_id}"))
        .await;
    crawl.check(&mut chrome, "course").await;
    chrome
        .click("form[action*='/modules/'] button[type=submit]")
        .await;
    chrome.wait_for_text("done</span>").await;
    chrome.click("#q0-0").await;
    chrome
        .click("form[action$='/quiz'] button[type=submit]")
        .await;
    chrome.wait_for_text("and passed").await;
    crawl.check(&mut chrome, "certified").await;

    // The rep registers a deal for the customer Contoso registered: warned without names, then justified.
    chrome.goto(&format!("{base}/portal/deals/new")).await;
    crawl.check(&mut chrome, "new deal").await;
    for (field, value) in [
        ("#customer_name", "ACME Inc"),
        ("#website", "https://www.eu.acme.com/"),
        ("#country", "de"),
        ("#contact_name", "Carla Buyer"),
        ("#contact_email", "carla@buyer.example"),
        ("#amount", "10,000.00"),
        ("#currency", "EUR"),
        ("#description", "Replacing their backup stack."),
    ] {
        chrome.fill(field, value).await;
    }
    let close = (concord::platform::db::now().date() + chrono::Duration::days(60)).to_string();
    chrome.set_value("#expected_close", &close).await;
    // The page's script warns while the rep types (the server would warn on submit without it).
    chrome.wait_until_shown("#conflict-warning").await;
    let warned = crawl.check(&mut chrome, "conflict").await;
    assert!(
        warned.contains("A registration for this customer may already exist")
            && !warned.contains("Contoso"),
        "warned without naming the other partner"
    );
    chrome
        .fill(
            "#justification",
            "Their EU arm asked us directly in October.",
        )
        .await;
    chrome.click("#deal-form button[type=submit]").await;
    chrome.wait_for_text("1 possible conflict").await;
    crawl.check(&mut chrome, "registered").await;
    let deal = id_in_url(&chrome).await;
    crawl.links_answer(&chrome, &base).await;

    // Staff see the evidence and approve; the org is Gold (15% margin) by the time the deal is won.
    let gold = crate::fixtures::tier(&app, "Gold", 3)
        .margin_bps(1500)
        .await;
    crate::fixtures::move_to_tier(&app, org, gold).await;
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/deals/{deal}")).await;
    let evidence = crawl.check(&mut chrome, "evidence").await;
    for text in [
        "Contoso Partners",
        &format!("Deal #{first}"),
        "Their EU arm asked us directly in October.",
    ] {
        assert!(
            evidence.contains(text),
            "{text} in the evidence:\n{evidence}"
        );
    }
    chrome.click("button[name=decision][value=approve]").await;
    chrome.wait_for_text("Approved; protected").await;
    crawl.check(&mut chrome, "deal approved").await;

    // The rep reports the win, staff confirm it, and the margin is in the org's ledger.
    sign_in(&mut chrome, &mut crawl, &base, "raj@northwind.example").await;
    chrome.goto(&format!("{base}/portal/deals/{deal}")).await;
    crawl.check(&mut chrome, "deal").await;
    chrome.fill("#won_amount", "12,345.67").await;
    chrome
        .click("form[action$='/won'] button[type=submit]")
        .await;
    chrome.wait_for_text("Reported won for 12,345.67 EUR").await;
    crawl.check(&mut chrome, "won").await;
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/deals/{deal}")).await;
    chrome
        .wait_for_text("Gold tier margin 15% of the won amount 12,345.67 EUR = 1,851.85 EUR")
        .await;
    chrome.click("button[name=decision][value=confirm]").await;
    chrome.wait_for_text("Win confirmed").await;
    crawl.check(&mut chrome, "win confirmed").await;
    crawl.links_answer(&chrome, &base).await;
    sign_in(&mut chrome, &mut crawl, &base, "nia@northwind.example").await;
    chrome.goto(&format!("{base}/portal/earnings")).await;
    let earnings = crawl.check(&mut chrome, "earnings").await;
    assert!(earnings.contains("1,851.85"), "{earnings}");
    crawl.links_answer(&chrome, &base).await;
    let margins = app
        .db(move |conn| {
            use concord::platform::db::schema::ledger_entries;
            use diesel::prelude::*;
            ledger_entries::table
                .filter(ledger_entries::partner_org_id.eq(org))
                .filter(ledger_entries::kind.eq("deal_margin"))
                .select((ledger_entries::amount_minor, ledger_entries::currency))
                .load::<(i64, String)>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(margins, vec![(185_185, "EUR".to_string())]);
    println!(
        "{} pages checked, {} internal links answered",
        crawl.pages.len(),
        crawl.links.len()
    );
    chrome.finish().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn mdf_request_is_partly_approved_claimed_with_a_pdf_paid_by_stripe_and_the_statement_is_mailed(
) {
    let app = TestApp::spawn().await;
    let fake = crate::stripe_fake::FakeStripe::start().await;
    let sink = crate::smtp_sink::SmtpSink::start();
    // The program as staff set it up: this quarter's fund with 2,000.00 for Northwind, whose Stripe account is ready.
    let staff = app.admin_browser().await;
    let partner = crate::fixtures::reseller(&app, "Northwind").await;
    let org = partner.org;
    let fund = crate::fixtures::fund(&staff, "Field marketing", -30, 60, "").await;
    crate::mdf::allocate(&staff, fund, &format!("partner:{org}"), "2,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    let account = fake.add_ready_account();
    app.db(move |conn| crate::payouts::connect_ready(conn, org, &account))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let smtp = sink.url();
    let server = crate::cli::serve(
        dir.path(),
        app.database.url(),
        0,
        &[
            ("CONCORD_JOBS", "on"),
            ("CONCORD_SMTP_URL", &smtp),
            ("CONCORD_STRIPE_SECRET_KEY", crate::stripe_fake::SECRET_KEY),
            ("CONCORD_STRIPE_API_BASE", &fake.base),
        ],
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut chrome = Chrome::start("mdf").await;
    let mut crawl = Crawl::default();

    // The partner asks for 1,800.00 for an event that took place last week.
    sign_in(&mut chrome, &mut crawl, &base, "boss@northwind.test").await;
    chrome.goto(&format!("{base}/portal/mdf")).await;
    crawl.check(&mut chrome, "mdf").await;
    chrome.goto(&format!("{base}/portal/mdf/new")).await;
    crawl.check(&mut chrome, "new request").await;
    chrome.set_value("#fund_id", &fund.to_string()).await;
    chrome.set_value("#activity_type", "event").await;
    chrome.fill("#title", "Partner summit booth").await;
    chrome
        .fill("#description", "A booth at the regional partner summit.")
        .await;
    let day = |offset: i64| {
        (concord::platform::db::now().date() + chrono::Duration::days(offset)).to_string()
    };
    chrome.set_value("#starts_on", &day(-10)).await;
    chrome.set_value("#ends_on", &day(-1)).await;
    chrome.fill("#requested", "1,800").await;
    chrome.fill("#expected_leads", "40").await;
    chrome.fill("#expected_pipeline", "120,000").await;
    chrome.click("main form button[type=submit]").await;
    chrome.wait_for_text("Partner summit booth").await;
    crawl.check(&mut chrome, "requested").await;
    let request = id_in_url(&chrome).await;
    crawl.links_answer(&chrome, &base).await;

    // Staff approve 1,500.00 of it.
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/mdf")).await;
    crawl.check(&mut chrome, "mdf queue").await;
    chrome.goto(&format!("{base}/admin/mdf/{request}")).await;
    crawl.check(&mut chrome, "mdf request").await;
    chrome.fill("#approved", "1,500").await;
    chrome.click("button[name=decision][value=approve]").await;
    chrome.wait_for_text("1,500.00 USD").await;
    crawl.check(&mut chrome, "partly approved").await;

    // The partner claims 1,500.00 of a 3,000.00 cost, with the invoice as a PDF.
    sign_in(&mut chrome, &mut crawl, &base, "boss@northwind.test").await;
    chrome.goto(&format!("{base}/portal/mdf/{request}")).await;
    crawl.check(&mut chrome, "claim form").await;
    let invoice = dir.path().join("invoice.pdf");
    std::fs::write(&invoice, crate::mdf::PDF).unwrap();
    chrome.fill("#actual_cost", "3,000").await;
    chrome.fill("#claimed", "1,500").await;
    chrome.upload("#proof", &invoice).await;
    chrome.fill("#results", "38 leads, two deals opened.").await;
    chrome.click("#claim-form button[type=submit]").await;
    chrome.wait_for_text("invoice.pdf").await;
    crawl.check(&mut chrome, "claimed").await;
    assert_eq!(crate::mdf::proof_ids(&app, request).await.len(), 1);

    // Staff approve the claim and pay it with a Stripe batch.
    sign_in(&mut chrome, &mut crawl, &base, "admin@example.test").await;
    chrome.goto(&format!("{base}/admin/mdf/{request}")).await;
    crawl.check(&mut chrome, "claim review").await;
    chrome.click("button[name=decision][value=approve]").await;
    chrome.wait_for_text("Claim approved").await;
    chrome.goto(&format!("{base}/admin/payouts")).await;
    crawl.check(&mut chrome, "payouts").await;
    chrome
        .click("form[action='/admin/payouts/run'] button.approve")
        .await;
    for _ in 0..100 {
        if chrome.source().await.contains("1 paid, 0 failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        chrome.goto(&chrome.url().await).await;
    }
    let run = crawl.check(&mut chrome, "payout run").await;
    assert!(run.contains("1 paid, 0 failed"), "{run}");
    crawl.links_answer(&chrome, &base).await;
    let transfers = fake.transfers();
    assert_eq!(
        transfers
            .iter()
            .map(|t| (t.amount, t.currency.as_str()))
            .collect::<Vec<_>>(),
        vec![(150_000, "usd")]
    );

    // The statement arrives through the outbox and the SMTP server.
    let mut statement = None;
    for _ in 0..150 {
        statement = sink
            .messages()
            .into_iter()
            .find(|m| m.to == "boss@northwind.test" && m.subject.contains("1,500.00 USD"));
        if statement.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let statement = statement.expect("the payout statement in the SMTP sink");
    assert!(
        statement.text.contains("1,500.00 USD"),
        "{}",
        statement.text
    );
    println!(
        "{} pages checked, {} internal links answered",
        crawl.pages.len(),
        crawl.links.len()
    );
    chrome.finish().await;
}
