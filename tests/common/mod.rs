//! What the integration tests share: one trait over every map, so that a test
//! is written once and run on `PlainBitmap`, `DualBitmap`, `EccBitmap` with
//! every code, `KeyedEccBitmap<Secded64>` and `StripedBitmap`; a bitvec
//! reference model; the storage layout facts a fault test needs to aim a
//! flip; and an independent encoder of the storage a map should hold.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use bitvec::vec::BitVec;
use eccmap::codes::{Decoded, Hamming74, Hamming84, Secded32, Secded64};
use eccmap::{
    AddressKeyed, AtomicU64, AtomicWord, DualBitmap, EccBitmap, FaultInjection, PageState,
    PlainBitmap, StateError, StripedBitmap, Unkeyed, Word, WordCode, GROUP_WORDS,
};

/// What a map does with a flipped stored bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Nothing: the answer is silently wrong (PlainBitmap).
    Silent,
    /// Detects and reports `Uncorrectable` (DualBitmap).
    Detects,
    /// Repairs and answers right (the ECC maps).
    Corrects,
}

/// What one stored bit is, for aiming a fault and predicting its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BitRole {
    /// A bit of a plain or dual bitmap: no codeword holds it.
    Bitmap,
    /// Outside every codeword: no answer depends on it (Hamming (7,4)'s
    /// bit 63).
    Padding,
    /// A data or check bit of codeword `codeword` (a map-wide index) of a
    /// state word; `group` is the striped map's parity group of that word.
    Codeword {
        /// Map-wide codeword index.
        codeword: usize,
        /// The parity group of the word (striped map only).
        group: Option<usize>,
    },
    /// A bit of the sum (`7..64`) in the striped map's parity word of group
    /// `g`: no read uses it; a scrub (any group check) repairs it.
    Parity(usize),
    /// A control bit (`0..7`) of the striped map's parity word of group
    /// `g`: only `scrub_exclusive` may reset it.
    Control(usize),
}

/// One map type as the tests see it.
pub(crate) trait TestMap:
    PageState + FaultInjection + std::fmt::Debug + Sized + 'static
{
    /// Short name for messages.
    const NAME: &'static str;
    /// Pages held by one storage word of state (the map's own word: a
    /// `u32` cell for `EccBitmap<Secded32>`).
    const PAGES_PER_WORD: usize;
    /// Bits of the map's own storage word (its cells): `FaultInjection`
    /// shows them in 64-bit storage words, two `u32` cells to a word.
    const CELL_BITS: usize = 64;
    /// What a single flipped bit does.
    const PROTECTION: Protection;
    /// A map of `pages` free pages in its own allocation.
    fn with_pages(pages: usize) -> Self;
    /// The map's own `words_for`: words (cells) of state for `pages` pages
    /// (per bitmap for the dual bitmap, data words for the striped map).
    fn words_for(pages: usize) -> usize;
    /// All the cells a map of `pages` pages has, as its docs give
    /// them (both bitmaps of the dual bitmap; the striped map's data words
    /// and one parity word per group of up to `GROUP_WORDS` of them).
    fn storage_words_for(pages: usize) -> usize;
    /// A map over caller-provided `'static` storage of `given` words (per
    /// bitmap; the striped map's parity storage is as large as needed plus
    /// what `given` has to spare), filled with garbage first so that
    /// initialisation is tested.
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError>;
    /// The storage bit that holds page `page`'s state (the primary's bit, or
    /// the data bit of its codeword).
    fn state_bit(&self, page: usize) -> usize;
    /// The other storage bits of `page`'s word that guard it (the dual
    /// bitmap's secondary bit, the check bits of its codeword); empty for the
    /// plain bitmap. The striped map's parity bit is not among them: no read
    /// of the page uses it (see [`BitRole::Parity`]).
    fn guard_bits(&self, page: usize) -> Vec<usize>;
    /// Storage words that hold page state (both copies, for the dual
    /// bitmap); the words after them (the striped map's parity words) hold
    /// redundancy across words.
    fn state_words(&self) -> usize {
        self.storage_words()
    }
    /// What storage bit `bit` is.
    fn bit_role(&self, bit: usize) -> BitRole;
    /// Whether every codeword of state word `index` (`< state_words()`),
    /// holding `raw`, decodes clean: keyed maps need the index to take the
    /// word's key out first. Always true for maps without codewords.
    fn raw_word_is_clean(index: usize, raw: u64) -> bool;
    /// The storage a fault-free, idle map holding `model` has, computed
    /// here from the documented layouts (codes, keys, parity groups), not
    /// by the library.
    fn expected_storage(model: &Model) -> Vec<u64>;
}

/// What two flipped bits in one codeword of a map with codewords do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TwoFlips {
    /// Decoded as one error, into wrong data (Hamming (7,4)).
    Miscorrected,
    /// `Uncorrectable`: the codeword's pages are reported (SECDED).
    Detected,
    /// Rebuilt from the word's parity group and answered right
    /// (StripedBitmap); so is any other damage confined to one data word.
    Rebuilt,
}

/// A map whose state words are codewords of an in-word code.
pub(crate) trait EccMap: TestMap {
    /// The layout of each state word.
    fn layout() -> Layout;
    /// What two flips in one codeword do.
    const TWO_FLIPS: TwoFlips;
}

/// Storage of `n` words that lives for the rest of the test binary, filled
/// with `fill`.
pub(crate) fn leak_words(n: usize, fill: u64) -> &'static mut [AtomicU64] {
    leak_cells::<u64>(n, fill)
}

/// Storage of `n` cells of word `W` that lives for the rest of the test
/// binary, each filled with `fill` cut to the word.
pub(crate) fn leak_cells<W: Word>(n: usize, fill: u64) -> &'static mut [W::Atomic] {
    Box::leak(
        (0..n)
            .map(|_| W::Atomic::new(W::from_u64(fill)))
            .collect::<Box<[_]>>(),
    )
}

/// Bits of the plain and dual bitmaps' words (the target's native word).
const NATIVE: usize = eccmap::NativeWord::BITS as usize;

/// The native words of a one-bit-per-page bitmap of `model`, each in a
/// `u64`.
fn bitmap_words(model: &Model) -> Vec<u64> {
    (0..model.len().div_ceil(NATIVE))
        .map(|w| {
            (w * NATIVE..((w + 1) * NATIVE).min(model.len()))
                .filter(|&p| model[p])
                .fold(0, |v, p| v | 1 << (p % NATIVE))
        })
        .collect()
}

/// Cells of `bits` bits (each in a `u64`), in memory order, as
/// `FaultInjection`'s 64-bit storage words: two `u32` cells to a word, the
/// first in the low half; a trailing half word's high half is 0.
pub(crate) fn pack(cells: &[u64], bits: usize) -> Vec<u64> {
    let per = 64 / bits;
    cells
        .chunks(per)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0, |v, (i, &x)| v | x << (i * bits))
        })
        .collect()
}

impl TestMap for PlainBitmap {
    const NAME: &'static str = "PlainBitmap";
    const PAGES_PER_WORD: usize = NATIVE;
    const CELL_BITS: usize = NATIVE;
    const PROTECTION: Protection = Protection::Silent;
    fn with_pages(pages: usize) -> Self {
        PlainBitmap::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        PlainBitmap::words_for(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        PlainBitmap::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        PlainBitmap::from_static(
            leak_cells::<eccmap::NativeWord>(given, 0xDEAD_BEEF_F00D_CAFE),
            pages,
        )
    }
    fn state_bit(&self, page: usize) -> usize {
        page
    }
    fn guard_bits(&self, _page: usize) -> Vec<usize> {
        Vec::new()
    }
    fn bit_role(&self, _bit: usize) -> BitRole {
        BitRole::Bitmap
    }
    fn raw_word_is_clean(_index: usize, _raw: u64) -> bool {
        true
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        pack(&bitmap_words(model), NATIVE)
    }
}

impl TestMap for DualBitmap {
    const NAME: &'static str = "DualBitmap";
    const PAGES_PER_WORD: usize = NATIVE;
    const CELL_BITS: usize = NATIVE;
    const PROTECTION: Protection = Protection::Detects;
    fn with_pages(pages: usize) -> Self {
        DualBitmap::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        DualBitmap::bitmap_words(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        DualBitmap::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        DualBitmap::from_static_pair(
            leak_cells::<eccmap::NativeWord>(given, 0xDEAD_BEEF_F00D_CAFE),
            leak_cells::<eccmap::NativeWord>(given, 0x0123_4567_89AB_CDEF),
            pages,
        )
    }
    fn state_bit(&self, page: usize) -> usize {
        page
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        // The secondary's words follow the primary's.
        vec![DualBitmap::bitmap_words(self.pages()) * NATIVE + page]
    }
    fn bit_role(&self, _bit: usize) -> BitRole {
        BitRole::Bitmap
    }
    fn raw_word_is_clean(_index: usize, _raw: u64) -> bool {
        true
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        // The primary, then its complement, whole words (tail bits too).
        let primary = bitmap_words(model);
        let mask = u64::MAX >> (64 - NATIVE);
        let secondary: Vec<u64> = primary.iter().map(|w| !w & mask).collect();
        pack(&[primary, secondary].concat(), NATIVE)
    }
}

/// The layout of `EccBitmap<C>`'s storage, as `FaultInjection` shows it:
/// in 64-bit storage words (a map of `u32` cells shows two cells to a
/// storage word, the first in the low half).
pub(crate) struct Layout {
    /// Codeword bits.
    pub(crate) n: usize,
    /// Data bits (pages) per codeword.
    pub(crate) k: usize,
    /// Codewords per 64-bit storage word.
    pub(crate) lanes: usize,
    /// Codewords per cell (the map's own storage word).
    pub(crate) cell_lanes: usize,
}

impl Layout {
    /// The layout of `EccBitmap<C>`.
    pub(crate) fn of<C: WordCode>() -> Layout {
        let cells = 64 / <C::Word as Word>::BITS as usize;
        Layout {
            n: C::CODE_BITS as usize,
            k: C::DATA_BITS as usize,
            lanes: EccBitmap::<C>::LANES * cells,
            cell_lanes: EccBitmap::<C>::LANES,
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
    /// The pages of the cell (the map's own storage word: half a storage
    /// word for a map of `u32` cells) that holds storage bit `bit`, clipped
    /// to `pages`: what one access of the map reads and repairs.
    pub(crate) fn cell_pages(&self, pages: usize, bit: usize) -> std::ops::Range<usize> {
        let cell_bits = 64 / (self.lanes / self.cell_lanes);
        let per_cell = self.cell_lanes * self.k;
        let first = bit / cell_bits * per_cell;
        first.min(pages)..(first + per_cell).min(pages)
    }
    /// The cells of storage word `word` that a map of `pages` pages has
    /// (a trailing half word has one `u32` cell), and the mask of their
    /// bits: the other bits read as 0.
    pub(crate) fn word_cells(&self, pages: usize, word: usize) -> (usize, u64) {
        let per_word = self.lanes / self.cell_lanes;
        let cells = pages.div_ceil(self.cell_lanes * self.k);
        let n = per_word.min(cells.saturating_sub(word * per_word));
        let bits = n * 64 / per_word;
        (
            n,
            if bits >= 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            },
        )
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

/// The key pattern of word `word` of an address-keyed map of code `C`, as
/// `AddressKeyed`'s docs define it: the word's coset is the
/// `(word mod M)`-th nonzero even `r`-bit value (`M = 2^(r-1) - 1`), so the
/// pattern XORed into each codeword's check bits turns the code's own coset
/// into it. For `Secded64`: `(even(7, i % 63) ^ (COSET >> 57)) << 57`.
pub(crate) fn address_key<C: WordCode>(word: usize) -> u64 {
    let l = Layout::of::<C>();
    let r = (l.n - l.k) as u32;
    let m = (1usize << (r - 1)) - 1;
    // The key is the cell's: codeword `i` of storage word `word` is in
    // cell `(word * lanes + i) / cell_lanes`.
    (0..l.lanes).fold(0, |v, i| {
        let cell = (word * l.lanes + i) / l.cell_lanes;
        let lane = (AddressKeyed::even(r, cell % m) ^ (C::COSET >> l.k)) << l.k;
        v | lane << (i * l.n)
    })
}

/// Whether every codeword of `raw`, keyed with `key`, decodes clean.
fn lanes_clean<C: WordCode>(raw: u64, key: u64) -> bool {
    let l = Layout::of::<C>();
    let word = raw ^ key;
    (0..l.lanes).all(|lane| {
        let cw = (word >> (lane * l.n)) & eccmap::codes::mask(l.n as u32);
        matches!(C::decode(cw), Decoded::Clean(_))
    })
}

/// The words of `EccBitmap<C>` holding `model`, word `w` XORed with
/// `key(w)`: each codeword is `C::encode` of its pages. A storage word's
/// half past the map's last `u32` cell reads as 0.
fn ecc_words<C: WordCode>(model: &Model, key: fn(usize) -> u64) -> Vec<u64> {
    let l = Layout::of::<C>();
    let pages = model.len();
    let cells = pages.div_ceil(l.cell_lanes * l.k);
    (0..pages.div_ceil(l.ppw()))
        .map(|w| {
            let v = (0..l.lanes).fold(0, |v, lane| {
                if (w * l.lanes + lane) / l.cell_lanes >= cells {
                    return v;
                }
                let data = l
                    .lane_pages(pages, w, lane)
                    .enumerate()
                    .filter(|&(_, p)| model[p])
                    .fold(0u64, |d, (i, _)| d | 1 << i);
                v | C::encode(data) << (lane * l.n)
            });
            v ^ key(w)
        })
        .collect()
}

/// The role of storage bit `bit` of an `EccBitmap<C>`.
fn ecc_bit_role<C: WordCode>(bit: usize) -> BitRole {
    let l = Layout::of::<C>();
    match l.lane_of_bit(bit) {
        Some((w, lane)) => BitRole::Codeword {
            codeword: w * l.lanes + lane,
            group: None,
        },
        None => BitRole::Padding,
    }
}

fn no_key(_word: usize) -> u64 {
    0
}

impl<C: WordCode> TestMap for EccBitmap<C, Unkeyed> {
    const NAME: &'static str = C::NAME;
    const PAGES_PER_WORD: usize = EccBitmap::<C>::PAGES_PER_WORD;
    const CELL_BITS: usize = <C::Word as Word>::BITS as usize;
    const PROTECTION: Protection = Protection::Corrects;
    fn with_pages(pages: usize) -> Self {
        EccBitmap::<C>::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        EccBitmap::<C>::words_for(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        EccBitmap::<C>::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        EccBitmap::<C>::from_static(leak_cells::<C::Word>(given, 0xDEAD_BEEF_F00D_CAFE), pages)
    }
    fn state_bit(&self, page: usize) -> usize {
        Layout::of::<C>().data_bit(page)
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        Layout::of::<C>().check_bits(page)
    }
    fn bit_role(&self, bit: usize) -> BitRole {
        ecc_bit_role::<C>(bit)
    }
    fn raw_word_is_clean(_index: usize, raw: u64) -> bool {
        lanes_clean::<C>(raw, 0)
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        ecc_words::<C>(model, no_key)
    }
}

impl<C: WordCode> EccMap for EccBitmap<C, Unkeyed> {
    fn layout() -> Layout {
        Layout::of::<C>()
    }
    const TWO_FLIPS: TwoFlips = if C::MIN_DISTANCE >= 4 {
        TwoFlips::Detected
    } else {
        TwoFlips::Miscorrected
    };
}

impl TestMap for Ecc64k {
    const NAME: &'static str = "keyed SECDED (64,57)";
    const PAGES_PER_WORD: usize = Ecc64k::PAGES_PER_WORD;
    const PROTECTION: Protection = Protection::Corrects;
    fn with_pages(pages: usize) -> Self {
        Ecc64k::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        Ecc64k::words_for(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        Ecc64k::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        Ecc64k::from_static(leak_words(given, 0xDEAD_BEEF_F00D_CAFE), pages)
    }
    fn state_bit(&self, page: usize) -> usize {
        Layout::of::<Secded64>().data_bit(page)
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        Layout::of::<Secded64>().check_bits(page)
    }
    fn bit_role(&self, bit: usize) -> BitRole {
        ecc_bit_role::<Secded64>(bit)
    }
    fn raw_word_is_clean(index: usize, raw: u64) -> bool {
        lanes_clean::<Secded64>(raw, address_key::<Secded64>(index))
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        ecc_words::<Secded64>(model, address_key::<Secded64>)
    }
}

impl EccMap for Ecc64k {
    fn layout() -> Layout {
        Layout::of::<Secded64>()
    }
    const TWO_FLIPS: TwoFlips = TwoFlips::Detected;
}

/// The 128-bit map: one (128,112) codeword per `u128` cell, pages
/// `112 * c ..` in its bits `0..112`, check bits `112..128`; the cell is
/// two of `FaultInjection`'s 64-bit storage words, low half first.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) type Ecc128 = eccmap::Ecc128;

/// The key pattern of cell `cell` of `Ecc128`, as `IndexKeys`' docs
/// define it: the pattern in the check bits that turns the code's coset
/// into the cell's 16-bit coset constant (check bits have unit columns).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn key128(cell: usize) -> u128 {
    let coset = eccmap::IndexKeys::coset(cell) ^ eccmap::codes::Secded128::MATRIX.coset();
    u128::from(coset) << 112
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
impl TestMap for Ecc128 {
    const NAME: &'static str = "keyed SECDED (128,112)";
    const PAGES_PER_WORD: usize = 112;
    const CELL_BITS: usize = 128;
    const PROTECTION: Protection = Protection::Corrects;
    fn with_pages(pages: usize) -> Self {
        Ecc128::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        Ecc128::words_for(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        Ecc128::words_for(pages)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        Ecc128::from_static(leak_cells::<u128>(given, 0xDEAD_BEEF_F00D_CAFE), pages)
    }
    fn state_bit(&self, page: usize) -> usize {
        page / 112 * 128 + page % 112
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        let base = page / 112 * 128;
        (112..128).map(|j| base + j).collect()
    }
    fn bit_role(&self, bit: usize) -> BitRole {
        BitRole::Codeword {
            codeword: bit / 128,
            group: None,
        }
    }
    /// Refused: a 64-bit storage word of this map is half a codeword, and
    /// every half is the half of some codeword, so no answer from a half
    /// alone would mean anything. The one test that asks
    /// (`tests/concurrency.rs`) runs on the maps of 64-bit words only
    /// (`for_each_map_64!`).
    fn raw_word_is_clean(_index: usize, _raw: u64) -> bool {
        panic!("a 64-bit storage word of Ecc128 is half a codeword")
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        let code = eccmap::codes::Secded128::portable();
        let pages = model.len();
        (0..pages.div_ceil(112))
            .flat_map(|c| {
                let data = (c * 112..((c + 1) * 112).min(pages))
                    .filter(|&p| model[p])
                    .fold(0u128, |d, p| d | 1 << (p % 112));
                let cell = code.encode(data) ^ key128(c);
                [cell as u64, (cell >> 64) as u64]
            })
            .collect()
    }
}

/// The striped map's parity word: the group's control field in bits
/// `0..7`, then the sum of its members' page masks (as integers, mod 2^57)
/// in bits `7..64` (`docs/design.md`).
pub(crate) const SUM_SHIFT: usize = 7;

impl TestMap for StripedBitmap {
    const NAME: &'static str = "StripedBitmap";
    const PAGES_PER_WORD: usize = 57;
    const PROTECTION: Protection = Protection::Corrects;
    fn with_pages(pages: usize) -> Self {
        StripedBitmap::with_pages(pages)
    }
    fn words_for(pages: usize) -> usize {
        StripedBitmap::words_for(pages)
    }
    fn storage_words_for(pages: usize) -> usize {
        let data = StripedBitmap::words_for(pages);
        data + data.div_ceil(GROUP_WORDS)
    }
    fn from_static_words(pages: usize, given: usize) -> Result<Self, StateError> {
        let spare = given.saturating_sub(StripedBitmap::words_for(pages));
        StripedBitmap::from_static(
            leak_words(given, 0xDEAD_BEEF_F00D_CAFE),
            leak_words(
                StripedBitmap::parity_words_for(pages) + spare,
                0x0123_4567_89AB_CDEF,
            ),
            pages,
        )
    }
    fn state_bit(&self, page: usize) -> usize {
        Layout::of::<Secded64>().data_bit(page)
    }
    fn guard_bits(&self, page: usize) -> Vec<usize> {
        Layout::of::<Secded64>().check_bits(page)
    }
    fn state_words(&self) -> usize {
        StripedBitmap::words_for(self.pages())
    }
    fn bit_role(&self, bit: usize) -> BitRole {
        let (w, data) = (bit / 64, self.state_words());
        let groups = self.storage_words() - data;
        if w < data {
            BitRole::Codeword {
                codeword: w,
                group: Some(w % groups),
            }
        } else if bit % 64 < SUM_SHIFT {
            BitRole::Control(w - data)
        } else {
            BitRole::Parity(w - data)
        }
    }
    fn raw_word_is_clean(index: usize, raw: u64) -> bool {
        Ecc64k::raw_word_is_clean(index, raw)
    }
    fn expected_storage(model: &Model) -> Vec<u64> {
        // Keyed (64,57) data words; word `w` is in group `w % S` of
        // `S = ceil(W / GROUP_WORDS)`, whose parity word (after the data
        // words) is the sum of its members' page masks (the low 57 bits of
        // each word) shifted up past the control field, which is 0.
        let data = Ecc64k::expected_storage(model);
        let groups = data.len().div_ceil(GROUP_WORDS);
        let mut parity = vec![0u64; groups];
        for (w, word) in data.iter().enumerate() {
            let pages = word & eccmap::codes::mask(57);
            parity[w % groups] = parity[w % groups].wrapping_add(pages << SUM_SHIFT);
        }
        [data, parity].concat()
    }
}

impl EccMap for StripedBitmap {
    fn layout() -> Layout {
        Layout::of::<Secded64>()
    }
    const TWO_FLIPS: TwoFlips = TwoFlips::Rebuilt;
}

/// Instantiates each named generic test `fn name<M>()` once per map of the
/// bracketed list `[fn_name: MapType, ...]`, as `name::fn_name`.
#[allow(unused_macros)]
macro_rules! instantiate {
    (@one [$($(#[$cfg:meta])* $name:ident: $map:ty),* $(,)?] $test:ident) => {
        mod $test {
            $(
                $(#[$cfg])*
                #[test]
                fn $name() {
                    super::$test::<$map>()
                }
            )*
        }
    };
    ($maps:tt $($test:ident),* $(,)?) => {$(
        instantiate!(@one $maps $test);
    )*};
}

/// Instantiates each named generic test `fn name<M: TestMap>()` once per map
/// type, as `name::plain`, `name::dual`, `name::ecc_secded64`, ...,
/// `name::keyed_secded64`, `name::striped`, `name::ecc128`.
#[allow(unused_macros)]
macro_rules! for_each_map {
    ($($test:ident),* $(,)?) => {
        instantiate!([
            plain: eccmap::PlainBitmap,
            dual: eccmap::DualBitmap,
            ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
            ecc_secded32: eccmap::EccBitmap<eccmap::codes::Secded32>,
            ecc_hamming84: eccmap::EccBitmap<eccmap::codes::Hamming84>,
            ecc_hamming74: eccmap::EccBitmap<eccmap::codes::Hamming74>,
            ecc_secded64burst: eccmap::EccBitmap<eccmap::codes::Secded64Burst>,
            keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
            striped: eccmap::StripedBitmap,
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            ecc128: eccmap::Ecc128,
        ] $($test),*);
    };
}

/// [`for_each_map!`] without the 128-bit map: for the tests that judge a
/// 64-bit storage word alone ([`TestMap::raw_word_is_clean`]), which for
/// `Ecc128` is half a codeword.
#[allow(unused_macros)]
macro_rules! for_each_map_64 {
    ($($test:ident),* $(,)?) => {
        instantiate!([
            plain: eccmap::PlainBitmap,
            dual: eccmap::DualBitmap,
            ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
            ecc_secded32: eccmap::EccBitmap<eccmap::codes::Secded32>,
            ecc_hamming84: eccmap::EccBitmap<eccmap::codes::Hamming84>,
            ecc_hamming74: eccmap::EccBitmap<eccmap::codes::Hamming74>,
            ecc_secded64burst: eccmap::EccBitmap<eccmap::codes::Secded64Burst>,
            keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
            striped: eccmap::StripedBitmap,
        ] $($test),*);
    };
}

/// Instantiates each named generic test `fn name<M: EccMap>()` once per map
/// with codewords (every map but the plain and dual bitmaps).
#[allow(unused_macros)]
macro_rules! for_each_ecc_map {
    ($($test:ident),* $(,)?) => {
        instantiate!([
            ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
            ecc_secded32: eccmap::EccBitmap<eccmap::codes::Secded32>,
            ecc_hamming84: eccmap::EccBitmap<eccmap::codes::Hamming84>,
            ecc_hamming74: eccmap::EccBitmap<eccmap::codes::Hamming74>,
            ecc_secded64burst: eccmap::EccBitmap<eccmap::codes::Secded64Burst>,
            keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
            striped: eccmap::StripedBitmap,
        ] $($test),*);
    };
}

/// Instantiates each named generic test `fn name<M: EccMap>()` once per map
/// whose code detects two flips in a codeword (`TwoFlips::Detected`, or
/// `Rebuilt` by the striped map): every ECC map but Hamming (7,4)'s.
#[allow(unused_macros)]
macro_rules! for_each_secded_map {
    ($($test:ident),* $(,)?) => {
        instantiate!([
            ecc_secded64: eccmap::EccBitmap<eccmap::codes::Secded64>,
            ecc_secded32: eccmap::EccBitmap<eccmap::codes::Secded32>,
            ecc_hamming84: eccmap::EccBitmap<eccmap::codes::Hamming84>,
            ecc_secded64burst: eccmap::EccBitmap<eccmap::codes::Secded64Burst>,
            keyed_secded64: eccmap::KeyedEccBitmap<eccmap::codes::Secded64>,
            striped: eccmap::StripedBitmap,
        ] $($test),*);
    };
}

/// The maps of the suites, by the fault campaign's scheme names.
pub(crate) type Ecc64 = EccBitmap<Secded64>;
/// See [`Ecc64`].
pub(crate) type Ecc32 = EccBitmap<Secded32>;
/// See [`Ecc64`].
pub(crate) type Ecc84 = EccBitmap<Hamming84>;
/// See [`Ecc64`].
pub(crate) type Ecc74 = EccBitmap<Hamming74>;
/// See [`Ecc64`].
pub(crate) type Ecc64b = EccBitmap<eccmap::codes::Secded64Burst>;
/// See [`Ecc64`].
pub(crate) type Ecc64k = eccmap::KeyedEccBitmap<Secded64>;

/// The reference model: bit `p` set when page `p` is allocated.
pub(crate) type Model = BitVec<usize>;

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

/// Asserts that every stored word of `map` is what an idle, fault-free map
/// holding `model` stores ([`TestMap::expected_storage`]).
pub(crate) fn assert_storage<M: TestMap>(map: &M, model: &Model, what: &str) {
    let want = M::expected_storage(model);
    let got = raw(map);
    assert_eq!(got.len(), want.len(), "{what}: storage words");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g, w,
            "{what}: storage word {i}: {g:#018x}, expected {w:#018x}"
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
