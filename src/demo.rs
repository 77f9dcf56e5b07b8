//! Demo data for `concord serve --demo`: a program with four tiers, a commission rule, an admin, an affiliate with
//! links and a coupon, and reseller orgs with a partner admin and a rep, plus one application waiting in the
//! queue. Loaded only into an empty database. Passwords are random and printed once.

use diesel::Connection;

use crate::accounts::{self, NewAccount};
use crate::auth::token::new_token;
use crate::db::audit::Actor;
use crate::db::links::{self, NewLink};
use crate::db::partners::{self, NewPartnerOrg};
use crate::db::{coupons, programs, rules, tiers, DbConn};
use crate::domain::affiliate::{AffiliateSettings, AttributionModel};
use crate::domain::commission::{RateType, Recurrence, Rule};
use crate::domain::conversion::ConversionKind;
use crate::domain::money::Currency;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::domain::role::Role;
use crate::domain::tier::{TierDefinition, TierInput};

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: String,
}

/// Whether anything a person created is in the database already.
fn is_empty(conn: &mut DbConn) -> diesel::QueryResult<bool> {
    use crate::db::schema::{partner_orgs, tiers as tier_table, users};
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
            let id = tiers::create(conn, program.id, &definition, &system)?;
            tier_ids.push(id);
        }

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

        let mut logins = Vec::new();
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
            accounts::create(
                conn,
                &NewAccount {
                    email,
                    display_name: name,
                    password: &password,
                    role: user_role,
                    partner_org_id: org_id,
                },
            )?;
            logins.push(DemoLogin {
                role,
                email,
                password,
            });
        }
        // The affiliate side: tracking settings, the affiliate's default link plus a campaign link, and a coupon.
        let settings = AffiliateSettings {
            cookie_window_days: 30,
            attribution_model: AttributionModel::LastClick,
            terms_text: "Promote honestly: no spam, no bidding on our brand name, disclose that you earn commission.".into(),
            auto_approve_affiliates: false,
            default_landing_url: "https://acme.example/".into(),
            allowed_domains: vec!["acme.example".into()],
            min_seconds_to_convert: 10,
            max_conversions_per_ip_hour: 5,
            blocked_ips: Vec::new(),
            hold_days: 30,
        };
        programs::update_affiliate_settings(conn, program.id, &settings, &system)?;
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
        coupons::assign(conn, affiliate, "Bright Deals Blog", "BRIGHT10", "bright10", &system)?;
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
        rules::create(conn, program.id, &sales, &system)?;
        Ok(Some(logins))
    })
}
