//! Correctness of every code, proved by exhaustion over error patterns.
//!
//! The codes are linear: the syndrome of `encode(d) ^ e` is `H·e` whatever
//! `d` is (checked below for every pattern of weight 1 and 2 and several data
//! words), so the verdict on an error pattern is the same for every data
//! word. Checking every 1-, 2- and 3-bit pattern therefore covers all data.

use eccmap_codes::{Decoded, Hamming74, Hamming84, Hsiao72, LaneCode, Secded32, Secded64};
use quickcheck::quickcheck;

/// A code under test, seen as codewords of up to 72 bits.
trait Under {
    const N: u32;
    const K: u32;
    const SECDED: bool;
    fn enc(d: u64) -> u128;
    fn dec(w: u128) -> Decoded;
}

macro_rules! lane {
    ($t:ty, $secded:expr) => {
        impl Under for Wrap<$t> {
            const N: u32 = <$t>::CODE_BITS;
            const K: u32 = <$t>::DATA_BITS;
            const SECDED: bool = $secded;
            fn enc(d: u64) -> u128 {
                <$t>::encode(d) as u128
            }
            fn dec(w: u128) -> Decoded {
                <$t>::decode(w as u64)
            }
        }
    };
}
struct Wrap<T>(T);
lane!(Hamming74, false);
lane!(Hamming84, true);
lane!(Secded32, true);
lane!(Secded64, true);
impl Under for Wrap<Hsiao72> {
    const N: u32 = 72;
    const K: u32 = 64;
    const SECDED: bool = true;
    fn enc(d: u64) -> u128 {
        d as u128 | (Hsiao72::encode(d) as u128) << 64
    }
    fn dec(w: u128) -> Decoded {
        Hsiao72::decode(w as u64, (w >> 64) as u8)
    }
}

mod common;
use common::Split;

/// Data words that exercise every bit, for code `C`.
fn samples<C: Under>() -> Vec<u64> {
    common::samples(C::K)
}

fn classify<C: Under>(d: u64, e: u128, s: &mut Split) {
    s.record(d, C::dec(C::enc(d) ^ e));
}

fn split<C: Under>(weight: u32, d: u64) -> Split {
    let n = C::N;
    let mut s = Split::default();
    match weight {
        1 => (0..n).for_each(|a| classify::<C>(d, 1 << a, &mut s)),
        2 => {
            (0..n).for_each(|a| (a + 1..n).for_each(|b| classify::<C>(d, 1 << a | 1 << b, &mut s)))
        }
        3 => (0..n).for_each(|a| {
            (a + 1..n).for_each(|b| {
                (b + 1..n).for_each(|c| classify::<C>(d, 1 << a | 1 << b | 1 << c, &mut s))
            })
        }),
        _ => unreachable!(),
    }
    s
}

/// Every single-bit error, at every position (check bits included), is
/// corrected to the original data and names that position; every double
/// error is Uncorrectable (SECDED codes); the verdict does not depend on the
/// data word.
fn single_and_double<C: Under>() {
    let n = C::N;
    for d in samples::<C>() {
        for p in 0..n {
            let got = C::dec(C::enc(d) ^ 1 << p);
            assert_eq!(
                got,
                Decoded::Corrected { data: d, bit: p },
                "single error at bit {p}, data {d:#x}"
            );
        }
        let two = split::<C>(2, d);
        assert_eq!(two.patterns, u64::from(n * (n - 1) / 2));
        if C::SECDED {
            assert_eq!(
                two.detected, two.patterns,
                "every double error detected, data {d:#x}"
            );
        }
        assert_eq!(two, split::<C>(2, 0), "verdict independent of data");
    }
}

#[test]
fn hamming74_single_corrected_double_miscorrected() {
    single_and_double::<Wrap<Hamming74>>();
    // A perfect code detects nothing: every double error becomes wrong data.
    let two = split::<Wrap<Hamming74>>(2, 0);
    assert_eq!(
        two,
        Split {
            patterns: 21,
            right: 0,
            detected: 0,
            wrong: 21
        }
    );
}
#[test]
fn hamming84_secded() {
    single_and_double::<Wrap<Hamming84>>();
}
#[test]
fn secded32_secded() {
    single_and_double::<Wrap<Secded32>>();
}
#[test]
fn secded64_secded() {
    single_and_double::<Wrap<Secded64>>();
}
#[test]
fn hsiao72_secded() {
    single_and_double::<Wrap<Hsiao72>>();
}

/// How triple errors split: the figures docs/codes.md states. Full-length
/// codes miscorrect every triple; the shortened Hsiao (72,64) detects 43.7%.
#[test]
fn triple_error_split() {
    let t = |patterns, detected| Split {
        patterns,
        right: 0,
        detected,
        wrong: patterns - detected,
    };
    assert_eq!(split::<Wrap<Hamming74>>(3, 0), t(35, 0));
    assert_eq!(split::<Wrap<Hamming84>>(3, 0), t(56, 0));
    assert_eq!(split::<Wrap<Secded32>>(3, 0), t(4960, 0));
    assert_eq!(split::<Wrap<Secded64>>(3, 0), t(41664, 0));
    assert_eq!(split::<Wrap<Hsiao72>>(3, 0), t(59640, 26072));
}

/// (7,4) and (8,4): every data value against every error pattern.
fn fully_exhaustive<C: Under>() -> [Split; 9] {
    let mut by_weight: [Split; 9] = Default::default();
    for d in 0..16u64 {
        for e in 0..1u128 << C::N {
            let w = e.count_ones() as usize;
            classify::<C>(d, e, &mut by_weight[w]);
        }
    }
    by_weight
}

#[test]
fn hamming74_every_data_every_pattern() {
    let s = fully_exhaustive::<Wrap<Hamming74>>();
    assert_eq!(
        s[0],
        Split {
            patterns: 16,
            right: 16,
            detected: 0,
            wrong: 0
        }
    );
    assert_eq!(
        s[1],
        Split {
            patterns: 16 * 7,
            right: 16 * 7,
            detected: 0,
            wrong: 0
        }
    );
    // Nothing is ever detected: a perfect code maps every word to a codeword.
    assert!(s.iter().all(|x| x.detected == 0));
    assert_eq!(s[2].wrong, 16 * 21);
}

#[test]
fn hamming84_every_data_every_pattern() {
    let s = fully_exhaustive::<Wrap<Hamming84>>();
    assert_eq!(
        s[0],
        Split {
            patterns: 16,
            right: 16,
            detected: 0,
            wrong: 0
        }
    );
    assert_eq!(
        s[1],
        Split {
            patterns: 16 * 8,
            right: 16 * 8,
            detected: 0,
            wrong: 0
        }
    );
    assert_eq!(
        s[2],
        Split {
            patterns: 16 * 28,
            right: 0,
            detected: 16 * 28,
            wrong: 0
        }
    );
    assert_eq!(s[3].wrong, 16 * 56);
    // Weight 4: the 14 codewords of weight 4 are undetected, the other 56 detected.
    assert_eq!(
        s[4],
        Split {
            patterns: 16 * 70,
            right: 0,
            detected: 16 * 56,
            wrong: 16 * 14
        }
    );
}

/// A stray memset must never pass as valid nor be "corrected".
#[test]
fn zero_and_ones_words_are_uncorrectable() {
    fn is_ue(d: Decoded) -> bool {
        matches!(d, Decoded::Uncorrectable { .. })
    }
    for w in [0u64, u64::MAX] {
        assert!(is_ue(Hamming84::decode(w & 0xFF)));
        assert!(is_ue(Secded32::decode(w & 0xFFFF_FFFF)));
        assert!(is_ue(Secded64::decode(w)));
        assert!(is_ue(Hsiao72::decode(w, w as u8)));
    }
    // The other stray patterns the coset constants were chosen for.
    for w in [
        0x5555_5555_5555_5555u64,
        0xAAAA_AAAA_AAAA_AAAA,
        0x0F0F_0F0F_0F0F_0F0F,
        0xF0F0_F0F0_F0F0_F0F0,
    ] {
        assert!(is_ue(Hamming84::decode(w & 0xFF)));
        assert!(is_ue(Secded32::decode(w & 0xFFFF_FFFF)));
        assert!(is_ue(Secded64::decode(w)));
    }
    assert!(is_ue(Secded64::decode(0xFFFF_FFFF)) && is_ue(Secded64::decode(0xFFFF_FFFF_0000_0000)));
    // The (7,4) code has no such protection: its zero word is a codeword.
    assert_eq!(Hamming74::decode(0), Decoded::Clean(0));
}

/// Only a syndrome equal to a real column is "corrected": every syndrome
/// value is checked against the column list.
#[test]
fn corrected_only_on_a_real_column() {
    fn each<C: LaneCode>() {
        let m = C::MATRIX;
        let r = m.check_bits();
        for s in 1..1u32 << r {
            let column = (0..m.code_bits()).find(|&p| u32::from(m.column(p)) == s);
            assert_eq!(m.bit_of(s), column, "{}: syndrome {s:#b}", C::NAME);
            // A word with exactly that syndrome: a codeword with check bits flipped.
            let w = C::encode(0) ^ (u64::from(s) << C::DATA_BITS);
            match (C::decode(w), column) {
                (Decoded::Corrected { bit, .. }, Some(p)) => assert_eq!(bit, p),
                (Decoded::Uncorrectable { syndrome }, None) => assert_eq!(syndrome, s),
                (got, _) => panic!("{}: syndrome {s:#b} decoded as {got:?}", C::NAME),
            }
        }
    }
    each::<Hamming74>();
    each::<Hamming84>();
    each::<Secded32>();
    each::<Secded64>();
    let m = Hsiao72::MATRIX;
    for s in 1..256u32 {
        let column = (0..72).find(|&p| u32::from(m.column(p)) == s);
        let got = Hsiao72::decode(0, Hsiao72::encode(0) ^ s as u8);
        assert_eq!(
            matches!(got, Decoded::Corrected { .. }),
            column.is_some(),
            "syndrome {s:#b}"
        );
    }
}

/// The matrix properties the documentation claims.
#[test]
fn matrix_shapes() {
    // Odd-weight columns in every SECDED code (Hsiao construction).
    for m in [
        Hamming84::MATRIX,
        Secded32::MATRIX,
        Secded64::MATRIX,
        Hsiao72::MATRIX,
    ] {
        assert!((0..m.code_bits()).all(|p| m.column(p).count_ones() % 2 == 1));
    }
    // Hsiao (72,64): 216 ones, every row of weight 27.
    let h = Hsiao72::MATRIX;
    assert_eq!(h.weight(), 216);
    for j in 0..8 {
        let data_row = h.row(j).count_ones();
        assert_eq!(data_row + 1, 27, "row {j}");
    }
    // Balanced rows in the full-length codes.
    for j in 0..7 {
        assert_eq!(Secded64::MATRIX.row(j).count_ones(), 32);
    }
    for j in 0..6 {
        assert_eq!(Secded32::MATRIX.row(j).count_ones(), 16);
    }
    // Secded64 keeps page index == data bit: data in 0..57, check in 57..64.
    assert_eq!((Secded64::DATA_BITS, Secded64::CODE_BITS), (57, 64));
    assert_eq!(Secded64::COSET, 0b0000011 << 57);
}

/// Known answers, computed independently from the documented columns and
/// cosets (not by this crate), so a change to any matrix is caught.
#[test]
fn known_answer_vectors() {
    let h74 = [
        (0x0, 0x00),
        (0x1, 0x31),
        (0xF, 0x7F),
        (0x5, 0x55),
        (0xA, 0x2A),
    ];
    let h84 = [
        (0x0, 0x30),
        (0x1, 0x41),
        (0xF, 0xCF),
        (0x5, 0x95),
        (0xA, 0x6A),
    ];
    let s32 = [
        (0x0, 0x0C00_0000),
        (0x1, 0x1000_0001),
        (0x3FF_FFFF, 0xF3FF_FFFF),
        (0x1AB_CDEF, 0x79AB_CDEF),
        (0x365_4321, 0x8F65_4321),
    ];
    let s64 = [
        (0x0, 0x0600_0000_0000_0000),
        (0x1, 0x0800_0000_0000_0001),
        (0x1FF_FFFF_FFFF_FFFF, 0xF9FF_FFFF_FFFF_FFFF),
        (0x123_4567_89AB_CDEF, 0xC123_4567_89AB_CDEF),
        (0x1ED_CBA9_8765_4321, 0x0FED_CBA9_8765_4321),
    ];
    for (d, w) in h74 {
        assert_eq!(Hamming74::encode(d), w);
    }
    for (d, w) in h84 {
        assert_eq!(Hamming84::encode(d), w);
    }
    for (d, w) in s32 {
        assert_eq!(Secded32::encode(d), w);
    }
    for (d, w) in s64 {
        assert_eq!(Secded64::encode(d), w);
    }
    let h72 = [
        (0u64, 0x03u8),
        (1, 0x04),
        (u64::MAX, 0x03),
        (0x0123_4567_89AB_CDEF, 0x41),
        (0xFEDC_BA98_7654_3210, 0x41),
    ];
    for (d, c) in h72 {
        assert_eq!(Hsiao72::encode(d), c);
    }
}

/// The six cases of Linux's NAND software Hamming test, for every code.
fn nand_six<C: Under>() {
    let k = C::K;
    let n = C::N;
    for d in samples::<C>() {
        let w = C::enc(d);
        let data_bit = |i: u32| 1u128 << (i % k);
        let check_bit = |i: u32| 1u128 << (k + i % (n - k));
        // 1. no error
        assert_eq!(C::dec(w), Decoded::Clean(d));
        // 2. single error in data: corrected
        assert_eq!(C::dec(w ^ data_bit(1)).data(), Some(d));
        // 3. single error in check bits: corrected
        assert_eq!(C::dec(w ^ check_bit(0)).data(), Some(d));
        if C::SECDED {
            let ue = |x| matches!(C::dec(x), Decoded::Uncorrectable { .. });
            // 4. double error in data: detected
            assert!(ue(w ^ data_bit(0) ^ data_bit(2)));
            // 5. one error in data, one in check: detected
            assert!(ue(w ^ data_bit(3) ^ check_bit(1)));
            // 6. double error in check bits: detected
            assert!(ue(w ^ check_bit(0) ^ check_bit(2)));
        }
    }
}

#[test]
fn linux_nand_six_cases() {
    nand_six::<Wrap<Hamming74>>();
    nand_six::<Wrap<Hamming84>>();
    nand_six::<Wrap<Secded32>>();
    nand_six::<Wrap<Secded64>>();
    nand_six::<Wrap<Hsiao72>>();
}

fn roundtrip_and_delta<C: LaneCode>(d: u64, i: u32) -> bool {
    let d = d & eccmap_codes::mask(C::DATA_BITS);
    let i = i % C::DATA_BITS;
    let w = C::encode(d);
    let flipped = w ^ C::delta(i);
    C::decode(w) == Decoded::Clean(d)
        && C::syndrome(w) == 0
        && flipped == C::encode(d ^ 1 << i)
        && C::decode(flipped) == Decoded::Clean(d ^ 1 << i)
        && C::delta_mask(d) == C::encode(d) ^ C::encode(0)
}

quickcheck! {
    fn qc_hamming74(d: u64, i: u32) -> bool { roundtrip_and_delta::<Hamming74>(d, i) }
    fn qc_hamming84(d: u64, i: u32) -> bool { roundtrip_and_delta::<Hamming84>(d, i) }
    fn qc_secded32(d: u64, i: u32) -> bool { roundtrip_and_delta::<Secded32>(d, i) }
    fn qc_secded64(d: u64, i: u32) -> bool { roundtrip_and_delta::<Secded64>(d, i) }
    fn qc_hsiao72(d: u64, e: u8) -> bool {
        let c = Hsiao72::encode(d);
        Hsiao72::decode(d, c) == Decoded::Clean(d)
            && Hsiao72::decode(d, c ^ (1 << (e % 8))) == Decoded::Corrected { data: d, bit: 64 + u32::from(e % 8) }
    }
    /// An error already in a word survives an update unchanged, so it stays
    /// correctable: the basis of the maps' one-CAS update.
    fn qc_error_carried_through_update(d: u64, i: u32, p: u32) -> bool {
        let d = d & eccmap_codes::mask(57);
        let (i, p) = (i % 57, p % 64);
        let faulty = Secded64::encode(d) ^ 1 << p;
        Secded64::decode(faulty ^ Secded64::delta(i)) == Decoded::Corrected { data: d ^ 1 << i, bit: p }
    }
}

/// Every contiguous run of data bits (what range updates flip) takes the
/// prefix-table path of `delta_mask` (and `Matrix::delta_run` takes it
/// without testing): both must equal the re-encoding, for every run of
/// every code.
#[test]
fn delta_of_every_contiguous_run() {
    fn each<C: LaneCode>() {
        let k = C::DATA_BITS;
        for lo in 0..k {
            for hi in lo + 1..=k {
                let run = eccmap_codes::mask(hi) & !eccmap_codes::mask(lo);
                assert_eq!(
                    C::delta_mask(run),
                    C::encode(run) ^ C::encode(0),
                    "{} {lo}..{hi}",
                    C::NAME
                );
                // And `delta_run`, which skips the run tests.
                assert_eq!(
                    C::MATRIX.delta_run(run),
                    C::encode(run) ^ C::encode(0),
                    "{} delta_run {lo}..{hi}",
                    C::NAME
                );
            }
        }
    }
    each::<Hamming74>();
    each::<Hamming84>();
    each::<Secded32>();
    each::<Secded64>();
    each::<eccmap_codes::Secded64Burst>();
}

/// Secded64's column order leaves no adjacent 4-bit burst undetected (at
/// every start, across the data/check boundary too), and miscorrects every
/// adjacent 3-bit burst (every odd syndrome is a column, whatever the order).
#[test]
fn secded64_adjacent_bursts() {
    for start in 0..=60 {
        let w = Secded64::encode(0x0F0F_1234_5678_9ABC) ^ (0b1111 << start);
        assert!(
            matches!(Secded64::decode(w), Decoded::Uncorrectable { .. }),
            "4-bit burst at {start}"
        );
    }
    for start in 0..=61 {
        let w = Secded64::encode(0) ^ (0b111 << start);
        assert!(
            matches!(Secded64::decode(w), Decoded::Corrected { .. }),
            "3-bit burst at {start}"
        );
    }
}

/// The column order `Secded64`'s doc states: weight 3, then weight 5, then
/// 1111111, each in increasing order, but for exactly four transpositions
/// of data columns (8↔36, 14↔54, 24↔51, 48↔56).
#[test]
fn secded64_column_order() {
    let of_weight = |w: u32| (0u8..128).filter(move |c| c.count_ones() == w);
    let mut order: Vec<u8> = of_weight(3).chain(of_weight(5)).chain([127]).collect();
    assert_eq!(order.len(), 57);
    for (a, b) in [(8, 36), (14, 54), (24, 51), (48, 56)] {
        order.swap(a, b);
    }
    let columns: Vec<u8> = (0..57).map(|p| Secded64::MATRIX.column(p)).collect();
    assert_eq!(columns, order);
}
