//! The one place tests build their world: the affiliate program with a partner that owns a coupon, partner orgs
//! with signed-in people, tiers, deals and funds. A test asks for what it needs and says only what differs:
//!
//! ```ignore
//! let northwind = fixtures::reseller(&app, "Northwind").in_tier(gold).with_rep().await;
//! let program = fixtures::affiliate_program(&app).hold_days(0).sales_rule(2_000).await;
//! ```
//!
//! Builders are awaited directly (`IntoFuture`); pages a test is about are driven by the test, not here.

use crate::harness::{Browser, TestApp, PASSWORD};
use chrono::Duration;
use concord::accounts::role::Role;
use concord::domain::partner::{PartnerKind, PartnerStatus};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

type Built<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The date `days` from today, as forms take it.
pub(crate) fn in_days(days: i64) -> String {
    (concord::platform::db::now().date() + Duration::days(days)).to_string()
}

fn system() -> concord::platform::audit::Actor {
    concord::platform::audit::Actor::system("test")
}

// ---------------------------------------------------------------------------------------------------------------
// Partner orgs and their people

/// An approved partner org with its partner admin (`boss@<slug>.test`, signed in) and, when asked for, a rep
/// (`rep@<slug>.test`, signed in). The slug is the name's first word in lower case.
pub(crate) struct Partner {
    pub(crate) org: i64,
    pub(crate) admin: Browser,
    pub(crate) admin_id: i64,
    rep: Option<(Browser, i64)>,
}

impl Partner {
    pub(crate) fn rep(&self) -> &Browser {
        &self.rep.as_ref().expect("built without .with_rep()").0
    }

    pub(crate) fn rep_id(&self) -> i64 {
        self.rep.as_ref().expect("built without .with_rep()").1
    }
}

pub(crate) struct PartnerBuilder<'a> {
    app: &'a TestApp,
    name: String,
    kind: PartnerKind,
    tier: Option<i64>,
    with_rep: bool,
}

/// An approved reseller named `name`.
pub(crate) fn reseller<'a>(app: &'a TestApp, name: &str) -> PartnerBuilder<'a> {
    PartnerBuilder {
        app,
        name: name.to_string(),
        kind: PartnerKind::Reseller,
        tier: None,
        with_rep: false,
    }
}

impl PartnerBuilder<'_> {
    /// Places the org in the tier from the start (no tier change is recorded).
    pub(crate) fn in_tier(mut self, tier: Option<i64>) -> Self {
        self.tier = tier;
        self
    }

    /// Adds a signed-in partner user (a rep) next to the partner admin.
    pub(crate) fn with_rep(mut self) -> Self {
        self.with_rep = true;
        self
    }
}

async fn signed_in(app: &TestApp, email: &str, role: Role, org: i64) -> (Browser, i64) {
    let id = app.create_user(email, role, Some(org)).await;
    let browser = app.browser();
    browser
        .login(email, PASSWORD)
        .await
        .assert_redirect("/portal");
    (browser, id)
}

impl<'a> IntoFuture for PartnerBuilder<'a> {
    type Output = Partner;
    type IntoFuture = Built<'a, Partner>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let app = self.app;
            let org = app
                .create_partner(&self.name, self.kind, PartnerStatus::Approved)
                .await;
            if let Some(tier) = self.tier {
                app.db(move |conn| {
                    use concord::platform::db::schema::partner_orgs;
                    diesel::update(partner_orgs::table.find(org))
                        .set(partner_orgs::tier_id.eq(Some(tier)))
                        .execute(conn)
                        .unwrap()
                })
                .await;
            }
            let slug = self.name.split_whitespace().next().unwrap().to_lowercase();
            let (admin, admin_id) =
                signed_in(app, &format!("boss@{slug}.test"), Role::PartnerAdmin, org).await;
            let rep = if self.with_rep {
                Some(signed_in(app, &format!("rep@{slug}.test"), Role::PartnerUser, org).await)
            } else {
                None
            };
            Partner {
                org,
                admin,
                admin_id,
                rep,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tiers

pub(crate) struct TierBuilder<'a> {
    app: &'a TestApp,
    name: String,
    rank: i64,
    margin_bps: i64,
}

/// A tier with this name and rank, no margin and no thresholds.
pub(crate) fn tier<'a>(app: &'a TestApp, name: &str, rank: i64) -> TierBuilder<'a> {
    TierBuilder {
        app,
        name: name.to_string(),
        rank,
        margin_bps: 0,
    }
}

impl TierBuilder<'_> {
    /// The deal margin the tier gives, in basis points.
    pub(crate) fn margin_bps(mut self, bps: i64) -> Self {
        self.margin_bps = bps;
        self
    }
}

impl<'a> IntoFuture for TierBuilder<'a> {
    type Output = i64;
    type IntoFuture = Built<'a, i64>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (name, rank, margin) = (self.name, self.rank, self.margin_bps);
            self.app
                .db(move |conn| {
                    let program = concord::programs::current(conn).unwrap();
                    let zero = concord::domain::money::Money::new(0, program.currency());
                    let definition = concord::tiers::rules::TierDefinition {
                        name,
                        rank,
                        description: String::new(),
                        margin: concord::domain::money::BasisPoints::new(margin).unwrap(),
                        commission_override: None,
                        mdf_allowance: zero,
                        min_won_revenue: zero,
                        min_certified_reps: 0,
                        min_won_deals: 0,
                        min_sales_revenue: zero,
                    };
                    concord::tiers::create(conn, program.id, &definition, &system()).unwrap()
                })
                .await
        })
    }
}

/// Moves the org into the tier as an admin would, with the change kept in its history.
pub(crate) async fn move_to_tier(app: &TestApp, org: i64, tier: i64) {
    app.db(move |conn| {
        let program = concord::programs::current(conn).unwrap();
        concord::partners::change_tier(conn, program.id, org, Some(tier), "test", &system())
            .unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------------------------------
// The affiliate program

/// The affiliate program with the approved affiliate "Bright Deals": its partner admin `bo@brightdeals.example` is
/// signed in, it owns link `bright` and coupon `BO` (conversions with the coupon are attributed without clicks),
/// and `key` is a program API key.
pub(crate) struct AffiliateProgram {
    pub(crate) org: i64,
    pub(crate) key: String,
    pub(crate) partner: Browser,
}

pub(crate) struct AffiliateProgramBuilder<'a> {
    app: &'a TestApp,
    hold_days: i64,
    sales_rule_bps: Option<i64>,
}

/// The affiliate program with a 30-day hold and no commission rules.
pub(crate) fn affiliate_program(app: &TestApp) -> AffiliateProgramBuilder<'_> {
    AffiliateProgramBuilder {
        app,
        hold_days: 30,
        sales_rule_bps: None,
    }
}

impl AffiliateProgramBuilder<'_> {
    pub(crate) fn hold_days(mut self, days: i64) -> Self {
        self.hold_days = days;
        self
    }

    /// One rule paying this many basis points of every sale.
    pub(crate) fn sales_rule(mut self, bps: i64) -> Self {
        self.sales_rule_bps = Some(bps);
        self
    }
}

impl<'a> IntoFuture for AffiliateProgramBuilder<'a> {
    type Output = AffiliateProgram;
    type IntoFuture = Built<'a, AffiliateProgram>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (app, hold_days) = (self.app, self.hold_days);
            app.affiliate_program(true, move |s| s.hold_days = hold_days)
                .await;
            if let Some(bps) = self.sales_rule_bps {
                crate::commissions::sales_rule(app, bps).await;
            }
            let (org, _) = app
                .affiliate_with_link("Bright Deals", "bo@brightdeals.example", "bright")
                .await;
            coupon(app, org, "BO").await;
            let partner = app.browser();
            partner
                .login("bo@brightdeals.example", PASSWORD)
                .await
                .assert_redirect("/portal");
            AffiliateProgram {
                org,
                key: app.api_key().await,
                partner,
            }
        })
    }
}

/// Gives the org coupon `code`.
pub(crate) async fn coupon(app: &TestApp, org: i64, code: &str) {
    let code = code.to_string();
    app.db(move |conn| {
        concord::affiliate::store::coupons::assign(
            conn,
            org,
            "coupon owner",
            &code,
            &code.to_lowercase(),
            &system(),
        )
        .unwrap();
    })
    .await;
}

/// Posts JSON to the API with the key; returns the status and the JSON answer.
pub(crate) async fn api_post(
    app: &TestApp,
    key: &str,
    path: &str,
    body: impl serde::Serialize,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Reads JSON from the API with the key, expecting 200.
pub(crate) async fn api_get(app: &TestApp, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Records a sale in USD through the API; `extra` adds or replaces fields. Returns the stored conversion.
pub(crate) async fn sale(app: &TestApp, key: &str, id: &str, amount: i64, extra: Value) -> Value {
    let mut body =
        serde_json::json!({"external_id": id, "kind": "sale", "amount": amount, "currency": "USD"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, answer) = api_post(app, key, "/api/v1/conversions", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["conversion"].clone()
}

// ---------------------------------------------------------------------------------------------------------------
// Deals and funds

/// Stores a confirmed win of `amount_minor` USD for the org, registered by `user` and closed `closed_days_ago`.
pub(crate) async fn won_deal(
    app: &TestApp,
    org: i64,
    user: i64,
    customer: &str,
    amount_minor: i64,
    closed_days_ago: i64,
) -> i64 {
    let customer = customer.to_string();
    app.db(move |conn| {
        use concord::platform::db::schema::deals;
        let program = concord::programs::current(conn).unwrap();
        let closed = concord::platform::db::now() - Duration::days(closed_days_ago);
        diesel::insert_into(deals::table)
            .values((
                deals::program_id.eq(program.id),
                deals::partner_org_id.eq(org),
                deals::registered_by_user_id.eq(user),
                deals::customer_name.eq(&customer),
                deals::customer_key.eq(customer.to_lowercase()),
                deals::contact_name.eq("Carla"),
                deals::contact_email.eq("carla@buyer.example"),
                deals::country.eq("US"),
                deals::amount_minor.eq(amount_minor),
                deals::currency.eq("USD"),
                deals::expected_close_date.eq(closed.date()),
                deals::status.eq(concord::deals::rules::DealStatus::Won),
                deals::submitted_at.eq(closed),
                deals::won_amount_minor.eq(Some(amount_minor)),
                deals::closed_at.eq(Some(closed)),
                deals::created_at.eq(closed),
                deals::updated_at.eq(closed),
            ))
            .returning(deals::id)
            .get_result::<i64>(conn)
            .unwrap()
    })
    .await
}

/// Creates a USD fund through the budgets page, running from `starts` to `ends` days from today, accruing
/// `accrual` percent of won revenue ("" or "0" for none). Returns its id.
pub(crate) async fn fund(
    admin: &Browser,
    name: &str,
    starts: i64,
    ends: i64,
    accrual: &str,
) -> i64 {
    let (starts, ends) = (in_days(starts), in_days(ends));
    let page = admin
        .submit(
            "/admin/mdf/budgets",
            "/admin/mdf/budgets",
            &[
                ("name", name),
                ("currency", "USD"),
                ("quarter", ""),
                ("starts_on", &starts),
                ("ends_on", &ends),
                ("accrual_percent", accrual),
            ],
        )
        .await;
    let location = page
        .location
        .clone()
        .unwrap_or_else(|| panic!("fund not created:\n{}", page.body));
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// An approved MDF request of `amount` USD for the partner, in a new fund that started 30 days ago and allocates
/// the partner 2,000. Returns the request id.
pub(crate) async fn approved_mdf_request(admin: &Browser, partner: &Partner, amount: &str) -> i64 {
    use crate::mdf::{allocate, decide, request, request_id};
    let fund = fund(admin, "Spring MDF", -30, 30, "0").await;
    allocate(admin, fund, &format!("partner:{}", partner.org), "2,000")
        .await
        .assert_redirect(&format!("/admin/mdf/budgets/{fund}"));
    let id = request_id(&request(&partner.admin, fund, amount, &[]).await);
    decide(admin, id, "approve", amount, "")
        .await
        .assert_redirect(&format!("/admin/mdf/{id}"));
    id
}
