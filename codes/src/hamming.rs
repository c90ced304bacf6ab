//! The textbook codes: Hamming (7,4) and extended Hamming (8,4).

use crate::matrix::{odd_columns, Matrix};

/// The Hamming (7,4) code: 4 data bits, 3 check bits, distance 3.
///
/// Single-error correcting only, kept to show what the extended code adds.
/// It is a perfect code: every one of the 8 syndromes is either 0 or the
/// column of a bit, so every word decodes as clean or "corrected". It
/// detects nothing beyond one bit: a double error is always miscorrected
/// into wrong data, and so is any garbage word. It has no coset constant
/// (one would not help: the syndrome of a zeroed word would still be a
/// column), so the all-zero word is the valid codeword of data 0.
///
/// Overhead 75% (3 check bits per 4 data bits). A random word decodes as
/// Clean with probability 1/8 and as Corrected with probability 7/8.
/// Tested by `codes/tests/exhaustive.rs::hamming74_single_corrected_double_miscorrected`
/// and `::hamming74_every_data_every_pattern` (every data value against
/// every error pattern).
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/hamming74.txt"), "\n```")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hamming74;

/// The matrix of [`Hamming74`]: data columns 3, 5, 6, 7 (the non-unit
/// nonzero 3-bit values).
pub(crate) const HAMMING74: Matrix = Matrix::systematic(&[0b011, 0b101, 0b110, 0b111], 3, 0);
crate::lane_code!(Hamming74, "Hamming (7,4)", 3, HAMMING74);

/// The extended Hamming (8,4) code: 4 data bits, 4 check bits, distance 4,
/// one codeword per byte. Single-error correcting, double-error detecting.
///
/// Built in Hsiao form: every column has odd weight (data columns are the
/// four 4-bit values of weight 3). The binary \[8,4,4\] code is unique up to
/// bit order, so this is the textbook extended Hamming code with its bits
/// permuted; the odd columns make the double-error test "syndrome has even
/// weight".
///
/// Coset constant `0011`: the all-zero and all-ones bytes (and 0x55, 0xAA,
/// 0x0F, 0xF0) have even, nonzero syndromes, so they decode as
/// Uncorrectable. Overhead 100%. A random byte decodes as Clean with
/// probability 1/16 and as Corrected with probability 8/16.
/// Tested by `codes/tests/exhaustive.rs::hamming84_secded`,
/// `::hamming84_every_data_every_pattern`,
/// `::zero_and_ones_words_are_uncorrectable` and
/// `::corrected_only_on_a_real_column` (every syndrome value).
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/hamming84.txt"), "\n```")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hamming84;

pub(crate) const HAMMING84: Matrix = Matrix::systematic(&odd_columns::<4>(4, &[3]), 4, 0b0011);
crate::lane_code!(Hamming84, "extended Hamming (8,4)", 4, HAMMING84);
