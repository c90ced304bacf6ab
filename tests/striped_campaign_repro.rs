//! What the fault campaign found in StripedBitmap (`ecc64s`): regression
//! tests for what src/striped.rs has since fixed, and failing reproductions
//! of what it has not, kept `#[ignore]`d
//! (`cargo test --features fault-injection --test striped_campaign_repro -- --ignored`).
//! Every fault is injected behind the encoder's back through FaultInjection.
#![cfg(not(feature = "panic-on-fault"))]

use eccmap::{FaultInjection, PageState, StateError, StripedBitmap};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use testkit::Rng;

/// Pages of a map of 128 data words (57 pages each): 2 groups, so the
/// parity words are storage words 128 (group 0) and 129 (group 1).
const PAGES: usize = 57 * 128;

/// Runs `op` on a thread of its own and waits at most `secs` seconds for it.
/// `None` if it has not returned by then (the thread is left behind; the
/// test process ends with the test).
fn within<T: Send + 'static>(secs: u64, op: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(op());
    });
    rx.recv_timeout(Duration::from_secs(secs)).ok()
}

/// Campaign, first run (on src before b97cac4): `ecc64s word_ones trial
/// 111` (seed 1) hung: the fault `Write([(575, u64::MAX)])` overwrote the
/// parity word of group 0 of a 32,768-page map (575 data words, 9 groups)
/// with all ones, which filled the control field's updater count, and
/// `announce` waited without bound for a slot. Commit b97cac4 bounds that
/// wait (the update then fails with `Uncorrectable`); this is its
/// regression test. The same full count follows from a random word or line
/// over a parity word (1 in 32), or a data word copied over one.
#[test]
fn an_update_after_the_parity_word_is_overwritten_with_ones_returns() {
    let map = StripedBitmap::with_pages(PAGES);
    assert_eq!(map.storage_words(), 130);
    map.write_storage_word(128, u64::MAX).unwrap(); // group 0's parity word
    let map = std::sync::Arc::new(map);
    let m = map.clone();
    // Page 0 (free) is in data word 0, group 0. Done or refused as
    // Uncorrectable are both right (the group's control field is garbage),
    // but the call must return.
    let got = within(20, move || m.alloc(0));
    assert!(
        matches!(got, Some(Ok(()) | Err(StateError::Uncorrectable { .. }))),
        "alloc(0) after 20 s: {got:?} (None: it has not returned)"
    );
}

/// A map with a pseudo-random state (about a third of the pages
/// allocated, every word different) and its model.
fn patterned() -> (StripedBitmap, Vec<bool>) {
    let map = StripedBitmap::with_pages(PAGES);
    let mut rng = Rng::new(1);
    let model: Vec<bool> = (0..PAGES).map(|_| rng.below(3) == 0).collect();
    for (p, &a) in model.iter().enumerate() {
        if a {
            map.alloc(p).unwrap();
        }
    }
    (map, model)
}

/// The pages of data word `w` whose answer is wrong (an `Ok` that differs
/// from the model; an `Uncorrectable` is a right answer here).
fn wrong_pages(map: &StripedBitmap, model: &[bool], w: usize) -> Vec<usize> {
    (w * 57..(w + 1) * 57)
        .filter(|&p| matches!(map.is_allocated(p), Ok(a) if a != model[p]))
        .collect()
}

/// Campaign, on src before beb3d31: `ecc64s burst3_word`, 207 of 2,000
/// trials silent (seed 1), every one a burst in a data word starting at
/// bit 55 to 61 (e.g. trial 6: `Flip([22715, 22716, 22717])`, bits 59..62
/// of word 354, group 3). A 3-bit error in a (64,57) word has an odd
/// syndrome, always some bit's column, so the word decodes as `Corrected`
/// with wrong data; `resolve` accepted any correction that left a group
/// mismatch of at most 2 bits, blaming those bits on the parity word and
/// rewriting the parity to match. A burst over the check bits leaves the
/// data 1 or 2 bits off, so the miscorrection was "confirmed" (two repairs
/// counted) and the wrong answer returned and kept. Since beb3d31 such a
/// word is rebuilt from the parity; this is the regression test.
#[test]
fn a_three_bit_burst_over_the_check_bits_is_never_confirmed() {
    let mut silent = Vec::new();
    for start in 50..=61 {
        let (map, model) = patterned();
        let w = 5; // group 1 of 2
        for b in start..start + 3 {
            map.flip_storage_bit(w * 64 + b).unwrap();
        }
        let wrong = wrong_pages(&map, &model, w);
        if !wrong.is_empty() {
            silent.push((start, wrong, map.stats().ce_count));
        }
    }
    assert!(
        silent.is_empty(),
        "(burst start bit, pages answered wrongly, ce_count): {silent:?}"
    );
}

/// Campaign, on src before beb3d31: `ecc64s` `word_zero`, `word_ones`,
/// `word_random`, `word_misplaced` and `line_random` trials that hit one of
/// the 9 parity words (about 1.5% of the storage) were detected, not
/// corrected (e.g. `word_zero` trial 208 of seed 1, `Write([(578, 0)])`):
/// with every member decoding clean and a group mismatch of more than 2
/// bits, `resolve` reported the whole group (64 words, 3,648 pages) instead
/// of rebuilding the parity from the data. Since beb3d31 it rewrites the
/// parity; this is the regression test.
#[test]
fn a_zeroed_parity_word_is_rebuilt_from_the_data() {
    let (mut map, model) = patterned();
    map.write_storage_word(128, 0).unwrap(); // group 0's parity word
    let report = map.scrub_exclusive();
    assert_eq!(
        (
            report.corrected,
            report.uncorrectable,
            report.bad_pages.len()
        ),
        (1, 0, 0),
        "{report:?}"
    );
    for (p, &a) in model.iter().enumerate() {
        assert_eq!(map.is_allocated(p), Ok(a), "page {p}");
    }
}

/// Campaign: `ecc64s word_misplaced`, 26 of 2,000 trials silent (seed 1),
/// every one a data word copied over a data word a multiple of 63 words
/// away, i.e. with the same address key (e.g. trial 32: `Copy { from: 125,
/// to: 377 }`). The copy is a valid codeword at its new index, so reads
/// trust it (a read consults the group only for a word that does not
/// decode clean) and return the source's pages. Before beb3d31 the next
/// scrub found the group inconsistent and reported all of its pages, yet
/// reads of the copy went on answering; since beb3d31 the scrub takes the
/// inconsistency for a damaged parity word and rewrites the parity to agree
/// with the copy, counting a repair: the wrong state becomes permanent and
/// is reported as corrected. The same holds for garbage that decodes clean
/// (`word_random`, 1 word in 128; `line_random`, about 6% of lines) and for
/// 4-bit bursts that are codewords (`burst4_word`, about 12%). A design
/// limit of reads that trust a clean word: closing it needs a group check
/// on reads, keys that never repeat within a map, or parity words that can
/// tell their own damage apart (check bits of their own).
#[test]
#[ignore = "fails today by design: a same-key copy decodes clean and is trusted by reads"]
fn a_word_copied_63_words_away_is_not_trusted() {
    let (map, model) = patterned();
    let (from, to) = (2, 65); // 63 apart: the same key
    map.write_storage_word(to, map.storage_word(from)).unwrap();
    let wrong = wrong_pages(&map, &model, to);
    let scrub = map.scrub();
    let after = wrong_pages(&map, &model, to);
    assert!(
        wrong.is_empty() && after.is_empty(),
        "pages answered wrongly: {wrong:?}; scrub: {scrub:?}; wrong after it: {after:?}"
    );
}
