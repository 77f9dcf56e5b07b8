//! Affiliate program rules: the program's tracking settings, link codes and destinations, and which visitors are
//! bots.

use url::Url;

use super::partner::normalise_domain;

crate::text_enum!(AttributionModel {
    LastClick => "last_click" / "Last click",
    FirstClick => "first_click" / "First click",
});

// Why a click does not count. Filtered clicks are still stored, so dashboards can say what was filtered and why.
crate::text_enum!(ClickFilter {
    Bot => "bot" / "Bot or link preview",
    Head => "head" / "HEAD request",
    Duplicate => "duplicate" / "Same visitor within an hour",
    BlockedIp => "blocked_ip" / "Blocked IP address",
});

impl ClickFilter {
    /// Whether a click filtered this way can still earn a conversion: a repeat visit is still a person.
    pub fn may_attribute(self) -> bool {
        self == ClickFilter::Duplicate
    }
}

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
                Err(e) => errors.push(("allowed_domains", e)),
            }
        }
        let default_landing_url = input.default_landing_url.trim().to_string();
        if !default_landing_url.is_empty() {
            if let Err(e) = check_destination(&default_landing_url, &allowed_domains) {
                errors.push(("default_landing_url", e));
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
            blocked_ips,
            hold_days,
        })
    }
}

/// A destination must be an http(s) URL on an allowed domain or one of its subdomains.
pub fn check_destination(raw: &str, allowed_domains: &[String]) -> Result<Url, String> {
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
        return Err(format!(
            "{host} is not one of the program's domains ({}).",
            allowed_domains.join(", ")
        ));
    }
    Ok(url)
}

/// Codes that would shadow a page or confuse people.
const RESERVED_CODES: &[&str] = &[
    "admin", "api", "portal", "login", "logout", "join", "apply", "static", "setup", "healthz",
];

/// A custom link code: 3 to 40 characters of lowercase letters, digits and dashes, not starting or ending with a
/// dash. Returns the code lowercased.
pub fn check_slug(raw: &str) -> Result<String, String> {
    let slug = raw.trim().to_ascii_lowercase();
    let valid_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=40).contains(&slug.len())
        || !valid_chars
        || slug.starts_with('-')
        || slug.ends_with('-')
    {
        return Err("Use 3 to 40 letters, digits or dashes, like spring-sale.".into());
    }
    if RESERVED_CODES.contains(&slug.as_str()) {
        return Err(format!("'{slug}' is reserved; pick another."));
    }
    Ok(slug)
}

/// Coupon codes as merchants print them: 3 to 40 letters, digits, dashes or underscores. Compared without case.
pub fn check_coupon(raw: &str) -> Result<(String, String), String> {
    let code = raw.trim().to_string();
    let valid = (3..=40).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err("A coupon code is 3 to 40 letters, digits, dashes or underscores.".into());
    }
    let key = code.to_ascii_lowercase();
    Ok((code, key))
}

/// Known crawlers, monitors and link-preview fetchers (chat apps unfurling a pasted link).
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "embedly",
    "whatsapp",
    "skypeuripreview",
    "bitlybot",
    "curl/",
    "wget/",
    "python-requests",
    "go-http-client",
    "headlesschrome",
    "lighthouse",
    "pingdom",
];

pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ua.trim().is_empty() || BOT_MARKERS.iter().any(|marker| ua.contains(marker))
}

/// A link's destination with its sub-id and UTM fields added, worked out once per link and cached, so each redirect
/// only puts its click id in (parsing and rebuilding the URL was a visible part of a redirect's time).
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationTemplate {
    before_click: String,
    /// `None` when the destination is not a URL (stored before validation): it is sent as it is, as
    /// `tracked_destination` does.
    after_click: Option<String>,
}

impl DestinationTemplate {
    /// Hex digits only, like a click id, so the URL encodes it as it would a real one.
    const MARKER: &'static str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

    pub fn new(destination: &str, extra: &[(&str, &str)]) -> Self {
        let url = tracked_destination(destination, Self::MARKER, extra);
        match url.rsplit_once(Self::MARKER) {
            Some((before, after)) => Self {
                before_click: before.to_string(),
                after_click: Some(after.to_string()),
            },
            None => Self {
                before_click: url,
                after_click: None,
            },
        }
    }

    /// The destination for one click; `click_id` is hex, so it needs no encoding.
    pub fn with_click(&self, click_id: &str) -> String {
        match &self.after_click {
            Some(after) => [self.before_click.as_str(), click_id, after].concat(),
            None => self.before_click.clone(),
        }
    }
}

/// Appends `concord_click=<id>` (and the link's sub-id and UTM fields, where set and absent) to a destination.
pub fn tracked_destination(destination: &str, click_id: &str, extra: &[(&str, &str)]) -> String {
    let Ok(mut url) = Url::parse(destination) else {
        return destination.to_string();
    };
    let existing: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in extra {
            if !value.is_empty() && !existing.iter().any(|k| k == key) {
                query.append_pair(key, value);
            }
        }
        query.append_pair("concord_click", click_id);
    }
    url.to_string()
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
    fn slugs_are_short_lowercase_words() {
        assert_eq!(check_slug(" Spring-Sale ").unwrap(), "spring-sale");
        assert!(check_slug("ab").is_err());
        assert!(check_slug("-ab").is_err());
        assert!(check_slug("a b c").is_err());
        assert!(check_slug("admin").unwrap_err().contains("reserved"));
    }

    #[test]
    fn coupons_compare_without_case() {
        assert_eq!(
            check_coupon("SAVE10").unwrap(),
            ("SAVE10".to_string(), "save10".to_string())
        );
        assert!(check_coupon("x").is_err());
        assert!(check_coupon("SAVE 10").is_err());
    }

    #[test]
    fn bots_and_previews_are_recognised() {
        assert!(is_bot(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        ));
        assert!(is_bot("facebookexternalhit/1.1"));
        assert!(is_bot("Slackbot-LinkExpanding 1.0"));
        assert!(is_bot("curl/8.5.0"));
        assert!(is_bot(""));
        assert!(!is_bot("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"));
    }

    #[test]
    fn the_destination_carries_the_click_id_and_utm_fields() {
        let url = tracked_destination(
            "https://acme.example/p?utm_source=keep",
            "abc",
            &[
                ("utm_source", "blog"),
                ("utm_medium", "email"),
                ("sub_id", ""),
            ],
        );
        assert_eq!(
            url,
            "https://acme.example/p?utm_source=keep&utm_medium=email&concord_click=abc"
        );
    }

    #[test]
    fn a_destination_template_gives_what_tracked_destination_gives() {
        let extra = [
            ("sub_id", "spring"),
            ("utm_source", "blog"),
            ("utm_medium", ""),
        ];
        let click = "0193a0b1c2d3e4f5a6b7c8d9e0f1a2b3";
        for destination in [
            "https://acme.example/p?utm_source=keep",
            "https://acme.example/pricing#plans",
            "https://acme.example/a%20b?q=x+y&r=%26",
            "https://acme.example",
            "not a url",
        ] {
            assert_eq!(
                DestinationTemplate::new(destination, &extra).with_click(click),
                tracked_destination(destination, click, &extra),
                "{destination}"
            );
        }
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
                "blocked_ips"
            ]
        );
    }
}
