//! Hamming, extended-Hamming (SECDED) and Hsiao codes for `eccmap`.
//!
//! Every code here is a binary linear code given by one definition: the list
//! of its parity-check matrix columns, one per codeword bit position. All the
//! tables a code runs on (syndrome lookup, error-position lookup, update
//! deltas) are computed from that list at compile time by `const fn`, so the
//! matrix printed in a code's documentation is the matrix it executes.
//!
//! | code | type | data | check | overhead | corrects | detects |
//! |---|---|---|---|---|---|---|
//! | (7,4) Hamming | [`Hamming74`] | 4 | 3 | 75% | 1 bit | nothing more (perfect code) |
//! | (8,4) extended Hamming | [`Hamming84`] | 4 | 4 | 100% | 1 bit | 2 bits |
//! | (32,26) SECDED | [`Secded32`] | 26 | 6 | 23% | 1 bit | 2 bits |
//! | (64,57) SECDED | [`Secded64`] | 57 | 7 | 12.3% | 1 bit | 2 bits |
//! | (64,56) burst SECDED | [`Secded64Burst`] | 56 | 8 | 14.3% | 1 bit | 2 bits, adjacent 3- and 4-bit bursts |
//! | (72,64) Hsiao | [`Hsiao72`] | 64 | 8 | 12.5% | 1 bit | 2 bits, 44% of 3 bits |
//! | (128,112) shortened cyclic | [`Secded128`] | 112 | 16 | 14.3% | 1 bit | 2 to 4 bits, x4-device errors, bursts within 11 bits; never silent on x8-device errors or bursts within 16 bits |
//!
//! Layout: every [`LaneCode`] is systematic, with data in codeword bits
//! `0..DATA_BITS` and check bits in `DATA_BITS..CODE_BITS`. Check bit `j` has
//! the unit column `1 << j`, so the stored check bits of a codeword are the
//! XOR of the columns of its set data bits, XOR the code's coset constant.
//!
//! Coset encoding: each SECDED code XORs a fixed constant into its check bits,
//! chosen so that the all-zero and all-ones words have an even, nonzero
//! syndrome. They decode as [`Decoded::Uncorrectable`], never as valid data
//! and never as a "corrected" single error, so a stray memset is caught
//! (`codes/tests/exhaustive.rs::zero_and_ones_words_are_uncorrectable`,
//! `codes/tests/burst.rs::stray_words_are_uncorrectable`,
//! `codes/tests/secded128.rs::stray_words_are_uncorrectable`).
//!
//! The table's "corrects" and "detects" columns are proved by exhaustion
//! over every error pattern of that weight: `codes/tests/exhaustive.rs`
//! (`*_secded`, `hamming74_single_corrected_double_miscorrected`,
//! `triple_error_split`), `codes/tests/burst.rs` and
//! `codes/tests/secded128.rs`.
//!
//! ```
//! use eccmap_codes::{Decoded, LaneCode, Secded64};
//! let word = Secded64::encode(0b1011);
//! assert_eq!(Secded64::decode(word), Decoded::Clean(0b1011));
//! // A flipped bit, check bits included, is corrected.
//! assert_eq!(
//!     Secded64::decode(word ^ 1 << 60),
//!     Decoded::Corrected { data: 0b1011, bit: 60 }
//! );
//! // Two flipped bits are detected, never guessed.
//! assert!(matches!(Secded64::decode(word ^ 0b11), Decoded::Uncorrectable { .. }));
//! // A zeroed word is not a codeword.
//! assert!(matches!(Secded64::decode(0), Decoded::Uncorrectable { .. }));
//! ```
#![no_std]
#![deny(missing_docs)]

// Run-time CPU feature detection for `Secded128` and `Matrix::dirty8`.
#[cfg(feature = "std")]
extern crate std;

mod burst;
mod hamming;
mod hsiao;
mod matrix;
mod secded;
mod secded128;
mod wide;

pub use burst::Secded64Burst;
pub use hamming::{Hamming74, Hamming84};
pub use hsiao::Hsiao72;
pub use matrix::Matrix;
pub use secded::{Secded32, Secded64};
pub use secded128::{Backend, Decoded128, Matrix128, Secded128};
pub use wide::{KeyRing, WideBackend};

/// The README's code example, compiled and run as a doctest so that it
/// stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The result of decoding a stored word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "a decode's verdict says whether the data can be used"]
pub enum Decoded {
    /// The word is a codeword; here is its data.
    Clean(u64),
    /// One bit was wrong and has been flipped back in the returned data.
    Corrected {
        /// The corrected data.
        data: u64,
        /// The codeword bit position that was flipped back (check bits
        /// included: for a [`LaneCode`], `DATA_BITS..CODE_BITS` are check bits).
        bit: u32,
    },
    /// The syndrome is nonzero and is not the column of any bit: two or more
    /// bits are wrong and the data cannot be trusted.
    Uncorrectable {
        /// The syndrome, offset by the coset constant (0 would mean clean).
        syndrome: u32,
    },
}

impl Decoded {
    /// The data, if the word was clean or corrected.
    pub fn data(self) -> Option<u64> {
        match self {
            Decoded::Clean(d) | Decoded::Corrected { data: d, .. } => Some(d),
            Decoded::Uncorrectable { .. } => None,
        }
    }
}

/// A systematic linear code whose codeword fits in at most 64 bits.
///
/// Data occupies codeword bits `0..DATA_BITS`, check bits
/// `DATA_BITS..CODE_BITS`; bits at and above `CODE_BITS` are ignored by
/// [`syndrome`](LaneCode::syndrome) and [`decode`](LaneCode::decode).
///
/// Linearity gives the fast update: flipping data bit `i` changes the
/// codeword by [`delta(i)`](LaneCode::delta), whatever the other data bits
/// are, and an error already in the word is carried through unchanged.
///
/// ```
/// use eccmap_codes::{LaneCode, Secded32};
/// let d = 0x2AA_AAAA;
/// assert_eq!(Secded32::encode(d) ^ Secded32::delta(3), Secded32::encode(d ^ 1 << 3));
/// ```
pub trait LaneCode: Send + Sync + 'static {
    /// Human-readable name, e.g. `"SECDED (64,57)"`.
    const NAME: &'static str;
    /// Number of data bits `k`.
    const DATA_BITS: u32;
    /// Number of codeword bits `n`.
    const CODE_BITS: u32;
    /// Minimum Hamming distance between codewords.
    const MIN_DISTANCE: u32;
    /// The coset constant, as a codeword-bit pattern (it lies in the check
    /// bits). Every codeword is `linear_encode(data) ^ COSET`.
    const COSET: u64;
    /// The parity-check matrix, one column per codeword bit.
    const MATRIX: &'static Matrix;

    /// Encodes `data` (bits at and above `DATA_BITS` are ignored).
    fn encode(data: u64) -> u64;
    /// The syndrome of `word`, offset by the coset: 0 for a codeword,
    /// the column of bit `p` for a codeword with bit `p` flipped.
    fn syndrome(word: u64) -> u32;
    /// Decodes `word`, correcting one flipped bit when the syndrome is the
    /// column of a real bit of the code.
    fn decode(word: u64) -> Decoded;
    /// The codeword change that flips data bit `data_bit`:
    /// `encode(d) ^ delta(i) == encode(d ^ 1 << i)`.
    ///
    /// # Panics
    /// If `data_bit >= DATA_BITS`.
    fn delta(data_bit: u32) -> u64;
    /// The codeword change that flips every data bit set in `mask`: the XOR
    /// of their deltas (bits at and above `DATA_BITS` are ignored).
    fn delta_mask(mask: u64) -> u64;
    /// The data bits of a codeword, unchecked.
    #[inline]
    fn data(word: u64) -> u64 {
        word & mask(Self::DATA_BITS)
    }
}

/// A mask of the low `bits` bits; any `bits` of 64 or more gives all 64
/// ones.
#[inline(always)]
pub const fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Implements [`LaneCode`] for a unit struct by delegating to its matrix, so
/// every code runs the same audited decode path.
macro_rules! lane_code {
    ($ty:ident, $name:expr, $distance:expr, $matrix:expr) => {
        impl $crate::LaneCode for $ty {
            const NAME: &'static str = $name;
            const DATA_BITS: u32 = $matrix.data_bits();
            const CODE_BITS: u32 = $matrix.code_bits();
            const MIN_DISTANCE: u32 = $distance;
            const COSET: u64 = ($matrix.coset() as u64) << $matrix.data_bits();
            const MATRIX: &'static $crate::Matrix = &$matrix;
            #[inline(always)]
            fn encode(data: u64) -> u64 {
                $matrix.encode(data)
            }
            #[inline(always)]
            fn syndrome(word: u64) -> u32 {
                $matrix.syndrome(word)
            }
            #[inline(always)]
            fn decode(word: u64) -> $crate::Decoded {
                $matrix.decode(word)
            }
            #[inline(always)]
            fn delta(data_bit: u32) -> u64 {
                $matrix.delta(data_bit)
            }
            #[inline(always)]
            fn delta_mask(mask: u64) -> u64 {
                $matrix.delta_mask(mask)
            }
        }
    };
}
pub(crate) use lane_code;
