//! A 64-bit SECDED word that also detects adjacent 3- and 4-bit bursts.

use crate::matrix::Matrix;

/// SECDED (64,56) with burst detection: 56 data bits in codeword bits
/// `0..56`, 8 check bits in `56..64`; one per `u64`, so page `i` of a word
/// is data bit `i` and one compare-and-swap updates data and check bits
/// together (56 pages per word, 1.143 stored bits per page).
///
/// Over the 64-bit word in storage order, data and check bits alike and
/// across the data/check boundary, the parity-check matrix guarantees:
/// - every single-bit error is corrected (the 64 columns are distinct);
/// - every double error is detected (every column has odd weight, so a
///   double error has an even, nonzero syndrome, which is never a column);
/// - every solid 3-bit burst (three adjacent bits flipped, at any of the 62
///   start positions) is detected and never miscorrected: its syndrome is
///   odd, and the columns were chosen so that it is not a column;
/// - every solid 4-bit burst (61 start positions) is detected: its syndrome
///   is even and the columns were chosen so that it is nonzero.
///
/// Tested by `codes/tests/burst.rs::every_single_error_corrected`,
/// `::every_double_error_detected`, `::every_adjacent_3_bit_burst_detected`
/// and `::every_adjacent_4_bit_burst_detected`; the guarantee stops at 4
/// (`::solid_bursts_by_length`: 23 of the 60 solid 5-bit bursts and 34 of
/// the 58 solid 7-bit bursts are miscorrected).
///
/// A full-length (64,57) code cannot do this: there every odd syndrome is a
/// column, so every 3-bit burst is "corrected" into wrong data. Spending
/// one more check bit leaves 64 of the 128 odd 8-bit syndromes unused, and
/// the data columns were ordered so that every 3-bit burst lands on one of
/// them. Beyond the bursts, 20,864 of the 41,664 triple errors (50.1%) are
/// detected, the rest miscorrected (`::triple_error_split`).
///
/// The columns come from a randomized search (simulated annealing on the
/// number of violated burst constraints, then on the number of ones),
/// reproduced from its seed by
/// `cargo run --release -p eccmap-codes --example burst_search`. They have
/// the fewest ones possible: 188, i.e. the 8 check units, 50 data columns of
/// weight 3 and 6 of weight 5. Weight 3 cannot serve all 56: the six values
/// `111 << j` are the syndromes of the 3-bit bursts inside the check bits,
/// so they must not be columns, leaving 50. Rows are balanced (22 or 23
/// data ones each).
///
/// Coset constant `00000011`: the lowest even-weight constant for which
/// the all-zero, all-ones, 0x5555…, 0xAAAA…, 0x0F0F…, 0xF0F0… and half-ones
/// words all have even, nonzero syndromes, so they decode as Uncorrectable.
/// Overhead 14.3%. A random word decodes as Clean with probability 1/256 and
/// as Corrected with probability 64/256.
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/secded64burst.txt"), "\n```")]
///
/// ```
/// use eccmap_codes::{Decoded, LaneCode, Secded64Burst};
/// let word = Secded64Burst::encode(0b1011);
/// assert_eq!(Secded64Burst::decode(word), Decoded::Clean(0b1011));
/// // Three adjacent bits across the data/check boundary: detected.
/// assert!(matches!(
///     Secded64Burst::decode(word ^ 0b111 << 55),
///     Decoded::Uncorrectable { .. }
/// ));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secded64Burst;

/// The data columns found by `codes/examples/burst_search.rs` with seed 7,
/// codeword bit 0 first.
const DATA_COLUMNS: [u8; 56] = [
    0x61, 0xA1, 0x0B, 0x91, 0x86, 0x64, 0x2C, 0xA8, //
    0x43, 0xA4, 0x51, 0xC2, 0x2A, 0xD0, 0x26, 0x98, //
    0x29, 0xEA, 0x34, 0x68, 0x25, 0x4A, 0x15, 0x62, //
    0x94, 0x1A, 0x32, 0x54, 0x0D, 0xB5, 0x58, 0x19, //
    0x8A, 0x46, 0x23, 0xB0, 0x8C, 0x92, 0xA2, 0xC1, //
    0xC8, 0x75, 0x52, 0x89, 0x16, 0xF8, 0x45, 0x13, //
    0x31, 0x49, 0x83, 0x85, 0x3E, 0x4C, 0xC4, 0x5E, //
];

pub(crate) const SECDED64_BURST: Matrix = Matrix::systematic(&DATA_COLUMNS, 8, 0b0000_0011);
crate::lane_code!(Secded64Burst, "SECDED-burst (64,56)", 4, SECDED64_BURST);
