//! Market development funds end to end over HTTP: allocations per tier and per partner (and accrual), requests
//! held to what is available, partial approval, reasons, claims capped by the approval and the reimbursement
//! rate, proof files judged by content and served only to their org and staff, the ledger entry written once under
//! concurrent approvals, expiry and the claim deadline, and the report against a hand-computed fixture.

use crate::fixtures::{self, in_days};
use crate::harness::{Browser, Page, TestApp, PASSWORD};
use chrono::Duration;
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use diesel::prelude::*;
use reqwest::StatusCode;

pub(crate) async fn allocate(admin: &Browser, fund: i64, target: &str, amount: &str) -> Page {
    let path = format!("/admin/mdf/budgets/{fund}");
    admin
        .submit(
            &path,
            &format!("{path}/allocations"),
            &[("target", target), ("amount", amount)],
        )
        .await
}

/// A complete request; `extra` replaces fields.
pub(crate) async fn request(
    partner: &Browser,
    fund: i64,
    amount: &str,
    extra: &[(&str, &str)],
) -> Page {
    let (fund, starts, ends) = (fund.to_string(), in_days(-10), in_days(-1));
    let mut fields: Vec<(&str, &str)> = vec![
        ("fund_id", &fund),
        ("activity_type", "event"),
        ("title", "Partner summit booth"),
        ("description", "A booth at the regional partner summit."),
        ("starts_on", &starts),
        ("ends_on", &ends),
        ("requested", amount),
        ("expected_leads", "40"),
        ("expected_pipeline", "120,000"),
    ];
    for (key, value) in extra {
        fields.retain(|(k, _)| k != key);
        fields.push((key, value));
    }
    partner
        .submit("/portal/mdf/new", "/portal/mdf/new", &fields)
        .await
}

pub(crate) fn request_id(page: &Page) -> i64 {
    page.location
        .as_deref()
        .unwrap_or_else(|| panic!("no redirect:\n{}", page.body))
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn decide(
    admin: &Browser,
    id: i64,
    decision: &str,
    approved: &str,
    reason: &str,
) -> Page {
    let path = format!("/admin/mdf/{id}");
    admin
        .submit(
            &path,
            &format!("{path}/decision"),
            &[
                ("decision", decision),
                ("approved", approved),
                ("reason", reason),
            ],
        )
        .await
}

pub(crate) const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// Files a claim through the multipart form, as the browser does.
pub(crate) async fn claim(
    partner: &Browser,
    id: i64,
    fields: &[(&str, &str)],
    files: &[(&str, Vec<u8>)],
) -> Page {
    let token = partner.get(&format!("/portal/mdf/{id}")).await.csrf_token();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    for (name, bytes) in files {
        // Browsers send what the name suggests; Concord must not believe it.
        let part = reqwest::multipart::Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str("application/pdf")
            .unwrap();
        form = form.part("proof", part);
    }
    let response = partner
        .client
        .post(format!(
            "{}/portal/mdf/{id}/claim?csrf_token={token}",
            partner.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
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

pub(crate) async fn proof_ids(app: &TestApp, request: i64) -> Vec<i64> {
    app.db(move |conn| {
        concord::mdf::proof_files(conn, request)
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect()
    })
    .await
}

#[tokio::test]
async fn allocations_by_tier_and_partner_bound_requests_and_decisions() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let gold = fixtures::tier(&app, "Gold", 3).await;
    let silver = fixtures::tier(&app, "Silver", 2).await;
    let northwind = fixtures::reseller(&app, "Northwind")
        .in_tier(Some(gold))
        .await;
    let contoso = fixtures::reseller(&app, "Contoso")
        .in_tier(Some(gold))
        .await;
    let fabrikam = fixtures::reseller(&app, "Fabrikam")
        .in_tier(Some(silver))
        .await;
    let fund = fixtures::fund(&admin, "Spring MDF", -30, 30, "0").await;
    allocate(&admin, fund, &format!("tier:{gold}"), "5,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    allocate(&admin, fund, &format!("partner:{}", northwind.org), "1000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    // A bad amount keeps the choice and says what is wrong.
    let bad = allocate(&admin, fund, &format!("partner:{}", contoso.org), "12,5x").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("is not an amount");

    // The tier's share for every Gold org, plus Northwind's own share; Silver has none.
    let page = admin.get(&format!("/admin/mdf/budgets/{fund}")).await;
    page.assert_contains("Every Gold partner")
        .assert_contains("6,000.00 USD")
        .assert_contains("5,000.00 USD");
    assert!(
        !page.body.contains("<td>Fabrikam</td>"),
        "an org without allocation is not listed"
    );
    northwind
        .admin
        .get("/portal/mdf")
        .await
        .assert_contains("6,000.00 USD");
    contoso
        .admin
        .get("/portal/mdf")
        .await
        .assert_contains("5,000.00 USD");
    fabrikam
        .admin
        .get("/portal/mdf/new")
        .await
        .assert_contains("No fund is open to your organisation");

    // Above what is available: refused with the amount shown, and nothing typed is lost.
    let refused = request(
        &northwind.admin,
        fund,
        "6,000.01",
        &[("title", "Roadshow Q2")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .assert_contains("You can request at most 6,000.00 USD")
        .assert_contains("Roadshow Q2");

    let first = request_id(&request(&northwind.admin, fund, "4,000", &[]).await);
    // A request awaiting review holds its amount, so the same money cannot be asked for twice.
    request(&northwind.admin, fund, "2,500", &[])
        .await
        .assert_contains("You can request at most 2,000.00 USD");
    admin
        .get("/admin")
        .await
        .assert_contains("1 requests, 0 claims");
    let staff_mail = app.outbox().await;
    assert!(staff_mail
        .iter()
        .any(|m| m.recipient == "admin@example.test"
            && m.subject.contains("A new MDF request from Northwind")));

    // Partial approval reserves the approved amount; the rest is available again.
    let over = decide(&admin, first, "approve", "4,000.01", "").await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    over.assert_contains("Approve at most the requested 4,000.00 USD");
    decide(&admin, first, "approve", "3,000", "")
        .await
        .assert_redirect(&format!("/admin/mdf/{first}"));
    let portal = northwind.admin.get("/portal/mdf").await;
    portal.assert_contains("3,000.00 USD");
    let position = app
        .db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            let fund = concord::mdf::find_fund(conn, program.id, fund)
                .unwrap()
                .unwrap();
            concord::mdf::position_of(conn, &fund, northwind.org).unwrap()
        })
        .await;
    assert_eq!(
        (
            position.allocated,
            position.reserved,
            position.awaiting,
            position.available()
        ),
        (600_000, 300_000, 0, 300_000)
    );
    let approved_mail = app.outbox().await;
    let mail = approved_mail
        .iter()
        .find(|m| m.recipient == "boss@northwind.test" && m.subject.contains("approved"))
        .expect("the partner hears of the approval");
    assert!(
        mail.body_text.contains("3,000.00 USD is reserved"),
        "{}",
        mail.body_text
    );

    // Declining (and returning) needs a reason; the reason reaches the timeline, the audit log and the partner.
    let second = request_id(
        &request(
            &northwind.admin,
            fund,
            "1,000",
            &[("title", "Webinar series")],
        )
        .await,
    );
    let no_reason = decide(&admin, second, "decline", "", " ").await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    no_reason.assert_contains("Give a reason to decline");
    decide(&admin, second, "return", "", "Which webinar platform?")
        .await
        .assert_redirect(&format!("/admin/mdf/{second}"));
    northwind
        .admin
        .get(&format!("/portal/mdf/{second}"))
        .await
        .assert_contains("Which webinar platform?");
    let edit = format!("/portal/mdf/{second}/edit");
    let starts = in_days(-10);
    let ends = in_days(-1);
    let second_fund = fund.to_string();
    northwind
        .admin
        .submit(
            &edit,
            &edit,
            &[
                ("fund_id", second_fund.as_str()),
                ("activity_type", "digital_ads"),
                ("title", "Webinar series on Zoom"),
                ("description", "Four webinars on Zoom."),
                ("starts_on", starts.as_str()),
                ("ends_on", ends.as_str()),
                ("requested", "1,000"),
            ],
        )
        .await
        .assert_redirect(&format!("/portal/mdf/{second}"));
    decide(
        &admin,
        second,
        "decline",
        "",
        "Budget is for in-person events this quarter",
    )
    .await
    .assert_redirect(&format!("/admin/mdf/{second}"));
    northwind
        .admin
        .get(&format!("/portal/mdf/{second}"))
        .await
        .assert_contains("Declined: Budget is for in-person events this quarter")
        .assert_contains("Updated and submitted again.");
    admin
        .get("/admin/audit")
        .await
        .assert_contains("mdf.request_decline");
    // Deciding again is refused with a message, not applied twice.
    decide(&admin, second, "approve", "1,000", "")
        .await
        .assert_contains("decided already");

    // Another org sees neither the request nor its page; affiliates have no MDF.
    assert_eq!(
        contoso
            .admin
            .get(&format!("/portal/mdf/{first}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let affiliate = app
        .create_partner("Coupons", PartnerKind::Affiliate, PartnerStatus::Approved)
        .await;
    app.create_user("aff@coupons.test", Role::PartnerAdmin, Some(affiliate))
        .await;
    let aff = app.browser();
    aff.login("aff@coupons.test", PASSWORD).await;
    let forbidden = aff.get("/portal/mdf").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    forbidden.assert_contains("for reseller and referral partners");
}

#[tokio::test]
async fn claims_are_capped_proof_is_checked_and_private_and_approval_pays_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").await;
    let contoso = fixtures::reseller(&app, "Contoso").await;
    let fund = fixtures::fund(&admin, "Spring MDF", -30, 30, "0").await;
    allocate(&admin, fund, &format!("partner:{}", northwind.org), "2,000").await;
    let id = request_id(&request(&northwind.admin, fund, "1,000", &[]).await);
    decide(&admin, id, "approve", "1,000", "").await;

    // A renamed executable is refused by its content, and nothing is stored.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    let page = claim(
        &northwind.admin,
        id,
        &[("actual_cost", "1500"), ("claimed", "700")],
        &[("invoice.pdf", exe)],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("invoice.pdf is not a PDF, PNG or JPEG file");
    assert!(proof_ids(&app, id).await.is_empty());
    let uploads = app.mail_dir.path().join("data").join("uploads");
    let stored = || std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored(), 0);

    // Over the size limit: refused with the limit named.
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let page = claim(
        &northwind.admin,
        id,
        &[("actual_cost", "1500"), ("claimed", "700")],
        &[("scan.pdf", big)],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("scan.pdf is larger than 10 MiB");
    assert_eq!(stored(), 0);

    // Above the approved amount, then above 50% of the actual cost: refused, and nothing from a refused form is kept
    // (issue 21, M2), so a partner cannot fill the disk with refused forms.
    let page = claim(
        &northwind.admin,
        id,
        &[("actual_cost", "4000"), ("claimed", "1,000.01")],
        &[("invoice.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("You can claim at most the approved amount, 1,000.00 USD")
        .assert_contains("Nothing from a refused form is kept: attach your files again.");
    assert_eq!(stored(), 0);
    let page = claim(
        &northwind.admin,
        id,
        &[
            ("actual_cost", "1500"),
            ("claimed", "750.01"),
            ("results", "38 leads"),
        ],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains(
        "The program reimburses 50% of the actual cost: at most 750.00 USD of 1,500.00 USD",
    )
    .assert_contains("38 leads");
    assert!(proof_ids(&app, id).await.is_empty());
    assert_eq!(stored(), 0);

    let photo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    claim(
        &northwind.admin,
        id,
        &[
            ("actual_cost", "1500"),
            ("claimed", "750"),
            ("leads_generated", "38"),
        ],
        &[("invoice.pdf", PDF.to_vec()), ("booth.png", photo)],
    )
    .await
    .assert_redirect(&format!("/portal/mdf/{id}"));
    let files = proof_ids(&app, id).await;
    assert_eq!(files.len(), 2);

    // Proof is served to its org and to staff, by content type; another org gets a 404 for the same URL.
    let own = northwind
        .admin
        .client
        .get(format!(
            "{}/portal/mdf/proof/{}",
            northwind.admin.base, files[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.headers()["content-type"], "application/pdf");
    assert_eq!(own.headers()["x-content-type-options"], "nosniff");
    assert_eq!(own.bytes().await.unwrap().as_ref(), PDF);
    assert_eq!(
        admin
            .get(&format!("/admin/mdf/proof/{}", files[1]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        contoso
            .admin
            .get(&format!("/portal/mdf/proof/{}", files[0]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        contoso
            .admin
            .get(&format!("/admin/mdf/proof/{}", files[0]))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let anonymous = app
        .browser()
        .get(&format!("/portal/mdf/proof/{}", files[0]))
        .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);

    // Two staff approve the claim at the same moment: one succeeds, the other is told, the ledger has one entry.
    let other_admin = app.browser();
    other_admin.login("admin@example.test", PASSWORD).await;
    let path = format!("/admin/mdf/{id}");
    let (token_a, token_b) = (
        admin.get(&path).await.csrf_token(),
        other_admin.get(&path).await.csrf_token(),
    );
    let action = format!("{path}/claim");
    let fields_a = [
        ("csrf_token", token_a.as_str()),
        ("decision", "approve"),
        ("reason", ""),
    ];
    let fields_b = [
        ("csrf_token", token_b.as_str()),
        ("decision", "approve"),
        ("reason", ""),
    ];
    let (a, b) = tokio::join!(
        admin.post_raw(&action, &fields_a),
        other_admin.post_raw(&action, &fields_b),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::UNPROCESSABLE_ENTITY],
        "{}\n{}",
        a.body,
        b.body
    );
    let org = northwind.org;
    let entries: Vec<(i64, String, String)> = app
        .db(move |conn| {
            use concord::platform::db::schema::ledger_entries as l;
            l::table
                .filter(l::partner_org_id.eq(org))
                .select((l::amount_minor, l::kind, l::status))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        entries,
        vec![(
            75_000,
            "mdf_reimbursement".to_string(),
            "approved".to_string()
        )]
    );
    // The claim's 750 is claimed; the 250 of the reservation it did not use is available again.
    let portal = northwind.admin.get(&format!("/portal/mdf/{id}")).await;
    portal
        .assert_contains("Reimbursement approved")
        .assert_contains("Claim approved: 750.00 USD will be paid with the next payout.");
    let position = app
        .db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            let fund = concord::mdf::find_fund(conn, program.id, fund)
                .unwrap()
                .unwrap();
            concord::mdf::position_of(conn, &fund, org).unwrap()
        })
        .await;
    assert_eq!(
        (position.reserved, position.claimed, position.available()),
        (0, 75_000, 125_000)
    );
    let mail = app.outbox().await;
    assert!(mail.iter().any(|m| m.recipient == "boss@northwind.test"
        && m.subject.starts_with("Claim for MDF request")
        && m.subject.ends_with("approved")));
    // A second claim on the completed request is refused.
    claim(
        &northwind.admin,
        id,
        &[("actual_cost", "100"), ("claimed", "10")],
        &[],
    )
    .await
    .assert_contains("Claims are filed against approved requests");
}

#[tokio::test]
async fn funds_expire_at_period_end_and_claims_keep_their_deadline() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let northwind = fixtures::reseller(&app, "Northwind").await;
    let fund = fixtures::fund(&admin, "Winter MDF", -20, 10, "0").await;
    allocate(&admin, fund, &format!("partner:{}", northwind.org), "1,000").await;
    let id = request_id(&request(&northwind.admin, fund, "400", &[]).await);
    decide(&admin, id, "approve", "400", "").await;
    assert_eq!(app.run_job("mdf_deadlines").await, "");

    // The period ends: what is still available expires, recorded and audited, once.
    app.db(move |conn| {
        use concord::platform::db::schema::mdf_funds;
        diesel::update(mdf_funds::table.find(fund))
            .set(mdf_funds::ends_on.eq(concord::platform::db::now().date() - Duration::days(1)))
            .execute(conn)
            .unwrap()
    })
    .await;
    assert_eq!(
        app.run_job("mdf_deadlines").await,
        "1 funds expired, 0 claims reminded, 0 reservations lapsed"
    );
    assert_eq!(app.run_job("mdf_deadlines").await, "");
    let page = admin.get(&format!("/admin/mdf/budgets/{fund}")).await;
    page.assert_contains("Unused at the end of the period")
        .assert_contains("600.00 USD");
    admin
        .get("/admin/audit")
        .await
        .assert_contains("mdf.fund_expired");
    // No new request goes to an ended fund.
    northwind
        .admin
        .get("/portal/mdf/new")
        .await
        .assert_contains("No fund is open");

    // The claim deadline: reminded once a week ahead, refused after it, then the reservation lapses (and, the
    // fund having ended, expires too).
    let set_due = |days: i64| {
        app.db(move |conn| {
            use concord::platform::db::schema::mdf_requests;
            diesel::update(mdf_requests::table.find(id))
                .set(mdf_requests::claim_due_on.eq(Some(
                    concord::platform::db::now().date() + Duration::days(days),
                )))
                .execute(conn)
                .unwrap()
        })
    };
    set_due(3).await;
    assert_eq!(
        app.run_job("mdf_deadlines").await,
        "0 funds expired, 1 claims reminded, 0 reservations lapsed"
    );
    assert_eq!(app.run_job("mdf_deadlines").await, "");
    let reminders: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.subject.contains("due by"))
        .collect();
    assert_eq!(reminders.len(), 1);
    set_due(-1).await;
    claim(
        &northwind.admin,
        id,
        &[("actual_cost", "800"), ("claimed", "400")],
        &[("invoice.pdf", PDF.to_vec())],
    )
    .await
    .assert_contains("The claim deadline for this activity was");
    assert_eq!(
        app.run_job("mdf_deadlines").await,
        "0 funds expired, 0 claims reminded, 1 reservations lapsed"
    );
    northwind
        .admin
        .get(&format!("/portal/mdf/{id}"))
        .await
        .assert_contains("No claim was filed by");
    let page = admin.get(&format!("/admin/mdf/budgets/{fund}")).await;
    page.assert_contains("Released after the period ended")
        .assert_contains("400.00 USD");
    let org = northwind.org;
    let expired = app
        .db(move |conn| {
            let program = concord::programs::current(conn).unwrap();
            let fund = concord::mdf::find_fund(conn, program.id, fund)
                .unwrap()
                .unwrap();
            concord::mdf::position_of(conn, &fund, org).unwrap()
        })
        .await;
    assert_eq!(
        (expired.expired, expired.reserved, expired.available()),
        (100_000, 0, 0)
    );
}

#[tokio::test]
async fn accrual_utilization_and_roi_match_a_hand_computed_fixture() {
    let app = TestApp::spawn().await;
    let admin = app.admin_browser().await;
    let gold = fixtures::tier(&app, "Gold", 3).await;
    let northwind = fixtures::reseller(&app, "Northwind")
        .in_tier(Some(gold))
        .await;
    let _contoso = fixtures::reseller(&app, "Contoso")
        .in_tier(Some(gold))
        .await;
    // Won in the period: 50,000.00 (accrues 2% = 1,000.00). Won before it: 25,000.00 (accrues nothing).
    let in_period = fixtures::won_deal(
        &app,
        northwind.org,
        northwind.admin_id,
        "Acme",
        5_000_000,
        5,
    )
    .await;
    let before = fixtures::won_deal(
        &app,
        northwind.org,
        northwind.admin_id,
        "Globex",
        2_500_000,
        90,
    )
    .await;
    let fund = fixtures::fund(&admin, "Spring MDF", -30, 30, "2").await;
    allocate(&admin, fund, &format!("tier:{gold}"), "10,000").await;
    let id = request_id(&request(&northwind.admin, fund, "4,000", &[]).await);
    decide(&admin, id, "approve", "4,000", "").await;
    let (a, b) = (in_period.to_string(), before.to_string());
    claim(
        &northwind.admin,
        id,
        &[
            ("actual_cost", "6,000"),
            ("claimed", "3,000"),
            ("leads_generated", "55"),
            ("deal_ids", &a),
            ("deal_ids", &b),
        ],
        &[("invoice.pdf", PDF.to_vec())],
    )
    .await
    .assert_redirect(&format!("/portal/mdf/{id}"));
    let path = format!("/admin/mdf/{id}");
    admin
        .submit(
            &path,
            &format!("{path}/claim"),
            &[("decision", "approve"), ("reason", "")],
        )
        .await
        .assert_redirect(&path);
    // The payout run (issue 10) marks the entry paid; here the ledger is moved the way it will.
    let org = northwind.org;
    app.db(move |conn| {
        use concord::platform::db::schema::ledger_entries as l;
        let ids: Vec<i64> = l::table
            .filter(l::partner_org_id.eq(org))
            .select(l::id)
            .load(conn)
            .unwrap();
        concord::ledger::store::advance(
            conn,
            &ids,
            concord::ledger::rules::EntryStatus::Approved,
            concord::ledger::rules::EntryStatus::Paid,
            None,
        )
        .unwrap()
    })
    .await;

    // Northwind: 10,000 + 1,000 accrued = 11,000 allocated; 3,000 paid; 8,000 available; utilization
    // 3,000 / 11,000 = 27.27%; ROI (50,000 + 25,000) / 3,000 = 25.00.
    // Contoso: 10,000 allocated, nothing used. Gold: 21,000, 3,000 paid, 14.29%, ROI 25.00.
    let response = admin
        .client
        .get(format!("{}/admin/reports/mdf.csv?fund={fund}", admin.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        vec![
            "level,name,currency,allocated,awaiting_review,reserved,claimed,paid,expired,available,utilization_percent,linked_won_revenue,roi",
            "fund,Spring MDF,USD,21000.00,0.00,0.00,0.00,3000.00,0.00,18000.00,14.29,75000.00,25.00",
            "tier,Gold,USD,21000.00,0.00,0.00,0.00,3000.00,0.00,18000.00,14.29,75000.00,25.00",
            "partner,Contoso,USD,10000.00,0.00,0.00,0.00,0.00,0.00,10000.00,0,0.00,",
            "partner,Northwind,USD,11000.00,0.00,0.00,0.00,3000.00,0.00,8000.00,27.27,75000.00,25.00",
        ]
    );
    let page = admin.get(&format!("/admin/reports/mdf?fund={fund}")).await;
    page.assert_contains("25.00×")
        .assert_contains("27.27%")
        .assert_contains("<svg class=\"chart\"");
    northwind
        .admin
        .get(&format!("/portal/mdf/{id}"))
        .await
        .assert_contains("#1 Acme (won, won 50,000.00 USD)");
}
