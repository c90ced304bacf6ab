//! What the workspace's tests, benches and examples share, as a dev-only
//! crate (`publish = false`) so that each piece is written once: the seeded
//! generator every one of them draws from, and how long stress tests run.
//!
//! A dev-dependency of `eccmap` and `eccmap-codes` by path only, so their
//! published packages do not name it.
#![no_std]
#![deny(missing_docs)]
// The generator needs nothing of std; the stress-time setting reads the
// environment. Every user of this crate runs on a host.
extern crate std;

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, full period,
/// good enough statistics for choosing workloads and fault places. Written
/// here rather than taken from a crate so that a seed means the same run
/// whatever crate versions are in the lock file; the campaign's results for
/// a seed depend on this exact sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose state starts at `seed` (any value, zero included).
    pub const fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed of an independent stream for `parts` under `seed`
    /// (e.g. one stream per fault class and trial).
    pub fn derive(seed: u64, parts: &[u64]) -> u64 {
        let mut r = Rng::new(seed ^ 0x6a09_e667_f3bc_c909);
        let mut s = r.next_u64();
        for &p in parts {
            r = Rng::new(s ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            s = r.next_u64();
        }
        s
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by the multiply-high method; the bias is
    /// below `n / 2^64`.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// Uniform in `[0, 1)`, from the top 53 bits of one draw.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How long each stress test runs: `ECCMAP_STRESS_SECS` seconds (a
/// decimal number), 2 by default.
pub fn stress_time() -> std::time::Duration {
    let secs = std::env::var("ECCMAP_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    std::time::Duration::from_secs_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn splitmix_known_answer() {
        // First outputs of SplitMix64 from seed 0 (the reference sequence).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let x = r.below(10);
            assert!(x < 10);
            seen[x] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn unit_stays_in_range() {
        let mut r = Rng::new(3);
        let (mut lo, mut hi) = (false, false);
        for _ in 0..1000 {
            let x = r.unit();
            assert!((0.0..1.0).contains(&x));
            lo |= x < 0.1;
            hi |= x > 0.9;
        }
        assert!(lo && hi);
    }

    #[test]
    fn derived_streams_differ() {
        assert_ne!(Rng::derive(1, &[0, 0]), Rng::derive(1, &[0, 1]));
        assert_ne!(Rng::derive(1, &[0, 1]), Rng::derive(1, &[1, 0]));
        assert_eq!(Rng::derive(5, &[3, 4]), Rng::derive(5, &[3, 4]));
    }
}
