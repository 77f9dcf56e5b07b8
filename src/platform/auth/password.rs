//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes). Hashing is CPU-heavy: call it inside
//! `web::block`, never on the async executor.

use crate::domain::refusal::Refusal;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

pub const MIN_LENGTH: usize = 10;

/// Checks a new password against the policy; the message is for the person choosing it.
pub fn check_policy(password: &str) -> Result<(), crate::domain::refusal::Refusal> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Refusal::new(format!(
            "Use at least {MIN_LENGTH} characters."
        )));
    }
    if password.len() > 1024 {
        return Err("That password is too long.".into());
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 with default parameters hashes any password the policy admits")
        .to_string()
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored_hash)
        .is_ok()
}

/// Spends the time of one verification, so a login for an unknown email takes as long as a wrong password and does
/// not reveal which emails have accounts.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password"));
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn policy_wants_ten_characters() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough!").is_ok());
    }
}
