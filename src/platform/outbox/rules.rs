//! Retry policy for outbox delivery: exponential backoff from 30 seconds, doubling per failed attempt, capped at
//! six hours, until the attempt limit declares the message dead.

use chrono::Duration;

crate::text_enum!(OutboxStatus {
    Pending => "pending" / "Pending",
    Sent => "sent" / "Sent",
    Dead => "dead" / "Dead",
});

/// How long to wait after the `attempts`-th failed attempt (1-based) before trying again.
pub fn retry_delay(attempts: i64) -> Duration {
    let doublings = (attempts - 1).clamp(0, 20) as u32;
    let seconds = 30i64.saturating_mul(1i64 << doublings);
    Duration::seconds(seconds.min(6 * 60 * 60))
}

/// Whether a message that has now failed `attempts` times has used up `max_attempts`.
pub fn is_dead(attempts: i64, max_attempts: i64) -> bool {
    attempts >= max_attempts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(retry_delay(1), Duration::seconds(30));
        assert_eq!(retry_delay(2), Duration::seconds(60));
        assert_eq!(retry_delay(5), Duration::seconds(480));
        assert_eq!(retry_delay(40), Duration::hours(6));
        assert_eq!(retry_delay(0), Duration::seconds(30));
    }

    #[test]
    fn dead_after_the_limit() {
        assert!(!is_dead(7, 8));
        assert!(is_dead(8, 8));
    }
}
