//! `PageMap` is `EccBitmap<Secded64>` by default and `DualBitmap` with the
//! `dual-bitmap` feature. `.ci/run` runs the tests in both configurations.

use eccmap::codes::Secded64;
use eccmap::{DualBitmap, EccBitmap, PageMap};
use std::any::TypeId;

#[cfg(not(feature = "dual-bitmap"))]
type Expected = EccBitmap<Secded64>;
#[cfg(feature = "dual-bitmap")]
type Expected = DualBitmap;

/// The same type, checked at compile time (this only compiles if the two
/// are one type) and at run time.
#[test]
fn page_map_is_the_configured_type() {
    let same: fn(PageMap) -> Expected = |m| m;
    let _ = same;
    assert_eq!(TypeId::of::<PageMap>(), TypeId::of::<Expected>());
    let other = if cfg!(feature = "dual-bitmap") {
        TypeId::of::<EccBitmap<Secded64>>()
    } else {
        TypeId::of::<DualBitmap>()
    };
    assert_ne!(TypeId::of::<PageMap>(), other);
}

/// And it behaves as that type: its storage size, and what it does with a
/// flipped bit (corrected, or detected).
#[cfg(not(feature = "panic-on-fault"))]
#[test]
fn page_map_behaves_as_the_configured_type() {
    use eccmap::{FaultInjection, PageState};
    let map = PageMap::with_pages(1000);
    let dual = cfg!(feature = "dual-bitmap");
    // 1000 pages: 16 words per bitmap, twice; or 18 words of 57 pages.
    assert_eq!(map.storage_bytes(), if dual { 2 * 16 * 8 } else { 18 * 8 });
    map.flip_storage_bit(3).unwrap();
    if dual {
        assert_eq!(
            map.is_allocated(3),
            Err(eccmap::StateError::Uncorrectable { first: 3, count: 1 })
        );
        assert_eq!(map.stats().ce_count, 0);
    } else {
        assert_eq!(map.is_allocated(3), Ok(false));
        assert_eq!(map.stats().ce_count, 1);
    }
}

/// Code written against `PageMap` alone (sizing its storage with
/// `PageMap::words_for`, building it with `PageMap::from_static`) compiles
/// and works with and without the `dual-bitmap` feature: no `cfg` here.
/// `.ci/run` runs this file in both configurations.
#[cfg(not(feature = "panic-on-fault"))]
#[test]
fn page_map_from_static_builds_under_every_feature_setting() {
    use eccmap::{PageMapStorage, PageState, StateError};
    const PAGES: usize = 1000;
    fn leak(words: usize) -> &'static mut [PageMapStorage] {
        Box::leak(
            (0..words)
                .map(|_| PageMapStorage::new(u64::MAX as _))
                .collect(),
        )
    }
    let words = PageMap::words_for(PAGES);
    let map = PageMap::from_static(leak(words), PAGES).unwrap();
    assert_eq!(map.pages(), PAGES);
    assert_eq!(map.count_allocated(), Ok(0));
    map.alloc_range(0, 16).unwrap();
    assert_eq!(map.find_free(0), Ok(Some(16)));
    assert!(map.scrub().is_clean());
    // The storage it uses is all the storage `words_for` asked for.
    assert_eq!(
        map.storage_bytes(),
        words * std::mem::size_of::<PageMapStorage>()
    );
    assert_eq!(
        PageMap::from_static(leak(words - 1), PAGES).err(),
        Some(StateError::StorageTooSmall {
            needed: words,
            given: words - 1
        })
    );
}
