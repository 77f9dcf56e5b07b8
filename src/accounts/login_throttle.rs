//! Login throttling policy: after `MAX_FAILURES` failed attempts for one email *from one IP* within the window,
//! further attempts for that email from that IP are refused until the oldest of those failures leaves the window;
//! and after `MAX_FAILURES_PER_IP` failures from one IP across all emails, that IP is refused for any email. Keyed
//! on the pair, an attacker elsewhere cannot lock the owner out of their own account.

use chrono::{Duration, NaiveDateTime};

pub const MAX_FAILURES: usize = 5;
pub const MAX_FAILURES_PER_IP: usize = 20;

pub fn window() -> Duration {
    Duration::minutes(15)
}

/// The earliest moment from which failures still count against an attempt made at `now`.
pub fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - window()
}

/// `failures` are the times of failed attempts inside the window, in any order. Returns `Some(retry_at)` when the
/// attempt must be refused (`max` failures or more), `None` when it may proceed.
pub fn refused_until(
    failures: &[NaiveDateTime],
    max: usize,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let mut recent: Vec<NaiveDateTime> = failures
        .iter()
        .copied()
        .filter(|t| *t > window_start(now))
        .collect();
    recent.sort();
    crate::platform::rate_limit::full_until(&recent, max as i64, window())
}

pub use crate::platform::rate_limit::minutes_to_wait;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, minute, 0)
            .unwrap()
    }

    #[test]
    fn five_failures_are_allowed_the_sixth_attempt_is_refused() {
        let four: Vec<_> = (0..4).map(at).collect();
        assert_eq!(refused_until(&four, MAX_FAILURES, at(5)), None);
        let five: Vec<_> = (0..5).map(at).collect();
        assert_eq!(refused_until(&five, MAX_FAILURES, at(5)), Some(at(15)));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let five: Vec<_> = (0..5).map(at).collect();
        assert_eq!(
            refused_until(&five, MAX_FAILURES, at(15)),
            None,
            "the first failure left the window at 10:15"
        );
        assert_eq!(refused_until(&five, MAX_FAILURES, at(14)), Some(at(15)));
    }

    #[test]
    fn wait_is_rounded_up_to_whole_minutes() {
        assert_eq!(minutes_to_wait(at(15), at(5)), 10);
        assert_eq!(minutes_to_wait(at(15), at(15)), 1);
    }
}
