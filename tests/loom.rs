//! Model checks with loom: every interleaving (up to the preemption bound)
//! of a compare-and-swap update racing an in-place repair of the same word,
//! and racing a scrub (for 64-bit words, and for `Ecc128`'s 128-bit words
//! through a loom mutex standing in for `AtomicU128`); and of StripedBitmap's group protocol (updates racing
//! the group checks that rebuild or confirm a word). With the protocol's
//! in-flight count ignored, `striped_rebuild_races_update` fails at bound 3
//! (a rebuild from a torn snapshot loses a page).
//! And `PageState::restore` racing updates outside and inside its range,
//! and (striped) in its group.
//!
//! Under `--cfg loom` the library's atomics are loom's (`src/primitive.rs`),
//! so these run the library's own update, read, repair and scrub code.
//! Run (as `.ci/run` does):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom \
//!     cargo test --release -p eccmap --features fault-injection --test loom
//! ```
//!
//! The preemption bound is 3 unless `LOOM_MAX_PREEMPTIONS` says otherwise.
//!
//! What each model asserts, in every execution: the update lands, the
//! reader's answer is right, the word ends as the exact codeword of the
//! final state (the fault repaired and no update lost), and `ce_count` is
//! exactly 1 whichever thread's repair landed.
#![cfg(loom)]

use eccmap::codes::{Hamming84, LaneCode, Secded64};
use eccmap::{DualBitmap, EccBitmap, FaultInjection, PageState, StateError, StripedBitmap};
use loom::sync::Arc;
use loom::thread;

/// Runs `f` under loom for every interleaving, and checks that there were
/// many (a model that explores one schedule proves nothing).
fn check<F: Fn() + Sync + Send + 'static>(min_executions: usize, f: F) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc as StdArc;
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    let runs = StdArc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    b.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        f()
    });
    let runs = runs.load(Ordering::Relaxed);
    eprintln!("{runs} executions");
    assert!(runs >= min_executions, "only {runs} executions explored");
}

/// The stored word of a one-word Secded64 map whose allocated pages are
/// `pages` (a page mask).
fn word64(pages: u64) -> u64 {
    Secded64::encode(pages)
}

/// An update of one page races a read of another page of the same word;
/// the word holds a single-bit fault, which the read repairs in place by
/// CAS, or the update repairs as part of its own CAS.
#[test]
fn update_races_read_repair() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        map.alloc(10).unwrap();
        // Page 40's data bit: read unrepaired, page 40 would look allocated.
        map.flip_storage_bit(40).unwrap();
        let m = map.clone();
        let updater = thread::spawn(move || m.alloc(3));
        let m = map.clone();
        let reader = thread::spawn(move || (m.is_allocated(40), m.is_allocated(10)));
        assert_eq!(updater.join().unwrap(), Ok(()));
        assert_eq!(reader.join().unwrap(), (Ok(false), Ok(true)));
        assert_eq!(map.storage_word(0), word64(1 << 3 | 1 << 10));
        assert_eq!(map.stats().ce_count, 1);
        assert!(map.scrub().is_clean());
    });
}

/// A range update races a scrub; the fault is in a check bit. Whoever
/// repairs it, it is counted once; the scrub reports it only if its own
/// repair landed, and never reports an uncorrectable word.
#[test]
fn update_races_scrub() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        map.alloc_range(8, 4).unwrap();
        map.flip_storage_bit(60).unwrap();
        let m = map.clone();
        let updater = thread::spawn(move || m.free_range(9, 2));
        let m = map.clone();
        let scrubber = thread::spawn(move || m.scrub());
        assert_eq!(updater.join().unwrap(), Ok(()));
        let r = scrubber.join().unwrap();
        assert_eq!(r.uncorrectable, 0, "{r:?}");
        assert!(r.corrected <= 1);
        assert_eq!(map.storage_word(0), word64(1 << 8 | 1 << 11));
        assert_eq!(map.stats().ce_count, 1);
        assert_eq!(map.stats().ue_count, 0);
    });
}

/// Two updates of different pages and a scrub, all on the damaged word: no
/// update is lost and the fault is counted once.
#[test]
fn two_updates_and_scrub_race_repair() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        map.flip_storage_bit(20).unwrap();
        let m = map.clone();
        let a = thread::spawn(move || m.alloc(3));
        let m = map.clone();
        let b = thread::spawn(move || m.free(20).map(|()| "freed"));
        let r = map.scrub();
        assert_eq!(a.join().unwrap(), Ok(()));
        // Page 20 was free: the flipped bit must not be believed.
        assert_eq!(b.join().unwrap(), Err(StateError::DoubleFree { page: 20 }));
        assert_eq!(r.uncorrectable, 0);
        assert_eq!(map.storage_word(0), word64(1 << 3));
        let s = map.stats();
        assert_eq!((s.ce_count, s.double_free), (1, 1));
    });
}

/// Two threads allocate the same page of a damaged word: exactly one wins,
/// the other gets `DoubleAlloc`, and the fault is counted once.
#[test]
fn same_page_alloc_race_on_damaged_word() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        map.flip_storage_bit(63).unwrap();
        let m = map.clone();
        let a = thread::spawn(move || m.alloc(5));
        let m = map.clone();
        let b = thread::spawn(move || m.alloc(5));
        let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
        let dbl = Err(StateError::DoubleAlloc { page: 5 });
        assert!(
            (ra == Ok(()) && rb == dbl) || (ra == dbl && rb == Ok(())),
            "{ra:?} {rb:?}"
        );
        assert_eq!(map.storage_word(0), word64(1 << 5));
        let s = map.stats();
        assert_eq!((s.ce_count, s.double_alloc), (1, 1));
    });
}

/// Hamming84 keeps eight codewords in one word: an update of the first
/// races a read (and repair) of the second, which holds the fault.
#[test]
fn hamming84_lanes_update_races_repair_of_other_lane() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Hamming84>::with_pages(32));
        map.alloc(4).unwrap();
        map.flip_storage_bit(8).unwrap(); // page 4's own data bit
        let m = map.clone();
        let updater = thread::spawn(move || m.alloc(0));
        let m = map.clone();
        let reader = thread::spawn(move || m.is_allocated(4));
        assert_eq!(updater.join().unwrap(), Ok(()));
        assert_eq!(reader.join().unwrap(), Ok(true));
        let want = (0..8).fold(0, |v, l| {
            let data = if l < 2 { 1 } else { 0 };
            v | Hamming84::encode(data) << (8 * l)
        });
        assert_eq!(map.storage_word(0), want);
        assert_eq!(map.stats().ce_count, 1);
    });
}

// StripedBitmap: the group protocol. A two-word map is one group of two
// members, so every update of word 0 races every group check that word 1's
// damage triggers. A check that read word 0 after an update's CAS but the
// parity before its retire would rebuild word 1 wrong (off by the update's
// page): these models assert it never does, in any interleaving, and that
// no check gives up or reports a fault that is not there.

/// Word 1 of a fresh two-word striped map, lost (zeroed), is rebuilt by a
/// scrub that races an update of word 0.
#[test]
fn striped_rebuild_races_update() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(60).unwrap(); // word 1 holds page 60
        map.write_storage_word(1, 0).unwrap();
        let m = map.clone();
        let t = thread::spawn(move || m.alloc(3).unwrap());
        let r = map.scrub();
        t.join().unwrap();
        assert_eq!(r.uncorrectable, 0, "{r:?}");
        assert_eq!(map.is_allocated(60), Ok(true));
        assert_eq!(map.is_allocated(61), Ok(false));
        assert_eq!(map.is_allocated(3), Ok(true));
        assert_eq!(map.stats().ce_count, 1);
        assert_eq!(map.stats().ue_count, 0);
        assert!(map.scrub().is_clean());
    });
}

/// As above, with a read as the checker, and an alloc and then a free of
/// the same page as the update: word 0 and the group's sum both end where
/// they began, so only the count and the dirty flag (set by an announce
/// that finds the checker holding the group) can tell a checker that read
/// word 0 between the two that its snapshot is torn. (Loom's bounded search
/// did not reach that schedule when the dirty flag was removed, at bounds
/// 3 and 6; the argument for it is in docs/design.md.)
#[test]
fn striped_rebuild_races_alloc_then_free() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(60).unwrap();
        map.write_storage_word(1, 0).unwrap();
        let m = map.clone();
        let t = thread::spawn(move || {
            m.alloc(3).unwrap();
            m.free(3).unwrap();
        });
        let read = map.is_allocated(60);
        t.join().unwrap();
        assert_eq!(read, Ok(true));
        assert_eq!(map.is_allocated(60), Ok(true));
        assert_eq!(map.is_allocated(3), Ok(false));
        assert_eq!(map.stats().ce_count, 1);
        assert!(map.scrub().is_clean());
    });
}

/// A read of word 1, which holds a single-bit fault, must have the group
/// confirm the correction while word 0 is being updated (alloc then free).
#[test]
fn striped_confirmed_correction_races_updates() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(70).unwrap();
        map.flip_storage_bit(64 + 13).unwrap(); // page 57 + 13 = 70 flipped
        let m = map.clone();
        let t = thread::spawn(move || {
            m.alloc(5).unwrap();
            m.free(5).unwrap();
        });
        assert_eq!(map.is_allocated(70), Ok(true));
        t.join().unwrap();
        assert_eq!(map.is_allocated(5), Ok(false));
        assert_eq!(map.stats().ce_count, 1);
        assert_eq!(map.stats().ue_count, 0);
        assert!(map.scrub().is_clean());
    });
}

/// Two checkers (a scrub and a read that needs the group) race an update.
/// Checkers wait for each other by spinning with a bounded budget, and loom
/// also explores the unfair schedules where one spins out its budget while
/// the other is never run: there a checker gives up and calls the group
/// busy, which is no fault: the scrub reports nothing uncorrectable, and
/// the read answers from word 1's own code, which (all ones) is beyond it:
/// Uncorrectable, honest, not wrong. What must hold in every execution: no
/// wrong answer, no torn rebuild, no scrub reporting a fault, one repair
/// counted once, and a final scrub leaves the right state.
#[test]
fn striped_two_checkers_and_update() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.write_storage_word(1, u64::MAX).unwrap();
        let m = map.clone();
        let t = thread::spawn(move || m.alloc(1).unwrap());
        let m2 = map.clone();
        let s = thread::spawn(move || m2.scrub().uncorrectable);
        let read = map.is_allocated(100);
        t.join().unwrap();
        assert_eq!(s.join().unwrap(), 0);
        assert!(
            matches!(
                read,
                Ok(false)
                    | Err(StateError::Uncorrectable {
                        first: 57,
                        count: 57
                    })
            ),
            "{read:?}"
        );
        // The repair lands in one of the three checks, whichever got the
        // group still first, and only once.
        assert_eq!(map.scrub().uncorrectable, 0);
        assert!(map.scrub().is_clean());
        assert_eq!(map.stats().ce_count, 1);
        assert_eq!(map.is_allocated(100), Ok(false));
        assert_eq!(map.count_allocated(), Ok(1));
    });
}

/// A single-bit fault in word 1 (page 70's bit: read unrepaired, the page
/// would look free) meets an update of word 1 and a read of it, while word
/// 0 is updated. Whichever check gets the group still repairs the fault;
/// a check that gives up with the group busy falls back to word 1's own
/// code (the read answers without writing, the update carries the in-word
/// repair, announced and retired like any update). In every execution: no
/// `Uncorrectable`, the right answers, the fault repaired exactly once,
/// and the group's sum holds every update (a final scrub finds nothing,
/// and word 1 lost is rebuilt with both its pages).
#[test]
fn striped_single_bit_fault_racing_updates_is_never_uncorrectable() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(70).unwrap();
        map.flip_storage_bit(64 + 13).unwrap();
        let m = map.clone();
        let a = thread::spawn(move || m.alloc(5));
        let m = map.clone();
        let b = thread::spawn(move || m.alloc(61));
        let read = map.is_allocated(70);
        assert_eq!(a.join().unwrap(), Ok(()));
        assert_eq!(b.join().unwrap(), Ok(()));
        assert_eq!(read, Ok(true));
        assert_eq!(map.stats().ue_count, 0);
        let r = map.scrub();
        assert_eq!((r.uncorrectable, r.busy), (0, 0), "{r:?}");
        assert_eq!(map.stats().ce_count, 1);
        assert!(map.scrub().is_clean());
        map.write_storage_word(1, 0).unwrap();
        assert_eq!(map.is_allocated(61), Ok(true));
        assert_eq!(map.is_allocated(70), Ok(true));
        assert_eq!(map.count_allocated(), Ok(3));
        assert_eq!(map.stats().ce_count, 2);
    });
}

/// 15 updaters of the group stalled in flight (their slots written into
/// the count, as their announces would leave it): an update of word 0
/// waits out its bound and marks the group stale (contended), then an
/// update of word 1 meets its single-bit fault, while a read meets the
/// same fault. In every execution both answer right (each check finds the
/// group busy or stale and falls back to the word's own code), nothing is
/// reported, the fault is repaired once (by the update, by the read if the
/// group is already stale, or by the scrub after the stalled updaters
/// retire), and `scrub_exclusive` recomputes the sum without counting the
/// contention as a repair; the group then rebuilds a lost member.
#[test]
fn striped_group_stale_by_contention_raises_no_alarm() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(70).unwrap();
        let parity = map.storage_word(2);
        map.write_storage_word(2, parity + 15).unwrap();
        map.flip_storage_bit(64 + 13).unwrap();
        let m = map.clone();
        let a = thread::spawn(move || (m.alloc(5), m.alloc(61)));
        let read = map.is_allocated(70);
        assert_eq!(a.join().unwrap(), (Ok(()), Ok(())));
        assert_eq!(read, Ok(true));
        // The stalled updaters retire, having changed nothing.
        let p = map.storage_word(2);
        assert_eq!(p & 0x1F, 0x1F, "count full, group stale");
        map.write_storage_word(2, p - 15).unwrap();
        let r = map.scrub();
        assert_eq!((r.uncorrectable, r.busy), (0, 0), "{r:?}");
        assert_eq!(map.stats().ce_count, 1);
        let mut map = Arc::try_unwrap(map).ok().unwrap();
        let r = map.scrub_exclusive();
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(map.stats().ce_count, 1);
        assert_eq!(map.stats().ue_count, 0);
        map.write_storage_word(0, 0).unwrap();
        assert_eq!(map.is_allocated(5), Ok(true));
        assert_eq!(map.count_allocated(), Ok(3));
        assert_eq!(map.stats().ce_count, 2);
    });
}

// DualBitmap: the baseline's check-then-act race. Its update checks a
// page's two copies, then updates them with two atomics that are not atomic
// together. In the kernel the page allocator above it never lets two threads
// claim the same page, but a caller that does (FrameAllocator does: threads
// race for a free page, and the loser is told it lost) can cross two updates
// of one page so that both copies end equal: a false alarm, with no fault.

/// Thread B checks page 5 free and is preempted; thread A allocates page 5
/// and frees it, and is preempted between the two atomics of the free; B
/// then wins page 5 on the primary and clears the secondary, and A's last
/// atomic sets it again. Loom finds that schedule: the pair is left
/// inconsistent. (This test passes because the race exists; the ECC maps
/// update each word with one CAS and have no such window.)
#[test]
#[should_panic(expected = "dual bitmap left inconsistent")]
fn dual_bitmap_claim_racing_alloc_and_free_leaves_the_copies_inconsistent() {
    check(1, || {
        let map = Arc::new(DualBitmap::with_pages(64));
        let m = map.clone();
        let t = thread::spawn(move || {
            let _ = m.alloc(5);
        });
        if map.alloc(5).is_ok() {
            map.free(5).unwrap();
        }
        t.join().unwrap();
        assert!(map.scrub().is_clean(), "dual bitmap left inconsistent");
    });
}

/// The same race on an ECC map: every interleaving leaves it consistent.
#[test]
fn ecc_claim_racing_alloc_and_free_stays_consistent() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(64));
        let m = map.clone();
        let t = thread::spawn(move || m.alloc(5).is_ok());
        let mine = map.alloc(5).is_ok();
        if mine {
            map.free(5).unwrap();
        }
        let theirs = t.join().unwrap();
        assert!(mine || theirs, "one claim wins while the page is free");
        assert!(map.scrub().is_clean());
        // Mine was freed again; theirs, if it won, holds the page.
        assert_eq!(map.is_allocated(5), Ok(theirs));
    });
}

/// A restore of pages 0..8 races updates outside the range in the same
/// word, which holds a check-bit fault (repaired by whichever lands
/// first, or rewritten away by the restore): the updates are kept, the
/// range is the truth, the word ends as the exact codeword, and the one
/// rewrite is counted (docs/safety.md, "Restoring state from ground
/// truth").
#[test]
fn restore_races_updates_outside_the_range() {
    check(10, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        map.alloc(10).unwrap();
        map.flip_storage_bit(60).unwrap();
        let m = map.clone();
        let t = thread::spawn(move || {
            m.alloc(20).unwrap();
            m.free(10).unwrap();
        });
        let r = map.restore(0, 8, &|p| p < 3).unwrap();
        t.join().unwrap();
        assert_eq!((r.words, r.pages), (1, 3));
        assert_eq!(map.storage_word(0), word64(0b111 | 1 << 20));
        assert!(map.stats().ce_count <= 1);
        assert_eq!(map.stats().restored, 1);
        assert_eq!(map.stats().ue_count, 0);
        assert!(map.scrub().is_clean());
    });
}

/// A restore races an alloc of a page inside its range: the alloc lands
/// before the restore's write (and the truth, page 5 free, overwrites it)
/// or after (on top of the truth); nothing else, and both happen.
#[test]
fn restore_races_an_update_inside_the_range() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    check(5, || {
        let map = Arc::new(EccBitmap::<Secded64>::with_pages(57));
        let m = map.clone();
        let t = thread::spawn(move || m.alloc(5));
        let r = map.restore(0, 8, &|p| p == 2).unwrap();
        assert_eq!(t.join().unwrap(), Ok(()));
        let w = map.storage_word(0);
        let before = w == word64(1 << 2) && r.pages == 2;
        let after = w == word64(1 << 2 | 1 << 5) && r.pages == 1;
        assert!(before || after, "{w:#x} {r:?}");
        SEEN[usize::from(after)].fetch_add(1, Ordering::Relaxed);
        assert!(map.scrub().is_clean());
    });
    assert!(
        SEEN.iter().all(|n| n.load(Ordering::Relaxed) > 0),
        "{SEEN:?}"
    );
}

/// A striped restore races an update of another member of its group: the
/// group's sum ends exact (the restore folds in its change as an announced
/// update), and an exclusive scrub finds nothing to do.
#[test]
fn striped_restore_races_an_update_in_its_group() {
    check(10, || {
        let map = Arc::new(StripedBitmap::with_pages(114));
        map.alloc(3).unwrap();
        let m = map.clone();
        let t = thread::spawn(move || m.alloc(60).unwrap());
        let r = map.restore(0, 57, &|p| p == 7 || p == 9).unwrap();
        t.join().unwrap();
        assert_eq!((r.words, r.pages), (1, 3));
        // Word 0's mask (pages 7, 9) plus word 1's (page 60, its bit 3),
        // above the control field.
        assert_eq!(map.storage_word(2), (1 << 7 | 1 << 9 | 1 << 3) << 7);
        let mut map = Arc::try_unwrap(map).ok().unwrap();
        assert!(map.scrub_exclusive().is_clean());
        assert_eq!(map.stats().ce_count, 0);
    });
}

// Ecc128: loom has no 128-bit atomics; under `--cfg loom` the map's
// `AtomicU128` is a loom mutex around a `u128` (src/primitive.rs), each
// operation one critical section and one scheduling point, so the same
// update, read, repair and scrub code runs under the model checker.

/// Cell 0 of an `Ecc128` holding the pages of mask `pages`: the codeword,
/// keyed by index 0 (`IndexKeys`' docs).
fn cell128(pages: u128) -> u128 {
    use eccmap::codes::Secded128;
    let key = eccmap::IndexKeys::coset(0) ^ Secded128::MATRIX.coset();
    Secded128::portable().encode(pages) ^ u128::from(key) << 112
}

/// Cell 0 of `map` through `FaultInjection`'s two storage words.
fn cell0(map: &eccmap::Ecc128) -> u128 {
    u128::from(map.storage_word(0)) | u128::from(map.storage_word(1)) << 64
}

/// An update of one page races a read of another page of the same 128-bit
/// word, which holds a single-bit fault in its upper half: the read
/// repairs it in place, or the update's own compare-and-swap does.
#[test]
fn ecc128_update_races_read_repair() {
    check(10, || {
        let map = Arc::new(eccmap::Ecc128::with_pages(112));
        map.alloc(100).unwrap();
        // Page 90's data bit (upper half): read unrepaired, page 90 would
        // look allocated.
        map.flip_storage_bit(90).unwrap();
        let m = map.clone();
        let updater = thread::spawn(move || m.alloc(70));
        let m = map.clone();
        let reader = thread::spawn(move || (m.is_allocated(90), m.is_allocated(100)));
        assert_eq!(updater.join().unwrap(), Ok(()));
        assert_eq!(reader.join().unwrap(), (Ok(false), Ok(true)));
        assert_eq!(cell0(&map), cell128(1 << 70 | 1 << 100));
        assert_eq!(map.stats().ce_count, 1);
        assert!(map.scrub().is_clean());
    });
}

/// A range update races a scrub; the fault is in a check bit. Whoever
/// repairs it, it is counted once, and the scrub never reports an
/// uncorrectable word.
#[test]
fn ecc128_update_races_scrub() {
    check(10, || {
        let map = Arc::new(eccmap::Ecc128::with_pages(112));
        map.alloc_range(60, 8).unwrap();
        map.flip_storage_bit(120).unwrap();
        let m = map.clone();
        let updater = thread::spawn(move || m.free_range(61, 6));
        let m = map.clone();
        let scrubber = thread::spawn(move || m.scrub());
        assert_eq!(updater.join().unwrap(), Ok(()));
        let r = scrubber.join().unwrap();
        assert_eq!(r.uncorrectable, 0, "{r:?}");
        assert!(r.corrected <= 1);
        assert_eq!(cell0(&map), cell128(1 << 60 | 1 << 67));
        let s = map.stats();
        assert_eq!((s.ce_count, s.ue_count), (1, 0));
    });
}

/// Two threads allocate the same page of a damaged 128-bit word: exactly
/// one wins, the other gets `DoubleAlloc`, and the fault is counted once.
#[test]
fn ecc128_same_page_alloc_race_on_damaged_word() {
    check(10, || {
        let map = Arc::new(eccmap::Ecc128::with_pages(112));
        map.flip_storage_bit(127).unwrap();
        let m = map.clone();
        let a = thread::spawn(move || m.alloc(111));
        let m = map.clone();
        let b = thread::spawn(move || m.alloc(111));
        let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
        let dbl = Err(StateError::DoubleAlloc { page: 111 });
        assert!(
            (ra == Ok(()) && rb == dbl) || (ra == dbl && rb == Ok(())),
            "{ra:?} {rb:?}"
        );
        assert_eq!(cell0(&map), cell128(1 << 111));
        let s = map.stats();
        assert_eq!((s.ce_count, s.double_alloc), (1, 1));
    });
}
