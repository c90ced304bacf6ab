//! The 128-bit map through `FaultInjection`: every single flipped bit of a
//! cell corrected in place, every double flip in a cell detected, a zeroed,
//! an all-ones and a misplaced cell detected at every index (address keys),
//! a write of half a cell keeps the other half; the layout and the
//! lock-free gate.
#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::{key128, map_with, pattern, TestMap};
use eccmap::codes::Secded128;
use eccmap::{AtomicU128, AtomicWord, Ecc128, FaultInjection, IndexKeys, PageState, StateError};
use std::sync::atomic::Ordering;

/// The raw 128-bit cell `c` through `FaultInjection`'s two storage words.
fn cell(map: &Ecc128, c: usize) -> u128 {
    u128::from(map.storage_word(2 * c)) | u128::from(map.storage_word(2 * c + 1)) << 64
}

/// Writes cell `c` as two storage words, low half first.
fn write_cell(map: &Ecc128, c: usize, v: u128) {
    map.write_storage_word(2 * c, v as u64).unwrap();
    map.write_storage_word(2 * c + 1, (v >> 64) as u64).unwrap();
}

/// A map of `cells` cells holding the fixed pattern.
fn patterned(cells: usize) -> (Ecc128, common::Model) {
    let model = pattern(cells * 112);
    (map_with::<Ecc128>(&model), model)
}

#[test]
fn layout_and_constants() {
    assert_eq!((Ecc128::LANES, Ecc128::PAGES_PER_WORD), (1, 112));
    let map = Ecc128::with_pages(1000);
    assert_eq!(Ecc128::words_for(1000), 9);
    assert_eq!((map.storage_words(), map.storage_bits()), (18, 9 * 128));
    assert_eq!(map.storage_bytes(), 9 * 16);
    // A blank cell is the codeword of no pages, keyed by its index.
    let code = Secded128::portable();
    for c in 0..9 {
        assert_eq!(cell(&map, c), code.encode(0) ^ key128(c));
    }
    map.alloc(112 + 5).unwrap();
    assert_eq!(cell(&map, 1), code.encode(1 << 5) ^ key128(1));
    assert_eq!(Ecc128::try_with_pages(10).map(|m| m.pages()), Ok(10));
}

/// Every bit of every cell of a patterned map, flipped alone: the read
/// of any page of the cell answers right, repairs the cell in place and
/// counts one correction.
#[test]
fn every_single_flip_is_corrected_in_place() {
    let (map, model) = patterned(3);
    let before: Vec<u128> = (0..3).map(|c| cell(&map, c)).collect();
    let mut ce = 0;
    for (c, &clean) in before.iter().enumerate() {
        for bit in 0..128 {
            map.flip_storage_bit(c * 128 + bit).unwrap();
            assert_ne!(cell(&map, c), clean);
            let page = c * 112 + (bit * 7) % 112;
            assert_eq!(
                map.is_allocated(page),
                Ok(model[page]),
                "cell {c} bit {bit}"
            );
            ce += 1;
            assert_eq!(map.stats().ce_count, ce);
            assert_eq!(cell(&map, c), clean, "cell {c} bit {bit} repaired");
        }
    }
    // A flip found by an update is repaired in the update's own CAS.
    map.flip_storage_bit(128 + 120).unwrap();
    let page = 112 + (0..112).find(|&o| !model[112 + o]).unwrap();
    map.alloc(page).unwrap();
    assert_eq!(map.stats().ce_count, ce + 1);
    assert!(map.scrub().is_clean());
    assert_eq!(map.is_allocated(page), Ok(true));
}

/// Every pair of bits of one cell flipped: the cell's pages are reported
/// Uncorrectable, never answered, and the neighbours are unaffected.
#[test]
fn every_double_flip_in_a_cell_is_detected() {
    let (map, model) = patterned(3);
    let clean = cell(&map, 1);
    for a in 0..128 {
        for b in a + 1..128 {
            write_cell(&map, 1, clean ^ 1 << a ^ 1 << b);
            assert_eq!(
                map.is_allocated(112 + a % 112),
                Err(StateError::Uncorrectable {
                    first: 112,
                    count: 112
                }),
                "bits {a}, {b}"
            );
            assert_eq!(map.is_allocated(0), Ok(model[0]));
            assert_eq!(map.is_allocated(224), Ok(model[224]));
        }
    }
    write_cell(&map, 1, clean);
    assert_eq!(map.stats().ce_count, 0, "nothing was ever corrected");
    assert!(map.scrub().is_clean());
}

/// A zeroed and an all-ones cell, at every index of a map of 300 cells:
/// Uncorrectable, never read as free or allocated pages, never corrected.
#[test]
fn zero_and_ones_cells_are_detected_at_every_index() {
    let cells = 300;
    let map = Ecc128::with_pages(cells * 112);
    for c in 0..cells {
        let clean = cell(&map, c);
        for stray in [0, u128::MAX] {
            write_cell(&map, c, stray);
            assert_eq!(
                map.is_allocated(c * 112 + 3),
                Err(StateError::Uncorrectable {
                    first: c * 112,
                    count: 112
                }),
                "cell {c} = {stray:#x}"
            );
        }
        write_cell(&map, c, clean);
    }
    assert_eq!(map.stats().ce_count, 0);
}

/// Every cell of a 64-cell patterned map copied onto every other index,
/// and a cell copied across every address-line fault of one to three
/// bits within 2^12 cells: Uncorrectable, never valid, never corrected.
#[test]
fn misplaced_cells_are_detected() {
    let cells = 64;
    let (map, _) = patterned(cells);
    let clean: Vec<u128> = (0..cells).map(|c| cell(&map, c)).collect();
    for from in 0..cells {
        for to in (0..cells).filter(|&t| t != from) {
            write_cell(&map, to, clean[from]);
            assert!(
                matches!(
                    map.is_allocated(to * 112),
                    Err(StateError::Uncorrectable { .. })
                ),
                "cell {from} at {to}"
            );
            write_cell(&map, to, clean[to]);
        }
    }
    let cells = 1 << 12;
    let map = Ecc128::with_pages(cells * 112);
    let src = 0b1010_0110_1001;
    map.alloc(src * 112 + 9).unwrap();
    let word = cell(&map, src);
    for a in 0..12 {
        for b in a..12 {
            for c in b..12 {
                let to = src
                    ^ 1 << a
                    ^ (if b > a { 1 << b } else { 0 })
                    ^ (if c > b { 1 << c } else { 0 });
                let keep = cell(&map, to);
                write_cell(&map, to, word);
                assert!(
                    matches!(
                        map.is_allocated(to * 112),
                        Err(StateError::Uncorrectable { .. })
                    ),
                    "cell {src} at {to}"
                );
                write_cell(&map, to, keep);
            }
        }
    }
    assert_eq!(map.stats().ce_count, 0);
    assert!(map.scrub().is_clean());
}

/// A write or a flip of one 64-bit half leaves the other half as it was.
#[test]
fn half_cell_writes_keep_the_other_half() {
    let (map, model) = patterned(2);
    let c = cell(&map, 1);
    map.write_storage_word(2, c as u64 ^ 0b100).unwrap();
    assert_eq!(cell(&map, 1), c ^ 0b100);
    map.write_storage_word(3, (c >> 64) as u64 ^ 1 << 60)
        .unwrap();
    assert_eq!(cell(&map, 1), c ^ 0b100 ^ 1 << 124);
    assert!(matches!(
        map.is_allocated(112),
        Err(StateError::Uncorrectable { .. })
    ));
    write_cell(&map, 1, c);
    assert_eq!(map.is_allocated(114), Ok(model[114]));
    assert_eq!(
        map.flip_storage_bit(256),
        Err(StateError::StorageOutOfRange {
            index: 256,
            len: 256
        })
    );
    assert!(map.scrub().is_clean());
}

/// The scrub finds and repairs single flips in many cells, and reports a
/// double flip as one uncorrectable codeword.
#[test]
fn scrub_repairs_and_reports() {
    let (map, model) = patterned(10);
    for c in 0..9 {
        map.flip_storage_bit(c * 128 + c * 13).unwrap();
    }
    map.flip_storage_bit(9 * 128 + 1).unwrap();
    map.flip_storage_bit(9 * 128 + 2).unwrap();
    let r = map.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (9, 1));
    assert_eq!(map.stats().ce_count, 9);
    for p in 0..9 * 112 {
        assert_eq!(map.is_allocated(p), Ok(model[p]));
    }
}

/// The error a CPU without a lock-free 16-byte compare-and-swap gets
/// (this CPU has one: the map is built above).
#[test]
fn not_lock_free_error() {
    let e = StateError::NotLockFree { bits: 128 };
    assert_eq!(
        e.to_string(),
        "128-bit atomic compare-and-swap is not lock-free on this CPU"
    );
    assert!(<Ecc128 as TestMap>::with_pages(1).scrub().is_clean());
}

/// The scrub's scan over a map of 70,000 cells, whose address keys step
/// through carries into every bit up to 2^16: single flips at cells around
/// the carries are corrected, double flips and cells copied onto their
/// neighbour across a carry are reported with their pages, the clean
/// cells between pass (a second scrub finds only what the first could not
/// repair). With `ECCMAP_PORTABLE=1` the same on the portable paths.
#[test]
fn scrub_scan_across_key_carries() {
    let cells = 70_000;
    let map = Ecc128::with_pages(cells * 112);
    for c in [3, 300, 65_000] {
        map.alloc(c * 112 + c % 112).unwrap();
    }
    let singles = [0, 1, 255, 256, 257, 4095, 65_535, 65_536, cells - 1];
    for (i, &c) in singles.iter().enumerate() {
        map.flip_storage_bit(c * 128 + (i * 37) % 128).unwrap();
    }
    let doubles = [2, 1023, 65_537];
    for &c in &doubles {
        map.flip_storage_bit(c * 128 + 5).unwrap();
        map.flip_storage_bit(c * 128 + 120).unwrap();
    }
    // Cell `c - 1` copied onto `c`: detected if their keys differ.
    let moved = [512, 16_384, 65_538];
    for &c in &moved {
        assert_ne!(IndexKeys::coset(c), IndexKeys::coset(c - 1));
        write_cell(&map, c, cell(&map, c - 1));
    }
    let mut bad: Vec<usize> = doubles.iter().chain(&moved).copied().collect();
    bad.sort();
    // The pages of the bad cells, adjacent cells' in one range.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for &c in &bad {
        match ranges.last_mut() {
            Some(r) if r.end == c * 112 => r.end += 112,
            _ => ranges.push(c * 112..(c + 1) * 112),
        }
    }
    assert_eq!(ranges.len(), bad.len() - 1, "65,537 and 65,538 touch");
    let r = map.scrub();
    assert_eq!(
        (r.words, r.corrected, r.uncorrectable),
        (cells, singles.len(), bad.len())
    );
    assert_eq!(r.bad_pages, ranges);
    let r = map.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, bad.len()));
    assert_eq!(r.bad_pages, ranges);
    for c in [3, 300, 65_000] {
        assert_eq!(map.is_allocated(c * 112 + c % 112), Ok(true));
    }
    assert_eq!(map.is_allocated(256 * 112 + 1), Ok(false));
}

/// The 16-byte atomics the map runs on (`AtomicWord` of `AtomicU128`:
/// inline `cmpxchg16b` / `vmovdqa` on x86-64, portable-atomic with
/// `ECCMAP_PORTABLE` or elsewhere) give the results of portable-atomic's
/// own operations, on 2,000 random value pairs.
#[test]
fn atomic_word_ops_equal_portable_atomic() {
    type A = AtomicU128;
    /// A read-modify-write: the cell, the operand, the value replaced.
    type Rmw = fn(&A, u128) -> u128;
    let mut rng = testkit::Rng::new(128);
    let mut word = || u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
    for _ in 0..2000 {
        let (v, x) = (word(), word());
        let (ours, theirs) = (<A as AtomicWord<u128>>::new(v), A::new(v));
        assert_eq!(
            AtomicWord::load(&ours, Ordering::Acquire),
            theirs.load(Ordering::Acquire)
        );
        let ops: [(Rmw, Rmw); 3] = [
            (
                |a, x| AtomicWord::fetch_xor(a, x, Ordering::AcqRel),
                |a, x| a.fetch_xor(x, Ordering::AcqRel),
            ),
            (
                |a, x| AtomicWord::fetch_or(a, x, Ordering::AcqRel),
                |a, x| a.fetch_or(x, Ordering::AcqRel),
            ),
            (
                |a, x| AtomicWord::fetch_and(a, x, Ordering::AcqRel),
                |a, x| a.fetch_and(x, Ordering::AcqRel),
            ),
        ];
        for (o, t) in ops {
            assert_eq!(o(&ours, x), t(&theirs, x));
            assert_eq!(
                AtomicWord::load(&ours, Ordering::Acquire),
                theirs.load(Ordering::Acquire)
            );
        }
        let cur = theirs.load(Ordering::Acquire);
        for (expect, new) in [(cur ^ 1 << 100, x), (cur, x), (x, v)] {
            assert_eq!(
                AtomicWord::compare_exchange(
                    &ours,
                    expect,
                    new,
                    Ordering::AcqRel,
                    Ordering::Acquire
                ),
                theirs.compare_exchange(expect, new, Ordering::AcqRel, Ordering::Acquire)
            );
        }
        let mut now = AtomicWord::load(&ours, Ordering::Acquire);
        while let Err(seen) =
            AtomicWord::compare_exchange_weak(&ours, now, v, Ordering::AcqRel, Ordering::Acquire)
        {
            now = seen;
        }
        AtomicWord::store(&ours, x, Ordering::Release);
        theirs.store(x, Ordering::Release);
        assert_eq!(AtomicWord::load(&ours, Ordering::Acquire), x);
        assert_eq!(theirs.load(Ordering::Acquire), x);
    }
}

/// The atomics under contention, mixed with portable-atomic's on the same
/// cell: one thread adds 1 by load and compare-and-swap (`AtomicWord`),
/// carrying across the two 64-bit halves, another adds 2^100 by
/// portable-atomic's `fetch_add`, a third loads and sees only whole values
/// (each half-word a count the threads could have reached). No update is
/// lost and no load is torn.
#[test]
fn atomic_word_ops_are_atomic_across_threads() {
    const N: u128 = 100_000;
    let start = u128::from(u64::MAX) - N / 2;
    let cell = <AtomicU128 as AtomicWord<u128>>::new(start);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..N {
                let mut cur = AtomicWord::load(&cell, Ordering::Acquire);
                while let Err(now) = AtomicWord::compare_exchange_weak(
                    &cell,
                    cur,
                    cur + 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    cur = now;
                }
            }
        });
        s.spawn(|| {
            for _ in 0..N {
                cell.fetch_add(1 << 100, Ordering::AcqRel);
            }
        });
        s.spawn(|| {
            for _ in 0..N {
                let v = AtomicWord::load(&cell, Ordering::Acquire);
                let (low, high) = (v & ((1 << 100) - 1), v >> 100);
                assert!(
                    (start..=start + N).contains(&low) && high <= N,
                    "torn: {v:#x}"
                );
            }
        });
    });
    assert_eq!(
        AtomicWord::load(&cell, Ordering::Acquire),
        start + N + (N << 100)
    );
}
