//! Affiliate rules: link codes and coupons, the destinations a click is sent to, why a click does not count, and
//! which visitors are bots. The program's affiliate settings (and the destinations it allows) are
//! `programs::affiliate_settings`.

use crate::domain::refusal::Refusal;

use url::Url;

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

/// Codes that would shadow a page or confuse people.
const RESERVED_CODES: &[&str] = &[
    "admin", "api", "portal", "login", "logout", "join", "apply", "static", "setup", "healthz",
];

/// A custom link code: 3 to 40 characters of lowercase letters, digits and dashes, not starting or ending with a
/// dash. Returns the code lowercased.
pub fn check_slug(raw: &str) -> Result<String, crate::domain::refusal::Refusal> {
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
        return Err(Refusal::new(format!("'{slug}' is reserved; pick another.")));
    }
    Ok(slug)
}

/// Coupon codes as merchants print them: 3 to 40 letters, digits, dashes or underscores. Compared without case.
pub fn check_coupon(raw: &str) -> Result<(String, String), crate::domain::refusal::Refusal> {
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
}
