//! The behavioural suite: every test is generic over the map and runs on
//! `PlainBitmap`, `DualBitmap`, `EccBitmap` with every code,
//! `KeyedEccBitmap<Secded64>` and `StripedBitmap`, as `<test>::plain`,
//! `<test>::dual`, `::ecc_secded64`, `::ecc_secded32`, `::ecc_hamming84`,
//! `::ecc_hamming74`, `::ecc_secded64burst`, `::keyed_secded64`,
//! `::striped`.
//!
//! The `baseline_NN_*` tests are the dual-bitmap RFC's own 11 test cases
//! (listed in the project's baseline notes), one per case, in its order.
//!
//! These tests expect errors to be returned, so they are off with the
//! `panic-on-fault` feature (see `tests/panic_on_fault.rs`).
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::{FaultStats, StateError, GROUP_WORDS};

/// Page counts that exercise each map's word edges: one page, a word less
/// one, a word, a word and one, 100 (a multiple of no map's pages per word),
/// and several words plus a partial one.
fn sizes<M: TestMap>() -> Vec<usize> {
    let w = M::PAGES_PER_WORD;
    vec![1, 2, w - 1, w, w + 1, 100, 3 * w + 5]
}

/// Pages at and around the word edges of a map of `pages` pages.
fn edge_pages<M: TestMap>(pages: usize) -> Vec<usize> {
    let w = M::PAGES_PER_WORD;
    let mut v: Vec<usize> = (0..=pages / w + 1)
        .flat_map(|k| [(k * w).wrapping_sub(1), k * w, k * w + 1])
        .chain([0, 1, pages.wrapping_sub(2), pages.wrapping_sub(1)])
        .filter(|&p| p < pages)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn no_faults(stats: FaultStats) {
    assert_eq!((stats.ce_count, stats.ue_count), (0, 0), "{stats:?}");
}

// ---------------------------------------------------------------------------
// Single pages

fn single_alloc_free<M: TestMap>() {
    for pages in sizes::<M>() {
        let map = M::with_pages(pages);
        let mut model = Model::repeat(false, pages);
        for p in edge_pages::<M>(pages) {
            assert_eq!(map.alloc(p), Ok(()), "{} alloc({p})", M::NAME);
            model.set(p, true);
            assert_eq!(map.is_allocated(p), Ok(true));
        }
        assert_matches(&map, &model, M::NAME);
        for p in edge_pages::<M>(pages) {
            assert_eq!(map.free(p), Ok(()), "{} free({p})", M::NAME);
            model.set(p, false);
            assert_eq!(map.is_allocated(p), Ok(false));
        }
        assert_matches(&map, &model, M::NAME);
        // Every page, one after the other, then freed in reverse.
        for p in 0..pages {
            map.alloc(p).unwrap();
        }
        assert_eq!(map.count_allocated(), Ok(pages));
        assert_eq!(map.find_free(0), Ok(None));
        for p in (0..pages).rev() {
            map.free(p).unwrap();
            assert_eq!(map.find_free(0), Ok(Some(p)));
        }
        assert_eq!(map.count_allocated(), Ok(0));
        assert!(map.scrub().is_clean());
        let s = map.stats();
        no_faults(s);
        assert_eq!((s.double_alloc, s.double_free), (0, 0));
    }
}

fn double_alloc_leaves_state_unchanged<M: TestMap>() {
    let pages = 3 * M::PAGES_PER_WORD + 5;
    let model = pattern(pages);
    let map: M = map_with(&model);
    let before = raw(&map);
    let mut n = 0;
    for p in model.iter_ones() {
        assert_eq!(map.alloc(p), Err(StateError::DoubleAlloc { page: p }));
        n += 1;
        assert_eq!(map.stats().double_alloc, n);
        assert_eq!(raw(&map), before, "{} storage after alloc({p})", M::NAME);
    }
    assert_matches(&map, &model, M::NAME);
    let s = map.stats();
    assert_eq!(s.double_free, 0);
    no_faults(s);
}

fn double_free_leaves_state_unchanged<M: TestMap>() {
    let pages = 3 * M::PAGES_PER_WORD + 5;
    let model = pattern(pages);
    let map: M = map_with(&model);
    let before = raw(&map);
    let mut n = 0;
    for p in model.iter_zeros() {
        assert_eq!(map.free(p), Err(StateError::DoubleFree { page: p }));
        n += 1;
        assert_eq!(map.stats().double_free, n);
        assert_eq!(raw(&map), before, "{} storage after free({p})", M::NAME);
    }
    assert_matches(&map, &model, M::NAME);
    let s = map.stats();
    assert_eq!(s.double_alloc, 0);
    no_faults(s);
}

// ---------------------------------------------------------------------------
// Ranges

/// Ranges of a map of `pages` pages: within a word, exactly a word, across
/// one and several word edges, the whole map, at both ends.
fn ranges<M: TestMap>(pages: usize) -> Vec<(usize, usize)> {
    let w = M::PAGES_PER_WORD;
    let mut v = vec![
        (0, 1),
        (0, pages),
        (pages - 1, 1),
        (0, w.min(pages)),
        (1, (w + 1).min(pages - 1)),
        (w - 1, 2),
        (w - 3, w + 6),
        (w / 2, 2 * w),
        (2 * w - 1, w + 2),
        (pages - w, w),
        (pages - w - 1, w - 1),
    ];
    v.retain(|&(f, c)| c > 0 && f + c <= pages);
    v
}

fn range_alloc_free<M: TestMap>() {
    let pages = 4 * M::PAGES_PER_WORD + 7;
    for (first, count) in ranges::<M>(pages) {
        let map = M::with_pages(pages);
        let mut model = Model::repeat(false, pages);
        assert_eq!(map.alloc_range(first, count), Ok(()), "{first}+{count}");
        model[first..first + count].fill(true);
        assert_matches(&map, &model, M::NAME);
        // Singles around it still work and see the range.
        if first > 0 {
            assert_eq!(map.alloc(first - 1), Ok(()));
            assert_eq!(map.free(first - 1), Ok(()));
        }
        if first + count < pages {
            assert_eq!(
                map.free(first + count),
                Err(StateError::DoubleFree {
                    page: first + count
                })
            );
        }
        assert_eq!(map.free_range(first, count), Ok(()));
        model[first..first + count].fill(false);
        assert_matches(&map, &model, M::NAME);
        assert_eq!(
            raw(&map),
            raw(&M::with_pages(pages)),
            "back to the initial storage"
        );
        no_faults(map.stats());
    }
    // Pieces of one range freed by singles and sub-ranges, in any split.
    let map = M::with_pages(pages);
    map.alloc_range(3, pages - 6).unwrap();
    let mut model = Model::repeat(false, pages);
    model[3..pages - 3].fill(true);
    map.free(3).unwrap();
    map.free_range(M::PAGES_PER_WORD - 2, M::PAGES_PER_WORD + 4)
        .unwrap();
    map.free(pages - 4).unwrap();
    model.set(3, false);
    model[M::PAGES_PER_WORD - 2..2 * M::PAGES_PER_WORD + 2].fill(false);
    model.set(pages - 4, false);
    assert_matches(&map, &model, M::NAME);
}

/// All or nothing: for every range and every allocated page in it (some
/// ranges cover several words), `alloc_range` fails naming the first
/// allocated page, and every stored bit is as before.
fn range_alloc_is_all_or_nothing<M: TestMap>() {
    let pages = 4 * M::PAGES_PER_WORD + 7;
    let mut calls = 0;
    for (first, count) in ranges::<M>(pages) {
        let end = first + count;
        let mut blockers: Vec<usize> = vec![first, end - 1, first + count / 2];
        blockers.extend(
            edge_pages::<M>(pages)
                .into_iter()
                .filter(|p| (first..end).contains(p)),
        );
        for blocker in blockers {
            for second in [None, Some(end - 1)] {
                let map = M::with_pages(pages);
                let mut model = Model::repeat(false, pages);
                // Pages outside the range too, so an undo that overshoots shows.
                for p in [first.wrapping_sub(1), end, blocker]
                    .into_iter()
                    .chain(second)
                {
                    if p < pages && !model[p] {
                        map.alloc(p).unwrap();
                        model.set(p, true);
                    }
                }
                let before = raw(&map);
                let da = map.stats().double_alloc;
                assert_eq!(
                    map.alloc_range(first, count),
                    Err(StateError::DoubleAlloc {
                        page: blocker.min(second.unwrap_or(usize::MAX))
                    }),
                    "{} alloc_range({first}, {count}) over {blocker}",
                    M::NAME
                );
                calls += 1;
                assert_eq!(
                    raw(&map),
                    before,
                    "{} storage after a failed alloc_range",
                    M::NAME
                );
                assert_eq!(map.stats().double_alloc, da + 1);
                assert_matches(&map, &model, M::NAME);
                no_faults(map.stats());
            }
        }
    }
    assert!(calls > 20);
}

fn range_free_is_all_or_nothing<M: TestMap>() {
    let pages = 4 * M::PAGES_PER_WORD + 7;
    for (first, count) in ranges::<M>(pages) {
        let end = first + count;
        let mut holes: Vec<usize> = vec![first, end - 1, first + count / 2];
        holes.extend(
            edge_pages::<M>(pages)
                .into_iter()
                .filter(|p| (first..end).contains(p)),
        );
        for hole in holes {
            let map = M::with_pages(pages);
            map.alloc_range(0, pages).unwrap();
            let mut model = Model::repeat(true, pages);
            map.free(hole).unwrap();
            model.set(hole, false);
            let before = raw(&map);
            assert_eq!(
                map.free_range(first, count),
                Err(StateError::DoubleFree { page: hole }),
                "{} free_range({first}, {count}) over {hole}",
                M::NAME
            );
            assert_eq!(
                raw(&map),
                before,
                "{} storage after a failed free_range",
                M::NAME
            );
            assert_eq!(map.stats().double_free, 1);
            assert_matches(&map, &model, M::NAME);
        }
    }
}

// ---------------------------------------------------------------------------
// Boundaries

fn first_and_last_page<M: TestMap>() {
    for pages in sizes::<M>() {
        let map = M::with_pages(pages);
        let last = pages - 1;
        assert_eq!(map.pages(), pages);
        map.alloc(last).unwrap();
        assert_eq!(map.is_allocated(last), Ok(true));
        assert_eq!(map.find_free(last), Ok(None));
        assert_eq!(map.alloc(last), Err(StateError::DoubleAlloc { page: last }));
        map.alloc(0)
            .or_else(|e| if last == 0 { Ok(()) } else { Err(e) })
            .unwrap();
        assert_eq!(map.count_allocated(), Ok(if pages == 1 { 1 } else { 2 }));
        assert_eq!(map.find_free(0), Ok((pages > 2).then_some(1)));
        map.free(last).unwrap();
        assert_eq!(map.find_free(last), Ok(Some(last)));
        assert_eq!(map.alloc_range(last, 1), Ok(()));
        assert_eq!(map.free_range(last, 1), Ok(()));
        if pages > 1 {
            map.free(0).unwrap();
        }
        assert_eq!(map.count_allocated(), Ok(0));
        // The page just past the end is out of range.
        assert_eq!(
            map.alloc(pages),
            Err(StateError::OutOfRange { page: pages, pages })
        );
        assert_eq!(
            map.is_allocated(pages),
            Err(StateError::OutOfRange { page: pages, pages })
        );
    }
}

/// Pages on both sides of every word edge, each alone: the neighbours in
/// the other word never change.
fn word_edges<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    let pages = 4 * w + 7;
    let map = M::with_pages(pages);
    let mut model = Model::repeat(false, pages);
    for k in 1..=4 {
        for p in [k * w - 1, k * w] {
            map.alloc(p).unwrap();
            model.set(p, true);
            assert_matches(&map, &model, M::NAME);
            map.free(p).unwrap();
            model.set(p, false);
        }
        // Both sides at once, by a two-page range across the edge.
        map.alloc_range(k * w - 1, 2).unwrap();
        model[k * w - 1..k * w + 1].fill(true);
        assert_eq!(map.find_free(k * w - 1), Ok(Some(k * w + 1)));
        assert_eq!(map.find_free(k * w - 2), Ok(Some(k * w - 2)));
        assert_eq!(map.free(k * w), Ok(()));
        assert_eq!(map.free(k * w - 1), Ok(()));
        model[k * w - 1..k * w + 1].fill(false);
    }
    assert_matches(&map, &model, M::NAME);
    // A whole word exactly, then its neighbours.
    map.alloc_range(w, w).unwrap();
    model[w..2 * w].fill(true);
    assert_eq!(map.find_free(w), Ok(Some(2 * w)));
    assert_eq!(map.alloc_range(w - 1, 1), Ok(()));
    assert_eq!(map.alloc_range(2 * w, 1), Ok(()));
    model.set(w - 1, true);
    model.set(2 * w, true);
    assert_matches(&map, &model, M::NAME);
}

/// 100 pages is a multiple of no map's pages per word (64, 57, 26, 32, 36,
/// 56): the last word is partial, and the pages past 100 never exist.
fn page_count_not_a_multiple_of_the_word<M: TestMap>() {
    let pages = 100;
    assert_ne!(pages % M::PAGES_PER_WORD, 0);
    let map = M::with_pages(pages);
    assert_eq!(
        map.storage_bits(),
        M::storage_words_for(pages) * M::CELL_BITS
    );
    // Fill everything: count and find_free ignore the padding pages.
    map.alloc_range(0, pages).unwrap();
    assert_eq!(map.count_allocated(), Ok(pages));
    assert_eq!(map.find_free(0), Ok(None));
    assert_eq!(map.find_free(99), Ok(None));
    assert_eq!(map.find_free(100), Ok(None));
    map.free_range(90, 10).unwrap();
    assert_eq!(map.find_free(0), Ok(Some(90)));
    assert_eq!(
        map.alloc_range(95, 6),
        Err(StateError::RangeOutOfBounds {
            first: 95,
            count: 6,
            pages
        })
    );
    assert_eq!(map.alloc_range(95, 5), Ok(()));
    assert_eq!(
        map.alloc(100),
        Err(StateError::OutOfRange { page: 100, pages })
    );
    assert_eq!(
        map.free(101),
        Err(StateError::OutOfRange { page: 101, pages })
    );
    let mut model = Model::repeat(true, pages);
    model[90..95].fill(false);
    assert_matches(&map, &model, M::NAME);
    assert!(map.scrub().is_clean());
    no_faults(map.stats());
}

// ---------------------------------------------------------------------------
// Queries

fn find_free_cases<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    let pages = 3 * w + 5;
    let map = M::with_pages(pages);
    assert_eq!(map.find_free(0), Ok(Some(0)));
    assert_eq!(map.find_free(pages - 1), Ok(Some(pages - 1)));
    assert_eq!(map.find_free(pages), Ok(None));
    assert_eq!(
        map.find_free(pages + 1),
        Err(StateError::OutOfRange {
            page: pages + 1,
            pages
        })
    );
    assert_eq!(
        map.find_free(usize::MAX),
        Err(StateError::OutOfRange {
            page: usize::MAX,
            pages
        })
    );
    // Two full words: the search crosses them.
    map.alloc_range(0, 2 * w).unwrap();
    assert_eq!(map.find_free(0), Ok(Some(2 * w)));
    assert_eq!(map.find_free(w + 3), Ok(Some(2 * w)));
    // A free page left behind `from` is not found.
    map.free(5).unwrap();
    assert_eq!(map.find_free(0), Ok(Some(5)));
    assert_eq!(map.find_free(5), Ok(Some(5)));
    assert_eq!(map.find_free(6), Ok(Some(2 * w)));
    // Everything allocated but the very last page.
    map.alloc(5).unwrap();
    map.alloc_range(2 * w, pages - 2 * w - 1).unwrap();
    assert_eq!(map.find_free(0), Ok(Some(pages - 1)));
    map.alloc(pages - 1).unwrap();
    assert_eq!(map.find_free(0), Ok(None));
    // Against the model from every start, on the fixed pattern.
    let model = pattern(pages);
    let map: M = map_with(&model);
    for from in 0..=pages {
        assert_eq!(
            map.find_free(from),
            Ok(model_find_free(&model, from)),
            "{from}"
        );
    }
}

fn count_allocated_cases<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    let pages = 3 * w + 5;
    let map = M::with_pages(pages);
    assert_eq!(map.count_allocated(), Ok(0));
    map.alloc_range(w - 2, w + 4).unwrap();
    assert_eq!(map.count_allocated(), Ok(w + 4));
    map.alloc(pages - 1).unwrap();
    assert_eq!(map.count_allocated(), Ok(w + 5));
    map.free_range(w - 2, 3).unwrap();
    assert_eq!(map.count_allocated(), Ok(w + 2));
    // Failed calls change nothing.
    let _ = map.alloc_range(0, pages);
    let _ = map.free_range(0, pages);
    assert_eq!(map.count_allocated(), Ok(w + 2));
    map.free_range(w + 1, w + 1).unwrap();
    map.free(pages - 1).unwrap();
    assert_eq!(map.count_allocated(), Ok(0));
    let model = pattern(pages);
    let map: M = map_with(&model);
    assert_eq!(map.count_allocated(), Ok(model.count_ones()));
}

fn snapshot_is_the_state<M: TestMap>() {
    for pages in sizes::<M>() {
        let model = pattern(pages);
        let map: M = map_with(&model);
        let snap = map.snapshot().unwrap();
        assert_eq!(snap.len(), pages);
        assert_eq!(snap, model);
        // A copy: later changes do not show in it.
        for p in model.iter_zeros() {
            map.alloc(p).unwrap();
        }
        assert_eq!(snap, model);
        assert_eq!(map.snapshot().unwrap().count_ones(), pages);
    }
    assert_eq!(M::with_pages(0).snapshot().map(|s| s.len()), Ok(0));
}

// ---------------------------------------------------------------------------
// Bad input

fn out_of_range_pages<M: TestMap>() {
    for pages in sizes::<M>() {
        let map = M::with_pages(pages);
        for page in [pages, pages + 1, pages + M::PAGES_PER_WORD, usize::MAX] {
            let e = Err(StateError::OutOfRange { page, pages });
            assert_eq!(map.alloc(page), e);
            assert_eq!(map.free(page), e);
            assert_eq!(map.is_allocated(page).map(|_| ()), e);
        }
        assert_eq!(
            raw(&map),
            raw(&M::with_pages(pages)),
            "bad input changed nothing"
        );
        assert_eq!(map.stats(), FaultStats::default());
    }
}

fn bad_ranges<M: TestMap>() {
    let pages = 100;
    let map = M::with_pages(pages);
    map.alloc(50).unwrap();
    let before = raw(&map);
    for f in [0, 50, 99, 100, 1000, usize::MAX] {
        assert_eq!(
            map.alloc_range(f, 0),
            Err(StateError::EmptyRange { first: f })
        );
        assert_eq!(
            map.free_range(f, 0),
            Err(StateError::EmptyRange { first: f })
        );
    }
    let oob = |first, count| {
        Err(StateError::RangeOutOfBounds {
            first,
            count,
            pages,
        })
    };
    for (first, count) in [
        (0, 101),
        (99, 2),
        (100, 1),
        (1000, 1),
        (1, usize::MAX),          // first + count overflows
        (usize::MAX, 1),          // overflows too
        (usize::MAX, usize::MAX), // and so does this
        (usize::MAX - 50, 60),
    ] {
        assert_eq!(
            map.alloc_range(first, count),
            oob(first, count),
            "{first}+{count}"
        );
        assert_eq!(
            map.free_range(first, count),
            oob(first, count),
            "{first}+{count}"
        );
    }
    assert_eq!(raw(&map), before, "bad input changed nothing");
    let s = map.stats();
    assert_eq!(s, FaultStats::default(), "bad input is not a violation");
}

fn zero_pages<M: TestMap>() {
    let map = M::with_pages(0);
    assert_eq!(map.pages(), 0);
    assert_eq!(map.storage_words(), 0);
    assert_eq!(map.storage_bytes(), 0);
    assert_eq!(
        map.alloc(0),
        Err(StateError::OutOfRange { page: 0, pages: 0 })
    );
    assert_eq!(
        map.alloc_range(0, 1),
        Err(StateError::RangeOutOfBounds {
            first: 0,
            count: 1,
            pages: 0
        })
    );
    assert_eq!(map.find_free(0), Ok(None));
    assert_eq!(map.count_allocated(), Ok(0));
    let r = map.scrub();
    assert_eq!((r.words, r.is_clean()), (0, true));
}

fn from_static_storage<M: TestMap>() {
    for pages in sizes::<M>() {
        let need = M::words_for(pages);
        // Too small by one word.
        assert_eq!(
            M::from_static_words(pages, need - 1).err(),
            Some(StateError::StorageTooSmall {
                needed: need,
                given: need - 1
            }),
            "{} over {} words for {pages} pages",
            M::NAME,
            need - 1
        );
        // Exactly enough, and more than enough: the garbage the storage held
        // is overwritten with the all-free state.
        for given in [need, need + 3] {
            let map = M::from_static_words(pages, given).unwrap();
            assert_eq!(map.pages(), pages);
            assert_eq!(raw(&map), raw(&M::with_pages(pages)), "initialised storage");
            assert_eq!(map.storage_bytes(), M::with_pages(pages).storage_bytes());
            let model = pattern(pages);
            for p in model.iter_ones() {
                map.alloc(p).unwrap();
            }
            assert_matches(&map, &model, M::NAME);
            assert_storage(&map, &model, M::NAME);
            assert!(map.scrub().is_clean());
        }
    }
    assert_eq!(
        M::from_static_words(10, 0).err(),
        Some(StateError::StorageTooSmall {
            needed: 1,
            given: 0
        })
    );
    assert!(M::from_static_words(0, 0).is_ok());
}

/// Storage as each map documents it: `words_for` words of state (two
/// bitmaps of them for the dual bitmap), then, for the striped map, one
/// parity word per group of up to `GROUP_WORDS` data words.
fn storage_accounting<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    for pages in sizes::<M>()
        .into_iter()
        .chain([GROUP_WORDS * w, GROUP_WORDS * w + 1])
    {
        let map = M::with_pages(pages);
        assert_eq!(M::words_for(pages), pages.div_ceil(w));
        let copies = match M::PROTECTION {
            Protection::Detects => 2,
            _ => 1,
        };
        // In 64-bit storage words, the trailing half of a map of an odd
        // number of `u32` cells counted whole.
        let bits = |cells: usize| cells * M::CELL_BITS;
        assert_eq!(
            map.state_words(),
            bits(copies * M::words_for(pages)).div_ceil(64)
        );
        assert_eq!(map.storage_bits(), bits(M::storage_words_for(pages)));
        assert_eq!(map.storage_words(), map.storage_bits().div_ceil(64));
        assert_eq!(map.storage_bytes(), map.storage_bits() / 8);
    }
}

/// The stored words are exactly the documented encoding of the state
/// (`TestMap::expected_storage`: codewords, address keys, the dual
/// bitmap's complement, the striped map's parity words), after every kind
/// of update, after refused ones, and on maps of more than one parity group
/// (the striped map interleaves its groups: word `w` is in group `w % S`).
fn storage_is_the_encoding_of_the_state<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    for pages in [1, w, 3 * w + 5, (GROUP_WORDS + 2) * w + 3] {
        let what = format!("{} with {pages} pages", M::NAME);
        let map = M::with_pages(pages);
        let mut model = Model::repeat(false, pages);
        assert_storage(&map, &model, &format!("{what}, fresh"));
        model = pattern(pages);
        for p in model.iter_ones() {
            map.alloc(p).unwrap();
        }
        assert_storage(&map, &model, &format!("{what}, pattern"));
        // Every page the other way round, by singles and short ranges.
        let mut p = 0;
        while p < pages {
            let run = model[p..].iter().take_while(|b| **b == model[p]).count();
            if model[p] {
                map.free_range(p, run).unwrap();
            } else if run == 1 {
                map.alloc(p).unwrap();
            } else {
                map.alloc_range(p, run).unwrap();
            }
            p += run;
        }
        model = !model;
        assert_storage(&map, &model, &format!("{what}, complement"));
        // Refused updates change nothing.
        if model.any() {
            assert!(map.alloc_range(0, pages).is_err());
        }
        if model.not_all() {
            assert!(map.free_range(0, pages).is_err());
        }
        assert_storage(&map, &model, &format!("{what}, refused"));
        for p in model.iter_ones().collect::<Vec<_>>() {
            map.free(p).unwrap();
        }
        map.alloc_range(0, pages).unwrap();
        model.fill(true);
        assert_storage(&map, &model, &format!("{what}, full"));
        map.free_range(0, pages).unwrap();
        model.fill(false);
        assert_storage(&map, &model, &format!("{what}, empty again"));
        assert!(map.scrub().is_clean());
        no_faults(map.stats());
    }
}

fn fault_injection_bad_index<M: TestMap>() {
    let map = M::with_pages(100);
    let (words, bits) = (map.storage_words(), map.storage_bits());
    assert_eq!(
        map.flip_storage_bit(bits),
        Err(StateError::StorageOutOfRange {
            index: bits,
            len: bits
        })
    );
    assert_eq!(
        map.flip_storage_bit(usize::MAX),
        Err(StateError::StorageOutOfRange {
            index: usize::MAX,
            len: bits
        })
    );
    assert_eq!(
        map.write_storage_word(words, 0),
        Err(StateError::StorageOutOfRange {
            index: words,
            len: words
        })
    );
    assert_eq!(raw(&map), raw(&M::with_pages(100)));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| map.storage_word(words)));
    assert!(
        r.is_err(),
        "storage_word past the end panics, as documented"
    );
}

// ---------------------------------------------------------------------------
// The baseline's own test suite, case by case.

/// 1. The initial state is consistent: every page free, a clean scrub.
fn baseline_01_initial_state_consistent<M: TestMap>() {
    for pages in sizes::<M>() {
        let map = M::with_pages(pages);
        let r = map.scrub();
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.words, M::words_for(pages));
        assert_eq!(map.count_allocated(), Ok(0));
        assert_matches(&map, &Model::repeat(false, pages), M::NAME);
        assert_eq!(map.stats(), FaultStats::default());
    }
}

/// 2. A set keeps the map consistent and reports the page was not set.
fn baseline_02_set_keeps_consistency<M: TestMap>() {
    let map = M::with_pages(100);
    assert_eq!(map.alloc(42), Ok(()), "was not set");
    assert!(map.scrub().is_clean());
    assert_eq!(map.is_allocated(42), Ok(true));
    no_faults(map.stats());
}

/// 3. A clear keeps the map consistent and reports the page was set.
fn baseline_03_clear_keeps_consistency<M: TestMap>() {
    let map = M::with_pages(100);
    map.alloc(42).unwrap();
    assert_eq!(map.free(42), Ok(()), "was set");
    assert!(map.scrub().is_clean());
    assert_eq!(map.is_allocated(42), Ok(false));
    assert_eq!(raw(&map), raw(&M::with_pages(100)));
    no_faults(map.stats());
}

/// 4. A double set is reported.
fn baseline_04_double_set_reported<M: TestMap>() {
    let map = M::with_pages(100);
    map.alloc(7).unwrap();
    assert_eq!(map.alloc(7), Err(StateError::DoubleAlloc { page: 7 }));
    assert_eq!(map.stats().double_alloc, 1);
    assert!(map.scrub().is_clean());
    assert_eq!(map.is_allocated(7), Ok(true));
}

/// 5. A clear of a never-set bit is reported.
fn baseline_05_clear_of_unset_reported<M: TestMap>() {
    let map = M::with_pages(100);
    assert_eq!(map.free(7), Err(StateError::DoubleFree { page: 7 }));
    assert_eq!(map.stats().double_free, 1);
    assert!(map.scrub().is_clean());
    assert_eq!(map.is_allocated(7), Ok(false));
}

/// 6. Corruption of the state bit (a bit set behind the map's back: the
///    baseline's primary) is caught by validate (scrub) and by the per-page
///    check. Per scheme: the dual bitmap detects it, the ECC map repairs it,
///    the plain bitmap cannot see it (its documented limit).
fn baseline_06_corruption_in_primary_detected<M: TestMap>() {
    for scrub_first in [true, false] {
        let map = M::with_pages(100);
        let page = 42;
        map.flip_storage_bit(map.state_bit(page)).unwrap();
        check_corruption(&map, page, false, scrub_first);
    }
}

/// 7. Corruption of the redundant copy (a bit cleared behind the map's back:
///    the baseline's secondary; for the ECC map, a set check bit of the
///    page's codeword) is caught likewise.
fn baseline_07_corruption_in_secondary_detected<M: TestMap>() {
    for scrub_first in [true, false] {
        let map = M::with_pages(100);
        let page = 42;
        let guards = map.guard_bits(page);
        // A set guard bit if there is one (the secondary's bit of a free
        // page is set; Hamming (7,4)'s all-free codeword has none).
        let Some(&bit) = guards
            .iter()
            .find(|&&b| map.storage_word(b / 64) >> (b % 64) & 1 == 1)
            .or(guards.first())
        else {
            assert_eq!(
                M::PROTECTION,
                Protection::Silent,
                "{}: no guard bit",
                M::NAME
            );
            return;
        };
        map.flip_storage_bit(bit).unwrap();
        check_corruption(&map, page, true, scrub_first);
    }
}

/// What a map does with one flipped bit guarding free page `page`.
fn check_corruption<M: TestMap>(map: &M, page: usize, in_guard: bool, scrub_first: bool) {
    match M::PROTECTION {
        Protection::Detects => {
            let e = Some(StateError::Uncorrectable {
                first: page,
                count: 1,
            });
            let r = map.scrub();
            assert_eq!(
                (r.uncorrectable, r.corrected),
                (1, 0),
                "validate detects it"
            );
            assert_eq!(r.bad_pages, vec![page..page + 1]);
            assert_eq!(map.is_allocated(page).err(), e);
            assert_eq!(
                map.alloc(page).err(),
                e,
                "the per-page check runs before the update"
            );
            assert_eq!(map.free(page).err(), e);
            assert_eq!(map.is_allocated(page + 1), Ok(false), "neighbours are fine");
            assert!(map.stats().ue_count >= 4);
            assert_eq!(map.stats().ce_count, 0);
        }
        Protection::Corrects => {
            if scrub_first {
                let r = map.scrub();
                assert_eq!((r.corrected, r.uncorrectable), (1, 0), "{r:?}");
            } else {
                assert_eq!(map.is_allocated(page), Ok(false), "corrected on read");
            }
            assert_eq!(map.stats().ce_count, 1);
            assert!(map.scrub().is_clean(), "repaired in place");
            assert_eq!(raw(map), raw(&M::with_pages(100)));
            assert_eq!(map.alloc(page), Ok(()));
        }
        Protection::Silent => {
            assert!(!in_guard);
            assert!(map.scrub().is_clean(), "the plain bitmap checks nothing");
            assert_eq!(map.is_allocated(page), Ok(true), "a silently wrong answer");
            assert_eq!(map.alloc(page), Err(StateError::DoubleAlloc { page }));
            assert_eq!(map.stats().ce_count + map.stats().ue_count, 0);
        }
    }
}

/// 8. Many operations: set 0..64, clear 32..64, check the exact state.
fn baseline_08_many_operations<M: TestMap>() {
    let map = M::with_pages(100);
    for p in 0..64 {
        map.alloc(p).unwrap();
    }
    for p in 32..64 {
        map.free(p).unwrap();
    }
    let mut model = Model::repeat(false, 100);
    model[..32].fill(true);
    assert_matches(&map, &model, M::NAME);
    assert!(map.scrub().is_clean());
}

/// 9. Boundary bits: the first, the last, the last of the first word and
///    the first of the second (each map's own word).
fn baseline_09_boundary_bits<M: TestMap>() {
    let w = M::PAGES_PER_WORD;
    let pages = 3 * w;
    let map = M::with_pages(pages);
    let mut model = Model::repeat(false, pages);
    for p in [0, pages - 1, w - 1, w] {
        map.alloc(p).unwrap();
        model.set(p, true);
        assert_eq!(map.is_allocated(p), Ok(true));
    }
    assert_matches(&map, &model, M::NAME);
    assert!(map.scrub().is_clean());
    for p in [0, pages - 1, w - 1, w] {
        map.free(p).unwrap();
        assert_eq!(map.is_allocated(p), Ok(false));
    }
    assert_eq!(map.count_allocated(), Ok(0));
}

/// 10. test() follows set and clear.
fn baseline_10_test_follows_set_clear<M: TestMap>() {
    let map = M::with_pages(100);
    for p in [0, 13, 63, 64, 99] {
        assert_eq!(map.is_allocated(p), Ok(false));
        map.alloc(p).unwrap();
        assert_eq!(map.is_allocated(p), Ok(true));
        map.free(p).unwrap();
        assert_eq!(map.is_allocated(p), Ok(false));
    }
}

/// 11. A bit count that is not a multiple of the word size (100 bits), with
///     operations near the end.
fn baseline_11_non_multiple_size<M: TestMap>() {
    let map = M::with_pages(100);
    for p in 95..100 {
        map.alloc(p).unwrap();
    }
    assert_eq!(
        map.alloc(100),
        Err(StateError::OutOfRange {
            page: 100,
            pages: 100
        })
    );
    map.free(97).unwrap();
    let mut model = Model::repeat(false, 100);
    model[95..100].fill(true);
    model.set(97, false);
    assert_matches(&map, &model, M::NAME);
    assert_eq!(map.find_free(95), Ok(Some(97)));
    assert_eq!(map.find_free(98), Ok(None));
    assert!(map.scrub().is_clean());
}

/// `Debug` shows the map's size and counters, not its storage: the same
/// few fields for a page and for a million pages.
fn debug_shows_size_and_stats_not_storage<M: TestMap>() {
    for pages in [1, 1_000_000] {
        let map = M::with_pages(pages);
        map.alloc(0).unwrap();
        assert!(map.alloc(0).is_err());
        let words = map.scrub().words;
        let s = format!("{map:?}");
        for want in [
            format!("pages: {pages},"),
            format!("words: {words},"),
            format!("storage_bytes: {},", map.storage_bytes()),
            format!("stats: {:?}", map.stats()),
        ] {
            assert!(s.contains(&want), "{}: {want} not in {s}", M::NAME);
        }
        assert_eq!(map.stats().double_alloc, 1);
        assert!(s.len() < 250, "{}: {s}", M::NAME);
    }
}

for_each_map!(
    debug_shows_size_and_stats_not_storage,
    single_alloc_free,
    double_alloc_leaves_state_unchanged,
    double_free_leaves_state_unchanged,
    range_alloc_free,
    range_alloc_is_all_or_nothing,
    range_free_is_all_or_nothing,
    first_and_last_page,
    word_edges,
    page_count_not_a_multiple_of_the_word,
    find_free_cases,
    count_allocated_cases,
    snapshot_is_the_state,
    out_of_range_pages,
    bad_ranges,
    zero_pages,
    from_static_storage,
    storage_accounting,
    storage_is_the_encoding_of_the_state,
    fault_injection_bad_index,
    baseline_01_initial_state_consistent,
    baseline_02_set_keeps_consistency,
    baseline_03_clear_keeps_consistency,
    baseline_04_double_set_reported,
    baseline_05_clear_of_unset_reported,
    baseline_06_corruption_in_primary_detected,
    baseline_07_corruption_in_secondary_detected,
    baseline_08_many_operations,
    baseline_09_boundary_bits,
    baseline_10_test_follows_set_clear,
    baseline_11_non_multiple_size,
);

/// The dual bitmap's two allocations are checked separately: a secondary
/// that is too small is refused as well.
#[test]
fn dual_from_static_checks_both_bitmaps() {
    use eccmap::{DualBitmap, NativeWord};
    let n = DualBitmap::bitmap_words(100);
    let cells = |n| common::leak_cells::<NativeWord>(n, 0);
    let e = DualBitmap::from_static_pair(cells(n), cells(n - 1), 100).err();
    assert_eq!(
        e,
        Some(StateError::StorageTooSmall {
            needed: n,
            given: n - 1
        })
    );
    let e = DualBitmap::from_static_pair(cells(n - 1), cells(n), 100).err();
    assert_eq!(
        e,
        Some(StateError::StorageTooSmall {
            needed: n,
            given: n - 1
        })
    );
}

/// The striped map's data and parity storage are checked separately.
#[test]
fn striped_from_static_checks_both_allocations() {
    use eccmap::StripedBitmap;
    let pages = (GROUP_WORDS + 1) * 57;
    let (data, parity) = (
        StripedBitmap::words_for(pages),
        StripedBitmap::parity_words_for(pages),
    );
    assert_eq!((data, parity), (GROUP_WORDS + 1, 2));
    let e = StripedBitmap::from_static(leak_words(data, 0), leak_words(parity - 1, 0), pages);
    assert_eq!(
        e.err(),
        Some(StateError::StorageTooSmall {
            needed: 2,
            given: 1
        })
    );
    let e = StripedBitmap::from_static(leak_words(data - 1, 0), leak_words(parity, 0), pages);
    assert_eq!(
        e.err(),
        Some(StateError::StorageTooSmall {
            needed: data,
            given: data - 1
        })
    );
}

/// Each map's pages per word, as documented (64, 57, 26, 32, 36, 56, 57, 57).
#[test]
fn pages_per_word_as_documented() {
    use eccmap::{DualBitmap, PlainBitmap};
    // The native word: 64 bits on 64-bit targets, 32 on 32-bit ones.
    let native = if cfg!(target_pointer_width = "64") {
        64
    } else {
        32
    };
    assert_eq!(<PlainBitmap as TestMap>::PAGES_PER_WORD, native);
    assert_eq!(<DualBitmap as TestMap>::PAGES_PER_WORD, native);
    assert_eq!((Ecc64::LANES, Ecc64::PAGES_PER_WORD), (1, 57));
    // One codeword per `AtomicU32`.
    assert_eq!((Ecc32::LANES, Ecc32::PAGES_PER_WORD), (1, 26));
    assert_eq!((Ecc84::LANES, Ecc84::PAGES_PER_WORD), (8, 32));
    assert_eq!((Ecc74::LANES, Ecc74::PAGES_PER_WORD), (9, 36));
    assert_eq!((Ecc64b::LANES, Ecc64b::PAGES_PER_WORD), (1, 56));
    assert_eq!((Ecc64k::LANES, Ecc64k::PAGES_PER_WORD), (1, 57));
    // The striped map's data words are keyed (64,57) words.
    use eccmap::StripedBitmap;
    assert_eq!(
        (StripedBitmap::words_for(57), StripedBitmap::words_for(58)),
        (1, 2)
    );
    // words_for is a const fn, usable to size static storage.
    const WORDS: usize = Ecc64::words_for(1000);
    assert_eq!(WORDS, 18);
}

/// A user's own `impl PageState` that defines only the required methods
/// gets `snapshot` (added by the `alloc` feature) from the trait's default
/// body: the same bits as the map's own snapshot, and the same refusal of a
/// page of unknown state.
#[test]
fn a_user_impl_gets_the_default_snapshot() {
    use eccmap::{Claim, DualBitmap, FaultInjection, PageState, ScrubReport};
    struct Mine(DualBitmap);
    impl PageState for Mine {
        fn pages(&self) -> usize {
            self.0.pages()
        }
        fn alloc(&self, page: usize) -> Result<(), StateError> {
            self.0.alloc(page)
        }
        fn free(&self, page: usize) -> Result<(), StateError> {
            self.0.free(page)
        }
        fn alloc_range(&self, first: usize, count: usize) -> Result<(), StateError> {
            self.0.alloc_range(first, count)
        }
        fn free_range(&self, first: usize, count: usize) -> Result<(), StateError> {
            self.0.free_range(first, count)
        }
        fn try_alloc_range(&self, first: usize, count: usize) -> Result<Claim, StateError> {
            self.0.try_alloc_range(first, count)
        }
        fn is_allocated(&self, page: usize) -> Result<bool, StateError> {
            self.0.is_allocated(page)
        }
        fn find_free(&self, from: usize) -> Result<Option<usize>, StateError> {
            self.0.find_free(from)
        }
        fn count_allocated(&self) -> Result<usize, StateError> {
            self.0.count_allocated()
        }
        fn scrub(&self) -> ScrubReport {
            self.0.scrub()
        }
        fn scrub_exclusive(&mut self) -> ScrubReport {
            self.0.scrub_exclusive()
        }
        fn stats(&self) -> FaultStats {
            self.0.stats()
        }
        fn storage_bytes(&self) -> usize {
            self.0.storage_bytes()
        }
        fn restore(
            &self,
            first: usize,
            count: usize,
            allocated: &dyn Fn(usize) -> bool,
        ) -> Result<eccmap::Restored, StateError> {
            self.0.restore(first, count, allocated)
        }
    }
    for pages in [0, 1, 63, 64, 65, 200] {
        let mine = Mine(DualBitmap::with_pages(pages));
        for p in pattern(pages).iter_ones() {
            mine.alloc(p).unwrap();
        }
        let snap = mine.snapshot().unwrap();
        assert_eq!(snap, mine.0.snapshot().unwrap(), "{pages} pages");
        assert_eq!(snap.len(), pages);
        assert_eq!(snap, pattern(pages), "{pages} pages");
    }
    let mine = Mine(DualBitmap::with_pages(200));
    mine.0.flip_storage_bit(70).unwrap();
    assert_eq!(
        mine.snapshot(),
        Err(StateError::Uncorrectable {
            first: 70,
            count: 1
        })
    );
}

/// The maps' and the allocator's `Debug`, exactly: the type without module
/// paths, its parameters, its size and counters.
#[test]
fn debug_output() {
    use eccmap::codes::Secded64;
    use eccmap::{
        EccBitmap, FrameAllocator, KeyedEccBitmap, PageState, PlainBitmap, StripedBitmap,
    };
    let stats =
        "FaultStats { ce_count: 0, ue_count: 0, double_alloc: 0, double_free: 0, restored: 0 }";
    assert_eq!(
        format!("{:?}", EccBitmap::<Secded64>::with_pages(114)),
        format!("EccBitmap {{ types: <Secded64>, pages: 114, words: 2, storage_bytes: 16, stats: {stats} }}")
    );
    assert_eq!(
        format!("{:?}", KeyedEccBitmap::<Secded64>::with_pages(57)),
        format!("EccBitmap {{ types: <Secded64, AddressKeyed>, pages: 57, words: 1, storage_bytes: 8, stats: {stats} }}")
    );
    assert_eq!(
        format!("{:?}", StripedBitmap::with_pages(57)),
        format!("StripedBitmap {{ pages: 57, words: 1, storage_bytes: 16, stats: {stats} }}")
    );
    let native = eccmap::NativeWord::BITS as usize;
    assert_eq!(
        format!("{:?}", PlainBitmap::with_pages(native)),
        format!(
            "PlainBitmap {{ pages: {native}, words: 1, storage_bytes: {}, stats: {stats} }}",
            native / 8
        )
    );
    let frames = FrameAllocator::new(eccmap::DualBitmap::with_pages(100));
    frames.reserve(0, 10).unwrap();
    assert_eq!(
        format!("{frames:?}"),
        format!(
            "FrameAllocator {{ pages: 100, free_pages: 90, policy: NextFit, storage_bytes: {}, stats: {stats} }}",
            frames.map().storage_bytes()
        )
    );
}
