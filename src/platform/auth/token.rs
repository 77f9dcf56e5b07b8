//! Random secrets (session tokens, setup and API keys) and the hashes under which they are stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// SHA-256 as hex. Right for high-entropy tokens only; passwords go through `password::hash`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Where a single-use token travels in a link: after these path prefixes, and as the `token` query parameter.
const TOKEN_PATHS: &[&str] = &["/password-reset/", "/invitations/"];
const TOKEN_PARAMS: &[&str] = &["?token=", "&token=", "&amp;token="];

/// The text with the token of every reset, invitation and setup link replaced by `[redacted]`: for request logs and
/// for emails once sent, so neither keeps a usable link.
pub fn redact_token_links(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    loop {
        let next = TOKEN_PATHS
            .iter()
            .chain(TOKEN_PARAMS)
            .filter_map(|marker| rest.find(marker).map(|at| (at, marker.len())))
            .min();
        let Some((at, len)) = next else { break };
        let token_start = at + len;
        let token_len = rest[token_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len() - token_start);
        out.push_str(&rest[..token_start]);
        if token_len > 0 {
            out.push_str("[redacted]");
            changed = true;
        }
        rest = &rest[token_start + token_len..];
    }
    if !changed {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_invitation_and_setup_tokens_are_redacted() {
        assert_eq!(
            redact_token_links("/password-reset/abc123?x=1"),
            "/password-reset/[redacted]?x=1"
        );
        assert_eq!(
            redact_token_links("Open https://p.example/invitations/deadBEEF_-9 within a week."),
            "Open https://p.example/invitations/[redacted] within a week."
        );
        assert_eq!(
            redact_token_links("/setup?token=f00d&next=1"),
            "/setup?token=[redacted]&next=1"
        );
        assert_eq!(
            redact_token_links("<a href=\"/a?b=1&amp;token=ff\">/password-reset/ee</a>"),
            "<a href=\"/a?b=1&amp;token=[redacted]\">/password-reset/[redacted]</a>"
        );
        assert!(matches!(
            redact_token_links("/password-reset"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, ""));
    }
}
