//! Demo data for `concord serve --demo`: a program with four tiers, a commission rule, an admin, an affiliate with
//! links and a coupon, and reseller orgs with a partner admin and a rep, plus one application waiting in the
//! queue. Loaded only into an empty database. Passwords are random and printed once.

use diesel::Connection;

use crate::accounts::role::Role;
use crate::accounts::{self, NewAccount};
use crate::affiliate::store::coupons;
use crate::affiliate::store::links::{self, NewLink};
use crate::commissions::rules::{RateType, Recurrence, Rule};
use crate::domain::conversion::ConversionKind;
use crate::domain::money::Currency;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::partners::store::{self as partners, NewPartnerOrg};
use crate::platform::audit::Actor;
use crate::platform::auth::token::new_token;
use crate::platform::db::{self, DbConn};
use crate::programs;
use crate::programs::affiliate_settings::{AffiliateSettings, AttributionModel};
use crate::tiers;
use crate::tiers::rules::{TierDefinition, TierInput};

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: String,
}

/// Whether anything a person created is in the database already.
fn is_empty(conn: &mut DbConn) -> diesel::QueryResult<bool> {
    use crate::platform::db::schema::{partner_orgs, tiers as tier_table, users};
    use diesel::prelude::*;
    let people: i64 = users::table.count().get_result(conn)?;
    let orgs: i64 = partner_orgs::table.count().get_result(conn)?;
    let levels: i64 = tier_table::table.count().get_result(conn)?;
    Ok(people + orgs + levels == 0)
}

/// Loads the demo program; `Ok(None)` when the database already has data and nothing was changed.
pub fn load(conn: &mut DbConn) -> anyhow::Result<Option<Vec<DemoLogin>>> {
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        if !is_empty(conn)? {
            return Ok(None);
        }
        let usd = Currency::parse("USD").expect("valid code");
        let program = programs::current(conn)?;
        programs::rename(conn, program.id, "Acme Cloud Partner Program", usd)?;
        let system = Actor::system("demo data");

        let tier_ids = demo_tiers(conn, program.id, usd, &system)?;

        let org =
            |conn: &mut DbConn, name: &str, kind, status, tier_id, country: &str, domain: &str| {
                partners::insert(
                    conn,
                    &NewPartnerOrg {
                        program_id: program.id,
                        name,
                        kind,
                        status,
                        tier_id,
                        country,
                        website_domain: domain,
                    },
                )
            };
        let affiliate = org(
            conn,
            "Bright Deals Blog",
            PartnerKind::Affiliate,
            PartnerStatus::Approved,
            None,
            "US",
            "brightdeals.example",
        )?;
        let reseller = org(
            conn,
            "Northwind Systems",
            PartnerKind::Reseller,
            PartnerStatus::Approved,
            Some(tier_ids[2]),
            "DE",
            "northwind.example",
        )?;
        let applicant = org(
            conn,
            "Contoso IT Services",
            PartnerKind::Reseller,
            PartnerStatus::Applied,
            None,
            "GB",
            "contoso.example",
        )?;

        let (logins, rep_id) = demo_people(conn, affiliate, reseller, applicant)?;
        demo_affiliate(conn, program.id, affiliate, &system)?;
        demo_deals(conn, reseller, rep_id, &system)?;
        Ok(Some(logins))
    })
}

/// The four tiers of the demo program, lowest first; their ids in rank order.
fn demo_tiers(
    conn: &mut DbConn,
    program_id: i64,
    usd: Currency,
    system: &Actor,
) -> anyhow::Result<Vec<i64>> {
    let mut tier_ids = Vec::new();
    for (rank, name, margin, commission, mdf, won, reps) in [
        ("1", "Registered", "5", "", "0", "", ""),
        ("2", "Silver", "10", "20", "2500", "25000", "1"),
        ("3", "Gold", "15", "25", "10000", "100000", "3"),
        ("4", "Platinum", "20", "30", "25000", "500000", "6"),
    ] {
        let input = TierInput {
            name,
            rank,
            description: "",
            margin_percent: margin,
            commission_override_percent: commission,
            mdf_allowance: mdf,
            min_won_revenue: won,
            min_certified_reps: reps,
            min_won_deals: "",
            min_sales_revenue: "",
        };
        let definition = TierDefinition::parse(&input, usd).expect("demo tiers are valid");
        let id = tiers::create(conn, program_id, &definition, system)?;
        tier_ids.push(id);
    }
    Ok(tier_ids)
}

/// A login per role, each with a fresh random password; and the reseller rep's user id.
fn demo_people(
    conn: &mut DbConn,
    affiliate: i64,
    reseller: i64,
    applicant: i64,
) -> anyhow::Result<(Vec<DemoLogin>, i64)> {
    let mut logins = Vec::new();
    let mut rep_id = 0;
    for (role, email, name, user_role, org_id) in [
        (
            "admin",
            "admin@demo.concord.test",
            "Avery Admin",
            Role::Admin,
            None,
        ),
        (
            "affiliate",
            "affiliate@demo.concord.test",
            "Bo Blogger",
            Role::PartnerAdmin,
            Some(affiliate),
        ),
        (
            "reseller partner admin",
            "reseller@demo.concord.test",
            "Nia Northwind",
            Role::PartnerAdmin,
            Some(reseller),
        ),
        (
            "reseller rep",
            "rep@demo.concord.test",
            "Raj Rep",
            Role::PartnerUser,
            Some(reseller),
        ),
        (
            "applicant",
            "applicant@demo.concord.test",
            "Cal Contoso",
            Role::PartnerAdmin,
            Some(applicant),
        ),
    ] {
        let password = new_token()[..16].to_string();
        let user_id = accounts::create(
            conn,
            &NewAccount {
                email,
                display_name: name,
                password: &password,
                role: user_role,
                partner_org_id: org_id,
            },
        )?;
        if email == "rep@demo.concord.test" {
            rep_id = user_id;
        }
        logins.push(DemoLogin {
            role,
            email,
            password,
        });
    }
    Ok((logins, rep_id))
}

/// The affiliate side: tracking settings, the affiliate's default link plus a campaign link, a coupon, and the
/// sales commission rule.
fn demo_affiliate(
    conn: &mut DbConn,
    program_id: i64,
    affiliate: i64,
    system: &Actor,
) -> anyhow::Result<()> {
    let settings = AffiliateSettings {
        cookie_window_days: 30,
        attribution_model: AttributionModel::LastClick,
        terms_text: "Promote honestly: no spam, no bidding on our brand name, disclose that you earn commission.".into(),
        auto_approve_affiliates: false,
        default_landing_url: "https://acme.example/".into(),
        allowed_domains: vec!["acme.example".into()],
        min_seconds_to_convert: 10,
        max_conversions_per_ip_hour: 5,
        max_links_per_partner: 1000,
        blocked_ips: Vec::new(),
        hold_days: 30,
    };
    crate::affiliate::update_settings(conn, program_id, &settings, system)?;
    // The demo affiliate joined under these terms, as a signup at /join records them.
    let terms_version = programs::current(conn)?.terms_version;
    partners::record_application(
        conn,
        affiliate,
        "A deals blog with a newsletter",
        terms_version,
    )?;
    links::ensure_default(conn, affiliate, &settings.default_landing_url)?;
    let campaign = NewLink {
        partner_org_id: affiliate,
        code: "spring-sale",
        destination_url: "https://acme.example/pricing",
        sub_id: "newsletter",
        utm_source: "brightdeals",
        utm_medium: "affiliate",
        utm_campaign: "spring",
        is_default: false,
    };
    links::create(conn, &campaign)?;
    coupons::assign(
        conn,
        affiliate,
        "Bright Deals Blog",
        "BRIGHT10",
        "bright10",
        system,
    )?;
    let sales = Rule {
        id: 0,
        name: "Affiliate sales".into(),
        applies_to: ConversionKind::Sale,
        rate_type: RateType::Percent,
        rate: 2_000,
        product_filter: String::new(),
        tier_id: None,
        volume_threshold: Some(50),
        volume_rate: Some(2_500),
        recurrence: Recurrence::Recurring,
        recurring_months: Some(12),
    };
    crate::commissions::create(conn, program_id, &sales, system)?;
    Ok(())
}

/// The reseller side: products, a direct account, and Northwind's deals in every state the pipeline shows.
fn demo_deals(conn: &mut DbConn, reseller: i64, rep_id: i64, system: &Actor) -> anyhow::Result<()> {
    use crate::deals::rules::{DealDecision, NewDirectAccount};
    use crate::deals::{self, Progress, Registration, Viewer};
    let program = programs::current(conn)?;
    let products: Vec<String> = ["Acme Backup", "Acme Cloud Storage", "Acme Support Plus"]
        .map(String::from)
        .to_vec();
    crate::deals::config::save_products(conn, program.id, &products, system)?;
    let direct = NewDirectAccount::parse("Globex Corporation", "globex.example", "Dana Direct")
        .expect("valid demo account");
    crate::deals::config::add_direct_accounts(conn, program.id, &[direct], system)?;
    let stages = crate::deals::config::stages(conn, program.id)?;
    let rep = Actor {
        user_id: Some(rep_id),
        label: "rep@demo.concord.test".into(),
    };
    let viewer = Viewer {
        org_id: reseller,
        user_id: rep_id,
        manages_org: false,
        reps_see_org: true,
    };
    // Demo data sends no email.
    let quiet = |_: &mut DbConn, _: &deals::Deal, _: &deals::DealNotice| Ok(());
    let usd = Currency::parse("USD").expect("valid code");
    let today = db::now().date();
    let mut add =
        |customer: &str, domain: &str, dollars: i64, close_in_days: i64| -> anyhow::Result<i64> {
            let registration = Registration {
                customer_name: customer.into(),
                customer_domain: domain.into(),
                contact_name: "Casey Customer".into(),
                contact_email: format!("casey@{domain}"),
                contact_title: "IT Director".into(),
                country: "DE".into(),
                amount: crate::domain::money::Money::new(dollars * 100, usd),
                expected_close_date: today + chrono::Duration::days(close_in_days),
                products: vec![products[0].clone()],
                description: "Demo opportunity.".into(),
                custom_values: Vec::new(),
                justification: String::new(),
            };
            Ok(
                deals::register(conn, &program, reseller, &registration, &rep, &quiet)?
                    .0
                    .id,
            )
        };
    let _waiting = add("Initech", "initech.example", 18_000, 45)?;
    let _conflicting = add("Globex", "globex.example", 40_000, 60)?;
    let proposal = add("Umbrella Health", "umbrella.example", 65_000, 30)?;
    let negotiation = add("Stark Logistics", "stark.example", 120_000, 75)?;
    let won = add("Wayne Retail", "wayne.example", 48_000, 10)?;
    let lost = add("Tyrell Labs", "tyrell.example", 22_000, 20)?;
    for id in [proposal, negotiation, won, lost] {
        deals::decide(
            conn,
            &program,
            id,
            DealDecision::Approve,
            "",
            false,
            system,
            &quiet,
        )?;
    }
    for (id, stage) in [(proposal, 1), (negotiation, 2)] {
        let progress = Progress {
            stage_id: stages.get(stage).map(|s| s.id),
            ..Default::default()
        };
        deals::update_progress(conn, &viewer, id, &progress, &rep)?;
    }
    deals::report_won(conn, &viewer, won, 51_500 * 100, &rep)?;
    deals::confirm_win(conn, &program, won, system, &quiet)?;
    deals::report_lost(conn, &viewer, lost, "Chose a competitor on price", &rep)?;
    demo_mdf(conn, &program, reseller, &rep, system)
}

/// Market development funds: this quarter's fund (each tier's MDF allowance, plus 1% of confirmed won revenue),
/// one approved request whose claim can be filed now, and one waiting for review.
fn demo_mdf(
    conn: &mut DbConn,
    program: &programs::Program,
    reseller: i64,
    rep: &Actor,
    system: &Actor,
) -> anyhow::Result<()> {
    use crate::domain::money::Money;
    use crate::mdf::rules::{ActivityType, Decision};
    use crate::mdf::{self, NewFund, RequestInput};
    let usd = Currency::parse("USD").expect("valid code");
    let today = db::now().date();
    let quarter = crate::deals::rules::Quarter::of(today);
    // Early in a quarter the period reaches back far enough for an activity that has already ended.
    let starts_on = quarter.first_day().min(today - chrono::Duration::days(30));
    let fund = NewFund {
        name: &format!("{quarter} MDF"),
        currency: usd,
        starts_on,
        ends_on: quarter.end() - chrono::Duration::days(1),
        accrual_bps: 100,
    };
    let fund_id = mdf::create_fund(conn, program.id, &fund, true, system)?;
    let quiet_review = |_: &mut DbConn, _: &mdf::MdfRequest, _: &str| Ok(());
    let quiet = |_: &mut DbConn, _: &mdf::MdfRequest, _: &mdf::MdfNotice| Ok(());
    let rep_id = rep.user_id.expect("the demo rep");
    let roadshow = RequestInput {
        fund_id,
        activity: ActivityType::Event,
        title: "Cloud migration roadshow".into(),
        description: "Three half-day sessions for IT directors in Hamburg, Munich and Berlin."
            .into(),
        starts_on: today - chrono::Duration::days(20),
        ends_on: today - chrono::Duration::days(6),
        requested: Money::new(3_000 * 100, usd),
        expected_leads: 60,
        expected_pipeline: Money::new(250_000 * 100, usd),
    };
    let id = mdf::submit_request(
        conn,
        program.id,
        reseller,
        rep_id,
        &roadshow,
        rep,
        &quiet_review,
    )?;
    mdf::decide_request(
        conn,
        program,
        id,
        Decision::Approve,
        None,
        "",
        system,
        &quiet,
    )?;
    let campaign = RequestInput {
        fund_id,
        activity: ActivityType::DigitalAds,
        title: "LinkedIn campaign for Acme Backup".into(),
        description: "Sponsored posts aimed at IT managers in the DACH region.".into(),
        starts_on: today,
        ends_on: today + chrono::Duration::days(30),
        requested: Money::new(2_000 * 100, usd),
        expected_leads: 25,
        expected_pipeline: Money::new(80_000 * 100, usd),
    };
    mdf::submit_request(
        conn,
        program.id,
        reseller,
        rep_id,
        &campaign,
        rep,
        &quiet_review,
    )?;
    Ok(())
}
