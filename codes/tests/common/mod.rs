//! What the codes' exhaustive tests share: the sample data words, and the
//! tally of decoder verdicts over a set of error patterns.
#![allow(dead_code)]

use eccmap_codes::{mask, Decoded};
use testkit::Rng;

/// Data words of `data_bits` bits that exercise every bit: zero, ones,
/// alternating, and a few fixed pseudo-random values.
pub(crate) fn samples(data_bits: u32) -> Vec<u64> {
    let mut rng = Rng::new(1);
    let mut v = vec![0, u64::MAX, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA];
    v.extend((0..4).map(|_| rng.next_u64()));
    v.into_iter().map(|d| d & mask(data_bits)).collect()
}

/// Verdict counts over a set of error patterns.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) patterns: u64,
    /// Decoded to the original data (clean or corrected).
    pub(crate) right: u64,
    /// Reported uncorrectable.
    pub(crate) detected: u64,
    /// Returned wrong data, as clean or as "corrected".
    pub(crate) wrong: u64,
}

impl Split {
    /// Counts the verdict `got` on a codeword of data `d` hit by one pattern.
    pub(crate) fn record(&mut self, d: u64, got: Decoded) {
        self.patterns += 1;
        match got {
            Decoded::Uncorrectable { syndrome } => {
                assert_ne!(syndrome, 0);
                self.detected += 1
            }
            Decoded::Clean(x) | Decoded::Corrected { data: x, .. } if x == d => self.right += 1,
            _ => self.wrong += 1,
        }
    }

    /// `n` patterns, every one detected.
    pub(crate) fn all_detected(n: u64) -> Split {
        Split {
            patterns: n,
            detected: n,
            ..Split::default()
        }
    }
}
