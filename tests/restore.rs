//! `PageState::restore`: rewriting stored state from the caller's ground
//! truth, on every map.
//!
//! - A map whose words were overwritten behind the encoder's back
//!   (`FaultInjection`), so that every page is unknown (or, for the plain
//!   bitmap, silently wrong), is restored: every answer is the truth, a
//!   scrub is clean, and every stored word is the independent encoder's
//!   (`TestMap::expected_storage`), the striped map's group sums included.
//! - A restore of a healthy range that already holds the truth writes
//!   nothing and counts nothing.
//! - A restore of wrong state over a range with partial end words changes
//!   exactly the range's pages and counts exactly the words and pages that
//!   were wrong.
//! - Bad input is an error, with nothing written and the truth never asked.
//! - An ECC map refuses to guess unknown pages outside the range that
//!   share a word with it, writing nothing; the plain and dual bitmaps
//!   store each page apart and restore the range alone.
//! - Under concurrency (the contract of docs/safety.md, "Restoring state
//!   from ground truth"): threads allocating and freeing pages outside the
//!   range, in the range's own end words too, see every operation succeed
//!   and keep their state exactly; a thread changing pages inside the range
//!   sees results that the truth explains (each of its operations applied
//!   either before a restore wrote the page's word, and overwritten, or
//!   after, on top of the truth).
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::{FaultInjection, PageState, Restored, StateError};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use testkit::Rng;

/// Pages of the test maps: four words and a partial fifth.
fn pages_of<M: TestMap>() -> usize {
    4 * M::PAGES_PER_WORD + 7
}

/// The truth the tests restore: a pattern unlike `pattern`.
fn truth(p: usize) -> bool {
    p % 3 == 0 || p % 7 == 1
}

/// `model` with the pages of `range` set from `truth`.
fn with_truth(model: &Model, range: std::ops::Range<usize>) -> Model {
    let mut m = model.clone();
    for p in range {
        m.set(p, truth(p));
    }
    m
}

/// Every stored word overwritten with 0: every page of an ECC map and of
/// the dual bitmap becomes unknown, every page of the plain bitmap reads
/// free. Then the whole map is restored from the truth.
fn restore_after_every_word_is_lost<M: TestMap>() {
    let pages = pages_of::<M>();
    let map: M = map_with(&pattern(pages));
    for i in 0..map.storage_words() {
        map.write_storage_word(i, 0).unwrap();
    }
    if M::PROTECTION != Protection::Silent {
        assert!(
            matches!(map.is_allocated(1), Err(StateError::Uncorrectable { .. })),
            "{}: a zeroed word is detected",
            M::NAME
        );
    }
    let model = with_truth(&pattern(pages), 0..pages);
    let r = map.restore(0, pages, &truth).unwrap();
    let words = M::words_for(pages);
    let ppw = M::PAGES_PER_WORD;
    let want = if M::PROTECTION == Protection::Silent {
        // Zeroed bitmap words read "free": the words and pages that the
        // truth has allocated were wrong.
        (
            (0..words)
                .filter(|w| (w * ppw..pages.min(w * ppw + ppw)).any(truth))
                .count(),
            model.count_ones(),
        )
    } else {
        (words, pages)
    };
    assert_eq!((r.words, r.pages), want, "{}: what was rewritten", M::NAME);
    assert_eq!(map.stats().restored, want.0 as u64, "{}", M::NAME);
    assert_matches(&map, &model, M::NAME);
    let ce = map.stats().ce_count;
    assert!(map.scrub().is_clean(), "{}: scrub after restore", M::NAME);
    let mut map = map;
    let report = map.scrub_exclusive();
    assert!(report.is_clean(), "{}: {report:?}", M::NAME);
    assert_eq!(
        map.stats().ce_count,
        ce,
        "{}: nothing left to repair",
        M::NAME
    );
    assert_storage(&map, &model, M::NAME);
}

/// A restore of a range that holds the truth already writes nothing.
fn restore_of_a_healthy_range_is_a_no_op<M: TestMap>() {
    let pages = pages_of::<M>();
    let ppw = M::PAGES_PER_WORD;
    let model = pattern(pages);
    let map: M = map_with(&model);
    let before = raw(&map);
    let stats = map.stats();
    for (first, count) in [(0, pages), (ppw / 2, 2 * ppw), (pages - 3, 3), (ppw, ppw)] {
        let r = map.restore(first, count, &|p| model[p]).unwrap();
        assert_eq!(r, Restored::default(), "{}: {first}+{count}", M::NAME);
    }
    assert_eq!(raw(&map), before, "{}: storage untouched", M::NAME);
    assert_eq!(map.stats(), stats, "{}: nothing counted", M::NAME);
}

/// A restore over partial end words changes exactly the range's wrong
/// pages and counts them.
fn restore_rewrites_exactly_the_range<M: TestMap>() {
    let pages = pages_of::<M>();
    let ppw = M::PAGES_PER_WORD;
    let before = pattern(pages);
    let map: M = map_with(&before);
    let range = ppw / 2..3 * ppw + ppw / 3;
    let model = with_truth(&before, range.clone());
    let wrong = range.clone().filter(|&p| before[p] != model[p]);
    let want = (
        {
            let mut w: Vec<usize> = wrong.clone().map(|p| p / ppw).collect();
            w.dedup();
            w.len()
        },
        wrong.count(),
    );
    let asked = Cell::new(0);
    let r = map
        .restore(range.start, range.len(), &|p| {
            assert!(range.contains(&p), "{}: truth asked for {p}", M::NAME);
            asked.set(asked.get() + 1);
            truth(p)
        })
        .unwrap();
    assert_eq!(
        asked.get(),
        range.len(),
        "{}: each page asked once",
        M::NAME
    );
    assert_eq!((r.words, r.pages), want, "{}", M::NAME);
    assert_eq!(map.stats().restored, want.0 as u64, "{}", M::NAME);
    assert_matches(&map, &model, M::NAME);
    assert!(map.scrub().is_clean(), "{}", M::NAME);
    assert_storage(&map, &model, M::NAME);
}

/// Bad ranges are refused: nothing written, the truth never asked.
fn bad_input_is_an_error<M: TestMap>() {
    let pages = pages_of::<M>();
    let map: M = map_with(&pattern(pages));
    let before = raw(&map);
    let never = |_: usize| -> bool { panic!("truth asked for a refused range") };
    assert_eq!(
        map.restore(3, 0, &never),
        Err(StateError::EmptyRange { first: 3 })
    );
    for (first, count) in [(pages, 1), (pages - 2, 3), (usize::MAX, 2), (1, usize::MAX)] {
        assert_eq!(
            map.restore(first, count, &never),
            Err(StateError::RangeOutOfBounds {
                first,
                count,
                pages
            }),
            "{}",
            M::NAME
        );
    }
    assert_eq!(raw(&map), before, "{}", M::NAME);
    assert_eq!(map.stats().restored, 0);
}

/// An ECC map will not guess the unknown pages outside the range of a word
/// it would re-encode: it names them and writes nothing; a range that
/// covers them is restored. Two flips in the codeword of pages `ppw` and
/// `ppw + 1` (and, for the striped map, in word 0 too, so that the group
/// cannot rebuild them).
fn unknown_pages_outside_the_range_are_refused<M: EccMap>() {
    let pages = pages_of::<M>();
    let ppw = M::PAGES_PER_WORD;
    let before = pattern(pages);
    let map: M = map_with(&before);
    let damaged: &[usize] = if M::NAME == "StripedBitmap" {
        &[0, 1]
    } else {
        &[1]
    };
    for &w in damaged {
        map.flip_storage_bit(map.state_bit(w * ppw)).unwrap();
        map.flip_storage_bit(map.state_bit(w * ppw + 1)).unwrap();
    }
    let stored = raw(&map);
    // Pages `ppw + 2 ..` of word 1: its pages `ppw, ppw + 1` are unknown
    // and outside.
    let asked = Cell::new(0);
    let r = map.restore(ppw + 2, ppw - 2, &|p| {
        asked.set(asked.get() + 1);
        truth(p)
    });
    let Err(StateError::Uncorrectable { first, count }) = r else {
        panic!("{}: {r:?}", M::NAME)
    };
    assert!(
        first == ppw && (1..=2).contains(&count),
        "{}: names the unknown pages outside the range, not {first}+{count}",
        M::NAME
    );
    assert_eq!(asked.get(), 0, "{}: the truth was not asked", M::NAME);
    assert_eq!(raw(&map), stored, "{}: nothing written", M::NAME);
    // Whole words: restored.
    let range = 0..2 * ppw;
    let r = map.restore(0, range.len(), &truth).unwrap();
    assert_eq!(r.words, 2, "{}", M::NAME);
    let model = with_truth(&before, range);
    assert_matches(&map, &model, M::NAME);
    let mut map = map;
    assert!(map.scrub_exclusive().is_clean(), "{}", M::NAME);
    assert_storage(&map, &model, M::NAME);
}

/// The plain and dual bitmaps store each page apart: a range that shares a
/// word with an unknown page outside it is restored, the outside page left
/// as it is.
#[test]
fn dual_restores_each_page_apart() {
    use eccmap::DualBitmap;
    let pages = pages_of::<DualBitmap>();
    let before = pattern(pages);
    let map: DualBitmap = map_with(&before);
    // Primary bits of pages 2 (outside) and 9 (inside): both unknown.
    map.flip_storage_bit(2).unwrap();
    map.flip_storage_bit(9).unwrap();
    let r = map.restore(5, 10, &truth).unwrap();
    assert_eq!(
        r.pages,
        (5..15).filter(|&p| p == 9 || before[p] != truth(p)).count()
    );
    assert_eq!(r.words, 1);
    assert_eq!(
        map.is_allocated(2),
        Err(StateError::Uncorrectable { first: 2, count: 1 })
    );
    for p in 5..15 {
        assert_eq!(map.is_allocated(p), Ok(truth(p)), "page {p}");
    }
    let r = map.restore(2, 1, &|p| before[p]).unwrap();
    assert_eq!((r.words, r.pages), (1, 1));
    assert_matches(&map, &with_truth(&before, 5..15), "dual");
}

/// One operation of the inside thread on a page, and its result.
type Op = (bool, Result<(), StateError>);

/// Whether `ops` on a page that started `initial` and ends `last` can be
/// explained by the contract: before each operation the page may have been
/// reset to `truth` (a restore wrote its word), and each operation
/// succeeded or was refused as the state then required.
fn explained(initial: bool, truth: bool, ops: &[Op], last: bool) -> bool {
    // The states the page may be in: bit 0 free, bit 1 allocated.
    let bit = |a: bool| 1u8 << u8::from(a);
    let mut may = bit(initial);
    for (alloc, result) in ops {
        may |= bit(truth);
        let from = match result {
            Ok(()) => !alloc,
            Err(StateError::DoubleAlloc { .. }) if *alloc => true,
            Err(StateError::DoubleFree { .. }) if !alloc => false,
            _ => return false,
        };
        if may & bit(from) == 0 {
            return false;
        }
        may = bit(*alloc);
    }
    may |= bit(truth);
    may & bit(last) != 0
}

/// Restores racing updates (see the module documentation). The dual
/// bitmap's inside-range updates are left out: its two copies are written
/// by two atomics, not atomic together, so an update of a page the restore
/// is writing can leave the copies disagreeing (reported, never a wrong
/// answer), which the contract forbids the caller anyway
/// (docs/safety.md).
fn restore_races_updates<M: TestMap>() {
    const OUTSIDE: usize = 2;
    const OPS: usize = 20_000;
    const RESTORES: usize = 300;
    let pages = pages_of::<M>();
    let ppw = M::PAGES_PER_WORD;
    let range = ppw + ppw / 2..3 * ppw + ppw / 3;
    let initial = pattern(pages);
    let map: M = map_with(&initial);
    let inside: Vec<usize> = range.clone().step_by(3).collect();
    let outside: Vec<usize> = (0..pages).filter(|p| !range.contains(p)).collect();
    let with_inside = M::PROTECTION != Protection::Detects;
    let updaters = OUTSIDE + usize::from(with_inside);
    let start = Barrier::new(updaters + 1);
    let running = AtomicUsize::new(updaters);
    let (finals, ops, restored) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..OUTSIDE)
            .map(|t| {
                let (map, initial, start, running) = (&map, &initial, &start, &running);
                // Thread `t` owns every OUTSIDE-th outside page, those in
                // the range's end words among them.
                let mine: Vec<usize> = outside.iter().copied().skip(t).step_by(OUTSIDE).collect();
                s.spawn(move || {
                    let mut rng = Rng::new(0x5e57_0000 + t as u64);
                    let mut state: Vec<bool> = mine.iter().map(|&p| initial[p]).collect();
                    start.wait();
                    for _ in 0..OPS {
                        let i = rng.below(mine.len());
                        let p = mine[i];
                        let r = if state[i] { map.free(p) } else { map.alloc(p) };
                        assert_eq!(r, Ok(()), "{}: page {p} outside the range", M::NAME);
                        state[i] = !state[i];
                    }
                    running.fetch_sub(1, Ordering::Release);
                    mine.into_iter().zip(state).collect::<Vec<_>>()
                })
            })
            .collect();
        let toggler = with_inside.then(|| {
            let (map, inside, start, running) = (&map, &inside, &start, &running);
            s.spawn(move || {
                let mut rng = Rng::new(0x1115_1de0);
                start.wait();
                let mut ops: Vec<Vec<Op>> = vec![Vec::new(); inside.len()];
                for _ in 0..OPS {
                    let i = rng.below(inside.len());
                    let alloc = rng.percent(50);
                    let p = inside[i];
                    let r = if alloc { map.alloc(p) } else { map.free(p) };
                    ops[i].push((alloc, r));
                    if ops[i].len() % 16 == 0 {
                        // Let the restorer in (two cores, four threads).
                        std::thread::yield_now();
                    }
                }
                running.fetch_sub(1, Ordering::Release);
                ops
            })
        });
        let restorer = {
            let (map, range, start, running) = (&map, range.clone(), &start, &running);
            s.spawn(move || {
                let mut words = 0;
                start.wait();
                // Until every updater is done, and at least RESTORES times.
                let mut n = 0;
                while n < RESTORES || running.load(Ordering::Acquire) != 0 {
                    words += map.restore(range.start, range.len(), &truth).unwrap().words;
                    n += 1;
                    std::thread::yield_now();
                }
                words
            })
        };
        let finals: Vec<(usize, bool)> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let ops = toggler.map(|t| t.join().unwrap());
        (finals, ops, restorer.join().unwrap())
    });
    let mut model = with_truth(&initial, range.clone());
    for (p, a) in finals {
        model.set(p, a);
    }
    if let Some(ops) = ops {
        // More words rewritten than the range has: some restore came after
        // the inside thread had changed a page, so they did interleave.
        assert!(restored > 3, "{}: {restored} words restored", M::NAME);
        for (i, &p) in inside.iter().enumerate() {
            let last = map.is_allocated(p).unwrap();
            assert!(
                explained(initial[p], truth(p), &ops[i], last),
                "{}: page {p} ends {last} after {:?}",
                M::NAME,
                ops[i]
            );
            model.set(p, last);
        }
    }
    assert_eq!(map.stats().restored, restored as u64, "{}", M::NAME);
    assert_eq!(map.stats().ue_count, 0, "{}: no false alarm", M::NAME);
    assert_matches(&map, &model, M::NAME);
    assert_storage(&map, &model, M::NAME);
}

#[test]
fn explained_accepts_the_contract_and_nothing_else() {
    let da = Err(StateError::DoubleAlloc { page: 0 });
    let df = Err(StateError::DoubleFree { page: 0 });
    // Free, truth free: alloc, free, alloc succeed; the page ends allocated.
    let ops = [(true, Ok(())), (false, Ok(())), (true, Ok(()))];
    assert!(explained(false, false, &ops, true));
    // ... or free: a restore after the last operation.
    assert!(explained(false, false, &ops, false));
    // Truth allocated: an alloc refused as double is the restore's doing.
    assert!(explained(false, true, &[(true, da)], true));
    // Free, truth free: no restore explains a double alloc.
    assert!(!explained(false, false, &[(true, da)], true));
    // Allocated, truth allocated: no restore explains a double free.
    assert!(!explained(true, true, &[(false, df)], false));
    // Free, truth free: a free cannot succeed, restore or not.
    assert!(!explained(false, false, &[(false, Ok(()))], false));
    let unknown = Err(StateError::Uncorrectable { first: 0, count: 1 });
    assert!(!explained(false, true, &[(true, unknown)], true));
}

instantiate!([
    plain: eccmap::PlainBitmap,
    dual: eccmap::DualBitmap,
    ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
    ecc_secded32: eccmap::EccBitmap<eccmap::codes::Secded32>,
    ecc_hamming84: eccmap::EccBitmap<eccmap::codes::Hamming84>,
    ecc_secded64burst: eccmap::EccBitmap<eccmap::codes::Secded64Burst>,
    keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
    striped: eccmap::StripedBitmap,
] restore_after_every_word_is_lost);

for_each_map!(
    restore_of_a_healthy_range_is_a_no_op,
    restore_rewrites_exactly_the_range,
    bad_input_is_an_error,
    restore_races_updates,
);

for_each_secded_map!(unknown_pages_outside_the_range_are_refused);
