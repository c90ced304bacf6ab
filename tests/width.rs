//! Storage words of every width: page and range arguments near `usize::MAX`
//! are refused with an error, never an overflow (a panic in debug builds,
//! a wrong page in release), on 32-bit targets as on 64-bit ones (CI runs
//! this file on `i686-unknown-linux-gnu` too); `FaultInjection` shows `u32`
//! cells as 64-bit storage words, a trailing half word included; the words
//! each map uses on this target.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::codes::{LaneCode, Secded32};
use eccmap::{Claim, EccBitmap, FaultInjection, NativeWord, PageMap, PageState, StateError};

/// Every page and range argument near `usize::MAX`, on a small map.
fn huge_arguments_are_errors<M: TestMap>() {
    let pages = 100;
    let map = M::with_pages(pages);
    map.alloc(99).unwrap();
    let max = usize::MAX;
    for page in [100, max - 1, max] {
        let e = StateError::OutOfRange { page, pages };
        assert_eq!(map.alloc(page), Err(e), "{}", M::NAME);
        assert_eq!(map.free(page), Err(e), "{}", M::NAME);
        assert_eq!(map.is_allocated(page), Err(e), "{}", M::NAME);
        if page > pages {
            assert_eq!(map.find_free(page), Err(e), "{}", M::NAME);
        }
    }
    // `first + count` past `usize::MAX`, or past the map.
    for (first, count) in [
        (max, 1),
        (1, max),
        (max, max),
        (max - 5, 10),
        (99, max),
        (50, max - 49),
        (0, pages + 1),
    ] {
        let e = StateError::RangeOutOfBounds {
            first,
            count,
            pages,
        };
        let what = format!("{}: {first} + {count}", M::NAME);
        assert_eq!(map.alloc_range(first, count), Err(e), "{what}");
        assert_eq!(map.free_range(first, count), Err(e), "{what}");
        assert_eq!(map.try_alloc_range(first, count), Err(e), "{what}");
    }
    assert_eq!(map.try_alloc_range(90, 10), Ok(Claim::Busy { page: 99 }));
    assert_eq!(map.count_allocated(), Ok(1), "{}: nothing changed", M::NAME);
    // Storage indices: refused, not wrapped (`bit / 64` and `i * 64`).
    let bits = map.storage_words() * 64;
    for bit in [bits, max - 63, max] {
        assert_eq!(
            map.flip_storage_bit(bit),
            Err(StateError::StorageOutOfRange {
                index: bit,
                len: bits
            }),
            "{}",
            M::NAME
        );
    }
    let words = map.storage_words();
    for i in [words, max / 64, max] {
        assert_eq!(
            map.write_storage_word(i, 0),
            Err(StateError::StorageOutOfRange {
                index: i,
                len: words
            }),
            "{}",
            M::NAME
        );
    }
    assert!(map.scrub().is_clean(), "{}", M::NAME);
}

for_each_map!(huge_arguments_are_errors);

/// A map of `u32` cells shows them two to a 64-bit storage word, the first
/// in the low half; an odd number of cells ends in half a word, whose high
/// half reads as 0 and ignores writes and flips.
#[test]
fn u32_cells_as_storage_words() {
    type Ecc32 = EccBitmap<Secded32>;
    // 3 cells of 26 pages: storage words 0 (cells 0, 1) and 1 (cell 2).
    let map = Ecc32::with_pages(3 * 26);
    assert_eq!(Ecc32::words_for(3 * 26), 3);
    assert_eq!((map.storage_words(), map.storage_bits()), (2, 96));
    assert_eq!(map.storage_bytes(), 12);
    let blank = Secded32::encode(0);
    assert_eq!(map.storage_word(0), blank | blank << 32);
    assert_eq!(map.storage_word(1), blank);
    // Page 26 is data bit 0 of cell 1: storage bit 32.
    map.alloc(26).unwrap();
    let one = Secded32::encode(1);
    assert_eq!(map.storage_word(0), blank | one << 32);
    map.flip_storage_bit(32).unwrap();
    assert_eq!(map.storage_word(0), blank | (one ^ 1) << 32);
    assert_eq!(map.is_allocated(26), Ok(true), "corrected on read");
    assert_eq!(map.stats().ce_count, 1);
    assert_eq!(map.storage_word(0), blank | one << 32, "repaired in place");
    // A write of both halves writes both cells; the missing half of the
    // last word is ignored.
    map.write_storage_word(0, blank | blank << 32).unwrap();
    assert_eq!(map.is_allocated(26), Ok(false));
    map.write_storage_word(1, blank | u64::MAX << 32).unwrap();
    assert_eq!(map.storage_word(1), blank);
    // A flip of a missing bit is ignored too; past the storage words, it is
    // refused.
    for bit in [96, 127] {
        assert_eq!(map.flip_storage_bit(bit), Ok(()));
        assert_eq!(map.storage_word(1), blank);
    }
    assert_eq!(
        map.flip_storage_bit(128),
        Err(StateError::StorageOutOfRange {
            index: 128,
            len: 128
        })
    );
    assert!(map.scrub().is_clean());
    assert_eq!(map.count_allocated(), Ok(0));
}

/// The words each map uses on this target, as documented.
#[test]
fn words_per_target() {
    let native = if cfg!(all(target_has_atomic = "64", target_pointer_width = "64")) {
        64
    } else {
        32
    };
    assert_eq!(NativeWord::BITS, native);
    assert_eq!(eccmap::PlainBitmap::words_for(native as usize), 1);
    assert_eq!(eccmap::DualBitmap::bitmap_words(native as usize + 1), 2);
    assert_eq!(eccmap::DualBitmap::words_for(native as usize + 1), 4);
    // One (32,26) codeword per `AtomicU32`, on every target.
    assert_eq!(EccBitmap::<Secded32>::PAGES_PER_WORD, 26);
    let storage = std::mem::size_of::<eccmap::PageMapStorage>();
    if cfg!(feature = "dual-bitmap") {
        assert_eq!(storage * 8, native as usize);
    } else {
        // `EccBitmap<Secded64>` wherever 64-bit atomics exist.
        assert_eq!((storage, PageMap::words_for(57)), (8, 1));
    }
}
