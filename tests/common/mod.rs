//! What the integration tests share: one trait over every map, so that a test
//! is written once and run on `PlainBitmap`, `DualBitmap` and `EccBitmap`
//! with every code; a bitvec reference model; and the storage layout facts a
//! fault test needs to aim a flip.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use bitvec::vec::BitVec;
use eccmap::codes::{Decoded, Hamming74, Hamming84, LaneCode, Secded32, Secded64};
use eccmap::{
    AtomicU64, DualBitmap, EccBitmap, FaultInjection, PageState, PlainBitmap, StateError,
};

/// What a map does with a flipped stored bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Nothing: the answer is silently wrong (PlainBitmap).
    Silent,
    /// Detects and reports `Uncorrectable` (DualBitmap).
    Detects,
    /// Repairs in place and answers right (EccBitmap).
    Corrects,
}

/// One map type as the tests see it.
pub(crate) trait TestMap: PageState + FaultInjection + Sized + 'static {
    /// Short name for messages.
    const NAME: &'static str;
    /// Pages held by one storage word of state.
    const PAGES_PER_WORD: usize;
    /// What a single flipped bit does.
    const PROTECTION: Protection;
    /// A map of `pages` free pages in its own allocation.
    fn with_pages(pages: usize) -> Self;
    /// The map's own `words_for`: words of storage (per bitmap, for the dual
    /// bitmap) for `pages` pages.
    fn words_for(pages: usize) -> usize;
    /// A map over caller-provided `'static` storage of `given` words (per
    /// bitmap), filled with garbage first so that initialisation is tested.
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError>;
    /// The storage bit that holds page `page`'s state (the primary's bit, or
    /// the data bit of its codeword).
    fn state_bit(&self, page: usize) -> usize;
    /// The other storage bits that guard `page` (the dual bitmap's secondary
    /// bit, the check bits of its codeword); empty for the plain bitmap.
    fn guard_bits(&self, page: usize) -> Vec<usize>;
    /// The codeword a storage bit belongs to (a map-wide index), `None` for a
    /// bit outside every codeword or for maps without codewords.
    fn codeword_of_bit(bit: usize) -> Option<usize>;
    /// Whether every codeword of a raw storage word decodes clean (always
    /// true for maps without codewords).
    fn raw_word_is_clean(raw: u64) -> bool;
}

/// Storage of `n` words that lives for the rest of the test binary, filled
/// with `fill`.
pub(crate) fn leak_words(n: usize, fill: u64) -> &'static [AtomicU64] {
    Box::leak((0..n).map(|_| AtomicU64::new(fill)).collect::<Box<[_]>>())
}

impl TestMap for PlainBitmap {
    const NAME: &'static str = "PlainBitmap";
    const PAGES_PER_WORD: usize = 64;
    const PROTECTION: Protection = Protection::Silent;
    fn with_pages(pages: usize) -> Self {
        PlainBitmap::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        PlainBitmap::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        PlainBitmap::from_static(leak_words(given, 0xDEAD_BEEF_F00D_CAFE), pages)
    }
    fn state_bit(&self, page: usize) -> usize {
        page
    }
    fn guard_bits(&self, _page: usize) -> Vec<usize> {
        Vec::new()
    }
    fn codeword_of_bit(_bit: usize) -> Option<usize> {
        None
    }
    fn raw_word_is_clean(_raw: u64) -> bool {
        true
    }
}

impl TestMap for DualBitmap {
    const NAME: &'static str = "DualBitmap";
    const PAGES_PER_WORD: usize = 64;
    const PROTECTION: Protection = Protection::Detects;
    fn with_pages(pages: usize) -> Self {
        DualBitmap::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        DualBitmap::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        DualBitmap::from_static(
            leak_words(given, 0xDEAD_BEEF_F00D_CAFE),
            leak_words(given, 0x0123_4567_89AB_CDEF),
            pages,
        )
    }
    fn state_bit(&self, page: usize) -> usize {
        page
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        // The secondary's words follow the primary's.
        vec![self.storage_words() / 2 * 64 + page]
    }
    fn codeword_of_bit(_bit: usize) -> Option<usize> {
        None
    }
    fn raw_word_is_clean(_raw: u64) -> bool {
        true
    }
}

/// The layout of `EccBitmap<C>`'s storage.
pub(crate) struct Layout {
    /// Codeword bits.
    pub(crate) n: usize,
    /// Data bits (pages) per codeword.
    pub(crate) k: usize,
    /// Codewords per storage word.
    pub(crate) lanes: usize,
}

impl Layout {
    /// The layout of `EccBitmap<C>`.
    pub(crate) fn of<C: LaneCode>() -> Layout {
        Layout {
            n: C::CODE_BITS as usize,
            k: C::DATA_BITS as usize,
            lanes: EccBitmap::<C>::LANES,
        }
    }
    /// Pages per storage word.
    pub(crate) fn ppw(&self) -> usize {
        self.lanes * self.k
    }
    /// (word, lane) of a storage bit, `None` for padding.
    pub(crate) fn lane_of_bit(&self, bit: usize) -> Option<(usize, usize)> {
        let lane = bit % 64 / self.n;
        (lane < self.lanes).then_some((bit / 64, lane))
    }
    /// The pages of codeword `lane` of word `word`, clipped to `pages`.
    pub(crate) fn lane_pages(
        &self,
        pages: usize,
        word: usize,
        lane: usize,
    ) -> std::ops::Range<usize> {
        let first = word * self.ppw() + lane * self.k;
        first.min(pages)..(first + self.k).min(pages)
    }
    /// The pages of storage word `word`, clipped to `pages`.
    pub(crate) fn word_pages(&self, pages: usize, word: usize) -> std::ops::Range<usize> {
        let first = word * self.ppw();
        first.min(pages)..(first + self.ppw()).min(pages)
    }
    /// The storage bit of page `page`.
    pub(crate) fn data_bit(&self, page: usize) -> usize {
        let (w, o) = (page / self.ppw(), page % self.ppw());
        w * 64 + o / self.k * self.n + o % self.k
    }
    /// The check bits of page `page`'s codeword.
    pub(crate) fn check_bits(&self, page: usize) -> Vec<usize> {
        let (w, o) = (page / self.ppw(), page % self.ppw());
        let base = w * 64 + o / self.k * self.n;
        (self.k..self.n).map(|j| base + j).collect()
    }
}

impl<C: LaneCode> TestMap for EccBitmap<C> {
    const NAME: &'static str = C::NAME;
    const PAGES_PER_WORD: usize = EccBitmap::<C>::PAGES_PER_WORD;
    const PROTECTION: Protection = Protection::Corrects;
    fn with_pages(pages: usize) -> Self {
        EccBitmap::<C>::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        EccBitmap::<C>::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        EccBitmap::<C>::from_static(leak_words(given, 0xDEAD_BEEF_F00D_CAFE), pages)
    }
    fn state_bit(&self, page: usize) -> usize {
        Layout::of::<C>().data_bit(page)
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        Layout::of::<C>().check_bits(page)
    }
    fn codeword_of_bit(bit: usize) -> Option<usize> {
        let l = Layout::of::<C>();
        l.lane_of_bit(bit).map(|(w, lane)| w * l.lanes + lane)
    }
    fn raw_word_is_clean(raw: u64) -> bool {
        let l = Layout::of::<C>();
        (0..l.lanes).all(|lane| {
            let cw = (raw >> (lane * l.n)) & eccmap::codes::mask(l.n as u32);
            matches!(C::decode(cw), Decoded::Clean(_))
        })
    }
}

/// Instantiates each named generic test `fn name<M: TestMap>()` once per map
/// type, as `name::plain`, `name::dual`, `name::ecc_secded64`, ...
#[allow(unused_macros)]
macro_rules! for_each_map {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn plain() {
                super::$test::<eccmap::PlainBitmap>()
            }
            #[test]
            fn dual() {
                super::$test::<eccmap::DualBitmap>()
            }
            #[test]
            fn ecc_secded64() {
                super::$test::<eccmap::EccBitmap<eccmap::codes::Secded64>>()
            }
            #[test]
            fn ecc_secded32() {
                super::$test::<eccmap::EccBitmap<eccmap::codes::Secded32>>()
            }
            #[test]
            fn ecc_hamming84() {
                super::$test::<eccmap::EccBitmap<eccmap::codes::Hamming84>>()
            }
            #[test]
            fn ecc_hamming74() {
                super::$test::<eccmap::EccBitmap<eccmap::codes::Hamming74>>()
            }
        }
    )*};
}

/// Instantiates each named generic test `fn name<C: LaneCode>()` once per
/// code of `EccBitmap`.
#[allow(unused_macros)]
macro_rules! for_each_code {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn secded64() {
                super::$test::<eccmap::codes::Secded64>()
            }
            #[test]
            fn secded32() {
                super::$test::<eccmap::codes::Secded32>()
            }
            #[test]
            fn hamming84() {
                super::$test::<eccmap::codes::Hamming84>()
            }
            #[test]
            fn hamming74() {
                super::$test::<eccmap::codes::Hamming74>()
            }
        }
    )*};
}

/// The four codes `EccBitmap` runs on, for tests that name them.
pub(crate) type Ecc64 = EccBitmap<Secded64>;
/// See [`Ecc64`].
pub(crate) type Ecc32 = EccBitmap<Secded32>;
/// See [`Ecc64`].
pub(crate) type Ecc84 = EccBitmap<Hamming84>;
/// See [`Ecc64`].
pub(crate) type Ecc74 = EccBitmap<Hamming74>;

/// The reference model: bit `p` set when page `p` is allocated.
pub(crate) type Model = BitVec<u64>;

/// The first free page of `model` at or after `from`.
pub(crate) fn model_find_free(model: &Model, from: usize) -> Option<usize> {
    model[from..].first_zero().map(|i| i + from)
}

/// Asserts that every read-only answer of `map` agrees with `model`:
/// `is_allocated` of every page, `count_allocated`, `snapshot`, and
/// `find_free` from every page.
pub(crate) fn assert_matches<M: PageState + ?Sized>(map: &M, model: &Model, what: &str) {
    assert_eq!(map.pages(), model.len(), "{what}: page count");
    for p in 0..model.len() {
        assert_eq!(
            map.is_allocated(p),
            Ok(model[p]),
            "{what}: is_allocated({p})"
        );
    }
    assert_eq!(
        map.count_allocated(),
        Ok(model.count_ones()),
        "{what}: count_allocated"
    );
    assert_eq!(map.snapshot().as_ref(), Ok(model), "{what}: snapshot");
    for from in 0..=model.len() {
        assert_eq!(
            map.find_free(from),
            Ok(model_find_free(model, from)),
            "{what}: find_free({from})"
        );
    }
}

/// Every raw storage word of a map.
pub(crate) fn raw<M: FaultInjection + ?Sized>(map: &M) -> Vec<u64> {
    (0..map.storage_words())
        .map(|i| map.storage_word(i))
        .collect()
}

/// A fixed pattern for `pages` pages that mixes free and allocated pages in
/// every codeword, with runs at word edges: page `p` allocated when
/// `(p * 7 + 3) % 5 < 2`.
pub(crate) fn pattern(pages: usize) -> Model {
    (0..pages).map(|p| (p * 7 + 3) % 5 < 2).collect()
}

/// A map of `pages` pages holding `model`, set through the normal API.
pub(crate) fn map_with<M: TestMap>(model: &Model) -> M {
    let map = M::with_pages(model.len());
    for p in model.iter_ones() {
        map.alloc(p).expect("alloc of a free page");
    }
    map
}

/// A small deterministic generator (xorshift64*), so that failures replay.
#[derive(Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a nonzero-made seed.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
