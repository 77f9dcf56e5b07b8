//! Website domains as people type them, reduced to the host, so two spellings of one company compare equal.

use crate::domain::refusal::Refusal;

/// A website domain as partners type it ("https://www.Acme.com/about") reduced to its host ("acme.com"), so two
/// spellings of one company compare equal.
pub fn normalise_domain(raw: &str) -> Result<String, crate::domain::refusal::Refusal> {
    let trimmed = raw.trim().to_lowercase();
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let without_scheme = trimmed
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&trimmed);
    let host = without_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = host.split(':').next().unwrap_or("");
    let host = host.trim_end_matches('.');
    // "www." is dropped only from a longer name: "www.aa" (a registrable domain itself) stays as it is.
    let host = match host.strip_prefix("www.") {
        Some(rest) if rest.contains('.') => rest,
        _ => host,
    };
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !host.contains('.') || !labels_ok {
        return Err(Refusal::new(format!(
            "'{}' is not a website domain like example.com.",
            raw.trim()
        )));
    }
    Ok(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_reduce_to_their_host() {
        assert_eq!(
            normalise_domain("https://www.Acme.com/about").unwrap(),
            "acme.com"
        );
        assert_eq!(normalise_domain("acme.co.uk").unwrap(), "acme.co.uk");
        assert_eq!(normalise_domain("").unwrap(), "");
        assert!(normalise_domain("not a domain").is_err());
        assert!(normalise_domain("localhost").is_err());
    }

    #[test]
    fn www_is_dropped_only_from_a_longer_name() {
        // Found by the registrable-domain fuzz: "a.www.aa" reduced to "www.aa", which then normalised to "aa".
        assert_eq!(normalise_domain("www.aa").unwrap(), "www.aa");
        assert_eq!(normalise_domain("www.acme.com.").unwrap(), "acme.com");
    }
}
