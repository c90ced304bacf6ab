//! Every public function of eccmap-codes on input outside its domain: a
//! documented panic (an `assert!`, which holds in release builds too; run
//! `cargo test --release -p eccmap-codes --test domains`) or a documented
//! total answer, never a wrapped shift or a silent wrong value.

use eccmap_codes::{
    mask, Decoded, Hamming74, Hamming84, Hsiao72, LaneCode, Matrix, Secded32, Secded64,
    Secded64Burst,
};

// --- mask: total, saturating at 64 bits.

#[test]
fn mask_saturates_at_64_bits() {
    assert_eq!(mask(0), 0);
    assert_eq!(mask(1), 1);
    assert_eq!(mask(63), u64::MAX >> 1);
    for bits in [64, 65, 72, 128, u32::MAX] {
        assert_eq!(mask(bits), u64::MAX, "mask({bits})");
    }
}

// --- Matrix::systematic: every rejected input panics at run time too.

#[test]
#[should_panic(expected = "1 to 8 check bits")]
fn systematic_no_check_bits() {
    let _ = Matrix::systematic(&[3], 0, 0);
}

#[test]
#[should_panic(expected = "1 to 8 check bits")]
fn systematic_nine_check_bits() {
    let _ = Matrix::systematic(&[3], 9, 0);
}

#[test]
#[should_panic(expected = "at most 64 data bits")]
fn systematic_65_data_bits() {
    // 65 distinct 7-bit columns of weight 2 or more: only the count is wrong.
    let cols: Vec<u8> = (1u8..128)
        .filter(|v| v.count_ones() >= 2)
        .take(65)
        .collect();
    assert_eq!(cols.len(), 65);
    let _ = Matrix::systematic(&cols, 7, 0);
}

#[test]
fn systematic_64_data_and_8_check_bits_is_the_limit() {
    let cols: Vec<u8> = (1u8..=255)
        .filter(|v| v.count_ones() >= 3)
        .take(64)
        .collect();
    let m = Matrix::systematic(&cols, 8, 0);
    assert_eq!((m.data_bits(), m.code_bits()), (64, 72));
}

#[test]
#[should_panic(expected = "coset wider than the check bits")]
fn systematic_coset_too_wide() {
    let _ = Matrix::systematic(&[3, 5, 6, 7], 3, 0b1000);
}

#[test]
#[should_panic(expected = "column wider than r")]
fn systematic_column_too_wide() {
    let _ = Matrix::systematic(&[3, 5, 6, 0b1011], 3, 0);
}

#[test]
#[should_panic(expected = "zero column")]
fn systematic_zero_column() {
    let _ = Matrix::systematic(&[3, 0], 3, 0);
}

#[test]
#[should_panic(expected = "repeated column")]
fn systematic_repeated_data_column() {
    let _ = Matrix::systematic(&[3, 5, 3], 3, 0);
}

#[test]
#[should_panic(expected = "repeated column")]
fn systematic_data_column_equal_to_a_check_column() {
    let _ = Matrix::systematic(&[3, 0b100], 3, 0);
}

// --- Matrix accessors.

/// Every matrix of the crate, with its number of rows.
fn matrices() -> [(&'static str, &'static Matrix, u32); 6] {
    [
        (Hamming74::NAME, Hamming74::MATRIX, 3),
        (Hamming84::NAME, Hamming84::MATRIX, 4),
        (Secded32::NAME, Secded32::MATRIX, 6),
        (Secded64::NAME, Secded64::MATRIX, 7),
        (Secded64Burst::NAME, Secded64Burst::MATRIX, 8),
        (Hsiao72::NAME, Hsiao72::MATRIX, 8),
    ]
}

#[test]
fn rows_in_range_make_up_every_column() {
    for (name, m, r) in matrices() {
        assert_eq!(m.check_bits(), r, "{name}");
        for p in 0..m.code_bits().min(64) {
            let col = (0..r).fold(0u8, |c, j| c | (((m.row(j) >> p) & 1) as u8) << j);
            assert_eq!(col, m.column(p), "{name} bit {p}");
        }
    }
}

/// `row(j)` for `j` at or past the number of rows panics, for every matrix
/// (before, `row(8)` overflowed a shift and `row(r)` for `r < 8` returned 0).
macro_rules! row_out_of_range {
    ($($name:ident: $m:expr, $j:expr;)*) => {$(
        #[test]
        #[should_panic(expected = "row out of range")]
        fn $name() {
            $m.row($j);
        }
    )*};
}
row_out_of_range! {
    row_3_of_hamming74: Hamming74::MATRIX, 3;
    row_4_of_hamming84: Hamming84::MATRIX, 4;
    row_6_of_secded32: Secded32::MATRIX, 6;
    row_7_of_secded64: Secded64::MATRIX, 7;
    row_8_of_secded64: Secded64::MATRIX, 8;
    row_8_of_secded64burst: Secded64Burst::MATRIX, 8;
    row_8_of_hsiao72: Hsiao72::MATRIX, 8;
    row_max_of_hsiao72: Hsiao72::MATRIX, u32::MAX;
}

#[test]
#[should_panic(expected = "bit out of range")]
fn column_past_the_last_bit() {
    Secded64::MATRIX.column(64);
}

#[test]
#[should_panic(expected = "bit out of range")]
fn column_past_the_last_bit_of_hsiao72() {
    Hsiao72::MATRIX.column(72);
}

#[test]
fn bit_of_any_value() {
    for (name, m, r) in matrices() {
        for p in 0..m.code_bits() {
            assert_eq!(m.bit_of(m.column(p).into()), Some(p), "{name}");
        }
        let columns = (0..m.code_bits()).map(|p| m.column(p)).collect::<Vec<_>>();
        for s in 0..1u32 << r {
            if s == 0 || !columns.contains(&(s as u8)) {
                assert_eq!(m.bit_of(s), None, "{name} syndrome {s}");
            }
        }
        for s in [0x100, 0x1FF, u32::MAX] {
            assert_eq!(m.bit_of(s), None, "{name} syndrome {s:#x}");
        }
    }
}

#[test]
fn verdict_of_a_syndrome_past_a_byte_is_uncorrectable() {
    for (name, m, _) in matrices() {
        for s in [0x100, u32::MAX] {
            assert_eq!(
                m.verdict(s, 5),
                Decoded::Uncorrectable { syndrome: s },
                "{name}"
            );
        }
    }
}

// --- The word-level functions need a code of at most 64 bits: Hsiao (72,64)
// (whose check bits do not fit in the word) is refused, not miscomputed.

#[test]
#[should_panic(expected = "code wider than 64 bits")]
fn encode_of_a_72_bit_matrix() {
    Hsiao72::MATRIX.encode(1);
}

#[test]
#[should_panic(expected = "code wider than 64 bits")]
fn syndrome_of_a_72_bit_matrix() {
    Hsiao72::MATRIX.syndrome(1);
}

#[test]
#[should_panic(expected = "code wider than 64 bits")]
fn decode_of_a_72_bit_matrix() {
    let _ = Hsiao72::MATRIX.decode(1);
}

#[test]
#[should_panic(expected = "code wider than 64 bits")]
fn delta_mask_of_a_72_bit_matrix() {
    Hsiao72::MATRIX.delta_mask(1);
}

#[test]
#[should_panic(expected = "code wider than 64 bits")]
fn delta_of_a_72_bit_matrix() {
    Hsiao72::MATRIX.delta(0);
}

/// Hsiao72's own functions take any data and check byte.
#[test]
fn hsiao72_functions_are_total() {
    for d in [0, 1, u64::MAX, 0x8000_0000_0000_0000] {
        let c = Hsiao72::encode(d);
        assert_eq!(Hsiao72::syndrome(d, c), 0);
        assert_eq!(Hsiao72::decode(d, c), Decoded::Clean(d));
        let s = Hsiao72::MATRIX.linear_syndrome(d) ^ Hsiao72::COSET;
        assert_eq!(c, s);
    }
    assert!(matches!(
        Hsiao72::decode(u64::MAX, 0xFF),
        Decoded::Uncorrectable { .. }
    ));
    assert!(matches!(
        Hsiao72::decode(0, 0),
        Decoded::Uncorrectable { .. }
    ));
}

// --- LaneCode: delta panics past the data bits; the rest ignore the bits
// outside the code, as documented.

macro_rules! delta_out_of_range {
    ($($name:ident: $code:ty;)*) => {$(
        #[test]
        #[should_panic(expected = "data bit out of range")]
        fn $name() {
            <$code>::delta(<$code>::DATA_BITS);
        }
    )*};
}
delta_out_of_range! {
    delta_past_hamming74: Hamming74;
    delta_past_hamming84: Hamming84;
    delta_past_secded32: Secded32;
    delta_past_secded64: Secded64;
    delta_past_secded64burst: Secded64Burst;
}

#[test]
#[should_panic(expected = "data bit out of range")]
fn delta_at_64() {
    Secded64::delta(64);
}

#[test]
#[should_panic(expected = "data bit out of range")]
fn matrix_delta_past_the_data_bits() {
    Secded64Burst::MATRIX.delta(56);
}

fn high_bits_ignored<C: LaneCode>() {
    let high_data = !mask(C::DATA_BITS);
    let high_code = !mask(C::CODE_BITS);
    for d in [0, 1, 0b1011, mask(C::DATA_BITS)] {
        let w = C::encode(d);
        assert_eq!(C::encode(d | high_data), w, "{}", C::NAME);
        assert_eq!(C::data(w | high_code), d, "{}", C::NAME);
        assert_eq!(C::syndrome(w | high_code), 0, "{}", C::NAME);
        assert_eq!(C::decode(w | high_code), Decoded::Clean(d), "{}", C::NAME);
        assert_eq!(
            C::delta_mask(d | high_data),
            C::delta_mask(d),
            "{}",
            C::NAME
        );
        assert_eq!(C::encode(0) ^ C::delta_mask(d), w, "{}", C::NAME);
    }
}

#[test]
fn lane_codes_ignore_bits_outside_the_code() {
    high_bits_ignored::<Hamming74>();
    high_bits_ignored::<Hamming84>();
    high_bits_ignored::<Secded32>();
    high_bits_ignored::<Secded64>();
    high_bits_ignored::<Secded64Burst>();
}
