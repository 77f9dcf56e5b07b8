//! Certification tracks: authoring, learning, failing, the retake cool-down, passing, the public certificate,
//! expiry and its reminder, and certified reps counting toward tiers.

use crate::harness::{TestApp, PASSWORD};
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use reqwest::StatusCode;

/// Reps of the org holding a valid certification now.
async fn certified(app: &TestApp, org: i64) -> i64 {
    app.db(move |conn| {
        concord::training::store::certified_reps(conn, org, concord::platform::db::now()).unwrap()
    })
    .await
}

/// Creates the course "Selling Concord" for resellers (pass mark 100%, valid 12 months, retake after 24 hours)
/// and returns its editor's path.
pub(crate) async fn selling_concord(admin: &crate::harness::Browser) -> String {
    let created = admin
        .submit(
            "/admin/training",
            "/admin/training",
            &[
                ("title", "Selling Concord"),
                ("summary", "The basics."),
                ("pass_mark_percent", "100"),
                ("validity_months", "12"),
                ("retake_cooldown_hours", "24"),
                ("partner_kinds", "reseller"),
                ("min_tier_rank", "0"),
            ],
        )
        .await;
    created
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect to the course editor:\n{}", created.body))
}

#[tokio::test]
async fn a_rep_fails_waits_out_the_cooldown_passes_and_the_certificate_expires() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let page = admin
        .submit(
            "/admin/training",
            "/admin/training",
            &[
                ("title", ""),
                ("pass_mark_percent", "0"),
                ("validity_months", "12"),
                ("retake_cooldown_hours", "24"),
                ("partner_kinds", "vendor"),
                ("min_tier_rank", "0"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Give the course a title.")
        .assert_contains("The pass mark is a percentage")
        .assert_contains("Choose among affiliate, reseller and referral.");
    let course_path = selling_concord(&admin).await;
    let course_id: i64 = course_path.rsplit('/').next().unwrap().parse().unwrap();
    admin
        .submit(
            &course_path,
            &format!("{course_path}/modules"),
            &[
                ("title", "Positioning"),
                ("body", "Who buys us and why.\n\nThree use cases."),
                ("link_url", ""),
            ],
        )
        .await;
    let page = admin
        .submit(
            &course_path,
            &format!("{course_path}/questions"),
            &[
                ("prompt", "Pick one"),
                ("options", "only"),
                ("correct", "4"),
            ],
        )
        .await;
    page.assert_contains("Give at least two options");
    admin
        .submit(
            &course_path,
            &format!("{course_path}/questions"),
            &[
                ("prompt", "Who is our buyer?"),
                ("options", "IT lead\nCFO\nIntern"),
                ("correct", "1"),
            ],
        )
        .await;
    admin
        .submit(
            &course_path,
            &format!("{course_path}/questions"),
            &[
                ("prompt", "Which plans exist?"),
                ("options", "Starter\nEnterprise\nFree forever"),
                ("correct", "1, 2"),
            ],
        )
        .await;

    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    app.create_user("raj@northwind.example", Role::PartnerUser, Some(org))
        .await;
    let raj = app.browser();
    raj.login("raj@northwind.example", PASSWORD).await;
    raj.get("/portal/training")
        .await
        .assert_contains("Selling Concord")
        .assert_contains("Not yet");
    let course = format!("/portal/training/{course_id}");
    raj.get(&course)
        .await
        .assert_contains("Who buys us and why.")
        .assert_contains("choose all that apply");
    let module_id = app
        .db(move |conn| {
            concord::training::store::content(conn, 1, course_id)
                .unwrap()
                .unwrap()
                .modules[0]
                .id
        })
        .await;
    raj.submit(&course, &format!("{course}/modules/{module_id}"), &[])
        .await;
    raj.get(&course).await.assert_contains("done</span>");

    // Wrong: 50%, and no retake for 24 hours.
    raj.submit(
        &course,
        &format!("{course}/quiz"),
        &[("q0", "0"), ("q1", "0")],
    )
    .await
    .assert_redirect(&course);
    let page = raj.get(&course).await;
    page.assert_contains("You scored 50%; the pass mark is 100%")
        .assert_contains("You can take the quiz again from");
    assert!(!page.body.contains("Submit answers"));
    let token = page.csrf_token();
    raj.post_raw(
        &format!("{course}/quiz"),
        &[
            ("csrf_token", token.as_str()),
            ("q0", "0"),
            ("q1", "0"),
            ("q1", "1"),
        ],
    )
    .await;
    raj.get(&course)
        .await
        .assert_contains("You can take the quiz again from");
    assert_eq!(certified(&app, org).await, 0);

    // A day later (time moved in the database), a full pass.
    app.db(|conn| {
        use concord::platform::db::schema::quiz_attempts::dsl::*;
        use diesel::prelude::*;
        diesel::update(quiz_attempts)
            .set(attempted_at.eq(concord::platform::db::now() - chrono::Duration::hours(25)))
            .execute(conn)
            .unwrap();
    })
    .await;
    let token = raj.get(&course).await.csrf_token();
    raj.post_raw(
        &format!("{course}/quiz"),
        &[
            ("csrf_token", token.as_str()),
            ("q0", "0"),
            ("q1", "0"),
            ("q1", "1"),
        ],
    )
    .await;
    let page = raj.get(&course).await;
    page.assert_contains("You scored 100% and passed")
        .assert_contains("Certified until");
    let code: String = page
        .body
        .split("/certificates/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let visitor = app.browser();
    visitor
        .get(&format!("/certificates/{code}"))
        .await
        .assert_contains("Valid")
        .assert_contains("Selling Concord")
        .assert_contains("raj@northwind.example");
    assert_eq!(
        visitor.get("/certificates/NOSUCHCODE").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(certified(&app, org).await, 1);

    // Thirty days before expiry: one reminder. After the validity period: expired, and no longer counted.
    app.db(|conn| {
        use concord::platform::db::schema::certifications::dsl::*;
        use diesel::prelude::*;
        diesel::update(certifications)
            .set(expires_at.eq(concord::platform::db::now() + chrono::Duration::days(10)))
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_eq!(app.run_job("certification_reminders").await, "1 reminded");
    assert_eq!(app.run_job("certification_reminders").await, "");
    let reminder = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.template == "certification_expiring")
        .unwrap();
    assert_eq!(reminder.recipient, "raj@northwind.example");
    app.db(|conn| {
        use concord::platform::db::schema::certifications::dsl::*;
        use diesel::prelude::*;
        diesel::update(certifications)
            .set(expires_at.eq(concord::platform::db::now() - chrono::Duration::days(1)))
            .execute(conn)
            .unwrap();
    })
    .await;
    visitor
        .get(&format!("/certificates/{code}"))
        .await
        .assert_contains("Expired");
    assert_eq!(certified(&app, org).await, 0);
}

#[tokio::test]
async fn courses_are_only_for_the_kinds_and_tiers_they_name() {
    let app = TestApp::spawn().await;
    let course = app
        .db(|conn| {
            let course = concord::training::store::NewCourse {
                title: "Reseller pricing",
                summary: "",
                pass_mark_percent: 80,
                validity_months: 12,
                retake_cooldown_hours: 0,
                partner_kinds: "reseller",
                min_tier_rank: 0,
            };
            concord::training::create_course(
                conn,
                1,
                &course,
                &concord::platform::audit::Actor::system("t"),
            )
            .unwrap()
        })
        .await;
    let org = app
        .create_partner(
            "Bright Deals",
            PartnerKind::Affiliate,
            PartnerStatus::Approved,
        )
        .await;
    app.create_user("bo@bright.example", Role::PartnerAdmin, Some(org))
        .await;
    let bo = app.browser();
    bo.login("bo@bright.example", PASSWORD).await;
    assert!(!bo
        .get("/portal/training")
        .await
        .body
        .contains("Reseller pricing"));
    assert_eq!(
        bo.get(&format!("/portal/training/{course}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn certified_reps_count_toward_the_tier() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    admin
        .submit(
            "/admin/tiers",
            "/admin/tiers",
            &[
                ("name", "Certified"),
                ("rank", "2"),
                ("min_certified_reps", "1"),
            ],
        )
        .await
        .assert_redirect("/admin/tiers");
    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let rep = app
        .create_user("raj@northwind.example", Role::PartnerUser, Some(org))
        .await;
    app.run_job("tier_recalculation").await;
    assert_eq!(
        app.db(move |conn| concord::partners::store::find(conn, 1, org)
            .unwrap()
            .unwrap()
            .tier_name)
            .await,
        None
    );
    app.db(move |conn| {
        let course = concord::training::store::NewCourse {
            title: "Basics",
            summary: "",
            pass_mark_percent: 50,
            validity_months: 12,
            retake_cooldown_hours: 0,
            partner_kinds: "",
            min_tier_rank: 0,
        };
        let id = concord::training::create_course(
            conn,
            1,
            &course,
            &concord::platform::audit::Actor::system("t"),
        )
        .unwrap();
        let question = concord::training::rules::Question::parse("Yes?", "Yes\nNo", "1").unwrap();
        concord::training::store::add_question(conn, id, &question).unwrap();
        let content = concord::training::store::content(conn, 1, id)
            .unwrap()
            .unwrap();
        concord::training::store::attempt(
            conn,
            rep,
            org,
            &content,
            &[vec![0]],
            concord::platform::db::now(),
        )
        .unwrap();
    })
    .await;
    assert_eq!(app.run_job("tier_recalculation").await, "1 moved, 0 warned");
    assert_eq!(
        app.db(move |conn| concord::partners::store::find(conn, 1, org)
            .unwrap()
            .unwrap()
            .tier_name)
            .await
            .as_deref(),
        Some("Certified")
    );
    admin
        .get(&format!("/admin/partners/{org}"))
        .await
        .assert_contains("1 certified reps");
}

async fn upload(
    admin: &crate::harness::Browser,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> crate::harness::Page {
    let token = admin.get("/admin/assets").await.csrf_token();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some((name, bytes)) = file {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str("application/pdf")
            .unwrap();
        form = form.part("file", part);
    }
    let response = admin
        .client
        .post(format!("{}/admin/assets?csrf_token={token}", admin.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    crate::harness::Page {
        status,
        location,
        body: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn assets_open_by_kind_tier_and_certification_and_downloads_check_the_same_rule() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    for (name, rank) in [("Silver", "2"), ("Gold", "3")] {
        admin
            .submit(
                "/admin/tiers",
                "/admin/tiers",
                &[("name", name), ("rank", rank)],
            )
            .await;
    }
    let tiers = app
        .db(|conn| {
            concord::tiers::store::list(conn, 1)
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        })
        .await;
    let course = app
        .db(|conn| {
            let course = concord::training::store::NewCourse {
                title: "Co-selling",
                summary: "",
                pass_mark_percent: 50,
                validity_months: 12,
                retake_cooldown_hours: 0,
                partner_kinds: "",
                min_tier_rank: 0,
            };
            let id = concord::training::create_course(
                conn,
                1,
                &course,
                &concord::platform::audit::Actor::system("t"),
            )
            .unwrap();
            concord::training::store::add_question(
                conn,
                id,
                &concord::training::rules::Question::parse("Ok?", "Yes\nNo", "1").unwrap(),
            )
            .unwrap();
            id
        })
        .await;

    let page = upload(
        &admin,
        &[("title", "Nothing attached"), ("min_tier_rank", "0")],
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("Upload a file or give a link.")
        .assert_contains("value=\"Nothing attached\"");
    upload(
        &admin,
        &[
            ("title", "Logo pack"),
            ("link_url", "https://cdn.example/logos.zip"),
            ("min_tier_rank", "0"),
        ],
        None,
    )
    .await
    .assert_redirect("/admin/assets");
    upload(
        &admin,
        &[
            ("title", "Gold price list"),
            ("min_tier_rank", "3"),
            ("partner_kinds", "reseller"),
        ],
        Some(("gold-prices.pdf", b"%PDF-gold")),
    )
    .await
    .assert_redirect("/admin/assets");
    upload(
        &admin,
        &[
            ("title", "Co-sell playbook"),
            ("min_tier_rank", "0"),
            ("required_course_id", &course.to_string()),
        ],
        Some(("playbook.pdf", b"%PDF-play")),
    )
    .await
    .assert_redirect("/admin/assets");
    let ids = app
        .db(|conn| {
            concord::assets::store::list(conn, 1)
                .unwrap()
                .into_iter()
                .map(|a| (a.title, a.id))
                .collect::<Vec<_>>()
        })
        .await;
    let id_of = |title: &str| ids.iter().find(|(t, _)| t == title).unwrap().1;

    let org = app
        .create_partner("Northwind", PartnerKind::Reseller, PartnerStatus::Approved)
        .await;
    let rep = app
        .create_user("raj@northwind.example", Role::PartnerUser, Some(org))
        .await;
    let detail = format!("/admin/partners/{org}");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", &tiers[0].to_string()), ("reason", "Start")],
        )
        .await;
    let raj = app.browser();
    raj.login("raj@northwind.example", PASSWORD).await;
    let page = raj.get("/portal/assets").await;
    page.assert_contains("Logo pack");
    assert!(!page.body.contains("Gold price list") && !page.body.contains("Co-sell playbook"));
    assert_eq!(
        raj.get(&format!(
            "/portal/assets/{}/download",
            id_of("Gold price list")
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    raj.get(&format!("/portal/assets/{}/download", id_of("Logo pack")))
        .await
        .assert_redirect("https://cdn.example/logos.zip");

    // Gold opens the price list, download included.
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[("tier_id", &tiers[1].to_string()), ("reason", "Promoted")],
        )
        .await;
    raj.get("/portal/assets")
        .await
        .assert_contains("Gold price list");
    let download = raj
        .client
        .get(format!(
            "{}/portal/assets/{}/download",
            app.address,
            id_of("Gold price list")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"gold-prices.pdf\""
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"%PDF-gold");

    // A certification in the course opens the playbook.
    assert_eq!(
        raj.get(&format!(
            "/portal/assets/{}/download",
            id_of("Co-sell playbook")
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    app.db(move |conn| {
        let content = concord::training::store::content(conn, 1, course)
            .unwrap()
            .unwrap();
        concord::training::store::attempt(
            conn,
            rep,
            org,
            &content,
            &[vec![0]],
            concord::platform::db::now(),
        )
        .unwrap();
    })
    .await;
    raj.get("/portal/assets")
        .await
        .assert_contains("Co-sell playbook");

    // Affiliates never see reseller-only content, even at a high tier.
    let affiliate = app
        .create_partner(
            "Bright Deals",
            PartnerKind::Affiliate,
            PartnerStatus::Approved,
        )
        .await;
    app.create_user("bo@bright.example", Role::PartnerAdmin, Some(affiliate))
        .await;
    let detail = format!("/admin/partners/{affiliate}");
    admin
        .submit(
            &detail,
            &format!("{detail}/tier"),
            &[
                ("tier_id", &tiers[1].to_string()),
                ("reason", "Top affiliate"),
            ],
        )
        .await;
    let bo = app.browser();
    bo.login("bo@bright.example", PASSWORD).await;
    assert!(!bo
        .get("/portal/assets")
        .await
        .body
        .contains("Gold price list"));
    assert_eq!(
        bo.get(&format!(
            "/portal/assets/{}/download",
            id_of("Gold price list")
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}
