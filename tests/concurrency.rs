//! Concurrency: worker threads do random single and range alloc/free on
//! pages that share words (each page owned by one thread, in blocks of 5
//! pages that straddle word edges), while a scrubber thread scrubs and, for
//! `EccBitmap`, an injector thread flips single bits behind the encoder's
//! back: one outstanding fault per word, in a word that decodes clean, and
//! not again in that word until it decodes clean (repaired) again.
//!
//! Each worker checks every answer about its own pages as it goes (nobody
//! else touches them, and no fault may change an answer). At the end the
//! state equals what the successful operations imply, and for `EccBitmap`
//! `ce_count` equals the faults injected, exactly: every fault repaired once,
//! no repair lost or counted twice under races, no false alarm.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::StateError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const WORKERS: usize = 3;
/// Pages per ownership block; not a divisor of any map's pages per word,
/// so blocks straddle word edges and range operations span two words.
const BLOCK: usize = 5;
/// Operations per worker.
const OPS: usize = 6000;
/// Faults the injector places at least while the workers run.
const MIN_FAULTS: u64 = 300;

/// What one worker's successful and refused operations imply.
struct Outcome {
    /// The final state of its own pages.
    own: Vec<(usize, bool)>,
    double_alloc: u64,
    double_free: u64,
}

/// The blocks `t` owns: `[first, end)` ranges.
fn blocks(t: usize, pages: usize) -> Vec<(usize, usize)> {
    (0..pages.div_ceil(BLOCK))
        .filter(|b| b % WORKERS == t)
        .map(|b| (b * BLOCK, ((b + 1) * BLOCK).min(pages)))
        .collect()
}

/// Runs `OPS` operations, and on until the injector has placed
/// `MIN_FAULTS` faults, so that every fault lands while the workers run.
fn worker<M: TestMap>(map: &M, t: usize, seed: u64, placed: &AtomicU64, inject: bool) -> Outcome {
    let pages = map.pages();
    let mine = blocks(t, pages);
    let mut model = Model::repeat(false, pages);
    let (mut double_alloc, mut double_free) = (0, 0);
    let mut rng = Rng::new(seed);
    let mut i = 0;
    while i < OPS || (inject && placed.load(Ordering::Acquire) < MIN_FAULTS) {
        i += 1;
        let (s, e) = mine[rng.below(mine.len())];
        match rng.below(8) {
            // A single page, the right way round, or now and then the wrong
            // way (a double alloc/free, refused and counted).
            0..=3 => {
                let p = s + rng.below(e - s);
                let wrong = rng.below(10) == 0;
                let alloc = model[p] == wrong;
                let got = if alloc { map.alloc(p) } else { map.free(p) };
                if wrong {
                    let want = if alloc {
                        double_alloc += 1;
                        StateError::DoubleAlloc { page: p }
                    } else {
                        double_free += 1;
                        StateError::DoubleFree { page: p }
                    };
                    assert_eq!(got, Err(want), "worker {t} op {i}");
                } else {
                    assert_eq!(got, Ok(()), "worker {t} op {i}");
                    model.set(p, alloc);
                }
            }
            // A range inside the block: all or nothing.
            4..=6 => {
                let a = s + rng.below(e - s);
                let b = a + 1 + rng.below(e - a);
                let alloc = rng.below(2) == 0;
                let got = if alloc {
                    map.alloc_range(a, b - a)
                } else {
                    map.free_range(a, b - a)
                };
                match model[a..b].iter().position(|x| *x == alloc) {
                    None => {
                        assert_eq!(got, Ok(()), "worker {t} op {i}");
                        model[a..b].fill(alloc);
                    }
                    Some(i) => {
                        let want = if alloc {
                            double_alloc += 1;
                            StateError::DoubleAlloc { page: a + i }
                        } else {
                            double_free += 1;
                            StateError::DoubleFree { page: a + i }
                        };
                        assert_eq!(got, Err(want), "worker {t} op {i}");
                    }
                }
            }
            _ => {
                for p in s..e {
                    assert_eq!(
                        map.is_allocated(p),
                        Ok(model[p]),
                        "worker {t} op {i}: page {p}"
                    );
                }
            }
        }
    }
    Outcome {
        own: mine
            .iter()
            .flat_map(|&(s, e)| s..e)
            .map(|p| (p, model[p]))
            .collect(),
        double_alloc,
        double_free,
    }
}

/// Flips single bits of codewords until `stop`, one outstanding fault per
/// word; returns the number of faults placed.
fn injector<M: TestMap>(map: &M, stop: &AtomicBool, placed: &AtomicU64) {
    let words = map.storage_words();
    let mut pending = vec![false; words];
    let mut rng = Rng::new(99);
    while !stop.load(Ordering::Acquire) {
        let w = rng.below(words);
        let raw = map.storage_word(w);
        if pending[w] {
            // Repaired (by a scrub, a read or an update) once it decodes
            // clean: only this thread ever damages a word.
            pending[w] = !M::raw_word_is_clean(raw);
            continue;
        }
        assert!(
            M::raw_word_is_clean(raw),
            "word {w} damaged by someone else: {raw:#x}"
        );
        let bit = loop {
            let b = w * 64 + rng.below(64);
            if M::codeword_of_bit(b).is_some() {
                break b;
            }
        };
        map.flip_storage_bit(bit).unwrap();
        pending[w] = true;
        placed.fetch_add(1, Ordering::AcqRel);
    }
}

fn threads_with_scrubber_and_injector<M: TestMap>() {
    let inject = M::PROTECTION == Protection::Corrects;
    let pages = 3 * M::PAGES_PER_WORD + 7;
    let map = M::with_pages(pages);
    let stop_injecting = AtomicBool::new(false);
    let stop_scrubbing = AtomicBool::new(false);
    let placed = AtomicU64::new(0);
    let (mut scrubs, mut alarms, mut by_scrub) = (0u64, 0u64, 0u64);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let scrubber = s.spawn(|| {
            let (mut n, mut alarms, mut corrected) = (0, 0, 0);
            while !stop_scrubbing.load(Ordering::Acquire) {
                let r = map.scrub();
                if inject {
                    // No false alarm, ever, under concurrent updates.
                    assert_eq!(r.uncorrectable, 0, "{}: {r:?}", M::NAME);
                }
                alarms += r.uncorrectable as u64;
                corrected += r.corrected as u64;
                n += 1;
                // Pause, so that most faults are met (and repaired) by the
                // workers' reads and updates first.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            (n, alarms, corrected)
        });
        let injector = inject.then(|| s.spawn(|| injector(&map, &stop_injecting, &placed)));
        let workers: Vec<_> = (0..WORKERS)
            .map(|t| {
                let (map, placed) = (&map, &placed);
                s.spawn(move || worker(map, t, 1 + t as u64, placed, inject))
            })
            .collect();
        let outcomes = workers.into_iter().map(|h| h.join().unwrap()).collect();
        if let Some(h) = injector {
            stop_injecting.store(true, Ordering::Release);
            h.join().unwrap();
        }
        stop_scrubbing.store(true, Ordering::Release);
        (scrubs, alarms, by_scrub) = scrubber.join().unwrap();
        outcomes
    });
    assert!(scrubs > 0, "the scrubber ran");

    // Repair whatever faults are still outstanding, then compare.
    let r = map.scrub();
    assert_eq!(r.uncorrectable, 0, "{}: {r:?}", M::NAME);
    by_scrub += r.corrected as u64;
    for w in 0..map.storage_words() {
        assert!(M::raw_word_is_clean(map.storage_word(w)), "word {w}");
    }
    let mut model = Model::repeat(false, pages);
    let (mut da, mut df) = (0, 0);
    for o in &outcomes {
        for &(p, a) in &o.own {
            model.set(p, a);
        }
        da += o.double_alloc;
        df += o.double_free;
    }
    assert_eq!(
        outcomes.iter().map(|o| o.own.len()).sum::<usize>(),
        pages,
        "every page owned once"
    );
    assert_matches(&map, &model, M::NAME);
    let stats = map.stats();
    assert_eq!(
        (stats.double_alloc, stats.double_free),
        (da, df),
        "{}",
        M::NAME
    );
    assert!(da > 0 && df > 0);
    let placed = placed.load(Ordering::Acquire);
    if inject {
        assert!(placed >= MIN_FAULTS);
        assert_eq!(
            stats.ce_count,
            placed,
            "{}: every fault repaired exactly once",
            M::NAME
        );
        assert_eq!(stats.ue_count, 0, "{}", M::NAME);
        // Both repair paths ran: scrubs, and the reads and compare-and-swap
        // updates of the workers.
        assert!(
            by_scrub > 0 && by_scrub < placed,
            "{by_scrub} of {placed} by scrub"
        );
    } else {
        assert_eq!(placed, 0);
        assert_eq!(stats.ce_count, 0);
        // The dual bitmap's scrub can catch a page between its two atomic
        // updates and (after the retries) report it: the baseline's false
        // alarm window. Those reports are the only uncorrected errors.
        assert_eq!(stats.ue_count, alarms, "{}", M::NAME);
        if M::PROTECTION == Protection::Silent {
            assert_eq!(alarms, 0);
        }
    }
    eprintln!(
        "{}: {scrubs} scrubs; {placed} faults injected, {} repaired by operations, \
         {by_scrub} by scrubs; {alarms} scrub alarms",
        M::NAME,
        placed - by_scrub
    );
}

for_each_map!(threads_with_scrubber_and_injector);
