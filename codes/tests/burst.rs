//! `Secded64Burst`: every property its documentation claims, proved by
//! exhaustion over error patterns on the compiled decoder.
//!
//! The code is linear, so the verdict on an error pattern does not depend on
//! the data word (checked below for every 1- and 2-bit pattern and several
//! data words); checking each pattern once therefore covers all data.

use eccmap_codes::{mask, Decoded, LaneCode, Secded64Burst as B};
use quickcheck::quickcheck;

mod common;
use common::{samples as samples_of, Split};

fn samples() -> Vec<u64> {
    samples_of(B::DATA_BITS)
}

/// The verdicts on data `d` hit by each of `patterns`.
fn split_of(d: u64, patterns: impl Iterator<Item = u64>) -> Split {
    let mut s = Split::default();
    patterns.for_each(|e| s.record(d, B::decode(B::encode(d) ^ e)));
    s
}

fn doubles() -> impl Iterator<Item = u64> {
    (0..64).flat_map(|a| (a + 1..64).map(move |b| 1u64 << a | 1 << b))
}

fn triples() -> impl Iterator<Item = u64> {
    (0..64).flat_map(|a| {
        (a + 1..64).flat_map(move |b| (b + 1..64).map(move |c| 1u64 << a | 1 << b | 1 << c))
    })
}

/// Every solid burst of `len` adjacent bits, at every start position.
fn solid(len: u32) -> impl Iterator<Item = u64> {
    (0..=64 - len).map(move |p| mask(len) << p)
}

#[test]
fn layout() {
    assert_eq!((B::DATA_BITS, B::CODE_BITS, B::MIN_DISTANCE), (56, 64, 4));
    assert_eq!(B::COSET, 0b0000_0011 << 56);
    let m = B::MATRIX;
    for j in 0..8 {
        assert_eq!(m.column(56 + j), 1 << j, "check bit {j} has a unit column");
    }
}

/// Every single-bit error, check bits included, is corrected and named.
#[test]
fn every_single_error_corrected() {
    for d in samples() {
        for p in 0..64 {
            assert_eq!(
                B::decode(B::encode(d) ^ 1 << p),
                Decoded::Corrected { data: d, bit: p },
                "bit {p}, data {d:#x}"
            );
        }
    }
}

/// Every one of the 2,016 double errors is detected, whatever the data.
#[test]
fn every_double_error_detected() {
    for d in samples() {
        assert_eq!(
            split_of(d, doubles()),
            Split::all_detected(2016),
            "data {d:#x}"
        );
    }
}

/// Three adjacent bits flipped, at each of the 62 start positions
/// (55..58 and 54..57 straddle the data/check boundary): detected, and the
/// syndrome is not a column, so it is never "corrected".
#[test]
fn every_adjacent_3_bit_burst_detected() {
    for d in samples() {
        assert_eq!(split_of(d, solid(3)), Split::all_detected(62));
    }
    for e in solid(3) {
        let s = B::syndrome(B::encode(0) ^ e);
        assert_ne!(s, 0);
        assert_eq!(
            B::MATRIX.bit_of(s),
            None,
            "burst {e:#x} has a column's syndrome"
        );
    }
}

/// Four adjacent bits flipped, at each of the 61 start positions: detected.
#[test]
fn every_adjacent_4_bit_burst_detected() {
    for d in samples() {
        assert_eq!(split_of(d, solid(4)), Split::all_detected(61));
    }
}

/// How all 41,664 triple errors split (the figure docs/codes.md states):
/// half are detected; the rest land on a column and are miscorrected. The
/// 62 adjacent ones are among the detected.
#[test]
fn triple_error_split() {
    assert_eq!(
        split_of(0, triples()),
        Split {
            patterns: 41_664,
            right: 0,
            detected: 20_864,
            wrong: 20_800
        }
    );
}

/// The distance is 4: some 4-bit patterns are codewords (decoded as Clean
/// with wrong data). The figure docs/codes.md states; none is adjacent.
#[test]
fn quadruple_errors() {
    let mut silent = 0;
    let mut patterns = 0;
    for a in 0..64 {
        for b in a + 1..64 {
            for c in b + 1..64 {
                for d in c + 1..64 {
                    let e = 1u64 << a | 1 << b | 1 << c | 1 << d;
                    patterns += 1;
                    if B::syndrome(B::encode(0) ^ e) == 0 {
                        silent += 1;
                        assert_ne!(d - a, 3, "adjacent burst {e:#x} is a codeword");
                    }
                }
            }
        }
    }
    assert_eq!((patterns, silent), (635_376, 5_200));
}

/// Solid bursts of each length: (detected, miscorrected, silent), where
/// silent means decoded as Clean with wrong data.
fn burst_table<C: LaneCode>(len: u32) -> (u32, u32, u32) {
    let mut t = (0, 0, 0);
    for e in solid(len) {
        match C::decode(C::encode(0) ^ e) {
            Decoded::Uncorrectable { .. } => t.0 += 1,
            Decoded::Corrected { .. } => t.1 += 1,
            Decoded::Clean(_) => t.2 += 1,
        }
    }
    t
}

/// The burst table docs/codes.md gives: what the guarantee covers (3 and
/// 4), what it does not (longer bursts), and the same bursts on the
/// full-length (64,57) code, which miscorrects every odd-length one (its
/// column order makes every 4-bit burst detected).
#[test]
fn solid_bursts_by_length() {
    let burst: Vec<_> = (3..=8).map(burst_table::<B>).collect();
    assert_eq!(
        burst,
        [
            (62, 0, 0),
            (61, 0, 0),
            (37, 23, 0),
            (58, 0, 1),
            (24, 34, 0),
            (55, 0, 2)
        ]
    );
    let secded64: Vec<_> = (3..=8).map(burst_table::<eccmap_codes::Secded64>).collect();
    assert_eq!(
        secded64,
        [
            (0, 62, 0),
            (61, 0, 0),
            (0, 60, 0),
            (59, 0, 0),
            (0, 58, 0),
            (56, 0, 1)
        ]
    );
}

/// A stray memset or pattern write is never valid and never "corrected".
/// Their syndromes (known answers, computed outside the crate) are even and
/// nonzero, and the coset is the lowest even-weight constant that does this.
#[test]
fn stray_words_are_uncorrectable() {
    let stray = [
        (0u64, 0b0000_0011),
        (u64::MAX, 0b0000_1100),
        (0x5555_5555_5555_5555, 0b0101_0000),
        (0xAAAA_AAAA_AAAA_AAAA, 0b0101_1111),
        (0x0F0F_0F0F_0F0F_0F0F, 0b0001_0010),
        (0xF0F0_F0F0_F0F0_F0F0, 0b0001_1101),
        (0x0000_0000_FFFF_FFFF, 0b1001_1001),
        (0xFFFF_FFFF_0000_0000, 0b1001_0110),
    ];
    for (w, s) in stray {
        assert_eq!(
            B::decode(w),
            Decoded::Uncorrectable { syndrome: s },
            "{w:#x}"
        );
    }
    let m = B::MATRIX;
    let coset = m.coset();
    assert_eq!(coset.count_ones() % 2, 0);
    for c in (1..coset).filter(|c| c.count_ones() % 2 == 0) {
        assert!(
            stray.iter().any(|&(w, _)| m.linear_syndrome(w) == c),
            "a lower constant {c:#b} would do"
        );
    }
}

/// A random word is accepted only when its syndrome is 0 (1 of 256 values)
/// or a column (64 of 256): every syndrome value is checked.
#[test]
fn garbage_acceptance() {
    let (mut clean, mut corrected, mut detected) = (0, 0, 0);
    for s in 0..256u64 {
        // A codeword with check bits flipped has syndrome s.
        match B::decode(B::encode(0) ^ s << 56) {
            Decoded::Clean(_) => clean += 1,
            Decoded::Corrected { .. } => corrected += 1,
            Decoded::Uncorrectable { .. } => detected += 1,
        }
    }
    assert_eq!((clean, corrected, detected), (1, 64, 191));
}

/// The matrix has the fewest ones any valid matrix can have: each data
/// column has odd weight and is not a unit, so at least 3; of the 56
/// weight-3 values the six `111 << j` are syndromes of 3-bit bursts inside
/// the check bits and cannot be columns; so 50 columns of weight 3 and 6 of
/// weight 5 at best. Rows are balanced.
#[test]
fn fewest_ones_and_balanced_rows() {
    let m = B::MATRIX;
    let check_bursts: Vec<u8> = (0..6).map(|j| 0b111 << j).collect();
    let weight3 = (0..=255u8)
        .filter(|v| v.count_ones() == 3 && !check_bursts.contains(v))
        .count() as u32;
    assert_eq!(weight3, 50);
    let bound = 8 + 3 * weight3 + 5 * (56 - weight3);
    assert_eq!(m.weight(), bound);
    assert_eq!(bound, 188);
    for p in 0..64 {
        assert_eq!(m.column(p).count_ones() % 2, 1, "column {p} has odd weight");
    }
    for j in 0..8 {
        let data_ones = (m.row(j) & mask(56)).count_ones();
        assert!(data_ones == 22 || data_ones == 23, "row {j}: {data_ones}");
    }
}

/// Known answers, computed outside this crate from the documented column
/// list and coset, by this Python:
///
/// ```text
/// D = [0x61, 0xA1, ..., 0x5E]          # the 56 data columns, bit 0 first
/// C = D + [1 << j for j in range(8)]
/// def syn(w): return reduce(xor, (C[i] for i in range(64) if w >> i & 1), 0)
/// def encode(d): return d | (syn(d) ^ 0b11) << 56
/// ```
#[test]
fn known_answer_vectors() {
    let v = [
        (0x0, 0x0300_0000_0000_0000),
        (0x1, 0x6200_0000_0000_0001),
        (0xFF_FFFF_FFFF_FFFF, 0xF3FF_FFFF_FFFF_FFFF),
        (0x23_4567_89AB_CDEF, 0xB923_4567_89AB_CDEF),
        (0xED_CBA9_8765_4321, 0xCAED_CBA9_8765_4321),
        (0x55_5555_5555_5555, 0x0555_5555_5555_5555),
    ];
    for (d, w) in v {
        assert_eq!(B::encode(d), w, "data {d:#x}");
        assert_eq!(B::decode(w), Decoded::Clean(d));
    }
}

quickcheck! {
    /// Round trip, the update delta, and the syndrome of a clean word.
    fn qc_roundtrip_and_delta(d: u64, i: u32) -> bool {
        let d = d & mask(56);
        let i = i % 56;
        let w = B::encode(d);
        let flipped = w ^ B::delta(i);
        B::decode(w) == Decoded::Clean(d)
            && B::syndrome(w) == 0
            && flipped == B::encode(d ^ 1 << i)
            && B::decode(flipped) == Decoded::Clean(d ^ 1 << i)
            && B::delta_mask(d) == B::encode(d) ^ B::encode(0)
    }
    /// An error already in a word survives an update unchanged and stays
    /// correctable, and a burst already there stays detected.
    fn qc_error_carried_through_update(d: u64, i: u32, p: u32) -> bool {
        let d = d & mask(56);
        let (i, p) = (i % 56, p % 64);
        let faulty = B::encode(d) ^ 1 << p;
        let burst = B::encode(d) ^ mask(3) << (p % 62);
        B::decode(faulty ^ B::delta(i)) == Decoded::Corrected { data: d ^ 1 << i, bit: p }
            && matches!(B::decode(burst ^ B::delta(i)), Decoded::Uncorrectable { .. })
    }
}
