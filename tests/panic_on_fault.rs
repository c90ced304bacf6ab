//! The `panic-on-fault` feature (the baseline's fail-deterministically
//! mode): a double alloc, a double free, an uncorrectable read and a scrub
//! that finds an uncorrectable word panic instead of returning the error.
//! Bad input is still an error, a corrected fault is still silent, and a
//! refused range has been undone before the panic.
//!
//! Run alone, as `.ci/run` does:
//! `cargo test -p eccmap --features panic-on-fault,fault-injection --test panic_on_fault`.
//! (The other test files expect returned errors and are off with this
//! feature.)
#![cfg(feature = "panic-on-fault")]

use eccmap::codes::{Hamming84, Secded32, Secded64};
use eccmap::{DualBitmap, EccBitmap, FaultInjection, PageState, PlainBitmap, StateError};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The panic message of `f`, which must panic.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let e = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(e) => e,
    };
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a text panic message")
}

fn raw<M: FaultInjection>(m: &M) -> Vec<u64> {
    (0..m.storage_words()).map(|i| m.storage_word(i)).collect()
}

/// Double alloc and double free panic, on every map, single and range.
fn double_alloc_and_free_panic<M: PageState + FaultInjection>(map: M) {
    map.alloc(7).unwrap();
    assert_eq!(
        panic_message(|| map.alloc(7)),
        "eccmap: double allocation of page 7"
    );
    assert_eq!(
        panic_message(|| map.free(8)),
        "eccmap: double free of page 8"
    );
    // A range refused on its last word: the pages already changed are put
    // back before the panic.
    map.alloc(90).unwrap();
    let before = raw(&map);
    assert_eq!(
        panic_message(|| map.alloc_range(0, 91)),
        "eccmap: double allocation of page 7"
    );
    assert_eq!(
        panic_message(|| map.alloc_range(8, 83)),
        "eccmap: double allocation of page 90"
    );
    assert_eq!(raw(&map), before, "undone before the panic");
    assert_eq!(
        panic_message(|| map.free_range(7, 2)),
        "eccmap: double free of page 8"
    );
    assert_eq!(raw(&map), before);
    let s = map.stats();
    assert_eq!((s.double_alloc, s.double_free), (3, 2));
    // Bad input is not a fault: still an error.
    assert_eq!(
        map.alloc(100),
        Err(StateError::OutOfRange {
            page: 100,
            pages: 100
        })
    );
    assert_eq!(
        map.free_range(0, 0),
        Err(StateError::EmptyRange { first: 0 })
    );
}

#[test]
fn plain_double_alloc_and_free_panic() {
    double_alloc_and_free_panic(PlainBitmap::with_pages(100));
}

#[test]
fn dual_double_alloc_and_free_panic() {
    double_alloc_and_free_panic(DualBitmap::with_pages(100));
}

#[test]
fn ecc_double_alloc_and_free_panic() {
    double_alloc_and_free_panic(EccBitmap::<Secded64>::with_pages(100));
    double_alloc_and_free_panic(EccBitmap::<Secded32>::with_pages(100));
    double_alloc_and_free_panic(EccBitmap::<Hamming84>::with_pages(100));
}

/// Two flips in one codeword: every operation that needs it panics, and so
/// does a scrub; the other word still answers.
#[test]
fn ecc_uncorrectable_read_panics() {
    let map = EccBitmap::<Secded64>::with_pages(114);
    map.flip_storage_bit(64 + 1).unwrap();
    map.flip_storage_bit(64 + 2).unwrap();
    let msg = "eccmap: uncorrectable state for pages 57..114";
    assert_eq!(panic_message(|| map.is_allocated(60)), msg);
    assert_eq!(panic_message(|| map.alloc(60)), msg);
    assert_eq!(panic_message(|| map.count_allocated()), msg);
    assert_eq!(panic_message(|| map.find_free(57)), msg);
    assert_eq!(
        panic_message(|| map.scrub()),
        "eccmap: scrub found 1 uncorrectable words"
    );
    assert_eq!(map.is_allocated(0), Ok(false));
    assert_eq!(map.stats().ue_count, 5);
}

/// A single flip is corrected, not a panic.
#[test]
fn ecc_corrected_fault_does_not_panic() {
    let map = EccBitmap::<Secded64>::with_pages(100);
    map.flip_storage_bit(5).unwrap();
    assert_eq!(map.is_allocated(5), Ok(false));
    assert_eq!(map.stats().ce_count, 1);
    assert!(map.scrub().is_clean());
}

/// The dual bitmap detects a single flip: that is a panic.
#[test]
fn dual_inconsistent_page_panics() {
    let map = DualBitmap::with_pages(100);
    map.flip_storage_bit(3).unwrap();
    let msg = "eccmap: uncorrectable state for pages 3..4";
    assert_eq!(panic_message(|| map.is_allocated(3)), msg);
    assert_eq!(panic_message(|| map.alloc(3)), msg);
    assert_eq!(
        panic_message(|| map.scrub()),
        "eccmap: scrub found 1 uncorrectable words"
    );
    assert_eq!(map.is_allocated(4), Ok(false));
}
