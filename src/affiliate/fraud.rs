//! Fraud flags, each with a reason a person can read. A flagged conversion is recorded as usual and held for review.
//! So is a conversion attributed to an org that is not approved (ledger invariant 5): it may not earn until an
//! admin decides.

use chrono::NaiveDateTime;

use crate::domain::partner::PartnerStatus;

/// Free mailbox providers: sharing one of these domains says nothing about who someone is.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.ru",
];

pub struct FraudFacts<'a> {
    pub customer_email: Option<&'a str>,
    /// Emails of the attributed partner's users.
    pub partner_emails: &'a [String],
    pub clicked_at: Option<NaiveDateTime>,
    pub occurred_at: NaiveDateTime,
    pub min_seconds_to_convert: i64,
    /// Conversions already recorded in the past hour from the same visitor IP (not counting this one).
    pub conversions_from_ip_last_hour: i64,
    pub max_conversions_per_ip_hour: i64,
    /// The attributed org's status: only an approved org earns.
    pub partner_status: PartnerStatus,
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// The reasons to hold a conversion, empty when there are none.
pub fn flags(facts: &FraudFacts<'_>) -> Vec<String> {
    let mut reasons = Vec::new();
    match facts.partner_status {
        PartnerStatus::Approved => {}
        PartnerStatus::Suspended => reasons
            .push("partner not approved: the partner is suspended and earns nothing until an admin decides".into()),
        PartnerStatus::Applied => reasons.push(
            "partner not approved: the partner's application is still under review".into(),
        ),
        PartnerStatus::Rejected => {
            reasons.push("partner not approved: the partner's application was rejected".into())
        }
    }
    if let Some(customer) = facts
        .customer_email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
    {
        let customer_domain = domain_of(&customer);
        for own in facts.partner_emails {
            let own = own.to_lowercase();
            if own == customer {
                reasons
                    .push("self-referral: the customer's email is the affiliate's own".to_string());
                break;
            }
            if !customer_domain.is_empty()
                && domain_of(&own) == customer_domain
                && !FREE_MAIL.contains(&customer_domain)
            {
                reasons.push(format!("self-referral: the customer shares the affiliate's company domain {customer_domain}"));
                break;
            }
        }
    }
    if let Some(clicked_at) = facts.clicked_at {
        let seconds = (facts.occurred_at - clicked_at).num_seconds();
        if seconds < facts.min_seconds_to_convert {
            reasons.push(format!(
                "fast conversion: {}s after the click (minimum {}s)",
                seconds.max(0),
                facts.min_seconds_to_convert
            ));
        }
    }
    if facts.conversions_from_ip_last_hour >= facts.max_conversions_per_ip_hour {
        reasons.push(format!(
            "ip velocity: {} conversions from one IP in the past hour (limit {})",
            facts.conversions_from_ip_last_hour + 1,
            facts.max_conversions_per_ip_hour
        ));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn facts<'a>(
        customer: Option<&'a str>,
        partner: &'a [String],
        delay: i64,
        ip_count: i64,
    ) -> FraudFacts<'a> {
        let clicked = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        FraudFacts {
            customer_email: customer,
            partner_emails: partner,
            clicked_at: Some(clicked),
            occurred_at: clicked + Duration::seconds(delay),
            min_seconds_to_convert: 10,
            conversions_from_ip_last_hour: ip_count,
            max_conversions_per_ip_hour: 5,
            partner_status: PartnerStatus::Approved,
        }
    }

    #[test]
    fn a_partner_that_is_not_approved_is_held_whatever_else_is_true() {
        let own = vec!["bo@blog.example".to_string()];
        for status in [
            PartnerStatus::Suspended,
            PartnerStatus::Applied,
            PartnerStatus::Rejected,
        ] {
            let reasons = flags(&FraudFacts {
                partner_status: status,
                ..facts(Some("ann@customer.example"), &own, 600, 0)
            });
            assert_eq!(reasons.len(), 1, "{status}");
            assert!(reasons[0].starts_with("partner not approved"));
        }
    }

    #[test]
    fn clean_conversions_have_no_flags() {
        let own = vec!["bo@blog.example".to_string()];
        assert!(flags(&facts(Some("ann@customer.example"), &own, 600, 0)).is_empty());
        assert!(
            flags(&facts(
                Some("ann@gmail.com"),
                &["bo@gmail.com".to_string()],
                600,
                0
            ))
            .is_empty(),
            "free mail domains say nothing"
        );
    }

    #[test]
    fn self_referral_fast_conversion_and_ip_velocity_are_flagged() {
        let own = vec!["Bo@Blog.example".to_string()];
        assert!(flags(&facts(Some("bo@blog.example"), &own, 600, 0))[0]
            .starts_with("self-referral: the customer's email"));
        assert!(flags(&facts(Some("ceo@blog.example"), &own, 600, 0))[0]
            .contains("company domain blog.example"));
        assert_eq!(
            flags(&facts(None, &own, 3, 0)),
            vec!["fast conversion: 3s after the click (minimum 10s)"]
        );
        assert!(flags(&facts(None, &own, 600, 5))[0].starts_with("ip velocity: 6 conversions"));
        assert_eq!(flags(&facts(Some("bo@blog.example"), &own, 1, 9)).len(), 3);
    }
}
