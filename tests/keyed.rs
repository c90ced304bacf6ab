//! Address-keyed cosets (ecc64k): what keying adds to EccBitmap.

use eccmap::codes::{Decoded, LaneCode, Secded64};
use eccmap::{AddressKeyed, FaultInjection, KeyedEccBitmap, PageState, StateError};

type Map = KeyedEccBitmap<Secded64>;

/// 63 keys: the nonzero even 7-bit values, all different.
#[test]
fn keys_are_the_63_even_syndromes() {
    assert_eq!(AddressKeyed::keys(7), 63);
    let keys: Vec<u64> = (0..63).map(|n| AddressKeyed::even(7, n)).collect();
    assert!(keys
        .iter()
        .all(|k| *k != 0 && k.count_ones() % 2 == 0 && *k < 128));
    let mut sorted = keys.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 63);
}

/// A fresh keyed map decodes clean at every index, and behaves as a map.
#[test]
fn keyed_map_works() {
    let m = Map::with_pages(57 * 200);
    assert!(m.scrub().is_clean());
    m.alloc_range(100, 5000).unwrap();
    assert_eq!(m.count_allocated(), Ok(5000));
    assert_eq!(m.find_free(100), Ok(Some(5100)));
    m.flip_storage_bit(64 * 7 + 60).unwrap();
    assert_eq!(m.is_allocated(7 * 57), Ok(true));
    assert_eq!(m.stats().ce_count, 1);
}

/// Every word copied onto every other index less than 63 words away is
/// Uncorrectable there (never valid, never "corrected"); beyond, only
/// indices with the same key (a multiple of 63 apart) accept the copy.
#[test]
fn misplaced_words_are_detected() {
    let words = 130;
    let m = Map::with_pages(57 * words);
    // Distinct contents, so that a copy is never the right value by chance.
    for w in 0..words {
        m.alloc(w * 57 + w % 57).unwrap();
    }
    let raw: Vec<u64> = (0..words).map(|w| m.storage_word(w)).collect();
    for i in 0..words {
        for j in 0..words {
            if i == j {
                continue;
            }
            m.write_storage_word(i, raw[j]).unwrap();
            let got = m.is_allocated(i * 57 + i % 57);
            if (i as isize - j as isize).unsigned_abs() % 63 != 0 {
                assert_eq!(
                    got,
                    Err(StateError::Uncorrectable {
                        first: i * 57,
                        count: 57
                    }),
                    "copy of {j} at {i}"
                );
            } else {
                // Same key: the in-word code cannot tell (the striped map can).
                assert_eq!(got, Ok(false), "copy of {j} at {i}");
            }
            m.write_storage_word(i, raw[i]).unwrap();
        }
    }
    assert_eq!(
        m.stats().ce_count,
        0,
        "a misplaced word was never 'corrected'"
    );
}

/// All-zero and all-ones words are Uncorrectable at every index.
#[test]
fn zero_and_ones_uncorrectable_at_every_index() {
    let m = Map::with_pages(57 * 63);
    for w in 0..63 {
        for v in [0, u64::MAX] {
            let old = m.storage_word(w);
            m.write_storage_word(w, v).unwrap();
            assert!(matches!(
                m.is_allocated(w * 57),
                Err(StateError::Uncorrectable { .. })
            ));
            m.write_storage_word(w, old).unwrap();
            // And the syndrome the decoder sees is even and nonzero.
            let key = AddressKeyed::even(7, w % 63) ^ (Secded64::COSET >> 57);
            let s = Secded64::syndrome(v ^ (key << 57));
            assert!(matches!(
                Secded64::decode(v ^ (key << 57)),
                Decoded::Uncorrectable { .. }
            ));
            assert!(s != 0 && s.count_ones() % 2 == 0);
        }
    }
    assert_eq!(m.stats().ce_count, 0);
}

/// The scrub walks clean words by syndrome alone, stepping the key class
/// word by word: a fault at any index is still found and repaired (a single
/// bit) or reported (a copy from an index with another key), and a clean
/// map of several key periods scrubs clean.
#[test]
fn scrub_finds_faults_past_many_key_periods() {
    let words = 300; // almost 5 periods of 63 keys
    let m = KeyedEccBitmap::<Secded64>::with_pages(words * 57);
    for p in (0..words * 57).step_by(5) {
        m.alloc(p).unwrap();
    }
    assert!(m.scrub().is_clean());
    assert_eq!(m.scrub().words, words);
    for w in (0..words).step_by(7) {
        m.flip_storage_bit(w * 64 + w % 64).unwrap();
        let r = m.scrub();
        assert_eq!((r.corrected, r.uncorrectable), (1, 0), "word {w}: {r:?}");
        assert!(m.scrub().is_clean(), "word {w}");
    }
    let before = m.storage_word(250);
    m.write_storage_word(250, m.storage_word(249)).unwrap();
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, 1), "{r:?}");
    assert_eq!(r.bad_pages, vec![250 * 57..251 * 57]);
    m.write_storage_word(250, before).unwrap();
    assert!(m.scrub().is_clean());
}
