//! A per-IP rate limit kept in memory: enough to blunt a flood from one address at one server. (Sign-in throttling,
//! which must hold across servers and restarts, lives in the database instead.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most addresses the throttle remembers at once (each with at most `limit` instants).
pub const MAX_ADDRESSES: usize = 100_000;

pub struct IpThrottle {
    limit: usize,
    window: Duration,
    seen: Mutex<HashMap<String, Vec<Instant>>>,
}

impl IpThrottle {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            seen: Mutex::default(),
        }
    }

    /// Counts an attempt from `ip`. `Err(minutes)` when the limit is reached: how long until the next may pass.
    pub fn attempt(&self, ip: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("throttle");
        if seen.len() >= MAX_ADDRESSES {
            seen.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < self.window));
            // Still full: a flood from more addresses than any real signup traffic. Forgetting lets some of it
            // through again; growing without bound would not be better.
            if seen.len() >= MAX_ADDRESSES {
                seen.clear();
            }
        }
        let times = seen.entry(ip.to_string()).or_default();
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() >= self.limit {
            let wait = self.window.saturating_sub(now.duration_since(times[0]));
            return Err(wait.as_secs().div_ceil(60).max(1));
        }
        times.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_address() {
        let throttle = IpThrottle::new(2, Duration::from_secs(600));
        assert!(throttle.attempt("1.2.3.4").is_ok());
        assert!(throttle.attempt("1.2.3.4").is_ok());
        assert_eq!(throttle.attempt("1.2.3.4"), Err(10));
        assert!(throttle.attempt("5.6.7.8").is_ok());
    }

    #[test]
    fn remembers_a_bounded_number_of_addresses() {
        let throttle = IpThrottle::new(2, Duration::from_secs(600));
        for i in 0..MAX_ADDRESSES + 10 {
            let _ = throttle.attempt(&i.to_string());
        }
        assert!(throttle.seen.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
