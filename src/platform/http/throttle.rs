//! A per-IP rate limit kept in memory: enough to blunt a flood from one address at one server. (Sign-in throttling,
//! which must hold across servers and restarts, lives in the database instead.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        if seen.len() > 100_000 {
            seen.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < self.window));
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
}
