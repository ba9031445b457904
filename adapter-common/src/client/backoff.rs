//! Reconnect delays: exponential backoff with jitter.
//!
//! Pure: no clock and no OS randomness. The jitter comes from a small generator seeded by
//! the caller, so a seed replays the same delays.

use std::time::Duration;

/// How long to wait before each reconnection attempt.
///
/// Attempt `n` (counting from 0) waits `min(max, initial * factor^n)`, shortened by a
/// random fraction of up to `jitter` so that clients cut off together do not reconnect
/// together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the first attempt.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Growth per attempt (values below 1 count as 1).
    pub factor: f64,
    /// Largest fraction taken off a delay at random, from 0 (none) to 1 (clamped).
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    /// 500 ms doubling up to 30 s, with up to half of each delay taken off at random.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.5,
        }
    }
}

/// The delays of successive reconnection attempts under a [`ReconnectPolicy`].
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff at its first attempt; `seed` decides the jitter.
    #[must_use]
    pub fn new(policy: ReconnectPolicy, seed: u64) -> Self {
        Self {
            policy,
            attempt: 0,
            rng: seed,
        }
    }

    /// The delay before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let p = self.policy;
        let factor = if p.factor >= 1.0 { p.factor } else { 1.0 };
        let exponent = i32::try_from(self.attempt).unwrap_or(i32::MAX);
        let max = p.max.as_secs_f64();
        let base = (p.initial.as_secs_f64() * factor.powi(exponent)).min(max);
        let jitter = if p.jitter > 0.0 {
            p.jitter.min(1.0)
        } else {
            0.0
        };
        let secs = base * (1.0 - jitter * self.next_unit());
        self.attempt = self.attempt.saturating_add(1);
        Duration::try_from_secs_f64(secs).map_or(p.max, |d| d.min(p.max))
    }

    /// Attempts counted since the last [`reset`](Self::reset).
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts over at the initial delay (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// A uniform value in `[0, 1)` (splitmix64).
    fn next_unit(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits fill an f64 mantissa exactly.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: f64) -> ReconnectPolicy {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            factor: 2.0,
            jitter,
        }
    }

    #[test]
    fn without_jitter_doubles_up_to_the_maximum() {
        let mut b = Backoff::new(policy(0.0), 7);
        let delays: Vec<_> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.attempt(), 7);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(policy(0.0), 7);
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_in_bounds_and_varies() {
        let mut b = Backoff::new(policy(0.5), 42);
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let exponent = i32::try_from(b.attempt()).unwrap();
            let base = (0.1 * 2f64.powi(exponent)).min(2.0);
            let d = b.next_delay();
            let secs = d.as_secs_f64();
            assert!(
                secs <= base + 1e-9 && secs >= base / 2.0 - 1e-9,
                "{d:?} vs {base}"
            );
            distinct.insert(d);
        }
        assert!(distinct.len() > 100);
    }

    #[test]
    fn same_seed_same_delays() {
        let run = |seed| {
            let mut b = Backoff::new(policy(1.0), seed);
            (0..20).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn degenerate_policies_do_not_panic() {
        let mut b = Backoff::new(
            ReconnectPolicy {
                initial: Duration::from_secs(u64::MAX),
                max: Duration::from_secs(5),
                factor: f64::NAN,
                jitter: -3.0,
            },
            0,
        );
        for _ in 0..100 {
            assert_eq!(b.next_delay(), Duration::from_secs(5));
        }
        let mut b = Backoff::new(
            ReconnectPolicy {
                factor: 0.1,
                jitter: 9.0,
                ..policy(0.0)
            },
            3,
        );
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
