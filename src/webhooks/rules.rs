//! Webhook signatures: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, the scheme Stripe uses for what it
//! sends and Concord for what it sends. The timestamp is signed, so a captured delivery cannot be replayed after
//! the tolerance; comparisons are constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

crate::text_enum!(DeliveryStatus {
    Pending => "pending" / "Pending",
    Delivered => "delivered" / "Delivered",
    Dead => "dead" / "Given up",
});

crate::text_enum!(EventType {
    PartnerApplied => "partner.applied" / "A partner applied (affiliate signup or reseller application)",
    PartnerApproved => "partner.approved" / "A partner was approved or reinstated",
    ConversionCreated => "conversion.created" / "A conversion was recorded (API or Stripe billing)",
    CommissionApproved => "commission.approved" / "A commission's hold ended and it was approved for payout",
    DealSubmitted => "deal.submitted" / "A deal registration was submitted",
    DealApproved => "deal.approved" / "A deal registration was approved",
    DealWon => "deal.won" / "A won deal was confirmed",
    MdfRequestApproved => "mdf.request.approved" / "An MDF request was approved",
    MdfClaimApproved => "mdf.claim.approved" / "An MDF claim was approved",
    PayoutPaid => "payout.paid" / "A payout was paid",
});

/// How old a signed delivery may be, and how far in the future, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the {TOLERANCE_SECS} s tolerance")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The header value that signs `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

/// Checks a signature header against the body, the secret and the current time. Any one `v1` may match (Stripe
/// sends several while a secret is being rolled).
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures.iter().any(|s| bool::from(s.ct_eq(&expected))) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn signatures_match_an_independent_hmac() {
        // python3: hmac.new(b"whsec_test_secret", b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()
        assert_eq!(
            sign("whsec_test_secret", 1_700_000_000, BODY),
            "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a"
        );
    }

    #[test]
    fn only_a_fresh_signature_with_the_right_secret_verifies() {
        let header = sign("whsec_test_secret", 1_700_000_000, BODY);
        assert_eq!(
            verify(&header, BODY, "whsec_test_secret", 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify(&header, BODY, "whsec_other", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"{}", "whsec_test_secret", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, BODY, "whsec_test_secret", 1_700_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("v1=abc", BODY, "whsec_test_secret", 0),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("t=1", BODY, "whsec_test_secret", 1),
            Err(SignatureError::Malformed)
        );
        // One of several signatures is enough (a secret being rolled).
        let rolled = format!("{header},v1=00ff");
        assert_eq!(
            verify(&rolled, BODY, "whsec_test_secret", 1_700_000_000),
            Ok(())
        );
    }
}
