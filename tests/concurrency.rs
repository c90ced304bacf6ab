//! Concurrency: worker threads do random single and range alloc/free on
//! pages that share words (each page owned by one thread, in blocks of 5
//! pages that straddle word edges), while a scrubber thread scrubs and, for
//! the ECC maps (`EccBitmap` with every code, `KeyedEccBitmap<Secded64>`,
//! `StripedBitmap`), an injector thread flips single bits behind the
//! encoder's back: one outstanding fault per state word, in a word that
//! decodes clean, and not again in that word until it decodes clean
//! (repaired) again. For the striped map it also flips one parity bit of
//! each parity word once, mid-run (no read repairs it, so it can only wait
//! for a scrub or a group check: one per word keeps the count exact).
//!
//! A word the striped map repaired is left alone for `REFAULT_DELAY` before
//! it is damaged again: its operations give up after three group checks
//! that each repair a fault which is back before the retry (a bug, see
//! `striped_operations_survive_a_word_damaged_again_after_each_repair`);
//! the in-word maps are re-damaged at once.
//!
//! The faults come in three phases, so that both repair paths are sure to
//! run whatever the scheduler does: in the first third the scrubber is
//! paused (only the workers' reads and updates repair), in the second the
//! workers are parked (only the scrubber repairs; the parity bits are
//! flipped then), in the last everything runs at once.
//!
//! Each worker checks every answer about its own pages as it goes (nobody
//! else touches them, and no fault may change an answer). At the end every
//! stored word is the encoding of what the successful operations imply
//! (parity words included), and for the ECC maps `ce_count` equals the
//! faults injected, exactly: every fault repaired once, no repair lost or
//! counted twice under races, no false alarm.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::{FaultInjection, PageState, StateError, StripedBitmap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;
use testkit::Rng;

const WORKERS: usize = 3;
/// Pages per ownership block; not a divisor of any map's pages per word,
/// so blocks straddle word edges and range operations span two words.
const BLOCK: usize = 5;
/// Operations per worker.
const OPS: usize = 6000;
/// Faults the injector places at least while the workers run.
const MIN_FAULTS: u64 = 300;

/// How long the injector leaves a repaired word of a map with parity
/// groups alone before damaging it again.
const REFAULT_DELAY: Duration = Duration::from_millis(1);

/// Phase of a run: only operations repair (the scrubber is paused).
const BY_OPS: u8 = 0;
/// Phase of a run: only the scrubber repairs (the workers are parked).
const BY_SCRUB: u8 = 1;
/// Phase of a run: everything at once.
const ALL: u8 = 2;

/// What the threads of a run share besides the map.
struct Run {
    /// Faults placed so far.
    placed: AtomicU64,
    /// The injector is running (cleared when it ends, even by a panic).
    injecting: AtomicBool,
    /// The phase, advanced by the injector as it places faults.
    phase: AtomicU8,
    /// Scrubs completed.
    scrubs: AtomicU64,
}

impl Run {
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }
    /// Counts one fault placed and moves to the phase it leads to.
    fn placed_one(&self) {
        let n = self.placed.fetch_add(1, Ordering::AcqRel) + 1;
        let phase = match n {
            n if n >= 2 * MIN_FAULTS / 3 => ALL,
            n if n >= MIN_FAULTS / 3 => BY_SCRUB,
            _ => BY_OPS,
        };
        self.phase.fetch_max(phase, Ordering::AcqRel);
    }
}

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

/// Clears its flag when dropped: when its thread ends, panicking or not.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs `OPS` operations, and on until the injector has placed
/// `MIN_FAULTS` faults (or has stopped), so that every fault lands while
/// the workers run, and until the scrubber has completed a scrub, so that
/// scrubs overlap the workers; parked while the phase is `BY_SCRUB`.
fn worker<M: TestMap>(map: &M, t: usize, seed: u64, run: &Run) -> Outcome {
    let pages = map.pages();
    let mine = blocks(t, pages);
    let mut model = Model::repeat(false, pages);
    let (mut double_alloc, mut double_free) = (0, 0);
    let mut rng = Rng::new(seed);
    let mut i = 0;
    let injecting = || run.injecting.load(Ordering::Acquire);
    let more = || {
        (injecting() && run.placed.load(Ordering::Acquire) < MIN_FAULTS)
            || run.scrubs.load(Ordering::Acquire) == 0
    };
    while i < OPS || more() {
        if injecting() && run.phase() == BY_SCRUB {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
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
/// state word, and once `MIN_FAULTS / 2` are placed one parity bit of each
/// parity word (striped); counts the faults in `run`.
fn injector<M: TestMap>(map: &M, stop: &AtomicBool, run: &Run) {
    let words = map.state_words();
    let grouped = words < map.storage_words();
    let mut pending = vec![false; words];
    // When each word was last found repaired.
    let mut repaired = vec![std::time::Instant::now(); words];
    let mut parity_done = false;
    let mut rng = Rng::new(99);
    while !stop.load(Ordering::Acquire) {
        if !parity_done && run.placed.load(Ordering::Acquire) >= MIN_FAULTS / 2 {
            for w in words..map.storage_words() {
                let bit = w * 64 + rng.below(64);
                let bit = match map.bit_role(bit) {
                    BitRole::Parity(_) => bit,
                    // A control bit: a bit of the sum instead.
                    _ => w * 64 + SUM_SHIFT + bit % 64,
                };
                assert!(matches!(map.bit_role(bit), BitRole::Parity(_)));
                map.flip_storage_bit(bit).unwrap();
                run.placed_one();
            }
            parity_done = true;
        }
        let w = rng.below(words);
        let raw = map.storage_word(w);
        if pending[w] {
            // Repaired (by a scrub, a read or an update) once it decodes
            // clean: only this thread ever damages a word.
            pending[w] = !M::raw_word_is_clean(w, raw);
            repaired[w] = std::time::Instant::now();
            continue;
        }
        if grouped && repaired[w].elapsed() < REFAULT_DELAY {
            continue;
        }
        assert!(
            M::raw_word_is_clean(w, raw),
            "word {w} damaged by someone else: {raw:#x}"
        );
        let bit = loop {
            let b = w * 64 + rng.below(64);
            if let BitRole::Codeword { .. } = map.bit_role(b) {
                break b;
            }
        };
        map.flip_storage_bit(bit).unwrap();
        pending[w] = true;
        run.placed_one();
    }
}

fn threads_with_scrubber_and_injector<M: TestMap>() {
    let inject = M::PROTECTION == Protection::Corrects;
    let pages = 3 * M::PAGES_PER_WORD + 7;
    let map = M::with_pages(pages);
    let stop_injecting = AtomicBool::new(false);
    let stop_scrubbing = AtomicBool::new(false);
    let run = Run {
        placed: AtomicU64::new(0),
        injecting: AtomicBool::new(inject),
        phase: AtomicU8::new(if inject { BY_OPS } else { ALL }),
        scrubs: AtomicU64::new(0),
    };
    let (mut scrubs, mut alarms, mut by_scrub) = (0u64, 0u64, 0u64);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let scrubber = s.spawn(|| {
            let (mut n, mut alarms, mut corrected) = (0, 0, 0);
            while !stop_scrubbing.load(Ordering::Acquire) {
                if run.phase() == BY_OPS && run.injecting.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let r = map.scrub();
                // Counted before any check, so that workers never wait
                // for a scrubber that failed.
                run.scrubs.fetch_add(1, Ordering::AcqRel);
                if inject {
                    // No false alarm, ever, under concurrent updates.
                    assert_eq!(r.uncorrectable, 0, "{}: {r:?}", M::NAME);
                }
                alarms += r.uncorrectable as u64;
                corrected += r.corrected as u64;
                n += 1;
                // Pause, so that most faults are met (and repaired) by the
                // workers' reads and updates first.
                std::thread::sleep(Duration::from_millis(1));
            }
            (n, alarms, corrected)
        });
        let injector = inject.then(|| {
            s.spawn(|| {
                // Workers stop waiting for faults if the injector panics.
                let _running = ClearOnDrop(&run.injecting);
                injector(&map, &stop_injecting, &run)
            })
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|t| {
                let (map, run) = (&map, &run);
                s.spawn(move || worker(map, t, 1 + t as u64, run))
            })
            .collect();
        // Join every thread before passing a panic on, so that a failed
        // assertion in one fails the test instead of leaving the others
        // running for ever.
        let joined: Vec<_> = workers.into_iter().map(|h| h.join()).collect();
        stop_injecting.store(true, Ordering::Release);
        let injected = injector.map(|h| h.join());
        stop_scrubbing.store(true, Ordering::Release);
        let scrubbed = scrubber.join();
        let outcomes = joined
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        if let Some(Err(e)) = injected {
            std::panic::resume_unwind(e);
        }
        (scrubs, alarms, by_scrub) = scrubbed.unwrap_or_else(|e| std::panic::resume_unwind(e));
        outcomes
    });
    assert!(scrubs > 0, "the scrubber ran");

    // Repair whatever faults are still outstanding, then compare.
    let r = map.scrub();
    assert_eq!(r.uncorrectable, 0, "{}: {r:?}", M::NAME);
    by_scrub += r.corrected as u64;
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
    assert_storage(&map, &model, M::NAME);
    let stats = map.stats();
    assert_eq!(
        (stats.double_alloc, stats.double_free),
        (da, df),
        "{}",
        M::NAME
    );
    assert!(da > 0 && df > 0);
    let placed = run.placed.load(Ordering::Acquire);
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

for_each_map_64!(threads_with_scrubber_and_injector);

/// One thread allocates, frees and reads a page of data word 0 of a
/// striped map while another damages that word with one flipped bit each
/// time it decodes clean again (never more than one outstanding fault, the
/// rule every ECC map is held to above). Every operation must succeed and
/// every fault be counted once, as `KeyedEccBitmap` does under the same
/// injector (its update repairs and updates in one compare-and-swap).
#[test]
fn striped_operations_survive_a_word_damaged_again_after_each_repair() {
    const FAULTS: u64 = 2000;
    let map = StripedBitmap::with_pages(4 * 57);
    let placed = AtomicU64::new(0);
    let injecting = AtomicBool::new(true);
    let stop = AtomicBool::new(false);
    let (ops, errors) = std::thread::scope(|s| {
        let injector = s.spawn(|| {
            let _running = ClearOnDrop(&injecting);
            let mut rng = Rng::new(5);
            while !stop.load(Ordering::Acquire) && placed.load(Ordering::Acquire) < FAULTS {
                let raw = map.storage_word(0);
                if <StripedBitmap as TestMap>::raw_word_is_clean(0, raw) {
                    map.flip_storage_bit(rng.below(64)).unwrap();
                    placed.fetch_add(1, Ordering::AcqRel);
                }
            }
        });
        let (mut ops, mut errors, mut allocated) = (0u64, Vec::new(), false);
        while injecting.load(Ordering::Acquire) && ops < 10_000_000 {
            ops += 1;
            let got = match ops % 3 {
                0 => map
                    .is_allocated(0)
                    .map(|a| assert_eq!(a, allocated, "op {ops}")),
                _ if allocated => map.free(0),
                _ => map.alloc(0),
            };
            match got {
                Ok(()) if ops % 3 != 0 => allocated = !allocated,
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        }
        stop.store(true, Ordering::Release);
        injector.join().unwrap();
        (ops, errors)
    });
    let _ = map.scrub();
    let s = map.stats();
    assert!(
        errors.is_empty(),
        "{} of {ops} operations failed, e.g. {:?}; {s:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(
        (s.ce_count, s.ue_count),
        (placed.load(Ordering::Acquire), 0)
    );
}
