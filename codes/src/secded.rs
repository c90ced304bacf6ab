//! The word-sized SECDED codes: (32,26) and (64,57).

use crate::matrix::{odd_columns, Matrix};

/// SECDED (32,26): 26 data bits, 6 check bits, distance 4; two per `u64`.
///
/// Full-length Hsiao code: its 32 columns are all 32 odd-weight 6-bit
/// values (data: the 20 of weight 3, then the 6 of weight 5, in increasing
/// order). Rows are balanced (15 data ones each). Because every odd
/// syndrome is a column, every triple error is miscorrected.
///
/// Coset constant `000011`: all-zero, all-ones and the alternating and
/// nibble patterns of the 32-bit word have even, nonzero syndromes, so they
/// decode as Uncorrectable. Overhead 23.1%. A random 32-bit word decodes as
/// Clean with probability 1/64 and as Corrected with probability 32/64.
/// Tested by `codes/tests/exhaustive.rs::secded32_secded`,
/// `::triple_error_split`, `::zero_and_ones_words_are_uncorrectable` and
/// `::corrected_only_on_a_real_column` (every syndrome value).
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/secded32.txt"), "\n```")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secded32;

pub(crate) const SECDED32: Matrix = Matrix::systematic(&odd_columns::<26>(6, &[3, 5]), 6, 0b000011);
crate::lane_code!(Secded32, "SECDED (32,26)", 4, SECDED32);

/// SECDED (64,57): 57 data bits in codeword bits `0..57`, 7 check bits in
/// `57..64`; one per `u64`, so page `i` of a word is data bit `i`, and one
/// compare-and-swap updates data and check bits together.
///
/// Full-length Hsiao code: its 64 columns are all 64 odd-weight 7-bit
/// values. The data columns are the 35 of weight 3, the 21 of weight 5 and
/// 1111111, each group in increasing order, except for four transpositions
/// of data columns (8↔36, 14↔54, 24↔51, 48↔56) that leave no four
/// adjacent codeword bits (check bits included) whose columns XOR to zero:
/// so every adjacent 4-bit burst has a nonzero even syndrome and is
/// detected, never a codeword (in increasing order, 7 of the 61 were).
/// Tested by `codes/tests/exhaustive.rs::secded64_column_order` and
/// `::secded64_adjacent_bursts`.
/// Rows are balanced (31 data ones each). 57 is the most data bits a 64-bit
/// SECDED word can hold (Hamming bound `2^(r-1) >= k + r`). Because every
/// odd syndrome is a column, every triple error is miscorrected, whatever
/// the construction.
///
/// Coset constant `0000011`: the lowest even-weight constant for which the
/// all-zero, all-ones, 0x5555…, 0xAAAA…, 0x0F0F…, 0xF0F0… and half-ones
/// words all have even, nonzero syndromes, so they decode as Uncorrectable.
/// Overhead 12.3%. A random word decodes as Clean with probability 1/128 and
/// as Corrected with probability 64/128. Tested by
/// `codes/tests/exhaustive.rs::secded64_secded`, `::triple_error_split`,
/// `::zero_and_ones_words_are_uncorrectable` and
/// `::corrected_only_on_a_real_column` (every syndrome value).
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/secded64.txt"), "\n```")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secded64;

pub(crate) const SECDED64: Matrix = Matrix::systematic(&SECDED64_DATA, 7, 0b0000011);

/// The data columns of [`Secded64`], codeword bit 0 first.
const SECDED64_DATA: [u8; 57] = [
    7, 11, 13, 14, 19, 21, 22, 25, 47, 28, 35, 37, 38, 41, 122, 44, 49, 50, 52, 56, 67, 69, 70, 73,
    117, 76, 81, 82, 84, 88, 97, 98, 100, 104, 112, 31, 26, 55, 59, 61, 62, 79, 87, 91, 93, 94,
    103, 107, 127, 110, 115, 74, 118, 121, 42, 124, 109,
];
crate::lane_code!(Secded64, "SECDED (64,57)", 4, SECDED64);
