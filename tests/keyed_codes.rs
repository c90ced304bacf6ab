//! `AddressKeyed` over every code: the promise (a zeroed, an all-ones and a
//! misplaced word decode as Uncorrectable) checked exhaustively for every
//! code the type accepts, over more than two key periods of words; the codes
//! it refuses, and why; and the domains of its public helpers.

use eccmap::codes::{Hamming74, Hamming84, LaneCode, Secded32, Secded64, Secded64Burst};
use eccmap::{AddressKeyed, EccBitmap, FaultInjection, Keying, PageState, StateError};
use eccmap::{Word, WordCode};

/// The promise at every index of a map of `2 * period + 3` words, for code
/// `C`: a zeroed and an all-ones word are Uncorrectable in every codeword;
/// every word copied onto every other index is Uncorrectable in every
/// codeword unless the two indices are a multiple of the period apart, and
/// then it reads as the copied word's pages. Nothing is ever "corrected".
/// Words are `FaultInjection`'s 64-bit storage words: for `Secded32`, two
/// `u32` cells (keyed by cell index; the period, 31, is odd, so two storage
/// words are a multiple of it apart exactly when their cells are).
fn promise_holds<C: WordCode>(period: usize) {
    type Map<C> = EccBitmap<C, AddressKeyed>;
    assert_eq!(
        <AddressKeyed as Keying>::period::<C>(),
        period,
        "{}",
        C::NAME
    );
    let cells = 64 / <C::Word as Word>::BITS as usize;
    let cell_ppw = Map::<C>::PAGES_PER_WORD;
    let ppw = cell_ppw * cells;
    let lanes = Map::<C>::LANES * cells;
    let k = C::DATA_BITS as usize;
    let words = 2 * period + 3;
    let m = Map::<C>::with_pages(words * ppw);
    // Word `w` holds, in codeword `l`, page `(w + l) % k` of that codeword:
    // distinct contents, so that a copy never holds the right value by chance
    // (words a multiple of `k` apart aside, where the check below is exact).
    let page = |w: usize, l: usize| w * ppw + l * k + (w + l) % k;
    for w in 0..words {
        for l in 0..lanes {
            m.alloc(page(w, l)).unwrap();
        }
    }
    assert!(m.scrub().is_clean(), "{}", C::NAME);
    let raw: Vec<u64> = (0..words).map(|w| m.storage_word(w)).collect();
    // Every codeword of word `i` bad: the error names the whole cell of
    // codeword `l`.
    let all_bad = |i: usize, l: usize| {
        Err(StateError::Uncorrectable {
            first: (i * cells + l / Map::<C>::LANES) * cell_ppw,
            count: cell_ppw,
        })
    };
    for i in 0..words {
        for (what, v) in [("zero", 0), ("all-ones", u64::MAX)] {
            m.write_storage_word(i, v).unwrap();
            for l in 0..lanes {
                assert_eq!(
                    m.is_allocated(page(i, l)),
                    all_bad(i, l),
                    "{}: {what} word at index {i}",
                    C::NAME
                );
            }
        }
        for (j, &copy) in raw.iter().enumerate() {
            if j == i {
                continue;
            }
            m.write_storage_word(i, copy).unwrap();
            for l in 0..lanes {
                let got = m.is_allocated(page(i, l));
                if i.abs_diff(j) % period != 0 {
                    assert_eq!(got, all_bad(i, l), "{}: copy of {j} at {i}", C::NAME);
                } else {
                    // Same key: accepted, and it reads as word `j`'s pages.
                    let expect = (j + l) % k == (i + l) % k;
                    assert_eq!(got, Ok(expect), "{}: copy of {j} at {i}", C::NAME);
                    assert_eq!(m.is_allocated(i * ppw + l * k + (j + l) % k), Ok(true));
                }
            }
        }
        m.write_storage_word(i, raw[i]).unwrap();
    }
    assert_eq!(
        m.stats().ce_count,
        0,
        "{}: something was 'corrected'",
        C::NAME
    );
    assert!(m.scrub().is_clean(), "{}", C::NAME);
}

#[test]
fn hamming84_promise_at_every_index() {
    promise_holds::<Hamming84>(7);
}

#[test]
fn secded32_promise_at_every_index() {
    promise_holds::<Secded32>(31);
}

#[test]
fn secded64_promise_at_every_index() {
    promise_holds::<Secded64>(63);
}

/// The case: with all 127 even syndromes as keys, an all-ones word
/// at word 6 (and every 127 words after) read as a clean word with every
/// page allocated. The checked range (255 words) covers 6, 132 and 258's
/// neighbours.
#[test]
fn secded64burst_promise_at_every_index() {
    promise_holds::<Secded64Burst>(126);
}

/// The keys are the documented ones: the nonzero even `r`-bit values in
/// increasing order, minus `H·1` (the all-ones syndrome) when it is nonzero.
#[test]
fn keys_are_the_even_syndromes_but_the_all_ones_one() {
    fn check<C: LaneCode>() {
        let r = C::CODE_BITS - C::DATA_BITS;
        let ones = C::MATRIX.linear_syndrome(eccmap::codes::mask(C::CODE_BITS));
        let expect: Vec<u8> = (1u8..=u8::MAX)
            .filter(|&v| u32::from(v) < 1 << r && v.count_ones() % 2 == 0 && v != ones)
            .collect();
        let period = <AddressKeyed as Keying>::period::<C>();
        let got: Vec<u8> = (0..period).map(AddressKeyed::coset::<C>).collect();
        assert_eq!(got, expect, "{}", C::NAME);
    }
    check::<Hamming84>();
    check::<Secded32>();
    check::<Secded64>();
    check::<Secded64Burst>();
    // Only the shortened code has an all-ones syndrome to leave out.
    assert_eq!(Secded64Burst::MATRIX.linear_syndrome(u64::MAX), 0b0000_1111);
    assert!(!(0..126).any(|c| AddressKeyed::coset::<Secded64Burst>(c) == 0b1111));
}

/// Which codes the type accepts, and why Hamming (7,4) cannot be kept: it
/// is perfect, every nonzero syndrome is the column of a bit, so a zeroed
/// word (whose syndrome is its key) is "corrected" whatever the keys are.
/// (The refusal is a compile error; `AddressKeyed`'s `compile_fail` doctest
/// shows it.)
#[test]
fn hamming74_is_refused_and_must_be() {
    assert!(AddressKeyed::supports::<Hamming84>());
    assert!(AddressKeyed::supports::<Secded32>());
    assert!(AddressKeyed::supports::<Secded64>());
    assert!(AddressKeyed::supports::<Secded64Burst>());
    assert!(!AddressKeyed::supports::<Hamming74>());
    for s in 1..8u32 {
        assert!(Hamming74::MATRIX.bit_of(s).is_some(), "syndrome {s:03b}");
    }
}

#[test]
#[should_panic(expected = "r must be 1..=8")]
fn keys_of_zero_check_bits_panics() {
    AddressKeyed::keys(0);
}

#[test]
#[should_panic(expected = "r must be 1..=8")]
fn keys_of_nine_check_bits_panics() {
    AddressKeyed::keys(9);
}

#[test]
fn keys_counts_the_even_values() {
    for r in 1..=8u32 {
        let even = (1..1u32 << r).filter(|v| v.count_ones() % 2 == 0).count();
        assert_eq!(AddressKeyed::keys(r), even, "r = {r}");
    }
}

#[test]
#[should_panic(expected = "key index out of range")]
fn even_past_the_last_key_panics() {
    AddressKeyed::even(7, 63);
}

#[test]
#[should_panic(expected = "key index out of range")]
fn even_of_one_check_bit_panics() {
    // One check bit has no nonzero even value.
    AddressKeyed::even(1, 0);
}

#[test]
#[should_panic(expected = "r must be 1..=8")]
fn even_of_zero_check_bits_panics() {
    AddressKeyed::even(0, 0);
}

#[test]
#[should_panic(expected = "r must be 1..=8")]
fn even_of_too_many_check_bits_panics() {
    AddressKeyed::even(64, 0);
}

#[test]
fn even_is_the_last_key_at_the_end() {
    assert_eq!(AddressKeyed::even(7, 62), 0b111_1110);
    assert_eq!(AddressKeyed::even(8, 126), 0b1111_1111);
    assert_eq!(AddressKeyed::even(2, 0), 0b11);
}

#[test]
#[should_panic(expected = "key class out of range")]
fn coset_past_the_period_panics() {
    AddressKeyed::coset::<Secded64>(63);
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn key_of_class_past_the_period_panics() {
    // Within the key table's 128 entries, but past the 63 keys.
    <AddressKeyed as Keying>::key_of_class::<Secded64>(63);
}

#[test]
fn key_of_class_is_the_key_of_its_words() {
    let period = <AddressKeyed as Keying>::period::<Secded64>();
    for w in 0..3 * period {
        assert_eq!(
            <AddressKeyed as Keying>::key_of_class::<Secded64>(w % period),
            <AddressKeyed as Keying>::key::<Secded64>(w)
        );
    }
}
