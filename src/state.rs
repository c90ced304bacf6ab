//! The public face of every map: [`PageState`], `FaultInjection` (with the
//! `fault-injection` feature) and the reports they return.

use crate::error::StateError;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use core::ops::Range;

/// Lock-free page allocation state: which pages of `0..pages()` are
/// allocated. Every method but [`scrub_exclusive`](PageState::scrub_exclusive)
/// (`&mut self`) takes `&self` and may be called from any number of threads
/// at once.
///
/// Every read of stored state is verified. What a map does with a fault it
/// finds depends on its scheme: [`EccBitmap`](crate::EccBitmap) repairs
/// single-bit faults in place and answers correctly
/// (`tests/faults.rs::ecc_every_single_flip_is_corrected`);
/// [`StripedBitmap`](crate::StripedBitmap) also rebuilds a word its group
/// can restore (`tests/striped.rs::lost_words_are_rebuilt`);
/// [`DualBitmap`](crate::DualBitmap) reports
/// [`StateError::Uncorrectable`]
/// (`tests/faults.rs::dual_every_single_flip_is_detected_not_repaired`);
/// [`PlainBitmap`](crate::PlainBitmap) cannot see faults at all
/// (`tests/faults.rs::plain_every_flip_is_a_silent_wrong_answer`).
///
/// ```
/// use eccmap::{PageMap, PageState, StateError};
/// let map = PageMap::with_pages(1000);
/// map.alloc(7)?;
/// assert_eq!(map.alloc(7), Err(StateError::DoubleAlloc { page: 7 }));
/// map.alloc_range(100, 512)?;
/// assert_eq!(map.find_free(100)?, Some(612));
/// assert_eq!(map.count_allocated()?, 513);
/// map.free_range(100, 512)?;
/// map.free(7)?;
/// assert!(!map.is_allocated(7)?);
/// # Ok::<(), StateError>(())
/// ```
///
/// Implementable by users, and kept so across features: a method that a
/// feature adds (today [`snapshot`](PageState::snapshot), with `alloc`) has
/// a default body written over the required methods, so an
/// `impl PageState` written without the feature still builds when another
/// crate in the build turns it on. The trait is not sealed.
///
/// # Panics
/// With the `panic-on-fault` feature, the maps of this crate panic where
/// they would return [`StateError::DoubleAlloc`], [`StateError::DoubleFree`],
/// [`StateError::Uncorrectable`] or [`StateError::UndoConflict`], and when
/// a scrub finds damage it cannot repair (the baseline's
/// fail-deterministically mode); bad input is still returned as an error.
pub trait PageState: Send + Sync {
    /// Number of pages the map tracks.
    fn pages(&self) -> usize;
    /// Marks `page` allocated. [`StateError::DoubleAlloc`] if it already is
    /// (the state is then unchanged).
    ///
    /// # Errors
    /// [`StateError::OutOfRange`] if `page >= pages()`;
    /// [`StateError::DoubleAlloc`] if it is already allocated;
    /// [`StateError::Uncorrectable`] if its state cannot be verified. The
    /// state is unchanged on every error.
    fn alloc(&self, page: usize) -> Result<(), StateError>;
    /// Marks `page` free. [`StateError::DoubleFree`] if it already is.
    ///
    /// # Errors
    /// [`StateError::OutOfRange`] if `page >= pages()`;
    /// [`StateError::DoubleFree`] if it is already free;
    /// [`StateError::Uncorrectable`] if its state cannot be verified. The
    /// state is unchanged on every error.
    fn free(&self, page: usize) -> Result<(), StateError>;
    /// Marks `count` pages from `first` allocated, all or nothing: the whole
    /// range is checked before any page changes, so a range with a page
    /// already allocated or of unknown state fails with nothing changed
    /// (`tests/behaviour.rs::range_alloc_is_all_or_nothing`, under races
    /// `tests/regressions.rs`).
    /// On any error other than [`StateError::UndoConflict`], no page of the
    /// call has changed state when it returns. `UndoConflict` means another
    /// call changed pages of the range while this one held them (needs a
    /// concurrent double alloc/free or a fault), and names them; every
    /// other page is back as it was (docs/design.md, "All or nothing").
    ///
    /// # Errors
    /// [`StateError::EmptyRange`] if `count == 0`;
    /// [`StateError::RangeOutOfBounds`] if the range runs past `pages()`;
    /// [`StateError::DoubleAlloc`] naming the first page of the range found
    /// allocated; [`StateError::Uncorrectable`] naming pages of the range
    /// whose state cannot be verified; [`StateError::UndoConflict`] as
    /// above.
    fn alloc_range(&self, first: usize, count: usize) -> Result<(), StateError>;
    /// Marks `count` pages from `first` free, all or nothing, as
    /// [`alloc_range`](PageState::alloc_range).
    ///
    /// # Errors
    /// As [`alloc_range`](PageState::alloc_range)'s, with
    /// [`StateError::DoubleFree`] naming the first page found free.
    fn free_range(&self, first: usize, count: usize) -> Result<(), StateError>;
    /// The allocator's claim: marks `count` pages from `first` allocated if
    /// all are free, all or nothing. Finding one busy (or losing a race for
    /// one to another thread) is not a violation: it returns
    /// [`Claim::Busy`] naming that page, changes nothing and counts nothing.
    ///
    /// # Errors
    /// [`StateError::EmptyRange`] or [`StateError::RangeOutOfBounds`] for
    /// a bad range; [`StateError::Uncorrectable`] for a page of the range
    /// whose state cannot be verified (unless a busy page comes before it);
    /// [`StateError::UndoConflict`] as for
    /// [`alloc_range`](PageState::alloc_range).
    fn try_alloc_range(&self, first: usize, count: usize) -> Result<Claim, StateError>;
    /// Whether `page` is allocated.
    ///
    /// # Errors
    /// [`StateError::OutOfRange`] if `page >= pages()`;
    /// [`StateError::Uncorrectable`] if its state cannot be verified.
    fn is_allocated(&self, page: usize) -> Result<bool, StateError>;
    /// The first free page at or after `from`; `Ok(None)` if there is none.
    /// `from == pages()` is allowed and finds nothing.
    ///
    /// # Errors
    /// [`StateError::OutOfRange`] if `from > pages()`;
    /// [`StateError::Uncorrectable`] if a page whose state cannot be
    /// verified comes before the first free page (the answer would be a
    /// guess).
    fn find_free(&self, from: usize) -> Result<Option<usize>, StateError>;
    /// Number of allocated pages.
    ///
    /// # Errors
    /// [`StateError::Uncorrectable`] if any page's state cannot be verified.
    fn count_allocated(&self) -> Result<usize, StateError>;
    /// Checks every stored word, repairing what the scheme can repair, in
    /// place and without losing a concurrent update.
    fn scrub(&self) -> ScrubReport;
    /// [`scrub`](PageState::scrub) with exclusive access: no operation can
    /// be in flight, so a map may also repair state that concurrent checks
    /// must leave alone ([`StripedBitmap`](crate::StripedBitmap) resets a
    /// group control field damaged by a fault, and recomputes a stale
    /// group's sum: `tests/striped.rs::a_stale_group_is_repaired_in_word_by_the_exclusive_scrub`,
    /// `tests/faults.rs::striped_control_bit_flip_is_repaired_and_counted_once`).
    /// Same as `scrub` for the other maps.
    fn scrub_exclusive(&mut self) -> ScrubReport;
    /// Fault and violation counters since construction.
    fn stats(&self) -> FaultStats;
    /// Bytes of storage the state occupies (check bits, copies and padding
    /// included).
    fn storage_bytes(&self) -> usize;
    /// A verified copy of the whole state, bit `p` set when page `p` is
    /// allocated. Its store is `usize`, which bitvec supports on every
    /// target (its `u64` store exists only where pointers are 64 bits).
    /// Building it is clean under Miri's default model; bitvec 1.1's own
    /// per-bit accessors, such as indexing the result, are still flagged
    /// there by a known upstream issue: under Miri, read it through
    /// `as_raw_slice`.
    ///
    /// Only with the `alloc` feature, and with a default body (one
    /// [`is_allocated`](PageState::is_allocated) per page; the crate's maps
    /// read a word at a time instead), so that a user's own
    /// `impl PageState` builds whether or not some crate in the build turns
    /// `alloc` on (`tests/behaviour.rs::a_user_impl_gets_the_default_snapshot`).
    ///
    /// # Errors
    /// [`StateError::Uncorrectable`] if any page's state is unknown.
    #[cfg(feature = "alloc")]
    fn snapshot(&self) -> Result<bitvec::vec::BitVec<usize>, StateError> {
        let mut bits = PageBits::new(self.pages());
        for p in 0..self.pages() {
            if self.is_allocated(p)? {
                bits.set(p);
            }
        }
        Ok(bits.into_bitvec())
    }
    /// Rewrites the stored state of the `count` pages from `first` from
    /// the caller's ground truth, `allocated(page)` (called once per page
    /// of the range, in increasing order): the way back from a word a scrub
    /// reported uncorrectable, for a kernel that can rebuild allocation
    /// state from its own page descriptors. Each word of the range is
    /// written as a fresh encoding of the truth for its pages of the range
    /// and of their current state for its other pages, whatever it held
    /// (an uncorrectable word included); a word that already holds exactly
    /// that is left alone. Returns what it rewrote, and counts the words in
    /// [`FaultStats::restored`].
    ///
    /// **Concurrency** (docs/safety.md, "Restoring state from ground
    /// truth"): safe while other threads use the map. Pages outside the
    /// range keep their state exactly, including those that share a word
    /// with the range and are allocated or freed meanwhile (each word is
    /// replaced by one compare-and-swap from the value it read, retried if
    /// the word changed; the dual bitmap changes only the range's bits of
    /// each copy). The truth is authoritative for the range: an alloc or
    /// free of a page of the range that lands before the restore writes
    /// its word is overwritten with the truth, one that lands after is
    /// checked against the truth. So the caller must keep the range's
    /// pages still during the call (hold them, or compute the truth under
    /// the lock its own allocations take).
    ///
    /// # Errors
    /// [`StateError::EmptyRange`] or [`StateError::RangeOutOfBounds`] for
    /// bad input (nothing written). [`StateError::Uncorrectable`] naming
    /// pages *outside* the range whose state is unknown and that share a
    /// word with it: an ECC map re-encodes whole codewords and will not
    /// guess them, so pass a range that covers them (the plain and dual
    /// bitmaps store each page apart and never refuse). The two end words
    /// are checked before anything is written; a word damaged beyond
    /// correction during the call is refused when it is reached, the words
    /// before it staying restored (and counted).
    ///
    /// (The example damages a word through `FaultInjection`, so it runs
    /// with the `fault-injection` feature.)
    ///
    /// ```
    /// # #[cfg(feature = "fault-injection")] {
    /// use eccmap::{codes::Secded64, EccBitmap, FaultInjection, PageState, StateError};
    /// let map = EccBitmap::<Secded64>::with_pages(1000);
    /// map.alloc_range(0, 10)?;
    /// map.write_storage_word(0, 0)?; // a stray memset: pages 0..57 lost
    /// assert_eq!(map.is_allocated(3), Err(StateError::Uncorrectable { first: 0, count: 57 }));
    /// // A range that leaves some of the word's unknown pages out is refused.
    /// assert_eq!(map.restore(0, 20, &|p| p < 10), Err(StateError::Uncorrectable { first: 20, count: 37 }));
    /// // The kernel's own records say pages 0..10 are allocated.
    /// let r = map.restore(0, 57, &|p| p < 10)?;
    /// assert_eq!((r.words, r.pages), (1, 57));
    /// assert_eq!(map.is_allocated(3), Ok(true));
    /// assert_eq!(map.count_allocated(), Ok(10));
    /// assert!(map.scrub().is_clean());
    /// assert_eq!(map.stats().restored, 1);
    /// # }
    /// # Ok::<(), eccmap::StateError>(())
    /// ```
    fn restore(
        &self,
        first: usize,
        count: usize,
        allocated: &dyn Fn(usize) -> bool,
    ) -> Result<Restored, StateError>;
}

/// What one [`PageState::restore`] rewrote. More fields may be added
/// (`#[non_exhaustive]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// Storage words written (for the dual bitmap: word pairs; for the
    /// striped map: data words). A word whose encoding was already the
    /// truth's is not written and not counted; a word that held a
    /// correctable fault is written (with a fresh encoding) and counted.
    pub words: usize,
    /// Pages of the range whose stored state was wrong or unknown before
    /// the restore (for the dual bitmap: either copy wrong).
    pub pages: usize,
}

/// A snapshot being built: bit `p` for page `p`, packed into `usize` words
/// first and handed to bitvec whole (`from_vec`, then `truncate`): bitvec
/// 1.1.1's per-bit paths (`repeat`, `set`, indexing) retag through
/// zero-sized references, which Miri's Stacked Borrows model reports as
/// undefined behaviour; these two do not (tests/miri.rs checks it). The
/// store is `usize`, which bitvec supports on every target.
#[cfg(feature = "alloc")]
pub(crate) struct PageBits {
    pages: usize,
    words: Vec<usize>,
}

#[cfg(feature = "alloc")]
impl PageBits {
    const B: usize = usize::BITS as usize;
    /// `pages` pages, all clear.
    pub(crate) fn new(pages: usize) -> PageBits {
        PageBits {
            pages,
            words: alloc::vec![0; pages.div_ceil(Self::B)],
        }
    }
    /// Marks page `p` (below `pages`) allocated.
    pub(crate) fn set(&mut self, p: usize) {
        self.words[p / Self::B] |= 1 << (p % Self::B);
    }
    /// The snapshot.
    pub(crate) fn into_bitvec(self) -> bitvec::vec::BitVec<usize> {
        let mut v = bitvec::vec::BitVec::from_vec(self.words);
        v.truncate(self.pages);
        v
    }
}

/// Raw access to a map's stored bits, behind its encoder's back: for tests
/// and for users' own safety validation. Only with the `fault-injection`
/// cargo feature, which is off by default.
///
/// Why off by default: these methods take `&self`, so any safe code holding
/// `&map` could write a well-formed but wrong codeword past the scheme
/// (a page silently marked free, say), which no check can tell from real
/// state. A kernel or firmware build leaves the feature off, so that the
/// only writers of the state are the map's own checked operations. The
/// tests, the fault campaign, the fuzz target and the QEMU firmware's
/// checks turn it on. That a build
/// without the feature has no `FaultInjection` is checked by a
/// `compile_fail` doctest that exists only in such builds (`.ci/run` runs
/// `cargo test -p eccmap --doc` without the feature).
///
/// Storage bit `i` is bit `i % 64` of storage word `i / 64`, whatever the
/// width of the map's own words (its cells): the storage words are the
/// cells in memory order, so for a map of `u32` cells storage word `j` is
/// cell `2j` in its low half and cell `2j + 1` in its high half (and a
/// 128-bit cell would be two storage words, low half first). The storage
/// words cover every stored bit: data, check bits, padding, and for the
/// [`DualBitmap`](crate::DualBitmap) the primary's words followed by the
/// secondary's.
///
/// A map of an odd number of `u32` cells ends in half a storage word: its
/// high half does not exist, reads as 0, and a write or a flip of its bits
/// is ignored; [`storage_bits`](Self::storage_bits) counts only the bits
/// that exist. Past the last storage word, a flip or write is refused
/// (`StorageOutOfRange`, with `len` the storage words' bits for a flip).
///
/// Every access to a cell is atomic, so it is safe while other threads use
/// the map; a storage word of two `u32` cells is read or written as two
/// atomic accesses, one per cell, not atomic together.
///
/// ```
/// use eccmap::{EccBitmap, FaultInjection, PageState};
/// use eccmap_codes::Secded64;
/// let map = EccBitmap::<Secded64>::with_pages(100);
/// map.flip_storage_bit(3)?;                 // a cosmic ray on page 3
/// assert_eq!(map.is_allocated(3), Ok(false)); // corrected on read
/// assert_eq!(map.stats().ce_count, 1);
/// # Ok::<(), eccmap::StateError>(())
/// ```
#[cfg(feature = "fault-injection")]
#[cfg_attr(docsrs, doc(cfg(feature = "fault-injection")))]
pub trait FaultInjection {
    /// Number of 64-bit storage words (a trailing half word counted).
    fn storage_words(&self) -> usize;
    /// Number of stored bits: `storage_words() * 64`, less the missing
    /// half of a trailing half word.
    fn storage_bits(&self) -> usize {
        self.storage_words() * 64
    }
    /// The raw value of storage word `i`.
    ///
    /// # Panics
    /// If `i >= storage_words()`.
    fn storage_word(&self, i: usize) -> u64;
    /// Flips storage bit `bit` atomically (see above for the missing half
    /// of a trailing half word).
    ///
    /// # Errors
    /// [`StateError::StorageOutOfRange`] if `bit` is past the last storage
    /// word (`len` is then `storage_words() * 64`).
    fn flip_storage_bit(&self, bit: usize) -> Result<(), StateError>;
    /// Overwrites storage word `i`: atomically per cell (see above).
    ///
    /// # Errors
    /// [`StateError::StorageOutOfRange`] if `i >= storage_words()`.
    fn write_storage_word(&self, i: usize, value: u64) -> Result<(), StateError>;
}

/// The outcome of [`PageState::try_alloc_range`].
///
/// `#[non_exhaustive]`: a match on it needs a wildcard arm, so that an
/// outcome added later does not break it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "`Busy` means nothing was claimed"]
pub enum Claim {
    /// Every page of the range is now allocated by this call.
    Claimed,
    /// Nothing changed: `page` (in the range) was allocated.
    Busy {
        /// The first busy page found.
        page: usize,
    },
}

/// What one [`PageState::scrub`] found.
///
/// What a unit of `corrected` and `uncorrectable` is depends on the map:
///
/// | map | `corrected` counts | `uncorrectable` counts |
/// |---|---|---|
/// | [`PlainBitmap`](crate::PlainBitmap) | nothing (always 0) | nothing (always 0) |
/// | [`DualBitmap`](crate::DualBitmap) | nothing (always 0) | inconsistent word pairs |
/// | [`EccBitmap`](crate::EccBitmap) | codewords corrected in place (one per single-bit fault) | codewords beyond correction |
/// | [`StripedBitmap`](crate::StripedBitmap) | every repair of a stored word: a codeword corrected in-word, a data word rebuilt from its group (a zeroed or garbage word counts one), a parity word rewritten from the data, a flipped control bit cleared, and with `scrub_exclusive` a damaged group control field reset (a stale mark left by contention alone is not counted) | groups it checked and could not resolve (one per group, whatever the number of damaged words); in a stale group, codewords beyond in-word correction. Busy groups are counted in `busy`, not here |
///
/// The striped row is tested by
/// `tests/striped.rs::a_stale_group_is_repaired_in_word_by_the_exclusive_scrub`
/// (a stale group: a single-bit fault in a member corrected in-word, no
/// page listed; the exclusive scrub's repairs; a member beyond in-word
/// correction: one unit, only its own 57 pages listed) and
/// `::two_lost_words_in_a_group_are_reported`; the in-word rows by
/// `tests/faults.rs::ecc_every_single_flip_is_corrected` and
/// `::ecc_double_flip_in_a_codeword`.
///
/// `#[non_exhaustive]`: built only by the maps (a field that a feature
/// adds, such as `bad_pages` with `alloc`, breaks no code outside); read its
/// fields, or start from `ScrubReport::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a scrub's report says what it found and could not repair"]
pub struct ScrubReport {
    /// Storage words checked (for the dual bitmap: word pairs; for the
    /// striped map: data words).
    pub words: usize,
    /// Repairs made in place (see the table above).
    pub corrected: usize,
    /// Units found damaged beyond repair (see the table above).
    pub uncorrectable: usize,
    /// Parity groups ([`StripedBitmap`](crate::StripedBitmap) only) the
    /// scrub could not check because they stayed busy: updated throughout
    /// its tries, or held by a control field that a fault left stuck (which
    /// only [`scrub_exclusive`](PageState::scrub_exclusive) can tell and
    /// reset). Not a fault: a fault in such a group is left for a later
    /// scrub, neither repaired nor reported
    /// (`tests/striped_contention.rs::a_scrub_of_a_group_busy_throughout_reports_busy_not_a_fault`).
    pub busy: usize,
    /// The pages this scrub could not verify, as ranges in increasing
    /// order. For the striped map, every page of a group it checked but
    /// could not resolve; for a stale group (its sum out of date), only the
    /// pages of members beyond in-word correction
    /// (`tests/striped_contention.rs::a_group_made_stale_by_contention_is_checked_in_word_not_reported`).
    /// An operation that fails names only its own word's pages. A caller
    /// that knows their true state writes it back with
    /// [`PageState::restore`].
    #[cfg(feature = "alloc")]
    pub bad_pages: Vec<Range<usize>>,
}

impl ScrubReport {
    /// True when nothing was found and nothing was left unchecked.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.corrected == 0 && self.uncorrectable == 0 && self.busy == 0
    }
}

/// Fault and violation counters, named after Linux EDAC's.
///
/// One fault these counters do not see: a flipped control bit that leaves
/// a [`StripedBitmap`](crate::StripedBitmap) group looking held by a
/// checker. A concurrent check cannot tell it from contention, so it is
/// never counted as an error: scrubs report the group in
/// [`ScrubReport::busy`] until
/// [`scrub_exclusive`](PageState::scrub_exclusive) resets the control field
/// (and counts that repair in `ce_count`). A monitor should watch
/// `ScrubReport::busy` staying nonzero across scrubs as well as these
/// counters.
///
/// `#[non_exhaustive]`: built by the maps; outside the crate, start from
/// `FaultStats::default()` and set the fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct FaultStats {
    /// Corrected errors: repairs made in place, by operations and scrubs,
    /// counted as [`ScrubReport::corrected`] counts them (for the ECC maps,
    /// one per single-bit fault corrected; for the striped map also words
    /// rebuilt, parity words rewritten and control fields reset).
    pub ce_count: u64,
    /// Uncorrected errors: each time an operation found state it could not
    /// verify (once per failed operation: one fault seen by several
    /// operations counts each time), plus each scrub's
    /// [`ScrubReport::uncorrectable`] (in that report's units).
    pub ue_count: u64,
    /// Rejected double allocations.
    pub double_alloc: u64,
    /// Rejected double frees.
    pub double_free: u64,
    /// Storage words rewritten by [`PageState::restore`], counted as
    /// [`Restored::words`] counts them.
    pub restored: u64,
}
