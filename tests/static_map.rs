//! Maps in `static`s, built at compile time (`static_map!`,
//! `static_storage` / `from_static_storage`):
//!
//! - every map, and every code and keying of `EccBitmap`, stores word for
//!   word what `with_pages` stores for the same number of pages (so the
//!   `const fn` encoding agrees with the run-time one), at sizes from 0
//!   pages to several words with a partial last word;
//! - a static map allocates, frees, and treats a flipped bit (flipped
//!   behind the encoder's back, `FaultInjection`) as its scheme promises:
//!   corrected, detected or (plain) silent, then restored from the truth;
//! - two maps built over one named storage are one map: the same words
//!   and the same counters.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::codes::{Hamming74, Hamming84, Secded32, Secded64, Secded64Burst};
use eccmap::{
    static_map, DualBitmap, EccBitmap, FaultInjection, FaultStats, KeyedEccBitmap, PageMap,
    PageState, PlainBitmap, StateError, StaticStorage, StripedBitmap,
};

/// Asserts that the static map `map` stores what `with_pages` stores.
fn static_storage_equals_with_pages<M: PageState + FaultInjection>(
    map: &M,
    pages: usize,
    with_pages: fn(usize) -> M,
) {
    let fresh = with_pages(pages);
    assert_eq!(map.pages(), pages);
    assert_eq!(map.storage_bytes(), fresh.storage_bytes(), "{pages} pages");
    assert_eq!(raw(map), raw(&fresh), "{pages} pages: storage");
    assert_eq!(map.count_allocated(), Ok(0));
}

/// One test per map type: static maps of several sizes against
/// `with_pages`.
macro_rules! static_equals_with_pages {
    ($($name:ident: $map:ty),* $(,)?) => {
        mod static_storage_equals_with_pages {
            use super::*;
            $(
                #[test]
                fn $name() {
                    static M0: $map = static_map!($map, 0);
                    static M1: $map = static_map!($map, 1);
                    static M2: $map = static_map!($map, 100);
                    static M3: $map = static_map!($map, 4099);
                    static M4: $map = static_map!($map, 64 * 57 * 2 + 3);
                    for (map, pages) in [(&M0, 0), (&M1, 1), (&M2, 100), (&M3, 4099), (&M4, 64 * 57 * 2 + 3)] {
                        static_storage_equals_with_pages(map, pages, <$map>::with_pages);
                    }
                }
            )*
        }
    };
}

static_equals_with_pages!(
    plain: PlainBitmap,
    dual: DualBitmap,
    ecc_secded64: EccBitmap<Secded64>,
    ecc_secded32: EccBitmap<Secded32>,
    ecc_hamming84: EccBitmap<Hamming84>,
    ecc_hamming74: EccBitmap<Hamming74>,
    ecc_secded64burst: EccBitmap<Secded64Burst>,
    keyed_secded64: KeyedEccBitmap<Secded64>,
    keyed_secded32: KeyedEccBitmap<Secded32>,
    keyed_hamming84: KeyedEccBitmap<Hamming84>,
    keyed_secded64burst: KeyedEccBitmap<Secded64Burst>,
    striped: StripedBitmap,
    page_map: PageMap,
);

/// Allocates, frees, takes a flipped bit as the scheme promises, and is
/// restored: on a static map of `pages_of::<M>()` pages.
fn a_static_map_allocates_frees_and_takes_a_fault<M: TestMap>(map: &'static M) {
    let ppw = M::PAGES_PER_WORD;
    let pages = map.pages();
    assert_eq!(pages, 3 * ppw + 5);
    assert_eq!(map.stats(), FaultStats::default());
    let mut model = pattern(pages);
    for p in model.iter_ones() {
        map.alloc(p).unwrap();
    }
    match map.alloc_range(ppw + 3, 2) {
        Ok(()) => model[ppw + 3..ppw + 5].fill(true),
        // The pattern has an allocated page there: nothing changed.
        Err(e) => assert!(model[ppw + 3..ppw + 5].any(), "{}: {e}", M::NAME),
    }
    map.free(1).unwrap();
    model.set(1, false);
    assert_eq!(map.alloc(1), Ok(()));
    model.set(1, true);
    assert_matches(map, &model, M::NAME);
    assert_storage(map, &model, M::NAME);

    // A cosmic ray on page `ppw + 1`'s state bit.
    let page = ppw + 1;
    map.flip_storage_bit(map.state_bit(page)).unwrap();
    match M::PROTECTION {
        Protection::Corrects => {
            assert_eq!(map.is_allocated(page), Ok(model[page]), "{}", M::NAME);
            assert_eq!(map.stats().ce_count, 1, "{}", M::NAME);
        }
        Protection::Detects => {
            assert!(
                matches!(
                    map.is_allocated(page),
                    Err(StateError::Uncorrectable { .. })
                ),
                "{}",
                M::NAME
            );
        }
        Protection::Silent => {
            assert_eq!(map.is_allocated(page), Ok(!model[page]), "{}", M::NAME);
        }
    }
    // The kernel's records are the truth: restore the page's word.
    let r = map.restore(ppw, ppw, &|p| model[p]).unwrap();
    let wrong = usize::from(M::PROTECTION != Protection::Corrects);
    assert_eq!((r.words, r.pages), (wrong, wrong), "{}", M::NAME);
    assert_matches(map, &model, M::NAME);
    assert!(map.scrub().is_clean(), "{}", M::NAME);
    assert_storage(map, &model, M::NAME);
}

/// One test per map type: a static map of `3 * PAGES_PER_WORD + 5` pages
/// through [`a_static_map_allocates_frees_and_takes_a_fault`].
macro_rules! static_maps_work {
    ($($name:ident: $map:ty),* $(,)?) => {
        mod a_static_map_allocates_frees_and_takes_a_fault {
            use super::*;
            $(
                #[test]
                fn $name() {
                    static MAP: $map = static_map!($map, 3 * <$map as TestMap>::PAGES_PER_WORD + 5);
                    a_static_map_allocates_frees_and_takes_a_fault(&MAP);
                }
            )*
        }
    };
}

static_maps_work!(
    plain: PlainBitmap,
    dual: DualBitmap,
    ecc_secded64: EccBitmap<Secded64>,
    ecc_secded32: EccBitmap<Secded32>,
    ecc_hamming84: EccBitmap<Hamming84>,
    ecc_hamming74: EccBitmap<Hamming74>,
    ecc_secded64burst: EccBitmap<Secded64Burst>,
    keyed_secded64: KeyedEccBitmap<Secded64>,
    striped: StripedBitmap,
);

#[test]
fn two_maps_over_one_storage_are_one_map() {
    type Map = EccBitmap<Secded64>;
    static STORAGE: StaticStorage<Map, { Map::static_cells(200) }> = Map::static_storage(200);
    static A: Map = Map::from_static_storage(&STORAGE);
    let b = Map::from_static_storage(&STORAGE);
    assert_eq!(STORAGE.pages(), 200);
    A.alloc(7).unwrap();
    assert_eq!(b.is_allocated(7), Ok(true));
    assert_eq!(b.alloc(7), Err(StateError::DoubleAlloc { page: 7 }));
    assert_eq!(A.stats().double_alloc, 1, "the counters are shared");
    b.flip_storage_bit(3).unwrap();
    assert_eq!(A.is_allocated(3), Ok(false));
    assert_eq!(b.stats().ce_count, 1);
    assert_eq!(raw(&A), raw(&b));
    // A function evaluating `static_map!` gives the same map each time.
    fn handle() -> Map {
        static_map!(Map, 100)
    }
    handle().alloc(5).unwrap();
    assert_eq!(handle().is_allocated(5), Ok(true));
    assert_eq!(handle().stats(), handle().stats());
}
