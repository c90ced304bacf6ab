//! Allocation state stored as error-correcting codewords.

use crate::engine::{clash, Conflict, Engine, Rewrite, WordRead};
use crate::primitive::Ordering;
use crate::state::ScrubReport;
#[cfg(not(loom))]
use crate::storage::{CounterCells, StaticStorage};
use crate::storage::{Counters, StaticLayout, Words};
use crate::word::{AtomicWord, LaneDecoded, MapCode, Word, WordCode};
use crate::StateError;
use core::marker::PhantomData;
use eccmap_codes::LaneCode;

/// Page allocation state as codewords of the code `C`, packed in storage
/// words of the code's word type ([`MapCode::Word`]; [`WordCode::Word`](crate::WordCode::Word)
/// for the lane codes): `C::Word::BITS / C::LANE_BITS` codewords per word,
/// each word updated by one compare-and-swap of its width.
///
/// | code | word | codewords per word | pages per word | bits per page |
/// |---|---|---|---|---|
/// | [`Secded64`](eccmap_codes::Secded64) | `AtomicU64` | 1 | 57 | 1.123 |
/// | [`Secded64Burst`](eccmap_codes::Secded64Burst) | `AtomicU64` | 1 | 56 | 1.143 |
/// | [`Secded32`](eccmap_codes::Secded32) | `AtomicU32` | 1 | 26 | 1.231 |
/// | [`Hamming84`](eccmap_codes::Hamming84) | `AtomicU64` | 8 | 32 | 2.0 |
/// | [`Hamming74`](eccmap_codes::Hamming74) | `AtomicU64` | 9 (bit 63 unused) | 36 | 1.778 |
/// | [`Secded128`](eccmap_codes::Secded128) ([`Ecc128`](crate::Ecc128), x86-64 and aarch64) | [`AtomicU128`](crate::AtomicU128) | 1 | 112 | 1.143 |
///
/// On a target without 64-bit atomics (`cfg(not(target_has_atomic =
/// "64"))`, e.g. Cortex-M, RV32IMAC) the 64-bit codes have no map
/// (`Secded64` and `Secded64Burst` do not implement [`WordCode`](crate::WordCode) there),
/// and `Hamming84` / `Hamming74` use `AtomicU32` words (4 codewords, 16
/// pages).
///
/// Page offset `o` of a word is data bit `o % k` of codeword `o / k`
/// (`k = C::DATA_BITS`); for `Secded64`, page offset `o` is bit `o`.
///
/// - Every state change lands as one compare-and-swap that XORs the changed
///   pages' deltas into the word: data and check bits move together, so no
///   reader ever sees half an update, and there is no false alarm under
///   concurrency (`tests/concurrency.rs::threads_with_scrubber_and_injector`,
///   `tests/loom.rs`). The compare-and-swap is `compare_exchange_weak` in a
///   loop: when another thread changed the word first, the update decodes
///   the new value and tries again (docs/design.md, "EccBitmap").
/// - Every read of a word decodes it. A single-bit fault found on any path is
///   repaired in place by the same compare-and-swap (so a concurrent update
///   is never lost), counted in `ce_count`, and the answer is right
///   (`tests/faults.rs::ecc_every_single_flip_is_corrected`). A
///   codeword that cannot be corrected makes every operation that needs one
///   of its pages fail with [`StateError::Uncorrectable`] naming its pages
///   (`tests/faults.rs::ecc_double_flip_in_a_codeword`).
///
/// With the `fault-injection` feature (the flips):
///
/// ```
/// # #[cfg(feature = "fault-injection")] {
/// use eccmap::{EccBitmap, FaultInjection, PageState, StateError};
/// use eccmap_codes::Secded64;
/// let map = EccBitmap::<Secded64>::with_pages(114);
/// map.alloc(60)?;
/// // Two flipped bits in the second word (pages 57..114): detected, not guessed.
/// map.flip_storage_bit(64 + 1)?;
/// map.flip_storage_bit(64 + 2)?;
/// assert_eq!(map.is_allocated(60), Err(StateError::Uncorrectable { first: 57, count: 57 }));
/// assert_eq!(map.is_allocated(0), Ok(false)); // the first word is fine
/// # }
/// # Ok::<(), eccmap::StateError>(())
/// ```
pub struct EccBitmap<C: MapCode, K: Keying = Unkeyed> {
    pages: usize,
    words: Words<C::Word>,
    counters: Counters,
    code: PhantomData<(C, K)>,
}

/// How a map's words are keyed to their index: the coset constant of word
/// `i` may depend on `i`, so that a word found at the wrong index does not
/// decode as valid. The update deltas do not depend on the key, so an
/// update is still one compare-and-swap. What keying adds to each word
/// access is finding the word's key: for [`AddressKeyed`], the index modulo
/// the key period (a division by a constant, which the compiler turns into
/// a multiply and shifts), a load from the key table, and one XOR. A scan
/// that walks the words in order steps the key class instead of dividing.
/// [`Unkeyed`]'s key is the constant 0 and costs nothing.
pub trait Keying: Send + Sync + 'static {
    /// The pattern XORed into storage word `word` of a map of code `C`, on
    /// top of the code's own coset constant (0 for an unkeyed map). It lies
    /// in the check bits of each codeword, repeated for every codeword that
    /// fits in 64 bits (`64 / C::CODE_BITS` of them); the map keeps the
    /// codewords of its own word (a `u32` word of `Secded32`, the low 32
    /// bits).
    fn key<C: LaneCode>(word: usize) -> u64;

    /// How often the keys repeat: `key(w) == key(w + period())` for every
    /// `w`. The default, `usize::MAX`, claims no repetition (a scan then
    /// asks `key_of_class` for every word's own index), so a keying that
    /// defines only `key` stays right.
    fn period<C: LaneCode>() -> usize {
        usize::MAX
    }

    /// The key of the words `w` with `w % period() == class`: a scan that
    /// walks the words in order steps `class` instead of dividing.
    ///
    /// # Panics
    /// May panic if `class >= period()` ([`AddressKeyed`] does).
    fn key_of_class<C: LaneCode>(class: usize) -> u64 {
        Self::key::<C>(class)
    }

    /// The 16-bit coset constant (in syndrome space, `s15..s0`) of storage
    /// word `word` of a map of the 128-bit code
    /// [`Secded128`](eccmap_codes::Secded128), in place of the code's own;
    /// `None` for the code's own. The default, `None`, leaves a 128-bit map
    /// unkeyed.
    fn coset_128(word: usize) -> Option<u16> {
        let _ = word;
        None
    }

    /// The XOR of the effective coset constants (syndrome space) of the
    /// 128-bit words `word` and `word + 1`, each
    /// [`coset_128`](Self::coset_128) or, for `None`, the code's own: a
    /// scan that walks the words in order steps the constant by it. The
    /// default computes both.
    #[inline(always)]
    fn coset_128_step(word: usize) -> u16 {
        let own = eccmap_codes::Secded128::MATRIX.coset();
        Self::coset_128(word).unwrap_or(own) ^ Self::coset_128(word.wrapping_add(1)).unwrap_or(own)
    }

    /// How often [`coset_128`](Self::coset_128) repeats, as
    /// [`period`](Self::period) for the lane codes. The default,
    /// `usize::MAX`, claims no repetition.
    fn period_128() -> usize {
        usize::MAX
    }
}

/// Every word has the code's own coset constant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unkeyed;

impl Keying for Unkeyed {
    #[inline(always)]
    fn key<C: LaneCode>(_word: usize) -> u64 {
        0
    }
    fn period<C: LaneCode>() -> usize {
        1
    }
    fn period_128() -> usize {
        1
    }
}

/// Address-keyed cosets: word `i`'s coset constant is `E[i % M]`, where
/// `E` lists, in increasing order, the nonzero even-weight `r`-bit
/// syndromes (`r` = check bits) other than `H·1`, the syndrome of an
/// all-ones codeword. `M` is the key period, [`Keying::period`].
///
/// In every codeword of every word, at every index `i`:
/// - an all-zero word decodes as Uncorrectable: its syndrome is `E[i % M]`;
/// - an all-ones word decodes as Uncorrectable: its syndrome is
///   `H·1 ^ E[i % M]`;
/// - a clean word from index `j` copied to index `i` decodes as
///   Uncorrectable, never valid and never "corrected", **unless `i - j` is a
///   multiple of `M`**: its syndrome is `E[i % M] ^ E[j % M]`. Words fewer
///   than `M` apart always have different keys; words a multiple of `M`
///   apart share a key, and a copy between them is accepted as valid
///   ([`StripedBitmap`](crate::StripedBitmap) catches those).
///
/// Tested for every accepted code over more than two key periods by
/// `tests/keyed_codes.rs::*_promise_at_every_index`, and on a map by
/// `tests/keyed.rs::misplaced_words_are_detected`.
///
/// Each of those syndromes must be nonzero and not the column of any bit.
/// For a code whose columns all have odd weight (every SECDED code here) an
/// even syndrome is never a column, and the sum of two distinct keys is
/// even and nonzero; leaving `H·1` out of `E` keeps the all-ones syndrome
/// nonzero. The type checks all of this at compile time, from the code's
/// matrix, for every code it is used with ([`supports`](Self::supports)):
///
/// | code | `r` | `H·1` | keys `M` |
/// |---|---|---|---|
/// | [`Hamming84`](eccmap_codes::Hamming84) | 4 | 0 | 7 |
/// | [`Secded32`](eccmap_codes::Secded32) | 6 | 0 | 31 |
/// | [`Secded64`](eccmap_codes::Secded64) | 7 | 0 | 63 |
/// | [`Secded64Burst`](eccmap_codes::Secded64Burst) | 8 | `00001111` | 126 (the 127 even syndromes but `H·1`) |
/// | [`Hamming74`](eccmap_codes::Hamming74) | 3 | 0 | refused |
///
/// A full-length code has `H·1 = 0`. [`Secded64Burst`](eccmap_codes::Secded64Burst)
/// is shortened; with `H·1` as a key, an all-ones word would decode as a
/// clean word with every page allocated at the words of that key.
/// [`Hamming74`](eccmap_codes::Hamming74) is refused: it is a perfect code,
/// every nonzero 3-bit syndrome is a column, so whatever the keys, a zeroed
/// or copied word would be "corrected" into wrong data.
///
/// Building a map of a refused code (any use of its keys, such as
/// `with_pages` or `from_static`) fails to compile: a const assertion
/// evaluated when the map's code is generated (so `cargo build` and
/// `cargo test` report it; `cargo check` may not):
///
/// ```compile_fail
/// use eccmap::{codes::Hamming74, KeyedEccBitmap, PageState};
/// let map = KeyedEccBitmap::<Hamming74>::with_pages(36);
/// # let _ = map.is_allocated(0);
/// ```
///
/// ```
/// use eccmap::{codes::Hamming84, KeyedEccBitmap, PageState};
/// let map = KeyedEccBitmap::<Hamming84>::with_pages(32);
/// # let _ = map.is_allocated(0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressKeyed;

impl AddressKeyed {
    /// Number of nonzero even-weight `r`-bit values: `2^(r-1) - 1`.
    ///
    /// # Panics
    /// If `r` is not in `1..=8` (a code here has 1 to 8 check bits).
    pub const fn keys(r: u32) -> usize {
        assert!(r >= 1 && r <= 8, "r must be 1..=8 check bits");
        (1 << (r - 1)) - 1
    }

    /// The `n`-th (from 0) nonzero even-weight `r`-bit value, in increasing
    /// order.
    ///
    /// # Panics
    /// If `r` is not in `1..=8`, or `n >= keys(r)`.
    pub const fn even(r: u32, n: usize) -> u64 {
        assert!(n < Self::keys(r), "key index out of range");
        let mut v = 0u64;
        let mut seen = 0;
        loop {
            v += 1;
            if v.count_ones() % 2 == 0 {
                if seen == n {
                    return v;
                }
                seen += 1;
            }
        }
    }

    /// Whether address keys keep their promise for code `C` (see the type's
    /// documentation): at least two keys, and for every key `e`, `e` and
    /// `H·1 ^ e` nonzero and not a column, and for every two keys `e`, `f`,
    /// `e ^ f` not a column. A map `EccBitmap<C, AddressKeyed>` compiles
    /// only if this is true.
    pub const fn supports<C: LaneCode>() -> bool {
        let (keys, m) = key_syndromes::<C>();
        if m < 2 {
            return false;
        }
        let mut a = 0;
        while a < m {
            let mut b = a + 1;
            while b < m {
                if !detected::<C>(keys[a] ^ keys[b]) {
                    return false;
                }
                b += 1;
            }
            a += 1;
        }
        true
    }

    /// The coset constant, in syndrome space, of the words `w` of a map of
    /// code `C` with `w % period == class`: `E[class]`.
    ///
    /// # Panics
    /// If `class >= period` ([`Keying::period`]). Fails to compile for a
    /// code that [`supports`](Self::supports) refuses.
    pub const fn coset<C: LaneCode>(class: usize) -> u8 {
        assert!(class < KeyTable::<C>::M, "key class out of range");
        KeyTable::<C>::SYNDROMES.0[class]
    }
}

/// Whether syndrome `s` of code `C` is detected: nonzero and not a column.
const fn detected<C: LaneCode>(s: u8) -> bool {
    s != 0 && C::MATRIX.bit_of(s as u32).is_none()
}

/// The keys of code `C` as syndromes, in increasing order, and their
/// number: the nonzero even-weight `r`-bit values `e` for which the zero
/// word (syndrome `e`) and the all-ones word (syndrome `H·1 ^ e`) are
/// detected.
const fn key_syndromes<C: LaneCode>() -> ([u8; 128], usize) {
    let r = C::CODE_BITS - C::DATA_BITS;
    let ones = C::MATRIX.linear_syndrome(eccmap_codes::mask(C::CODE_BITS));
    let mut keys = [0u8; 128];
    let mut m = 0;
    let mut n = 0;
    while n < AddressKeyed::keys(r) {
        let e = AddressKeyed::even(r, n) as u8;
        if detected::<C>(e) && detected::<C>(ones ^ e) {
            keys[m] = e;
            m += 1;
        }
        n += 1;
    }
    (keys, m)
}

/// The key words of code `C`, one per key, built at compile time.
struct KeyTable<C: LaneCode>(PhantomData<C>);

impl<C: LaneCode> KeyTable<C> {
    const SYNDROMES: ([u8; 128], usize) = key_syndromes::<C>();
    /// The key period: the number of keys. Evaluating it (every use of a
    /// key does) refuses a code that the keys cannot protect.
    const M: usize = {
        assert!(
            AddressKeyed::supports::<C>(),
            "AddressKeyed cannot keep its promise for this code (see AddressKeyed::supports)"
        );
        Self::SYNDROMES.1
    };
    /// `WORDS[t]`: the storage-word pattern turning the code's coset into the
    /// `t`-th key syndrome, in every codeword of the word.
    const WORDS: [u64; 128] = {
        let lanes = 64 / C::CODE_BITS as usize;
        let base = C::COSET >> C::DATA_BITS;
        let mut t = [0u64; 128];
        let mut i = 0;
        while i < Self::M {
            let lane = (Self::SYNDROMES.0[i] as u64 ^ base) << C::DATA_BITS;
            let mut l = 0;
            while l < lanes {
                t[i] |= lane << (l * C::CODE_BITS as usize);
                l += 1;
            }
            i += 1;
        }
        t
    };
}

impl Keying for AddressKeyed {
    #[inline(always)]
    fn key<C: LaneCode>(word: usize) -> u64 {
        KeyTable::<C>::WORDS[word % KeyTable::<C>::M]
    }
    fn period<C: LaneCode>() -> usize {
        KeyTable::<C>::M
    }
    #[inline(always)]
    fn key_of_class<C: LaneCode>(class: usize) -> u64 {
        // Bounded by the period, not the table's size: one bounds check.
        KeyTable::<C>::WORDS[..KeyTable::<C>::M][class]
    }
    /// [`IndexKeys`](crate::IndexKeys): no period.
    #[inline(always)]
    fn coset_128(word: usize) -> Option<u16> {
        Some(crate::keys128::IndexKeys::coset(word))
    }
    /// [`IndexKeys::step`](crate::IndexKeys::step): one table load.
    #[inline(always)]
    fn coset_128_step(word: usize) -> u16 {
        crate::keys128::IndexKeys::step(word)
    }
}

/// One decoded word.
pub(crate) struct View<W> {
    /// Allocated pages (page mask).
    pub(crate) allocated: W,
    /// Pages of uncorrectable codewords.
    pub(crate) bad: W,
    /// The word with every correctable codeword repaired.
    pub(crate) fixed: W,
    /// Codewords repaired in `fixed`.
    pub(crate) corrected: u32,
    /// Uncorrectable codewords.
    pub(crate) bad_lanes: u32,
}

impl<C: MapCode, K: Keying> EccBitmap<C, K> {
    const N: usize = C::LANE_BITS as usize;
    const K: usize = C::LANE_DATA_BITS as usize;
    /// Codewords per storage word.
    pub const LANES: usize = {
        let lanes = <C::Word as Word>::BITS as usize / Self::N;
        assert!(lanes >= 1, "the code's word is narrower than its codeword");
        lanes
    };
    /// Pages per storage word.
    pub const PAGES_PER_WORD: usize = Self::LANES * Self::K;
    /// The value of a word of all-free pages: the code's coset in every
    /// codeword.
    #[inline(always)]
    fn init() -> C::Word {
        let mut w = C::Word::ZERO;
        for l in 0..Self::LANES {
            w |= C::coset() << (l * Self::N);
        }
        w
    }
    /// The bits of a storage word that hold codewords.
    #[inline(always)]
    fn used() -> C::Word {
        C::Word::low(Self::LANES * Self::N)
    }

    /// Storage words needed for `pages` pages.
    pub const fn words_for(pages: usize) -> usize {
        pages.div_ceil(Self::PAGES_PER_WORD)
    }

    /// A map of `pages` free pages in its own allocation.
    ///
    /// # Panics
    /// If this CPU cannot update the map's words lock-free (only an
    /// [`Ecc128`](crate::Ecc128) on an x86-64 CPU without `cmpxchg16b`);
    /// [`try_with_pages`](Self::try_with_pages) returns the error instead.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn with_pages(pages: usize) -> Self {
        match Self::try_with_pages(pages) {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    /// A map of `pages` free pages in its own allocation, or
    /// [`StateError::NotLockFree`] if this CPU cannot update its words
    /// lock-free (an [`Ecc128`](crate::Ecc128) on an x86-64 CPU without
    /// `cmpxchg16b`; every other map is always built).
    ///
    /// # Errors
    /// [`StateError::NotLockFree`] as above.
    ///
    /// ```
    /// # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))] {
    /// use eccmap::{Ecc128, PageState, StateError};
    /// match Ecc128::try_with_pages(1000) {
    ///     Ok(map) => assert_eq!(map.pages(), 1000),
    ///     Err(e) => assert_eq!(e, StateError::NotLockFree { bits: 128 }),
    /// }
    /// # }
    /// ```
    #[cfg(feature = "alloc")]
    pub fn try_with_pages(pages: usize) -> Result<Self, StateError> {
        Self::check_lock_free()?;
        Ok(Self::over(
            pages,
            Words::new(Self::words_for(pages), Self::blank_word),
        ))
    }

    /// [`StateError::NotLockFree`] unless the word's atomic is lock-free
    /// on this CPU.
    fn check_lock_free() -> Result<(), StateError> {
        if <<C::Word as Word>::Atomic as AtomicWord<C::Word>>::lock_free() {
            Ok(())
        } else {
            Err(StateError::NotLockFree {
                bits: <C::Word as Word>::BITS,
            })
        }
    }

    /// A map of `pages` free pages over caller-provided storage of at least
    /// [`words_for(pages)`](Self::words_for) words, which it initialises
    /// (on error, it writes nothing:
    /// `tests/regressions.rs::failed_from_static_writes_nothing`). Fails
    /// with [`StateError::NotLockFree`] where
    /// [`try_with_pages`](Self::try_with_pages) does.
    ///
    /// The storage is taken by unique reference, for good: no other map, and
    /// no other code, can use it afterwards, so a second map cannot be built
    /// over a live one (in a kernel the reference comes from a `static mut`
    /// taken once at boot, or from a leaked allocation).
    ///
    /// ```
    /// use eccmap::{codes::Secded64, AtomicU64, EccBitmap, PageState};
    /// type Map = EccBitmap<Secded64>;
    /// let storage: &'static mut [AtomicU64] =
    ///     Box::leak((0..Map::words_for(100)).map(|_| AtomicU64::new(0)).collect());
    /// let map = Map::from_static(storage, 100)?;
    /// map.alloc_range(0, 100)?;
    /// assert_eq!(map.count_allocated()?, 100);
    /// # Ok::<(), eccmap::StateError>(())
    /// ```
    ///
    /// Building a second map over the same storage does not compile:
    ///
    /// ```compile_fail,E0499
    /// use eccmap::{codes::Secded64, AtomicU64, EccBitmap, PageState};
    /// type Map = EccBitmap<Secded64>;
    /// let storage: &'static mut [AtomicU64] =
    ///     Box::leak((0..Map::words_for(100)).map(|_| AtomicU64::new(0)).collect());
    /// let map = Map::from_static(storage, 100)?;
    /// map.alloc_range(0, 100)?;
    /// let again = Map::from_static(storage, 100)?; // would reset `map`
    /// # Ok::<(), eccmap::StateError>(())
    /// ```
    ///
    /// # Errors
    /// [`StateError::StorageTooSmall`] if `storage` has fewer than
    /// [`words_for(pages)`](Self::words_for) words.
    pub fn from_static(
        storage: &'static mut [<C::Word as Word>::Atomic],
        pages: usize,
    ) -> Result<Self, StateError> {
        Self::check_lock_free()?;
        Ok(Self::over(
            pages,
            Words::borrowed(storage, Self::words_for(pages), Self::blank_word)?,
        ))
    }

    /// Word `w`'s key pattern: the keying's pattern, cut to the codewords
    /// of the word.
    #[inline(always)]
    pub(crate) fn key(w: usize) -> C::Word {
        Self::word_of(C::key::<K>(w))
    }

    /// A per-codeword pattern cut to the codewords of the word.
    #[inline(always)]
    fn word_of(pattern: C::Word) -> C::Word {
        pattern & Self::used()
    }

    /// The raw storage value of word `w` with every page free.
    #[inline(always)]
    fn blank_word(w: usize) -> C::Word {
        Self::whole_of(Self::key(w), true)
    }

    /// The raw storage value of a word with key pattern `key` (as
    /// [`key`](Self::key) gives it) with every page free (`free`) or
    /// allocated.
    #[inline(always)]
    fn whole_of(key: C::Word, free: bool) -> C::Word {
        // The unkeyed value, one of two constants (so a loop over words
        // computes it once), then the key.
        let unkeyed = if free {
            Self::word_of(Self::init())
        } else {
            Self::word_of(Self::init()) ^ Self::range_delta(C::Word::low(Self::PAGES_PER_WORD))
        };
        unkeyed ^ key
    }

    /// The key pattern of the words whose walk position (key class) is
    /// `at`: [`key`](Self::key) without the division.
    #[inline(always)]
    fn key_at(at: usize) -> C::Word {
        Self::word_of(C::key_of_class::<K>(at))
    }

    /// Where a walk over consecutive words stands at word `w`: its key
    /// class, so that the next word's is a step ([`walk_next`](Self::walk_next))
    /// rather than a division (`w` itself for keys with no period, 0
    /// unkeyed).
    #[inline(always)]
    fn walk_start(w: usize) -> usize {
        w % C::period::<K>()
    }

    /// The walk position of the word after one at position `at`.
    #[inline(always)]
    fn walk_next(at: usize) -> usize {
        let next = at + 1;
        if next == C::period::<K>() {
            0
        } else {
            next
        }
    }

    /// The storage change that flips every page of a word of one codeword
    /// (a constant: the compiler folds the table lookups).
    #[inline(always)]
    fn full_delta() -> C::Word {
        C::delta_mask(C::Word::low(Self::K))
    }

    /// The storage change of an update of `mask` given a verified word, as
    /// ranges use it (`mask` a run of pages, the range's pages in the
    /// word): a whole word of one codeword is a constant, any other run
    /// two lookups.
    #[inline(always)]
    fn range_delta(mask: C::Word) -> C::Word {
        if Self::LANES != 1 {
            Self::delta(mask)
        } else if mask == C::Word::low(Self::K) {
            Self::full_delta()
        } else if let Some(m) = C::lane_matrix() {
            // A range's first or last word: a run of pages, two lookups.
            C::Word::from_u64(m.delta_run(mask.low_u64()))
        } else {
            C::delta_mask(mask)
        }
    }

    /// The raw storage value of word `w` holding exactly the allocated
    /// pages `pages` (a page mask): a fresh encoding, for rebuilding a word.
    #[inline]
    pub(crate) fn encode_word(w: usize, pages: C::Word) -> C::Word {
        Self::blank_word(w) ^ Self::delta(pages)
    }

    /// Storage word `w`.
    // Used by the striped map, which needs 64-bit atomics.
    #[cfg_attr(not(target_has_atomic = "64"), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn cell(&self, w: usize) -> &<C::Word as Word>::Atomic {
        &self.words[w]
    }

    fn over(pages: usize, words: Words<C::Word>) -> Self {
        EccBitmap {
            pages,
            words,
            counters: Counters::new(),
            code: PhantomData,
        }
    }

    /// Whether the raw storage word `raw`, whose key is `key`, is one clean
    /// codeword, by its syndrome alone: the answer [`view`](Self::view)
    /// would give, for the scans that need only that. Always false for a
    /// word of several codewords (those go through `view`).
    #[inline(always)]
    pub(crate) fn is_clean(raw: C::Word, key: C::Word) -> bool {
        Self::LANES == 1 && C::is_codeword(raw ^ key)
    }

    /// Decodes every codeword of the raw storage word `raw` whose key is
    /// `key`: the one verify-and-correct step that every path (read, update,
    /// scrub) goes through.
    #[inline(always)]
    pub(crate) fn view(raw: C::Word, key: C::Word) -> View<C::Word> {
        let word = raw ^ key;
        let mut v = View {
            allocated: C::Word::ZERO,
            bad: C::Word::ZERO,
            fixed: raw,
            corrected: 0,
            bad_lanes: 0,
        };
        for l in 0..Self::LANES {
            let lane = (word >> (l * Self::N)) & C::Word::low(Self::N);
            match C::decode(lane) {
                LaneDecoded::Clean(d) => v.allocated |= d << (l * Self::K),
                LaneDecoded::Corrected { data, bit } => {
                    v.allocated |= data << (l * Self::K);
                    v.fixed ^= C::Word::bit(l * Self::N + bit as usize);
                    v.corrected += 1;
                }
                LaneDecoded::Uncorrectable => {
                    v.bad |= C::Word::low(Self::K) << (l * Self::K);
                    v.bad_lanes += 1;
                }
            }
        }
        v
    }

    /// The storage change that flips the pages of page mask `mask`.
    #[inline(always)]
    pub(crate) fn delta(mask: C::Word) -> C::Word {
        if Self::LANES == 1 {
            return if mask.is_power_of_two() {
                C::delta(mask.trailing_zeros())
            } else {
                C::delta_mask(mask)
            };
        }
        let mut d = C::Word::ZERO;
        for l in 0..Self::LANES {
            let part = (mask >> (l * Self::K)) & C::Word::low(Self::K);
            if part != C::Word::ZERO {
                d |= C::delta_mask(part) << (l * Self::N);
            }
        }
        d
    }

    /// The storage change that flips the one page at offset `o` (`o <
    /// PAGES_PER_WORD`): for a word of one codeword, data bit `o`'s column
    /// of the matrix and the bit itself, one table load.
    #[inline(always)]
    fn delta_one(o: usize) -> C::Word {
        if Self::LANES == 1 {
            C::delta(o as u32)
        } else {
            Self::delta(C::Word::bit(o))
        }
    }

    /// [`Engine::update`] out of line, for the fast paths' rare cases (a
    /// word that is not clean, a clash, a lost compare-and-swap).
    #[cold]
    #[inline(never)]
    fn update_cold(&self, w: usize, mask: C::Word, alloc: bool) -> Result<(), Conflict<C::Word>> {
        self.update(w, mask, alloc)
    }

    /// [`read_full`](Self::read_full) out of line: a word of one codeword
    /// that is not clean.
    #[cold]
    #[inline(never)]
    fn read_cold(&self, w: usize, cur: C::Word, key: C::Word) -> WordRead<C::Word> {
        self.read_full(w, cur, key)
    }

    /// [`Engine::read`] by the full decode: decode, repair, answer.
    #[inline(always)]
    fn read_full(&self, w: usize, cur: C::Word, key: C::Word) -> WordRead<C::Word> {
        let v = Self::view(cur, key);
        if v.fixed != cur {
            self.repair(w, cur, &v);
        }
        WordRead {
            allocated: v.allocated,
            bad: v.bad,
        }
    }

    /// The update of `mask` to `alloc` of word `w` (storage cell `cell`)
    /// whose check found the clean encoding `token`, `delta` its storage
    /// change: if the word still holds `token`, one CAS of the delta,
    /// without decoding again; otherwise the full update, out of line.
    #[inline(always)]
    fn update_from(
        &self,
        cell: &<C::Word as Word>::Atomic,
        w: usize,
        mask: C::Word,
        alloc: bool,
        token: C::Word,
        delta: C::Word,
    ) -> Result<(), Conflict<C::Word>> {
        match cell.compare_exchange(token, token ^ delta, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            Err(_) => self.update_cold(w, mask, alloc),
        }
    }

    /// [`Engine::check_update`] of a whole word that did not hold its one
    /// valid value: out of line.
    #[cold]
    #[inline(never)]
    fn check_whole_cold(
        &self,
        w: usize,
        mask: C::Word,
        alloc: bool,
    ) -> Result<C::Word, Conflict<C::Word>> {
        self.check_update(w, mask, alloc)
    }

    /// [`check_update_full`](Self::check_update_full) out of line: a word
    /// of one codeword that is not clean.
    #[cold]
    #[inline(never)]
    fn check_update_cold(
        &self,
        w: usize,
        cur: C::Word,
        key: C::Word,
        mask: C::Word,
        alloc: bool,
    ) -> Result<C::Word, Conflict<C::Word>> {
        self.check_update_full(w, cur, key, mask, alloc)
    }

    /// [`Engine::check_update`] by the full decode: decode, repair, decide.
    #[inline(always)]
    fn check_update_full(
        &self,
        w: usize,
        cur: C::Word,
        key: C::Word,
        mask: C::Word,
        alloc: bool,
    ) -> Result<C::Word, Conflict<C::Word>> {
        let v = Self::view(cur, key);
        if v.fixed != cur {
            self.repair(w, cur, &v);
        }
        let at = v.bad & mask;
        if at != C::Word::ZERO {
            return Err(Conflict::Bad { bad: v.bad, at });
        }
        let c = clash(v.allocated, mask, alloc);
        if c != C::Word::ZERO {
            return Err(Conflict::State(c));
        }
        // A clean encoding in which the update may go ahead.
        Ok(v.fixed)
    }

    /// Writes back a repaired word if the word still holds `seen`; counts
    /// the repair only if this thread's write is the one that landed.
    #[cold]
    fn repair(&self, w: usize, seen: C::Word, v: &View<C::Word>) -> bool {
        if v.fixed == seen {
            return false;
        }
        let ok = self.words[w]
            .compare_exchange(seen, v.fixed, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if ok {
            self.counters.ce(u64::from(v.corrected));
        }
        ok
    }
}

impl<C: MapCode, K: Keying> Engine for EccBitmap<C, K> {
    type Word = C::Word;
    const PAGES_PER_WORD: usize = Self::PAGES_PER_WORD;
    fn page_count(&self) -> usize {
        self.pages
    }
    fn word_count(&self) -> usize {
        self.words.len()
    }
    fn counters(&self) -> &Counters {
        &self.counters
    }
    #[inline]
    fn read(&self, w: usize, _want: C::Word) -> WordRead<C::Word> {
        let cur = self.words[w].load(Ordering::Acquire);
        let key = Self::key(w);
        if Self::LANES != 1 {
            return self.read_full(w, cur, key);
        }
        // The common case, one clean codeword: its data bits are the pages.
        if Self::is_clean(cur, key) {
            return WordRead {
                allocated: cur & C::Word::low(Self::K),
                bad: C::Word::ZERO,
            };
        }
        self.read_cold(w, cur, key)
    }
    #[inline]
    fn update(&self, w: usize, mask: C::Word, alloc: bool) -> Result<(), Conflict<C::Word>> {
        let cell = &self.words[w];
        // Computed once, outside the retry loop: a single page is one table
        // lookup, a run of pages two.
        let delta = Self::delta(mask);
        let key = Self::key(w);
        let mut cur = cell.load(Ordering::Acquire);
        loop {
            let v = Self::view(cur, key);
            let at = v.bad & mask;
            if at != C::Word::ZERO {
                self.repair(w, cur, &v);
                return Err(Conflict::Bad { bad: v.bad, at });
            }
            let clash = clash(v.allocated, mask, alloc);
            // The repair (if any) and the update land together, in one CAS.
            let new = if clash == C::Word::ZERO {
                v.fixed ^ delta
            } else {
                v.fixed
            };
            if new == cur {
                return Err(Conflict::State(clash));
            }
            match cell.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if v.corrected != 0 {
                        self.counters.ce(u64::from(v.corrected));
                    }
                    return if clash == C::Word::ZERO {
                        Ok(())
                    } else {
                        Err(Conflict::State(clash))
                    };
                }
                Err(now) => cur = now,
            }
        }
    }
    #[inline(always)]
    fn update_one(&self, w: usize, o: usize, alloc: bool) -> Result<(), Conflict<C::Word>> {
        if Self::LANES != 1 {
            return self.update(w, C::Word::bit(o), alloc);
        }
        // One verify (the syndrome of the loaded word), then the new word is
        // the old one XOR the page's delta: a clean word stays clean, so the
        // compare-and-swap that lands it needs no second syndrome. A word
        // that is not clean, a clash and a lost race take the full update.
        let cell = &self.words[w];
        let cur = cell.load(Ordering::Acquire);
        if Self::is_clean(cur, Self::key(w)) {
            // One codeword: page `o` is data bit `o`.
            if cur.test_bit(o) == alloc {
                return Err(Conflict::State(C::Word::bit(o)));
            }
            let new = cur ^ Self::delta_one(o);
            if cell
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(());
            }
        }
        self.update_cold(w, C::Word::bit(o), alloc)
    }
    #[inline(always)]
    fn check_update(
        &self,
        w: usize,
        mask: C::Word,
        alloc: bool,
    ) -> Result<C::Word, Conflict<C::Word>> {
        let cur = self.words[w].load(Ordering::Acquire);
        let key = Self::key(w);
        if Self::LANES == 1 {
            // A whole word has one valid clean value for each direction:
            // all free (the blank word) before an alloc, all allocated
            // before a free. One compare verifies it, without a syndrome.
            if mask == C::Word::low(Self::K) && Some(cur) == self.whole_token(w, alloc) {
                return Ok(cur);
            }
            // One clean codeword: its data bits are the pages.
            if Self::is_clean(cur, key) {
                let c = clash(cur, mask, alloc);
                if c != C::Word::ZERO {
                    return Err(Conflict::State(c));
                }
                return Ok(cur);
            }
            return self.check_update_cold(w, cur, key, mask, alloc);
        }
        self.check_update_full(w, cur, key, mask, alloc)
    }
    #[inline(always)]
    fn whole_token(&self, w: usize, alloc: bool) -> Option<C::Word> {
        // The clean encoding of no page allocated, or of every page.
        Some(Self::whole_of(Self::key(w), alloc))
    }
    #[inline(always)]
    fn check_wholes(
        &self,
        w0: usize,
        n: usize,
        full: C::Word,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<C::Word>)> {
        if Self::LANES != 1 {
            return crate::engine::check_each(self, w0, n, full, alloc);
        }
        // The one valid value of each word, as in `check_update`, with the
        // key from the walk over key classes; anything else takes the
        // general check, out of line.
        let mut at = Self::walk_start(w0);
        for (i, cell) in self.words[w0..w0 + n].iter().enumerate() {
            if cell.load(Ordering::Acquire) != Self::whole_of(Self::key_at(at), alloc) {
                let w = w0 + i;
                self.check_whole_cold(w, full, alloc).map_err(|c| (w, c))?;
            }
            at = Self::walk_next(at);
        }
        Ok(())
    }
    #[inline(always)]
    fn update_wholes(
        &self,
        w0: usize,
        n: usize,
        full: C::Word,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<C::Word>)> {
        // Each word's one valid value, as `check_wholes` found it: if the
        // word still holds it, the update is one CAS of the whole word's
        // delta; otherwise the full update, out of line.
        let delta = Self::range_delta(full);
        let mut at = Self::walk_start(w0);
        for (i, cell) in self.words[w0..w0 + n].iter().enumerate() {
            let token = Self::whole_of(Self::key_at(at), alloc);
            self.update_from(cell, w0 + i, full, alloc, token, delta)
                .map_err(|c| (i, c))?;
            at = Self::walk_next(at);
        }
        Ok(())
    }
    #[inline(always)]
    fn update_checked(
        &self,
        w: usize,
        mask: C::Word,
        alloc: bool,
        token: C::Word,
    ) -> Result<(), Conflict<C::Word>> {
        self.update_from(
            &self.words[w],
            w,
            mask,
            alloc,
            token,
            Self::range_delta(mask),
        )
    }
    #[inline]
    fn clean_run(&self, from: usize) -> usize {
        // A code wider than 64 bits with a scan of its own (Secded128).
        if let Some(n) = C::clean_prefix::<K>(&self.words[from..], from) {
            return n;
        }
        if Self::LANES != 1 {
            return 0;
        }
        // The scrub's common case, word after word, by syndrome alone (the
        // answer `view` would give), stepping the key class.
        let period = C::period::<K>();
        let mut class = from % period;
        let mut w = from;
        let words: &[<C::Word as Word>::Atomic] = &self.words;
        // 8 or 32 words per step (AVX-512), straight from the storage: a word
        // `x` is clean exactly when `x ^ key ^ blank` has a zero linear
        // syndrome, with the keys' `key ^ blank` in a ring by class.
        #[cfg(target_has_atomic = "64")]
        if let (64, Some(matrix), eccmap_codes::WideBackend::Avx512, Some(cells)) = (
            <C::Word as Word>::BITS,
            C::lane_matrix(),
            eccmap_codes::WideBackend::get(),
            <<C::Word as Word>::Atomic as AtomicWord<C::Word>>::core_u64s(words),
        ) {
            let blank = Self::word_of(Self::init());
            let ring = eccmap_codes::KeyRing::new(period, |c| {
                (Self::word_of(C::key_of_class::<K>(c)) ^ blank).low_u64()
            });
            // No ring (a keying without a short period): word by word below.
            if let Some(ring) = ring {
                return matrix.first_dirty_in(&cells[from..], &ring, class);
            }
        }
        while w < words.len() {
            let raw = words[w].load(Ordering::Acquire);
            if !Self::is_clean(raw, Self::word_of(C::key_of_class::<K>(class))) {
                break;
            }
            w += 1;
            class += 1;
            if class == period {
                class = 0;
            }
        }
        w - from
    }
    #[inline]
    fn scrub_word(&self, w: usize, report: &mut ScrubReport) -> C::Word {
        let key = Self::key(w);
        let mut cur = self.words[w].load(Ordering::Acquire);
        // The common case, a clean single-codeword word.
        if Self::is_clean(cur, key) {
            return C::Word::ZERO;
        }
        loop {
            let v = Self::view(cur, key);
            if v.fixed != cur && !self.repair(w, cur, &v) {
                // The word changed under us: decode what is there now.
                cur = self.words[w].load(Ordering::Acquire);
                continue;
            }
            report.corrected += if v.fixed != cur {
                v.corrected as usize
            } else {
                0
            };
            report.uncorrectable += v.bad_lanes as usize;
            return v.bad;
        }
    }
    fn storage_bytes(&self) -> usize {
        self.words.len() * core::mem::size_of::<C::Word>()
    }
    fn storage_cell(&self, i: usize) -> Option<&<C::Word as Word>::Atomic> {
        self.words.get(i)
    }
    fn storage_len(&self) -> usize {
        self.words.len()
    }
    fn restore_word(
        &self,
        w: usize,
        mask: C::Word,
        truth: C::Word,
        keep: C::Word,
    ) -> Result<Rewrite<C::Word>, C::Word> {
        let cell = &self.words[w];
        let key = Self::key(w);
        let mut cur = cell.load(Ordering::Acquire);
        loop {
            let v = Self::view(cur, key);
            let unknown = v.bad & keep;
            if unknown != C::Word::ZERO {
                return Err(unknown);
            }
            // A fresh encoding: the pages past the map's end free.
            let new = Self::encode_word(w, (v.allocated & keep) | truth);
            let r = Rewrite {
                written: new != cur,
                pages: ((v.allocated ^ truth) | v.bad) & mask,
                was: v.allocated,
                unknown: v.bad,
            };
            if !r.written {
                return Ok(r);
            }
            match cell.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(r),
                Err(now) => cur = now,
            }
        }
    }
}

crate::engine::page_state!(EccBitmap<C, K>, C: MapCode, K: Keying);

impl<C: MapCode, K: Keying> crate::storage::Sealed for EccBitmap<C, K> {}
impl<C: MapCode, K: Keying> StaticLayout for EccBitmap<C, K> {
    type Cell = <C::Word as Word>::Atomic;
}

impl<C: WordCode, K: Keying> EccBitmap<C, K> {
    /// Cells of a [`StaticStorage`] for `pages` pages:
    /// [`words_for(pages)`](Self::words_for).
    pub const fn static_cells(pages: usize) -> usize {
        Self::words_for(pages)
    }

    /// The map over storage built at compile time by
    /// [`static_storage`](Self::static_storage): a `const fn` that writes
    /// nothing, for a `static` map (see the crate documentation). The map's
    /// counters are the storage's, so a second map over the same storage
    /// is the same map.
    #[cfg(not(loom))]
    #[must_use]
    pub const fn from_static_storage<const N: usize>(
        storage: &'static StaticStorage<Self, N>,
    ) -> Self {
        Self::over_static(storage.pages, &storage.cells, &storage.counters)
    }

    /// The map of `pages` pages over `words` and the counters `counters`,
    /// as they stand (nothing written).
    #[cfg(not(loom))]
    pub(crate) const fn over_static(
        pages: usize,
        words: &'static [<C::Word as Word>::Atomic],
        counters: &'static CounterCells,
    ) -> Self {
        EccBitmap {
            pages,
            words: Words::Borrowed(words),
            counters: Counters::borrowed(counters),
            code: PhantomData,
        }
    }

    /// [`blank_word`](Self::blank_word) at compile time, in the low 64 bits,
    /// for a word whose key pattern is `key`. `tests/static_map.rs` checks
    /// the two agree for every code and keying.
    #[cfg(not(loom))]
    pub(crate) const fn blank_value(key: u64) -> u64 {
        (Self::INIT64 ^ key) & eccmap_codes::mask((Self::LANES * Self::N) as u32)
    }

    /// [`init`](Self::init) at compile time, in the low 64 bits (the lane
    /// codes' words are at most 64 bits wide).
    #[cfg(not(loom))]
    const INIT64: u64 = {
        let mut w = 0;
        let mut l = 0;
        while l < Self::LANES && l * Self::N < 64 {
            w |= <C as LaneCode>::COSET << (l * Self::N);
            l += 1;
        }
        w
    };
}

/// [`Unkeyed::key`] at compile time.
#[cfg(not(loom))]
const fn unkeyed_key(_word: usize) -> u64 {
    0
}

/// [`AddressKeyed::key`] at compile time.
#[cfg(not(loom))]
pub(crate) const fn address_key<C: LaneCode>(word: usize) -> u64 {
    KeyTable::<C>::WORDS[word % KeyTable::<C>::M]
}

/// `static_storage` for the map of code `$code` with keying `$keying`,
/// whose storage cells are `$atomic` holding `$word`. A `const fn` cannot
/// build a cell through the `AtomicWord` trait, so each (code, keying)
/// gets its own, the blank words computed by the code-generic
/// `blank_value`.
macro_rules! static_storage {
    ($code:ty, $keying:ty, $key:expr, $atomic:ty, $word:ty) => {
        #[cfg(not(loom))]
        impl EccBitmap<$code, $keying> {
            /// The storage of a map of `pages` free pages, built at compile
            /// time: every word as `with_pages` writes
            /// it (`tests/static_map.rs::static_storage_equals_with_pages`).
            /// Put it in a `static` and build the map over it with
            /// [`from_static_storage`](Self::from_static_storage), or let
            /// [`static_map!`](crate::static_map) do both.
            ///
            /// # Panics
            /// (At compile time, in a `static`.) If `N` is not
            /// [`static_cells(pages)`](Self::static_cells).
            #[must_use]
            pub const fn static_storage<const N: usize>(pages: usize) -> StaticStorage<Self, N> {
                assert!(
                    N == Self::static_cells(pages),
                    "N must be static_cells(pages)"
                );
                let mut cells = [const { <$atomic>::new(0) }; N];
                let mut w = 0;
                while w < N {
                    let v = Self::blank_value($key(w));
                    cells[w] = <$atomic>::new(v as $word);
                    w += 1;
                }
                StaticStorage::new(pages, cells)
            }
        }
    };
}

#[cfg(not(loom))]
use crate::primitive::AtomicU32;
#[cfg(all(not(loom), target_has_atomic = "64"))]
use crate::primitive::AtomicU64;
#[cfg(not(loom))]
use eccmap_codes::{Hamming74, Hamming84, Secded32};
#[cfg(all(not(loom), target_has_atomic = "64"))]
use eccmap_codes::{Secded64, Secded64Burst};

static_storage!(Secded32, Unkeyed, unkeyed_key, AtomicU32, u32);
static_storage!(
    Secded32,
    AddressKeyed,
    address_key::<Secded32>,
    AtomicU32,
    u32
);
#[cfg(target_has_atomic = "64")]
static_storage!(Secded64, Unkeyed, unkeyed_key, AtomicU64, u64);
#[cfg(target_has_atomic = "64")]
static_storage!(
    Secded64,
    AddressKeyed,
    address_key::<Secded64>,
    AtomicU64,
    u64
);
#[cfg(target_has_atomic = "64")]
static_storage!(Secded64Burst, Unkeyed, unkeyed_key, AtomicU64, u64);
#[cfg(target_has_atomic = "64")]
static_storage!(
    Secded64Burst,
    AddressKeyed,
    address_key::<Secded64Burst>,
    AtomicU64,
    u64
);
#[cfg(target_has_atomic = "64")]
static_storage!(Hamming84, Unkeyed, unkeyed_key, AtomicU64, u64);
#[cfg(target_has_atomic = "64")]
static_storage!(
    Hamming84,
    AddressKeyed,
    address_key::<Hamming84>,
    AtomicU64,
    u64
);
#[cfg(target_has_atomic = "64")]
static_storage!(Hamming74, Unkeyed, unkeyed_key, AtomicU64, u64);
#[cfg(not(target_has_atomic = "64"))]
static_storage!(Hamming84, Unkeyed, unkeyed_key, AtomicU32, u32);
#[cfg(not(target_has_atomic = "64"))]
static_storage!(
    Hamming84,
    AddressKeyed,
    address_key::<Hamming84>,
    AtomicU32,
    u32
);
#[cfg(not(target_has_atomic = "64"))]
static_storage!(Hamming74, Unkeyed, unkeyed_key, AtomicU32, u32);
// `KeyedEccBitmap<Hamming74>` does not exist (AddressKeyed refuses it).
