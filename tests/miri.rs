//! The subset of the suite that CI also runs under Miri's default model
//! (Stacked Borrows): every public operation of every map, single-threaded
//! (`api_*`), and a small multi-threaded run (`threads_*`) that CI repeats
//! over several scheduler seeds (`-Zmiri-many-seeds`). See `.ci/run`.
//!
//! The tests are small (a few words of pages, tens of operations) so that
//! the interpreter gets through them in seconds; natively they run with the
//! rest of the suite. The reference model is a `Vec<bool>`, and snapshots
//! are read through `as_raw_slice`: bitvec 1.1.1's per-bit accessors
//! (indexing, `set`, `repeat`, `collect`) are themselves reported by
//! Stacked Borrows (a known upstream issue), so the tests keep to the paths
//! the library itself uses.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use bitvec::vec::BitVec;
use common::*;
use eccmap::{Claim, FrameAllocator, Policy, StateError};
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use testkit::Rng;

/// Pages of the maps here: two whole words and a partial third, so that
/// ranges cross word edges and the last word has pages that do not exist.
fn pages_of<M: TestMap>() -> usize {
    2 * M::PAGES_PER_WORD + 5
}

/// The bits of a snapshot, read from its raw words (see the module docs).
/// Bits past the end must be clear.
fn bits(v: &BitVec<usize>) -> Vec<bool> {
    const B: usize = usize::BITS as usize;
    let raw = v.as_raw_slice();
    assert_eq!(raw.len(), v.len().div_ceil(B), "snapshot words");
    let all: Vec<bool> = (0..raw.len() * B)
        .map(|i| raw[i / B] >> (i % B) & 1 == 1)
        .collect();
    assert!(
        all[v.len()..].iter().all(|&b| !b),
        "bits past the end are set"
    );
    all[..v.len()].to_vec()
}

/// Every read-only answer of `map` agrees with `model`.
fn check<M: TestMap>(map: &M, model: &[bool]) {
    let name = M::NAME;
    assert_eq!(map.pages(), model.len());
    for (p, &a) in model.iter().enumerate() {
        assert_eq!(map.is_allocated(p), Ok(a), "{name}: is_allocated({p})");
    }
    let count = model.iter().filter(|&&a| a).count();
    assert_eq!(map.count_allocated(), Ok(count), "{name}: count_allocated");
    assert_eq!(
        bits(&map.snapshot().expect("snapshot")),
        model,
        "{name}: snapshot"
    );
    for from in (0..=model.len()).step_by(7).chain([model.len()]) {
        let want = (from..model.len()).find(|&p| !model[p]);
        assert_eq!(map.find_free(from), Ok(want), "{name}: find_free({from})");
    }
}

/// Single pages, ranges across word edges, refused calls that change
/// nothing, claims, bad input, and the read-only answers after each step.
fn api_operations<M: TestMap>() {
    let pages = pages_of::<M>();
    let w = M::PAGES_PER_WORD;
    let map = M::with_pages(pages);
    let mut model = vec![false; pages];
    check(&map, &model);

    // Single pages at the word edges.
    for p in [0, w - 1, w, 2 * w, pages - 1] {
        assert_eq!(map.alloc(p), Ok(()));
        model[p] = true;
        assert_eq!(map.alloc(p), Err(StateError::DoubleAlloc { page: p }));
    }
    check(&map, &model);
    assert_eq!(map.free(w), Ok(()));
    model[w] = false;
    assert_eq!(map.free(w), Err(StateError::DoubleFree { page: w }));
    check(&map, &model);

    // A range across the first word edge; a refused range changes nothing.
    assert_eq!(map.alloc_range(w - 3, 2), Ok(()));
    model[w - 3..w - 1].fill(true);
    assert_eq!(
        map.alloc_range(1, w + 1),
        Err(StateError::DoubleAlloc { page: w - 3 })
    );
    check(&map, &model);
    assert_eq!(map.alloc_range(w + 1, w - 1), Ok(()));
    model[w + 1..2 * w].fill(true);
    check(&map, &model);
    assert_eq!(
        map.free_range(w - 3, 5),
        Err(StateError::DoubleFree { page: w })
    );
    check(&map, &model);
    assert_eq!(map.free_range(w + 1, w - 1), Ok(()));
    model[w + 1..2 * w].fill(false);
    check(&map, &model);

    // Claims: busy (nothing changes, nothing counted), then claimed.
    let before = map.stats();
    assert_eq!(
        map.try_alloc_range(w - 4, 3),
        Ok(Claim::Busy { page: w - 3 })
    );
    assert_eq!(map.stats(), before, "a busy claim counts nothing");
    check(&map, &model);
    assert_eq!(map.free(2 * w), Ok(()));
    model[2 * w] = false;
    assert_eq!(map.try_alloc_range(w + 2, w), Ok(Claim::Claimed));
    model[w + 2..2 * w + 2].fill(true);
    check(&map, &model);

    // Bad input.
    assert_eq!(
        map.alloc(pages),
        Err(StateError::OutOfRange { page: pages, pages })
    );
    assert_eq!(
        map.free_range(3, 0),
        Err(StateError::EmptyRange { first: 3 })
    );
    assert_eq!(
        map.alloc_range(pages - 1, 2),
        Err(StateError::RangeOutOfBounds {
            first: pages - 1,
            count: 2,
            pages
        })
    );
    assert_eq!(
        map.find_free(pages + 1),
        Err(StateError::OutOfRange {
            page: pages + 1,
            pages
        })
    );
    check(&map, &model);

    // Every page, then none.
    for (p, a) in model.iter_mut().enumerate() {
        if !*a {
            map.alloc(p).unwrap();
            *a = true;
        }
    }
    check(&map, &model);
    assert_eq!(map.free_range(0, pages), Ok(()));
    model.fill(false);
    check(&map, &model);

    assert!(map.scrub().is_clean());
    let s = map.stats();
    assert_eq!((s.ce_count, s.ue_count), (0, 0), "{s:?}");
    assert_eq!((s.double_alloc, s.double_free), (6, 2));
}

/// A short seeded random sequence of every operation against the model.
fn api_random_sequence<M: TestMap>() {
    let pages = pages_of::<M>();
    let map = M::with_pages(pages);
    let mut model = vec![false; pages];
    let mut rng = Rng::new(12);
    for _ in 0..150 {
        let p = rng.below(pages);
        let n = 1 + rng.below((pages - p).min(2 * M::PAGES_PER_WORD));
        let r = p..p + n;
        match rng.below(6) {
            0 => {
                let want = if model[p] {
                    Err(StateError::DoubleAlloc { page: p })
                } else {
                    Ok(())
                };
                assert_eq!(map.alloc(p), want);
                model[p] = true;
            }
            1 => {
                let want = if model[p] {
                    Ok(())
                } else {
                    Err(StateError::DoubleFree { page: p })
                };
                assert_eq!(map.free(p), want);
                model[p] = false;
            }
            2 => match r.clone().find(|&q| model[q]) {
                Some(q) => assert_eq!(
                    map.alloc_range(p, n),
                    Err(StateError::DoubleAlloc { page: q })
                ),
                None => {
                    assert_eq!(map.alloc_range(p, n), Ok(()));
                    model[r].fill(true);
                }
            },
            3 => match r.clone().find(|&q| !model[q]) {
                Some(q) => assert_eq!(
                    map.free_range(p, n),
                    Err(StateError::DoubleFree { page: q })
                ),
                None => {
                    assert_eq!(map.free_range(p, n), Ok(()));
                    model[r].fill(false);
                }
            },
            4 => match r.clone().find(|&q| model[q]) {
                Some(q) => assert_eq!(map.try_alloc_range(p, n), Ok(Claim::Busy { page: q })),
                None => {
                    assert_eq!(map.try_alloc_range(p, n), Ok(Claim::Claimed));
                    model[r].fill(true);
                }
            },
            _ => assert!(map.scrub().is_clean()),
        }
        assert_eq!(map.is_allocated(p), Ok(model[p]));
    }
    check(&map, &model);
}

/// One flipped stored bit of a page's word, met by a read and by a scrub,
/// as the map's scheme handles it; then the map over caller-provided
/// storage.
fn api_faults_and_static_storage<M: TestMap>() {
    let pages = pages_of::<M>();
    let page = M::PAGES_PER_WORD + 3;
    let map = M::with_pages(pages);
    let mut model = vec![false; pages];
    map.alloc_range(page - 1, 3).unwrap();
    model[page - 1..page + 2].fill(true);
    map.flip_storage_bit(map.state_bit(page)).unwrap();
    match M::PROTECTION {
        Protection::Silent => {
            assert_eq!(map.is_allocated(page), Ok(false), "a silent wrong answer");
            assert!(map.scrub().is_clean());
            map.flip_storage_bit(map.state_bit(page)).unwrap();
        }
        Protection::Detects => {
            let e = Some(StateError::Uncorrectable {
                first: page,
                count: 1,
            });
            assert_eq!(map.is_allocated(page).err(), e);
            assert_eq!(map.snapshot().err(), e);
            let r = map.scrub();
            assert_eq!((r.corrected, r.uncorrectable), (0, 1), "{r:?}");
            assert_eq!(r.bad_pages, vec![page..page + 1]);
            map.flip_storage_bit(map.state_bit(page)).unwrap();
        }
        Protection::Corrects => {
            assert_eq!(map.is_allocated(page), Ok(true), "corrected on read");
            map.flip_storage_bit(map.guard_bits(page)[0]).unwrap();
            let r = map.scrub();
            assert_eq!((r.corrected, r.uncorrectable), (1, 0), "{r:?}");
            assert_eq!(map.stats().ce_count, 2);
        }
    }
    assert!(map.scrub().is_clean());
    check(&map, &model);

    let map = M::from_static_words(pages, M::words_for(pages)).unwrap();
    let model = vec![false; pages];
    check(&map, &model);
    assert!(map.scrub().is_clean());
    keep(map);
}

/// Keeps a map over leaked `'static` storage (`from_static`'s, as a
/// kernel's static arrays would be) reachable from a static to the end of
/// the program, so that Miri's leak check passes over that storage and
/// still covers every other allocation.
fn keep<M: TestMap>(map: M) {
    static KEPT: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());
    KEPT.lock().unwrap().push(Box::new(map));
}

/// The frame allocator over the map: reserve, single pages until memory
/// runs out, an aligned block, and frees, with its free count.
fn api_frame_allocator<M: TestMap>() {
    let pages = pages_of::<M>();
    let w = M::PAGES_PER_WORD;
    for policy in [Policy::NextFit, Policy::LowestFirst] {
        let frames = FrameAllocator::with_policy(M::with_pages(pages), policy);
        assert_eq!(frames.reserve(0, 3), Ok(()));
        assert_eq!(
            frames.reserve(2, 2),
            Err(StateError::DoubleAlloc { page: 2 })
        );
        let mut got: Vec<usize> = (3..pages)
            .map(|_| frames.alloc().unwrap().expect("a free page"))
            .collect();
        assert_eq!(frames.alloc(), Ok(None));
        assert_eq!(frames.free_pages(), 0);
        got.sort_unstable();
        assert_eq!(got, (3..pages).collect::<Vec<_>>(), "each page once");
        assert_eq!(frames.dealloc_contiguous(w, w), Ok(()));
        assert_eq!(frames.dealloc(3), Ok(()));
        assert_eq!(frames.dealloc(3), Err(StateError::DoubleFree { page: 3 }));
        assert_eq!(frames.free_pages(), w + 1);
        assert_eq!(frames.alloc_contiguous(w, 0), Ok(Some(w)));
        assert_eq!(frames.alloc_contiguous(2, 0), Ok(None));
        assert_eq!(frames.alloc(), Ok(Some(3)));
        assert_eq!(frames.free_pages(), 0);
        assert_eq!(frames.map().count_allocated(), Ok(pages));
    }
}

for_each_map!(
    api_operations,
    api_frame_allocator,
    api_random_sequence,
    api_faults_and_static_storage
);

/// Two threads allocate and free their own pages (page `p` belongs to
/// thread `p % 2`, so they share every word; the last two pages belong to
/// nobody) singly and in ranges, while the test thread scrubs and reads.
/// Every operation of an owner succeeds, no fault is reported (but the
/// dual bitmap's scrub alarms), nobody's pages stay free, and the map ends
/// as the owners left it.
fn threads_owners_and_scrubber<M: TestMap>() {
    let pages = M::PAGES_PER_WORD + 6;
    let map = M::with_pages(pages);
    let done = AtomicBool::new(false);
    let mut alarms = 0;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mine: Vec<usize> = (t..pages - 2).step_by(2).collect();
                    for round in 0..2 {
                        for &p in &mine {
                            map.alloc(p).unwrap();
                        }
                        for &p in &mine {
                            assert_eq!(map.is_allocated(p), Ok(true));
                            map.free(p).unwrap();
                        }
                        // A one-page claim and range free of its own.
                        let p = mine[(M::PAGES_PER_WORD / 2 + round) % mine.len()];
                        assert_eq!(map.try_alloc_range(p, 1), Ok(Claim::Claimed));
                        map.free_range(p, 1).unwrap();
                    }
                    // Leave every second page of its own allocated.
                    for &p in mine.iter().step_by(2) {
                        map.alloc(p).unwrap();
                    }
                })
            })
            .collect();
        while !done.load(Ordering::Relaxed) {
            let r = map.scrub();
            if M::PROTECTION == Protection::Detects {
                // The dual bitmap's scrub can catch a page between its two
                // atomic updates: the baseline's false alarm window
                // (tests/concurrency.rs). Counted, and nothing else may be.
                alarms += r.uncorrectable as u64;
                assert_eq!(r.corrected, 0);
            } else {
                assert!(r.is_clean(), "{r:?}");
                assert!(map.count_allocated().unwrap() <= pages - 2);
            }
            assert_eq!(map.is_allocated(pages - 1), Ok(false));
            assert_eq!(map.find_free(pages - 2), Ok(Some(pages - 2)));
            done.store(workers.iter().all(|w| w.is_finished()), Ordering::Relaxed);
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    let model: Vec<bool> = (0..pages).map(|p| p < pages - 2 && p % 4 < 2).collect();
    check(&map, &model);
    let s = map.stats();
    assert_eq!(
        (s.ce_count, s.ue_count, s.double_alloc, s.double_free),
        (0, alarms, 0, 0),
        "{s:?}"
    );
}

// One map per engine (the `EccBitmap` codes share theirs), to keep the
// interpreter's time per seed short.
instantiate!([
    plain: eccmap::PlainBitmap,
    dual: eccmap::DualBitmap,
    ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
    keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
    striped: eccmap::StripedBitmap,
] threads_owners_and_scrubber);
