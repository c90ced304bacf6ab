//! The ECC maps' fast paths (issue 13) give the answers of the full decode:
//! the single-page update that verifies the loaded word by its syndrome and
//! decides on its data bits, the range check that compares a whole word
//! with the encoding of all free / all allocated, and the scrub that tests
//! eight words per step (AVX-512 where the CPU has it; CI also runs this
//! file with `ECCMAP_PORTABLE=1`). Faults are flipped behind the encoder's
//! back (`FaultInjection`), in maps wide enough for the eight-word steps.

use eccmap::codes::{Secded64, Secded64Burst, WideBackend};
use eccmap::{EccBitmap, FaultInjection, KeyedEccBitmap, PageState, StateError};

/// Words in the maps under test: several eight-word steps and a tail.
const WORDS: usize = 43;

trait Map: PageState + FaultInjection {
    const PPW: usize;
    fn new(pages: usize) -> Self;
}
macro_rules! map {
    ($t:ty) => {
        impl Map for $t {
            const PPW: usize = <$t>::PAGES_PER_WORD;
            fn new(pages: usize) -> Self {
                <$t>::with_pages(pages)
            }
        }
    };
}
map!(EccBitmap<Secded64>);
map!(EccBitmap<Secded64Burst>);
map!(KeyedEccBitmap<Secded64>);
map!(KeyedEccBitmap<Secded64Burst>);

/// A map of `WORDS` words, every third page allocated.
fn patterned<M: Map>() -> (M, Vec<bool>) {
    let pages = WORDS * M::PPW;
    let map = M::new(pages);
    let model: Vec<bool> = (0..pages).map(|p| p % 3 == 0).collect();
    for (p, &a) in model.iter().enumerate() {
        if a {
            map.alloc(p).unwrap();
        }
    }
    (map, model)
}

fn raw<M: Map>(map: &M) -> Vec<u64> {
    (0..map.storage_words())
        .map(|i| map.storage_word(i))
        .collect()
}

/// Every single-bit fault of every word is found by the scrub (in an
/// eight-word step or the tail), corrected in place and counted once; two
/// flips in one word are reported as that word's pages and nothing else.
fn scrub_finds_every_fault<M: Map>() {
    let (map, model) = patterned::<M>();
    let before = raw(&map);
    let clean = map.scrub();
    assert!(clean.is_clean() && clean.words == WORDS, "{clean:?}");
    let mut ce = map.stats().ce_count;
    for w in 0..WORDS {
        for bit in 0..64 {
            map.flip_storage_bit(w * 64 + bit).unwrap();
            let r = map.scrub();
            assert_eq!(
                (r.words, r.corrected, r.uncorrectable),
                (WORDS, 1, 0),
                "word {w} bit {bit}: {r:?}"
            );
            ce += 1;
            assert_eq!(map.stats().ce_count, ce, "word {w} bit {bit}");
            assert_eq!(raw(&map), before, "word {w} bit {bit}: repaired");
        }
        let (a, b) = (w * 64 + 3, w * 64 + 60);
        map.flip_storage_bit(a).unwrap();
        map.flip_storage_bit(b).unwrap();
        let r = map.scrub();
        assert_eq!((r.corrected, r.uncorrectable), (0, 1), "word {w}: {r:?}");
        assert_eq!(r.bad_pages, vec![w * M::PPW..(w + 1) * M::PPW], "word {w}");
        map.flip_storage_bit(a).unwrap();
        map.flip_storage_bit(b).unwrap();
    }
    for (p, &a) in model.iter().enumerate() {
        assert_eq!(map.is_allocated(p), Ok(a), "page {p}");
    }
}

#[test]
fn scrub_finds_every_fault_ecc64() {
    println!("dirty8 backend: {:?}", WideBackend::get());
    scrub_finds_every_fault::<EccBitmap<Secded64>>();
}
#[test]
fn scrub_finds_every_fault_ecc64b() {
    scrub_finds_every_fault::<EccBitmap<Secded64Burst>>();
}
#[test]
fn scrub_finds_every_fault_ecc64k() {
    scrub_finds_every_fault::<KeyedEccBitmap<Secded64>>();
}
#[test]
fn scrub_finds_every_fault_ecc64bk() {
    scrub_finds_every_fault::<KeyedEccBitmap<Secded64Burst>>();
}

/// Words in the long maps: more than two key periods of every keyed code
/// here (63 keys for `Secded64`, up to 127 for `Secded64Burst`), so the
/// scrub's steps (32 words by GFNI, 8 by `VPOPCNTQ`, single words) cross
/// the period's wrap at every class.
const LONG_WORDS: usize = 2 * 127 + 19;

/// In a map longer than two key periods, a single-bit fault at each word in
/// turn is found and corrected by one scrub (the clean run after it starts
/// at every class and every alignment), and faults in many words at once
/// (dirty words one and two apart, and isolated ones) are all found and
/// corrected.
fn scrub_across_key_periods<M: Map>() {
    let pages = LONG_WORDS * M::PPW;
    let map = M::new(pages);
    for p in (0..pages).step_by(5) {
        map.alloc(p).unwrap();
    }
    let before = raw(&map);
    assert!(map.scrub().is_clean());
    for w in 0..LONG_WORDS {
        let bit = w * 64 + (w * 7) % 64;
        map.flip_storage_bit(bit).unwrap();
        let r = map.scrub();
        assert_eq!(
            (r.words, r.corrected, r.uncorrectable),
            (LONG_WORDS, 1, 0),
            "word {w}: {r:?}"
        );
        assert_eq!(raw(&map), before, "word {w}: repaired");
    }
    let dirty: Vec<usize> = (0..LONG_WORDS)
        .filter(|w| w % 3 == 0 || w % 37 == 5 || w % 41 == 1)
        .collect();
    for &w in &dirty {
        map.flip_storage_bit(w * 64 + w % 64).unwrap();
    }
    let r = map.scrub();
    assert_eq!(
        (r.words, r.corrected, r.uncorrectable),
        (LONG_WORDS, dirty.len(), 0),
        "{r:?}"
    );
    assert_eq!(raw(&map), before, "all repaired");
    for p in 0..pages {
        assert_eq!(map.is_allocated(p), Ok(p % 5 == 0), "page {p}");
    }
}

#[test]
fn scrub_across_key_periods_ecc64() {
    scrub_across_key_periods::<EccBitmap<Secded64>>();
}
#[test]
fn scrub_across_key_periods_ecc64b() {
    scrub_across_key_periods::<EccBitmap<Secded64Burst>>();
}
#[test]
fn scrub_across_key_periods_ecc64k() {
    scrub_across_key_periods::<KeyedEccBitmap<Secded64>>();
}
#[test]
fn scrub_across_key_periods_ecc64bk() {
    scrub_across_key_periods::<KeyedEccBitmap<Secded64Burst>>();
}

/// In a keyed map longer than two key periods, a clean word copied to
/// another index is caught in a clean run that starts after a faulty word
/// (the run's first key class is then the faulty word's plus one, not 0):
/// copies from one word back and from the word whose class a run started
/// at class 0 would give the target (caught only if the scan keys each word
/// by its own index).
fn keyed_scrub_after_a_fault<M: Map>(period: usize) {
    let pages = LONG_WORDS * M::PPW;
    let map = M::new(pages);
    for p in (0..pages).step_by(3) {
        map.alloc(p).unwrap();
    }
    let before = raw(&map);
    for d in [0, 5, 17, 40, 63, 100, 130] {
        for (t, &keep) in before.iter().enumerate().skip(d + 1) {
            for f in [t - 1, (t - d - 1) % period] {
                if f == t || f == d {
                    continue;
                }
                map.flip_storage_bit(d * 64 + 9).unwrap();
                map.write_storage_word(t, map.storage_word(f)).unwrap();
                let r = map.scrub();
                assert_eq!(
                    (r.corrected, r.uncorrectable),
                    (1, 1),
                    "fault at {d}, word {f} copied to {t}: {r:?}"
                );
                assert_eq!(r.bad_pages, vec![t * M::PPW..(t + 1) * M::PPW]);
                map.write_storage_word(t, keep).unwrap();
            }
        }
    }
    assert_eq!(raw(&map), before);
}

#[test]
fn keyed_scrub_after_a_fault_ecc64k() {
    keyed_scrub_after_a_fault::<KeyedEccBitmap<Secded64>>(
        <eccmap::AddressKeyed as eccmap::Keying>::period::<Secded64>(),
    );
}
#[test]
fn keyed_scrub_after_a_fault_ecc64bk() {
    keyed_scrub_after_a_fault::<KeyedEccBitmap<Secded64Burst>>(
        <eccmap::AddressKeyed as eccmap::Keying>::period::<Secded64Burst>(),
    );
}

/// A keyed map's scrub, in its eight-word steps, catches a clean word
/// copied to another index (the keys differ).
#[test]
fn keyed_scrub_catches_a_misplaced_word() {
    let (map, _) = patterned::<KeyedEccBitmap<Secded64>>();
    for (from, to) in [(0, 1), (5, 17), (30, 41), (42, 8)] {
        let keep = map.storage_word(to);
        map.write_storage_word(to, map.storage_word(from)).unwrap();
        let r = map.scrub();
        assert_eq!(r.uncorrectable, 1, "{from} -> {to}: {r:?}");
        assert_eq!(r.bad_pages, vec![to * 57..(to + 1) * 57]);
        map.write_storage_word(to, keep).unwrap();
        assert!(map.scrub().is_clean());
    }
}

/// A fault on the very bit of the page an update decides on: the update
/// verifies the word before it reads the page, so the answer is the true
/// state and the fault is corrected, for every page offset of a word.
fn single_update_on_a_faulty_page_bit<M: Map>() {
    let (map, model) = patterned::<M>();
    let w = 7;
    let mut ce = map.stats().ce_count;
    for o in 0..M::PPW {
        let p = w * M::PPW + o;
        let before = raw(&map);
        // Page `o` is data bit `o` of the word's codeword.
        map.flip_storage_bit(w * 64 + o).unwrap();
        let (first, second) = if model[p] {
            (map.alloc(p), map.free(p))
        } else {
            (map.free(p), map.alloc(p))
        };
        let refused = if model[p] {
            StateError::DoubleAlloc { page: p }
        } else {
            StateError::DoubleFree { page: p }
        };
        assert_eq!(first, Err(refused), "offset {o}: refused on the true state");
        assert_eq!(second, Ok(()), "offset {o}: the change goes ahead");
        ce += 1;
        assert_eq!(map.stats().ce_count, ce, "offset {o}: corrected once");
        assert_eq!(map.is_allocated(p), Ok(!model[p]), "offset {o}");
        // Put it back.
        if model[p] {
            map.alloc(p).unwrap();
        } else {
            map.free(p).unwrap();
        }
        assert_eq!(raw(&map), before, "offset {o}: repaired");
    }
}

#[test]
fn single_update_on_a_faulty_page_bit_ecc64() {
    single_update_on_a_faulty_page_bit::<EccBitmap<Secded64>>();
}
#[test]
fn single_update_on_a_faulty_page_bit_ecc64k() {
    single_update_on_a_faulty_page_bit::<KeyedEccBitmap<Secded64>>();
}

/// A range over whole words: a whole word that is not the encoding the
/// update expects takes the full decode, whatever is wrong with it.
fn range_over_whole_words<M: Map>() {
    let ppw = M::PPW;
    let map = M::new(WORDS * ppw);
    // Words 2..=9 whole, 1 and 10 partial.
    let (first, count) = (ppw + 5, 9 * ppw);
    let blank = raw(&map);
    // A single flip in a whole word: corrected, the range goes ahead.
    for bit in [0, 30, 56, 57, 63] {
        map.flip_storage_bit(5 * 64 + bit).unwrap();
        assert_eq!(map.alloc_range(first, count), Ok(()), "bit {bit}");
        assert_eq!(map.count_allocated(), Ok(count), "bit {bit}");
        assert_eq!(map.free_range(first, count), Ok(()), "bit {bit}");
        assert_eq!(raw(&map), blank, "bit {bit}");
    }
    // A page allocated in a whole word: refused, naming it, nothing changed.
    map.alloc(6 * ppw + 11).unwrap();
    assert_eq!(
        map.alloc_range(first, count),
        Err(StateError::DoubleAlloc { page: 6 * ppw + 11 })
    );
    assert_eq!(map.count_allocated(), Ok(1));
    map.free(6 * ppw + 11).unwrap();
    // A zeroed whole word: unverifiable, the range refused.
    map.write_storage_word(4, 0).unwrap();
    assert_eq!(
        map.alloc_range(first, count),
        Err(StateError::Uncorrectable {
            first: 4 * ppw,
            count: ppw
        })
    );
    map.write_storage_word(4, blank[4]).unwrap();
    // All allocated, then a free over a whole word with one page free.
    map.alloc_range(first, count).unwrap();
    map.free(3 * ppw).unwrap();
    assert_eq!(
        map.free_range(first, count),
        Err(StateError::DoubleFree { page: 3 * ppw })
    );
    map.alloc(3 * ppw).unwrap();
    map.free_range(first, count).unwrap();
    assert_eq!(raw(&map), blank);
}

#[test]
fn range_over_whole_words_ecc64() {
    range_over_whole_words::<EccBitmap<Secded64>>();
}
#[test]
fn range_over_whole_words_ecc64b() {
    range_over_whole_words::<EccBitmap<Secded64Burst>>();
}
#[test]
fn range_over_whole_words_ecc64k() {
    range_over_whole_words::<KeyedEccBitmap<Secded64>>();
}

/// A keyed map refuses a whole word that holds another index's blank
/// encoding (a misplaced word), although it is a clean codeword elsewhere.
#[test]
fn keyed_range_refuses_a_misplaced_blank_word() {
    let map = KeyedEccBitmap::<Secded64>::with_pages(WORDS * 57);
    map.write_storage_word(4, map.storage_word(3)).unwrap();
    assert_eq!(
        map.alloc_range(57, 8 * 57),
        Err(StateError::Uncorrectable {
            first: 4 * 57,
            count: 57
        })
    );
    assert_eq!(map.count_allocated().ok(), None);
}

/// Ranges walk the key classes of their whole words (one step per word, no
/// division): across the key period of a keyed map (63 words) and at every
/// offset around it, a range alloc writes exactly what allocating its pages
/// one by one writes (the single-page path takes each word's key by
/// division), and the range free gives the blank map back; a page already
/// allocated in a whole word past the wrap is refused, naming it.
fn ranges_walk_the_key_period<M: Map>() {
    let ppw = M::PPW;
    let words = 140;
    let pages = words * ppw;
    let fresh = raw(&M::new(pages));
    for w0 in (50..70).chain(115..130) {
        for (head, len_words) in [(0, 9), (5, 9), (ppw - 1, 12), (17, 20)] {
            let first = w0 * ppw + head;
            let count = (len_words * ppw).min(pages - first);
            let by_range = M::new(pages);
            by_range.alloc_range(first, count).unwrap();
            let one_by_one = M::new(pages);
            for p in first..first + count {
                one_by_one.alloc(p).unwrap();
            }
            assert_eq!(raw(&by_range), raw(&one_by_one), "alloc {first}+{count}");
            by_range.free_range(first, count).unwrap();
            assert_eq!(raw(&by_range), fresh, "free {first}+{count}");
            // A busy page in the last whole word: refused, nothing changed.
            let busy = first + count - ppw - 1;
            by_range.alloc(busy).unwrap();
            let before = raw(&by_range);
            assert_eq!(
                by_range.alloc_range(first, count),
                Err(StateError::DoubleAlloc { page: busy })
            );
            assert_eq!(raw(&by_range), before);
        }
    }
}

#[test]
fn ranges_walk_the_key_period_ecc64() {
    ranges_walk_the_key_period::<EccBitmap<Secded64>>();
}
#[test]
fn ranges_walk_the_key_period_ecc64k() {
    ranges_walk_the_key_period::<KeyedEccBitmap<Secded64>>();
}
#[test]
fn ranges_walk_the_key_period_ecc64kb() {
    ranges_walk_the_key_period::<KeyedEccBitmap<Secded64Burst>>();
}
