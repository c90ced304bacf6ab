//! Issue 12's reproductions (items 1, 3 and 4), each a test that failed
//! before the fix.
//!
//! The stress tests run for `ECCMAP_STRESS_SECS` seconds each (default 2).
#![cfg(not(feature = "panic-on-fault"))]

use eccmap::codes::Secded64;
use eccmap::{
    AtomicWord, Claim, DualBitmap, EccBitmap, FaultInjection, FrameAllocator, NativeWord,
    PageState, PlainBitmap, StateError, StripedBitmap, Word,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testkit::stress_time;

/// `PageMap` with the default features; named so that the page layout
/// (57 pages per word) is fixed whatever the features.
type Ecc = EccBitmap<Secded64>;

/// Runs `a` and `b` on two threads until the stress time is up.
fn race(a: impl Fn() + Sync, b: impl Fn() + Sync) {
    let stop = AtomicBool::new(false);
    let end = Instant::now() + stress_time();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                a();
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                b();
            }
        });
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
    });
}

/// Thread A owns pages 0..57 and keeps trying `free_range(0, 58)` (page 57,
/// in the next word, is free): it must fail with `DoubleFree { page: 57 }`
/// and change nothing. Thread B keeps trying to claim each of A's pages:
/// it must never succeed. Before the fix, the first word was freed, B
/// claimed a page of it, and A's undo failed silently.
#[test]
fn failed_free_range_changes_nothing_under_a_racing_claim() {
    let map = Ecc::with_pages(114);
    map.alloc_range(0, 57).unwrap();
    let claimed = AtomicUsize::new(0);
    race(
        || {
            assert_eq!(
                map.free_range(0, 58),
                Err(StateError::DoubleFree { page: 57 })
            )
        },
        || {
            for p in 0..57 {
                match map.try_alloc_range(p, 1) {
                    Ok(Claim::Busy { page }) => assert_eq!(page, p),
                    Ok(Claim::Claimed) => {
                        claimed.fetch_add(1, Ordering::Relaxed);
                    }
                    // `Claim` is `#[non_exhaustive]`.
                    Ok(c) => panic!("{c:?}"),
                    Err(e) => panic!("{e}"),
                }
            }
        },
    );
    assert_eq!(claimed.load(Ordering::Relaxed), 0, "B claimed A's pages");
    assert_eq!(map.count_allocated(), Ok(57));
    assert_eq!(map.find_free(0), Ok(Some(57)));
}

/// The same hole through the frame allocator: A holds pages 0..57 and
/// keeps trying `dealloc_contiguous(0, 58)`, which must fail (the word of
/// page 57 is damaged beyond repair) and free nothing; B keeps calling
/// `alloc()`, which can only find pages A transiently freed.
#[test]
fn failed_dealloc_contiguous_frees_nothing_under_a_racing_alloc() {
    let frames = FrameAllocator::new(Ecc::with_pages(114));
    frames.reserve(0, 57).unwrap();
    // Two flipped data bits in word 1 (pages 57..114): uncorrectable.
    frames.map().flip_storage_bit(64).unwrap();
    frames.map().flip_storage_bit(65).unwrap();
    let handed_out = AtomicUsize::new(0);
    race(
        || {
            assert!(matches!(
                frames.dealloc_contiguous(0, 58),
                Err(StateError::Uncorrectable { first: 57, .. })
            ))
        },
        || match frames.alloc() {
            Ok(Some(_)) => {
                handed_out.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) | Err(StateError::Uncorrectable { .. }) => {}
            Err(e) => panic!("{e}"),
        },
    );
    assert_eq!(
        handed_out.load(Ordering::Relaxed),
        0,
        "alloc() handed out a page of a failed dealloc_contiguous"
    );
    assert_eq!(frames.free_pages(), 114 - 57);
    for p in 0..57 {
        assert_eq!(frames.map().is_allocated(p), Ok(true), "page {p}");
    }
}

/// `alloc_range(0, 114)` keeps failing on page 60 (allocated) while another
/// thread keeps calling `free(5)` (page 5 is free): every `free(5)` must be
/// refused as a double free, and nothing may stay allocated. Before the
/// fix, the free slipped into the window in which the first word was
/// allocated, the undo failed, and 56 pages stayed allocated for good.
#[test]
fn failed_alloc_range_hides_no_double_free() {
    let map = Ecc::with_pages(114);
    map.alloc(60).unwrap();
    let freed = AtomicUsize::new(0);
    race(
        || {
            assert_eq!(
                map.alloc_range(0, 114),
                Err(StateError::DoubleAlloc { page: 60 })
            )
        },
        || match map.free(5) {
            Ok(()) => {
                freed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => assert_eq!(e, StateError::DoubleFree { page: 5 }),
        },
    );
    assert_eq!(
        freed.load(Ordering::Relaxed),
        0,
        "a double free went undetected"
    );
    assert_eq!(map.count_allocated(), Ok(1));
}

/// The undo path itself: page `toggled` is toggled by a third thread, so
/// that `alloc_range(0, pages)` sometimes passes its check and is refused
/// at that page only after it has allocated the words before it;
/// meanwhile a buggy thread keeps calling `free(5)`. Every `free(5)` that
/// succeeds must be accounted for: either A held page 5 (its
/// `alloc_range` succeeded), or A's call reported the conflict
/// (`UndoConflict` naming page 5). At the end every page is free: no undo
/// is dropped.
fn undo_conflict_is_reported_not_dropped_on<M: PageState + Sync>(
    map: M,
    pages: usize,
    toggled: usize,
) {
    assert!(toggled > 5 && toggled < pages);
    let stop = AtomicBool::new(false);
    let end = Instant::now() + stress_time();
    // The conflict needs a narrow interleaving: run past `end` until it was
    // reported at least once (at most a minute more).
    let cap = end + Duration::from_secs(60);
    let reports = AtomicUsize::new(0);
    let (a, c) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            // Holds, reports, refusals at `toggled`, A's own double frees.
            let mut t = (0usize, 0usize, 0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                match map.alloc_range(0, pages) {
                    Ok(()) => {
                        t.0 += 1;
                        // The buggy thread may have freed page 5 meanwhile.
                        match map.free(5) {
                            Ok(()) => {}
                            Err(StateError::DoubleFree { page: 5 }) => t.3 += 1,
                            Err(e) => panic!("{e}"),
                        }
                        map.free_range(0, 5).unwrap();
                        map.free_range(6, pages - 6).unwrap();
                    }
                    Err(StateError::DoubleAlloc { page }) if page == toggled => t.2 += 1,
                    Err(StateError::UndoConflict {
                        refused,
                        page,
                        count,
                    }) => {
                        assert_eq!((refused, page, count), (toggled, 5, 1));
                        t.1 += 1;
                        reports.fetch_add(1, Ordering::Relaxed);
                        // Everything else was put back, and page 5 is free.
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            t
        });
        let c = s.spawn(|| {
            // Successful and refused frees of page 5.
            let (mut freed, mut refused) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                match map.free(5) {
                    Ok(()) => freed += 1,
                    Err(e) => {
                        assert_eq!(e, StateError::DoubleFree { page: 5 });
                        refused += 1;
                    }
                }
            }
            (freed, refused)
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if map.try_alloc_range(toggled, 1) == Ok(Claim::Claimed) {
                    std::hint::spin_loop();
                    map.free(toggled).unwrap();
                }
            }
        });
        while Instant::now() < end || (reports.load(Ordering::Relaxed) == 0 && Instant::now() < cap)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        (a.join().unwrap(), c.join().unwrap())
    });
    let ((held, reported, refused_at, a_double_frees), (freed, c_double_frees)) = (a, c);
    eprintln!(
        "alloc_range held {held}, undo conflicts reported {reported}, free(5) succeeded {freed}"
    );
    assert!(reported > 0, "the undo conflict was never reached");
    assert!(
        freed <= held + reported,
        "{freed} frees of page 5 succeeded, only {held} holds and {reported} reports"
    );
    assert_eq!(map.count_allocated(), Ok(0));
    // Every refusal is counted once: a refused range at `toggled` (also when
    // its undo then conflicts), each refused free of page 5, and each page
    // an undo could not put back (page 5, freed twice).
    let st = map.stats();
    assert_eq!(st.double_alloc as usize, refused_at + reported, "{st:?}");
    assert_eq!(
        st.double_free as usize,
        a_double_frees + c_double_frees + reported,
        "{st:?}"
    );
    assert_eq!(st.ue_count, 0, "{st:?}");
}

#[test]
fn undo_conflict_is_reported_not_dropped() {
    // Two words: the refusal comes from the last word's update.
    undo_conflict_is_reported_not_dropped_on(Ecc::with_pages(114), 114, 60);
}

/// Four words, the toggled page in the third: the refusal comes from the
/// update of a whole word in the middle of the range (`update_wholes`),
/// after the first and second words were updated; an `UndoConflict`
/// naming that page shows that path was taken, and the final state that
/// its undo put back both words.
#[test]
fn undo_conflict_in_a_whole_word_is_reported_not_dropped() {
    undo_conflict_is_reported_not_dropped_on(Ecc::with_pages(4 * 57), 4 * 57, 2 * 57 + 3);
}

/// The same on the keyed map, whose whole words walk their key classes.
#[test]
fn undo_conflict_in_a_whole_word_is_reported_not_dropped_keyed() {
    undo_conflict_is_reported_not_dropped_on(
        eccmap::KeyedEccBitmap::<Secded64>::with_pages(4 * 57),
        4 * 57,
        2 * 57 + 3,
    );
}

/// Within one word of the plain bitmap: A holds pages 0..10 and keeps
/// trying `free_range(0, 11)` (page 10 is free); B keeps trying to claim
/// A's pages. Before the fix the word was cleared by `fetch_and` and put
/// back by a separate `fetch_or`, and B claimed pages in between.
#[test]
fn plain_bitmap_word_update_is_one_step() {
    let map = PlainBitmap::with_pages(64);
    map.alloc_range(0, 10).unwrap();
    let claimed = AtomicUsize::new(0);
    race(
        || {
            assert_eq!(
                map.free_range(0, 11),
                Err(StateError::DoubleFree { page: 10 })
            )
        },
        || {
            for p in 0..10 {
                if map.try_alloc_range(p, 1) == Ok(Claim::Claimed) {
                    claimed.fetch_add(1, Ordering::Relaxed);
                }
            }
        },
    );
    assert_eq!(claimed.load(Ordering::Relaxed), 0, "B claimed A's pages");
    assert_eq!(map.count_allocated(), Ok(10));
}

/// `free_pages()` on a one-page allocator with two threads allocating and
/// deallocating: it must stay within 0..=1 (before the fix it wrapped to
/// `usize::MAX`).
#[test]
fn free_pages_never_wraps_or_exceeds_the_page_count() {
    let frames = FrameAllocator::new(Ecc::with_pages(1));
    let worst = AtomicUsize::new(0);
    let cycle = || {
        if let Ok(Some(p)) = frames.alloc() {
            worst.fetch_max(frames.free_pages(), Ordering::Relaxed);
            frames.dealloc(p).unwrap();
        }
        worst.fetch_max(frames.free_pages(), Ordering::Relaxed);
    };
    race(cycle, cycle);
    assert!(
        worst.load(Ordering::Relaxed) <= 1,
        "free_pages() = {}",
        worst.load(Ordering::Relaxed)
    );
    assert_eq!(frames.free_pages(), 1);
}

/// Storage words filled with `fill`, as a `&'static mut` for a constructor
/// and a raw pointer to read them back once the constructor has returned.
/// (Cells of word `W`, each `fill` cut to the word.)
fn storage<W: Word>(n: usize, fill: u64) -> (&'static mut [W::Atomic], *const W::Atomic) {
    let raw: *mut [W::Atomic] =
        Box::into_raw((0..n).map(|_| W::Atomic::new(W::from_u64(fill))).collect());
    // SAFETY: `raw` comes from a leaked box; the reference is the only one
    // until the constructor returns, and the test reads the words through
    // `raw` only after that.
    (unsafe { &mut *raw }, raw as *const W::Atomic)
}

/// The words behind `ptr`, read back after the constructor failed.
fn words<W: Word>(ptr: *const W::Atomic, n: usize) -> Vec<u64> {
    // SAFETY: `ptr` points to `n` leaked words that nothing else uses now.
    let s = unsafe { std::slice::from_raw_parts(ptr, n) };
    s.iter()
        .map(|w| w.load(Ordering::Relaxed).low_u64())
        .collect()
}

const FILL: u64 = 0xDEAD_BEEF_F00D_CAFE;

/// `DualBitmap::from_static` over one buffer: the primary in its first
/// `bitmap_words` words, the complemented secondary in the next as many,
/// the words past them untouched.
#[test]
fn dual_from_static_puts_primary_then_secondary_in_one_buffer() {
    let pages = 3 * NativeWord::BITS as usize - 5;
    let n = DualBitmap::bitmap_words(pages);
    assert_eq!((n, DualBitmap::words_for(pages)), (3, 6));
    let (s, p) = storage::<NativeWord>(2 * n + 2, FILL);
    let map = DualBitmap::from_static(s, pages).unwrap();
    let bits = NativeWord::BITS as usize;
    let used = [0, 3, bits + 1, pages - 1];
    for page in used {
        map.alloc(page).unwrap();
    }
    assert_eq!(map.scrub().words, n);
    drop(map);
    let mut primary = vec![0u64; n];
    for page in used {
        primary[page / bits] |= 1 << (page % bits);
    }
    let ones = NativeWord::MAX.low_u64();
    let secondary: Vec<u64> = primary.iter().map(|w| !w & ones).collect();
    let want: Vec<u64> = primary
        .iter()
        .chain(&secondary)
        .copied()
        .chain([fill::<NativeWord>(); 2])
        .collect();
    assert_eq!(words::<NativeWord>(p, 2 * n + 2), want);
}

/// `FILL` as a cell of word `W` holds it.
fn fill<W: Word>() -> u64 {
    W::from_u64(FILL).low_u64()
}

/// A constructor that fails on its second buffer's size must not have
/// written its first (before the fix both two-buffer constructors did).
#[test]
fn failed_from_static_writes_nothing() {
    let pages = 1000;
    let n = DualBitmap::bitmap_words(pages);
    let (first, p) = storage::<NativeWord>(n, FILL);
    let (second, _) = storage::<NativeWord>(n - 1, FILL);
    assert_eq!(
        DualBitmap::from_static_pair(first, second, pages).err(),
        Some(StateError::StorageTooSmall {
            needed: n,
            given: n - 1
        })
    );
    assert_eq!(
        words::<NativeWord>(p, n),
        vec![fill::<NativeWord>(); n],
        "DualBitmap wrote its primary"
    );

    let n = StripedBitmap::words_for(pages);
    let g = StripedBitmap::parity_words_for(pages);
    let (data, p) = storage::<u64>(n, FILL);
    let (parity, _) = storage::<u64>(g - 1, FILL);
    assert_eq!(
        StripedBitmap::from_static(data, parity, pages).err(),
        Some(StateError::StorageTooSmall {
            needed: g,
            given: g - 1
        })
    );
    assert_eq!(
        words::<u64>(p, n),
        vec![FILL; n],
        "StripedBitmap wrote its data"
    );

    // The one-buffer constructors, for completeness (the dual bitmap's
    // splits its buffer in two).
    let n = DualBitmap::words_for(pages);
    let (s, p) = storage::<NativeWord>(n - 1, FILL);
    assert_eq!(
        DualBitmap::from_static(s, pages).err(),
        Some(StateError::StorageTooSmall {
            needed: n,
            given: n - 1
        })
    );
    assert_eq!(
        words::<NativeWord>(p, n - 1),
        vec![fill::<NativeWord>(); n - 1]
    );
    let n = Ecc::words_for(pages);
    let (s, p) = storage::<u64>(n - 1, FILL);
    assert!(Ecc::from_static(s, pages).is_err());
    assert_eq!(words::<u64>(p, n - 1), vec![FILL; n - 1]);
    let n = PlainBitmap::words_for(pages);
    let (s, p) = storage::<NativeWord>(n - 1, FILL);
    assert!(PlainBitmap::from_static(s, pages).is_err());
    assert_eq!(
        words::<NativeWord>(p, n - 1),
        vec![fill::<NativeWord>(); n - 1]
    );
}
