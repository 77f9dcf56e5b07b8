//! E-mail addresses as accounts know them: trimmed and lowercased, so one person is one account.

use crate::domain::refusal::Refusal;

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter an email address.".into());
        }
        if email.len() > 254 || !validator::ValidateEmail::validate_email(&email) {
            return Err(Refusal::new(format!(
                "'{}' is not a valid email address.",
                raw.trim()
            )));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            EmailAddress::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        assert!(EmailAddress::parse("").is_err());
        assert!(EmailAddress::parse("ann").is_err());
        assert!(EmailAddress::parse("ann@").is_err());
        assert!(EmailAddress::parse("a b@example.com").is_err());
    }
}
