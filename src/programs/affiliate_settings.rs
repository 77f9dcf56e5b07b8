//! The program's affiliate settings, valid by construction: cookie window, attribution model, terms, approval,
//! landing page and allowed destination domains, fraud limits and the hold period; and whether a destination is
//! one the program allows.

use crate::domain::refusal::Refusal;

use url::Url;

use crate::domain::domain_name::normalise_domain;

crate::text_enum!(AttributionModel {
    LastClick => "last_click" / "Last click",
    FirstClick => "first_click" / "First click",
});

/// The affiliate settings of a program, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffiliateSettings {
    pub cookie_window_days: i64,
    pub attribution_model: AttributionModel,
    pub terms_text: String,
    pub auto_approve_affiliates: bool,
    pub default_landing_url: String,
    pub allowed_domains: Vec<String>,
    pub min_seconds_to_convert: i64,
    pub max_conversions_per_ip_hour: i64,
    /// How many referral links one affiliate may have.
    pub max_links_per_partner: i64,
    pub blocked_ips: Vec<String>,
    /// Days a commission waits before approval (the refund window).
    pub hold_days: i64,
}

pub struct AffiliateSettingsInput<'a> {
    pub cookie_window_days: &'a str,
    pub attribution_model: &'a str,
    pub terms_text: &'a str,
    pub auto_approve_affiliates: bool,
    pub default_landing_url: &'a str,
    pub allowed_domains: &'a str,
    pub min_seconds_to_convert: &'a str,
    pub max_conversions_per_ip_hour: &'a str,
    pub max_links_per_partner: &'a str,
    pub blocked_ips: &'a str,
    pub hold_days: &'a str,
}

fn whole_number(
    raw: &str,
    range: std::ops::RangeInclusive<i64>,
    field: &'static str,
    what: &str,
    errors: &mut Vec<(&'static str, String)>,
) -> i64 {
    match raw.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            errors.push((
                field,
                format!(
                    "{what} is a whole number from {} to {}.",
                    range.start(),
                    range.end()
                ),
            ));
            *range.start()
        }
    }
}

impl AffiliateSettings {
    pub fn parse(input: &AffiliateSettingsInput<'_>) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let cookie_window_days = whole_number(
            input.cookie_window_days,
            1..=365,
            "cookie_window_days",
            "The cookie window",
            &mut errors,
        );
        let attribution_model = input.attribution_model.parse().unwrap_or_else(|_| {
            errors.push((
                "attribution_model",
                "Choose first click or last click.".into(),
            ));
            AttributionModel::LastClick
        });
        let mut allowed_domains = Vec::new();
        for line in input
            .allowed_domains
            .lines()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match normalise_domain(line) {
                Ok(domain) if !allowed_domains.contains(&domain) => allowed_domains.push(domain),
                Ok(_) => {}
                Err(e) => errors.push(("allowed_domains", e.into())),
            }
        }
        let default_landing_url = input.default_landing_url.trim().to_string();
        if !default_landing_url.is_empty() {
            if let Err(e) = check_destination(&default_landing_url, &allowed_domains) {
                errors.push(("default_landing_url", e.into()));
            }
        }
        let min_seconds_to_convert = whole_number(
            input.min_seconds_to_convert,
            0..=86_400,
            "min_seconds_to_convert",
            "The minimum time to convert",
            &mut errors,
        );
        let max_conversions_per_ip_hour = whole_number(
            input.max_conversions_per_ip_hour,
            1..=100_000,
            "max_conversions_per_ip_hour",
            "The hourly limit per IP",
            &mut errors,
        );
        let max_links_per_partner = whole_number(
            input.max_links_per_partner,
            1..=100_000,
            "max_links_per_partner",
            "The number of links per affiliate",
            &mut errors,
        );
        let hold_days = whole_number(
            input.hold_days,
            0..=365,
            "hold_days",
            "The hold period",
            &mut errors,
        );
        let mut blocked_ips = Vec::new();
        for line in input
            .blocked_ips
            .lines()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match line.parse::<std::net::IpAddr>() {
                Ok(ip) => blocked_ips.push(ip.to_string()),
                Err(_) => errors.push(("blocked_ips", format!("'{line}' is not an IP address."))),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            cookie_window_days,
            attribution_model,
            terms_text: input.terms_text.trim().to_string(),
            auto_approve_affiliates: input.auto_approve_affiliates,
            default_landing_url,
            allowed_domains,
            min_seconds_to_convert,
            max_conversions_per_ip_hour,
            max_links_per_partner,
            blocked_ips,
            hold_days,
        })
    }
}

/// A destination must be an http(s) URL on an allowed domain or one of its subdomains.
pub fn check_destination(
    raw: &str,
    allowed_domains: &[String],
) -> Result<Url, crate::domain::refusal::Refusal> {
    let url = Url::parse(raw.trim()).map_err(|_| {
        format!(
            "'{}' is not a web address; start it with https://",
            raw.trim()
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Links must point at an http:// or https:// address.".into());
    }
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches("www.")
        .to_ascii_lowercase();
    if allowed_domains.is_empty() {
        return Err(
            "The program has no allowed destination domains yet; ask the program manager.".into(),
        );
    }
    let allowed = allowed_domains
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")));
    if !allowed {
        return Err(Refusal::new(format!(
            "{host} is not one of the program's domains ({}).",
            allowed_domains.join(", ")
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["acme.example".into()]
    }

    #[test]
    fn destinations_must_be_on_allowed_domains() {
        assert!(check_destination("https://acme.example/pricing", &domains()).is_ok());
        assert!(check_destination("https://shop.acme.example/x?y=1", &domains()).is_ok());
        assert!(check_destination("https://www.acme.example/", &domains()).is_ok());
        assert!(check_destination("https://evil-acme.example/", &domains())
            .unwrap_err()
            .contains("not one of"));
        assert!(check_destination("https://acme.example.evil.test/", &domains()).is_err());
        assert!(check_destination("javascript:alert(1)", &domains()).is_err());
        assert!(check_destination("acme.example", &domains()).is_err());
        assert!(check_destination("https://acme.example/", &[])
            .unwrap_err()
            .contains("no allowed destination"));
    }

    #[test]
    fn settings_report_each_bad_field() {
        let input = AffiliateSettingsInput {
            cookie_window_days: "0",
            attribution_model: "random",
            terms_text: "",
            auto_approve_affiliates: false,
            default_landing_url: "https://other.example/",
            allowed_domains: "acme.example\nnot a domain",
            min_seconds_to_convert: "10",
            max_conversions_per_ip_hour: "5",
            max_links_per_partner: "0",
            blocked_ips: "10.0.0.1\nnope",
            hold_days: "30",
        };
        let fields: Vec<_> = AffiliateSettings::parse(&input)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            vec![
                "cookie_window_days",
                "attribution_model",
                "allowed_domains",
                "default_landing_url",
                "max_links_per_partner",
                "blocked_ips"
            ]
        );
    }
}
