//! The schemes under test, and where each one keeps each page.
//!
//! Adding a scheme is one line in [`SCHEMES`].

use eccmap::codes::{Hamming74, Hamming84, Secded32, Secded64, Secded64Burst};
use eccmap::{
    DualBitmap, EccBitmap, FaultInjection, KeyedEccBitmap, PageState, PlainBitmap, StripedBitmap,
    WordCode,
};

/// A map the campaign can drive and damage.
pub(crate) trait Map: PageState + FaultInjection {}
impl<T: PageState + FaultInjection> Map for T {}

/// A scheme: its name in the reports and JSON, how to build a map of `n`
/// free pages, and how its storage words are split into allocations.
pub(crate) struct Scheme {
    pub(crate) name: &'static str,
    pub(crate) make: fn(usize) -> Box<dyn Map>,
    /// The sizes, in storage words and in storage order, of the separate
    /// allocations a map's storage is made of: where the DRAM fault classes
    /// can reach (docs/safety.md). One allocation unless the scheme says
    /// otherwise ([`Scheme::in_allocations`]).
    pub(crate) allocations: fn(&dyn Map) -> Vec<usize>,
    /// The 64-bit storage words in one word of the map: the unit one
    /// compare-and-swap updates, holding whole codewords, which the word
    /// classes damage (`double_bit_word` to `word_misplaced`). 1 unless the
    /// scheme says otherwise ([`Scheme::in_words_of`]).
    pub(crate) beats: usize,
}

/// Every scheme, in report order.
pub(crate) const SCHEMES: &[Scheme] = &[
    Scheme::new("plain", |n| Box::new(PlainBitmap::with_pages(n))),
    // Primary words, then the complement's, in two allocations.
    Scheme::new("dual", |n| Box::new(DualBitmap::with_pages(n)))
        .in_allocations(|m| vec![m.storage_words() / 2; 2]),
    Scheme::new("ecc64", ecc::<Secded64>),
    Scheme::new("ecc32", ecc::<Secded32>),
    Scheme::new("ecc8_4", ecc::<Hamming84>),
    Scheme::new("ecc7_4", ecc::<Hamming74>),
    Scheme::new("ecc64b", ecc::<Secded64Burst>),
    Scheme::new("ecc64k", |n| {
        Box::new(KeyedEccBitmap::<Secded64>::with_pages(n))
    }),
    // Data words, then the parity words, in two allocations.
    Scheme::new("ecc64s", |n| Box::new(StripedBitmap::with_pages(n))).in_allocations(|m| {
        let parity = StripedBitmap::parity_words_for(m.pages());
        vec![m.storage_words() - parity, parity]
    }),
    // One (128,112) codeword per 16-byte word, address-keyed; where the
    // 16-byte compare-and-swap is lock-free (x86-64 with cmpxchg16b,
    // aarch64).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    Scheme::new("ecc128", |n| Box::new(eccmap::Ecc128::with_pages(n))).in_words_of(2),
];

/// An [`EccBitmap`] of `n` pages with the code `C`.
fn ecc<C: WordCode>(n: usize) -> Box<dyn Map> {
    Box::new(EccBitmap::<C>::with_pages(n))
}

impl Scheme {
    const fn new(name: &'static str, make: fn(usize) -> Box<dyn Map>) -> Scheme {
        Scheme {
            name,
            make,
            allocations: |m| vec![m.storage_words()],
            beats: 1,
        }
    }

    /// The same scheme, its words `beats` 64-bit storage words each.
    const fn in_words_of(self, beats: usize) -> Scheme {
        Scheme { beats, ..self }
    }

    /// The same scheme, its storage split into allocations by `f`.
    const fn in_allocations(self, f: fn(&dyn Map) -> Vec<usize>) -> Scheme {
        Scheme {
            allocations: f,
            ..self
        }
    }
}

/// A set of pages, as a bitset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageSet(Vec<u64>);

impl PageSet {
    pub(crate) fn new(pages: usize) -> PageSet {
        PageSet(vec![0; pages.div_ceil(64)])
    }
    pub(crate) fn insert(&mut self, p: usize) {
        self.0[p / 64] |= 1 << (p % 64);
    }
    pub(crate) fn contains(&self, p: usize) -> bool {
        self.0.get(p / 64).is_some_and(|w| w >> (p % 64) & 1 != 0)
    }
    pub(crate) fn union_with(&mut self, other: &PageSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    /// Whether any page of `first..first + count` is in the set.
    pub(crate) fn meets(&self, first: usize, count: usize) -> bool {
        (first..first.saturating_add(count)).any(|p| self.contains(p))
    }
}

/// Which pages each storage word holds state for, found by observation
/// (so that it is right for any scheme, with no knowledge of its layout):
/// on a fresh map, each page is allocated and freed again, and every
/// storage word that the allocation changed is a word of that page (for the
/// dual bitmap, its primary and its secondary word; for a code, the
/// codeword's word, check bits included).
pub(crate) struct Layout {
    /// `word_pages[i]`: the pages whose state lives in storage word `i`.
    word_pages: Vec<PageSet>,
}

impl Layout {
    /// Observes `map`, which must be fresh (every page free). Leaves it as
    /// it found it.
    ///
    /// # Panics
    /// If an allocation or free fails, if a page changes no storage word,
    /// or if the map's storage does not come back to its first value.
    pub(crate) fn discover(map: &dyn Map) -> Layout {
        let words = map.storage_words();
        let read = |m: &dyn Map| (0..words).map(|i| m.storage_word(i)).collect::<Vec<_>>();
        let fresh = read(map);
        let mut word_pages = vec![PageSet::new(map.pages()); words];
        for p in 0..map.pages() {
            map.alloc(p)
                .expect("layout discovery: alloc on a fresh map");
            let mut touched = false;
            for (i, &before) in fresh.iter().enumerate() {
                if map.storage_word(i) != before {
                    word_pages[i].insert(p);
                    touched = true;
                }
            }
            assert!(
                touched,
                "layout discovery: page {p} changed no storage word"
            );
            map.free(p).expect("layout discovery: free after alloc");
        }
        assert_eq!(
            read(map),
            fresh,
            "layout discovery: storage did not come back"
        );
        Layout { word_pages }
    }

    /// The pages whose state lives in any of `words`.
    pub(crate) fn pages_of(&self, words: &[usize], pages: usize) -> PageSet {
        let mut set = PageSet::new(pages);
        for &w in words {
            set.union_with(&self.word_pages[w]);
        }
        set
    }
}

/// Storage bits per page of a map of `pages` pages of this scheme.
pub(crate) fn bits_per_page(scheme: &Scheme, pages: usize) -> f64 {
    let map = (scheme.make)(pages);
    map.storage_bytes() as f64 * 8.0 / pages as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_are_unique() {
        for (i, a) in SCHEMES.iter().enumerate() {
            assert!(
                SCHEMES[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    // With 64-bit native words: on a 32-bit target the bitmaps are of `u32`
    // words, and 200 pages make 7 of them, so a storage word straddles the
    // two bitmaps.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn layout_of_the_dual_bitmap_is_primary_then_secondary() {
        let s = SCHEMES.iter().find(|s| s.name == "dual").unwrap();
        let map = (s.make)(200);
        let l = Layout::discover(&*map);
        // 4 words per bitmap; word 1 and word 5 both hold pages 64..128.
        let w1 = l.pages_of(&[1], 200);
        assert_eq!(w1, l.pages_of(&[5], 200));
        assert!(w1.contains(64) && w1.contains(127) && !w1.contains(63) && !w1.contains(128));
        // The last word holds pages 192..200 only.
        assert!(l.pages_of(&[3], 200).meets(192, 8));
        assert!(!l.pages_of(&[3], 200).meets(0, 192));
    }

    #[test]
    fn layout_of_ecc64_is_57_pages_a_word() {
        let s = SCHEMES.iter().find(|s| s.name == "ecc64").unwrap();
        let map = (s.make)(200);
        let l = Layout::discover(&*map);
        let w1 = l.pages_of(&[1], 200);
        assert!(w1.contains(57) && w1.contains(113) && !w1.contains(56) && !w1.contains(114));
    }

    /// A scheme's word (`beats` storage words) is a unit of its layout:
    /// in a map of one allocation, two words never hold state of the same
    /// page, and the storage words of one word do (a codeword's check bits
    /// cover every page of it), so a word of several beats is one word.
    #[test]
    fn a_schemes_word_holds_its_own_pages() {
        let pages = 2000;
        for s in SCHEMES.iter().filter(|s| {
            let map = (s.make)(pages);
            (s.allocations)(&*map).len() == 1
        }) {
            let map = (s.make)(pages);
            let l = Layout::discover(&*map);
            let words = map.storage_words() / s.beats;
            assert_eq!(words * s.beats, map.storage_words(), "{}", s.name);
            let word = |u: usize| -> Vec<usize> { (u * s.beats..(u + 1) * s.beats).collect() };
            let sets: Vec<PageSet> = (0..words).map(|u| l.pages_of(&word(u), pages)).collect();
            for u in 1..words {
                assert!(
                    (0..pages).all(|p| !(sets[u - 1].contains(p) && sets[u].contains(p))),
                    "{}: words {} and {u} share a page",
                    s.name,
                    u - 1
                );
            }
            for u in 0..words {
                let beats: Vec<PageSet> =
                    word(u).iter().map(|&b| l.pages_of(&[b], pages)).collect();
                for b in &beats[1..] {
                    assert!(
                        (0..pages).any(|p| b.contains(p) && beats[0].contains(p)),
                        "{}: word {u}'s beats hold unrelated pages",
                        s.name
                    );
                }
            }
        }
        let ecc128 = SCHEMES.iter().find(|s| s.name == "ecc128");
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(ecc128.map(|s| s.beats), Some(2));
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        assert!(ecc128.is_none());
        assert!(SCHEMES.iter().all(|s| s.name == "ecc128" || s.beats == 1));
    }

    #[test]
    fn bits_per_page_of_the_baselines() {
        let by = |n: &str| SCHEMES.iter().find(|s| s.name == n).unwrap();
        assert_eq!(bits_per_page(by("plain"), 1 << 16), 1.0);
        assert_eq!(bits_per_page(by("dual"), 1 << 16), 2.0);
        let ecc = bits_per_page(by("ecc64"), 57 * 1000);
        assert!((ecc - 64.0 / 57.0).abs() < 1e-12, "{ecc}");
    }

    #[test]
    fn allocations_cover_the_storage_and_split_the_two_maps_that_have_two() {
        for s in SCHEMES {
            let map = (s.make)(32768);
            let a = (s.allocations)(&*map);
            assert_eq!(a.iter().sum::<usize>(), map.storage_words(), "{}", s.name);
            assert!(a.iter().all(|&n| n > 0), "{}", s.name);
            let want = match s.name {
                "dual" => vec![512, 512],
                "ecc64s" => {
                    let parity = StripedBitmap::parity_words_for(32768);
                    vec![map.storage_words() - parity, parity]
                }
                _ => vec![map.storage_words()],
            };
            assert_eq!(a, want, "{}", s.name);
        }
        // The dual bitmap's second allocation starts with the word that
        // holds the same pages as the first's first word.
        let s = SCHEMES.iter().find(|s| s.name == "dual").unwrap();
        let map = (s.make)(32768);
        let l = Layout::discover(&*map);
        let split = (s.allocations)(&*map)[0];
        assert_eq!(l.pages_of(&[0], 32768), l.pages_of(&[split], 32768));
    }
}
