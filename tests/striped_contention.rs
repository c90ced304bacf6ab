//! StripedBitmap (`ecc64s`) under contention alone (issue 12, item 2):
//! a group check that never finds its group still, or a group that its own
//! updaters left stale, is never reported as a fault; a real single-bit
//! fault found meanwhile is corrected (or left for a later scrub), never
//! reported as `Uncorrectable`.
//!
//! The first three tests reach the give-up paths deterministically. A
//! group's in-flight count is what an updater preempted between its
//! announce and its retire leaves behind: `hold_slots` writes exactly that
//! into the parity word's count (through FaultInjection, as the stalled
//! updaters' announces would), and `release_slots` takes it back out, as
//! their retires of an update that changed nothing would. While a slot is
//! held no group check can find the group still, so every check runs out
//! of tries, as under an endless stream of updates; with all 15 held, an
//! update waits out its bound and marks the group stale, as 32 threads of
//! one group did on a 2-core machine.
//!
//! The stress tests run for `ECCMAP_STRESS_SECS` seconds each (default 2).
//! Every fault is injected behind the encoder's back through FaultInjection.
#![cfg(not(feature = "panic-on-fault"))]

use eccmap::{FaultInjection, PageState, StateError, StripedBitmap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testkit::stress_time;

const PPW: usize = 57;
/// 128 data words: 2 groups, group 0 the even words, group 1 the odd ones;
/// their parity words are storage words 128 and 129.
const WORDS: usize = 128;
const PAGES: usize = WORDS * PPW;
/// The control field's in-flight count and stale flag (docs/design.md).
const COUNT: u64 = 0xF;
const STALE: u64 = 1 << 4;

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// A map of `WORDS` words with about a third of its pages allocated, and
/// its model.
fn patterned(seed: u64) -> (StripedBitmap, Vec<bool>) {
    let m = StripedBitmap::with_pages(PAGES);
    assert_eq!(m.storage_words(), WORDS + 2);
    let mut next = rng(seed);
    let model: Vec<bool> = (0..PAGES).map(|_| next() % 3 == 0).collect();
    for (p, &a) in model.iter().enumerate() {
        if a {
            m.alloc(p).unwrap();
        }
    }
    (m, model)
}

fn parity(m: &StripedBitmap, g: usize) -> u64 {
    m.storage_word(WORDS + g)
}

/// `n` updaters of group `g` in flight: announced, not yet retired.
fn hold_slots(m: &StripedBitmap, g: usize, n: u64) {
    let p = parity(m, g);
    assert!((p & COUNT) + n <= COUNT);
    m.write_storage_word(WORDS + g, p + n).unwrap();
}

/// `n` held updaters of group `g` retire, having changed nothing.
fn release_slots(m: &StripedBitmap, g: usize, n: u64) {
    let p = parity(m, g);
    assert!(p & COUNT >= n);
    m.write_storage_word(WORDS + g, p - n).unwrap();
}

fn assert_model(m: &StripedBitmap, model: &[bool]) {
    for (p, &a) in model.iter().enumerate() {
        assert_eq!(m.is_allocated(p), Ok(a), "page {p}");
    }
}

/// A scrub whose group check never finds group 0 still (an updater holds
/// a slot throughout) gave up and reported the whole group uncorrectable
/// (ue_count 1), though nothing was damaged. It must report the group busy
/// and nothing else; once the slot is released, the next scrub checks it.
#[test]
fn a_scrub_of_a_group_busy_throughout_reports_busy_not_a_fault() {
    let (m, model) = patterned(1);
    hold_slots(&m, 0, 1);
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, 0), "{r:?}");
    assert!(r.bad_pages.is_empty(), "{r:?}");
    assert_eq!(m.stats().ue_count, 0);
    assert_eq!(r.busy, 1, "{r:?}");
    assert!(!r.is_clean(), "a group left unchecked is not a clean scrub");
    release_slots(&m, 0, 1);
    let r = m.scrub();
    assert!(r.is_clean(), "{r:?}");
    assert_model(&m, &model);
    assert_eq!(m.stats().ue_count, 0);
}

/// A real single-bit fault in a member of a busy group: a read answers
/// right from the word's own code and leaves the stored word for a check
/// the group can confirm; a scrub leaves it too (busy, no fault reported);
/// an update carries the in-word repair in its compare-and-swap, as
/// `KeyedEccBitmap`'s does, and keeps the group's sum right. Before, each
/// of them gave up after its tries and reported `Uncorrectable`.
#[test]
fn a_single_bit_fault_in_a_busy_group_is_never_uncorrectable() {
    let (m, mut model) = patterned(2);
    hold_slots(&m, 0, 1);

    // Word 2 (group 0): a page bit flipped.
    let page = 2 * PPW + 10;
    m.flip_storage_bit(2 * 64 + 10).unwrap();
    let faulty = m.storage_word(2);
    assert_eq!(m.is_allocated(page), Ok(model[page]), "read");
    assert_eq!(m.storage_word(2), faulty, "left for a confirmed repair");
    assert_eq!(m.stats().ce_count, 0);
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, 0), "{r:?}");
    assert_eq!(r.busy, 1, "{r:?}");
    assert_eq!(m.storage_word(2), faulty, "left for a later scrub");

    // An update of that word repairs it in-word, counted once.
    let q = (2 * PPW..3 * PPW).find(|&p| !model[p]).unwrap();
    assert_eq!(m.alloc(q), Ok(()), "update");
    model[q] = true;
    assert_eq!(m.stats().ce_count, 1);

    // Word 4 (group 0): a check bit flipped; the scrub leaves it while the
    // group is busy, and repairs it, confirmed, once it is not.
    m.flip_storage_bit(4 * 64 + 60).unwrap();
    let faulty = m.storage_word(4);
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable, r.busy), (0, 0, 1), "{r:?}");
    assert_eq!(m.storage_word(4), faulty);
    release_slots(&m, 0, 1);
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable, r.busy), (1, 0, 0), "{r:?}");
    assert_eq!(m.stats().ce_count, 2);
    assert!(m.scrub().is_clean());

    // The in-word update kept the sum: a lost member of group 0 is rebuilt
    // with the page it allocated.
    m.write_storage_word(2, 0).unwrap();
    assert_model(&m, &model);
    assert_eq!(m.stats().ce_count, 3);
    assert_eq!(m.stats().ue_count, 0);
}

/// 15 updaters of group 0 in flight for longer than an announce waits: the
/// next update goes ahead without a slot and marks the group stale. Every
/// scrub then reported the group's pages as unknown until
/// `scrub_exclusive`, and that counted the contention as a repair. A stale
/// group's members are scrubbed on their own code instead: clean ones
/// report nothing, a single-bit error is corrected in-word, and only a
/// member beyond that is reported (its own pages). `scrub_exclusive`
/// recomputes the sum without counting a repair, after which the group
/// rebuilds again.
#[test]
fn a_group_made_stale_by_contention_is_checked_in_word_not_reported() {
    let (mut m, mut model) = patterned(3);
    hold_slots(&m, 0, 15);
    let q = (0..PPW).find(|&p| !model[p]).unwrap(); // word 0, group 0
    assert_eq!(m.alloc(q), Ok(()));
    model[q] = true;
    release_slots(&m, 0, 15);
    assert_ne!(parity(&m, 0) & STALE, 0, "the group went stale");

    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, 0), "{r:?}");
    assert!(r.bad_pages.is_empty(), "{r:?}");
    assert!(r.is_clean(), "{r:?}");
    assert_model(&m, &model);
    assert_eq!(m.stats().ue_count, 0);

    // A single-bit fault in a member: corrected in-word by the scrub.
    m.flip_storage_bit(6 * 64 + 3).unwrap();
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (1, 0), "{r:?}");
    assert!(r.bad_pages.is_empty(), "{r:?}");
    // A member lost: its own pages reported, not the group's.
    let saved = m.storage_word(8);
    m.write_storage_word(8, 0).unwrap();
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable), (0, 1), "{r:?}");
    assert_eq!(r.bad_pages, vec![8 * PPW..9 * PPW]);
    m.write_storage_word(8, saved).unwrap(); // (the damage goes away)
    assert_eq!(m.stats().ce_count, 1);

    let r = m.scrub_exclusive();
    assert_eq!((r.corrected, r.uncorrectable), (0, 0), "{r:?}");
    assert_eq!(m.stats().ce_count, 1, "contention is no repair");
    assert_eq!(parity(&m, 0) & 0x7F, 0);
    // The recomputed sum holds the update made without a slot.
    m.write_storage_word(0, 0).unwrap();
    assert_model(&m, &model);
    assert_eq!(m.stats().ce_count, 2);
    assert_eq!(m.stats().ue_count, 1, "the lost member only");
}

/// Runs `threads` updaters that toggle their own pages (page `p` belongs to
/// thread `p % threads`) of a one-group map, a scrubber that asserts every
/// scrub reports no fault, and, with `inject`, an injector that flips one
/// stored bit of a member at a time and waits for its repair, for
/// `stress_time()`. Checks the final state against the owners' models,
/// that nothing was reported uncorrectable, and that every injected fault
/// was repaired exactly once. Returns (scrubs, busy groups, injected).
fn one_group_stress(threads: usize, inject: bool) -> (usize, usize, u64) {
    let words = 64; // one group
    let pages = words * PPW;
    let mut m = StripedBitmap::with_pages(pages);
    assert_eq!(m.storage_words(), words + 1);
    let stop = AtomicBool::new(false);
    let injected = AtomicU64::new(0);
    let scrubs = AtomicUsize::new(0);
    let busy = AtomicUsize::new(0);
    let end = Instant::now() + stress_time();
    let finals: Vec<Vec<bool>> = std::thread::scope(|s| {
        let m = &m;
        let stop = &stop;
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let r = m.scrub();
                assert_eq!(r.uncorrectable, 0, "false alarm: {r:?}");
                assert!(r.bad_pages.is_empty(), "false alarm: {r:?}");
                scrubs.fetch_add(1, Ordering::Relaxed);
                busy.fetch_add(r.busy, Ordering::Relaxed);
            }
        });
        if inject {
            s.spawn(|| {
                let mut next = rng(4321);
                while !stop.load(Ordering::Relaxed) {
                    let w = (next() as usize) % words;
                    let before = m.stats().ce_count;
                    m.flip_storage_bit(w * 64 + (next() % 64) as usize).unwrap();
                    injected.fetch_add(1, Ordering::Relaxed);
                    // Reads answer (from the word's own code if the group
                    // is busy); a read or a scrub that gets the group still
                    // repairs the fault, before the next one goes in.
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while m.stats().ce_count == before {
                        let got = m.is_allocated(w * PPW);
                        assert!(
                            got.is_ok(),
                            "single-bit fault in word {w} reported: {got:?}"
                        );
                        if m.stats().ce_count == before {
                            let r = m.scrub();
                            assert_eq!(r.uncorrectable, 0, "{r:?}");
                        }
                        assert!(Instant::now() < deadline, "fault in word {w} not repaired");
                    }
                }
            });
        }
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut mine = vec![false; pages];
                    let mut next = rng(77 + t as u64);
                    let mut n = 0u32;
                    loop {
                        n += 1;
                        if n % 256 == 0 && Instant::now() >= end {
                            break;
                        }
                        let p = ((next() as usize) % (pages / threads)) * threads + t;
                        let got = if mine[p] { m.free(p) } else { m.alloc(p) };
                        assert_eq!(got, Ok(()), "page {p}");
                        mine[p] = !mine[p];
                    }
                    mine
                })
            })
            .collect();
        let out = workers.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        out
    });
    let injected = injected.load(Ordering::Relaxed);
    assert_eq!(m.stats().ue_count, 0, "no false alarm");
    assert_eq!(
        m.stats().ce_count,
        injected,
        "every fault repaired exactly once"
    );
    // With no update in flight, a scrub checks the group (or, if it went
    // stale, each member in-word) and finds nothing.
    let r = m.scrub();
    assert!(r.is_clean(), "{r:?}");
    for p in 0..pages {
        let owner = &finals[p % threads];
        assert_eq!(m.is_allocated(p), Ok(owner[p]), "page {p}");
    }
    let stale = m.storage_word(words) & STALE != 0;
    let r = m.scrub_exclusive();
    assert!(r.is_clean(), "stale: {stale}, {r:?}");
    assert_eq!(m.stats().ce_count, injected, "contention is no repair");
    assert_eq!(m.storage_word(words) & 0x7F, 0);
    eprintln!(
        "{threads} updaters: {} scrubs, {} busy, {injected} faults injected, stale: {stale}",
        scrubs.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
    );
    (
        scrubs.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
        injected,
    )
}

/// A scrub racing 3 updaters of one group: no scrub reports a fault (one in
/// about 780,000 did, after 65,536 tries).
#[test]
fn scrubs_racing_three_updaters_of_one_group_report_no_fault() {
    let (scrubs, _, _) = one_group_stress(3, false);
    assert!(scrubs > 0);
}

/// 32 updaters of one group (more than its 15 slots; on a small machine
/// they make it stale): no scrub reports a fault, and `scrub_exclusive`
/// counts no repair.
#[test]
fn thirty_two_updaters_of_one_group_raise_no_alarm() {
    let (scrubs, _, _) = one_group_stress(32, false);
    assert!(scrubs > 0);
}

/// Single-bit faults injected one at a time into a group that 3 updaters
/// keep busy: each is repaired exactly once, and none is reported as
/// uncorrectable.
#[test]
fn single_bit_faults_in_a_busy_group_are_repaired_never_reported() {
    let (_, _, injected) = one_group_stress(3, true);
    assert!(injected > 0);
}

/// The errors a busy group's fallbacks can give are those of the word's
/// own code: a member beyond it (here all ones) is `Uncorrectable`, as it
/// is a real fault that the group could not rebuild in time; its pages
/// are readable again once the group is free to rebuild it.
#[test]
fn a_lost_member_of_a_busy_group_is_rebuilt_once_the_group_is_free() {
    let (m, model) = patterned(4);
    hold_slots(&m, 0, 1);
    m.write_storage_word(10, u64::MAX).unwrap();
    assert_eq!(
        m.is_allocated(10 * PPW),
        Err(StateError::Uncorrectable {
            first: 10 * PPW,
            count: PPW
        })
    );
    let r = m.scrub();
    assert_eq!((r.corrected, r.uncorrectable, r.busy), (0, 0, 1), "{r:?}");
    release_slots(&m, 0, 1);
    assert_model(&m, &model);
    assert_eq!(m.stats().ce_count, 1);
}
