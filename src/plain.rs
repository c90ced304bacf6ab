//! The unprotected bitmap: the zero-cost floor and the control.

use crate::engine::{clash, Conflict, Engine, Rewrite, WordRead};
use crate::primitive::Ordering;
use crate::state::ScrubReport;
#[cfg(not(loom))]
use crate::storage::StaticStorage;
use crate::storage::{Counters, StaticLayout, Words};
use crate::word::{AtomicWord, NativeWord, Word};
use crate::StateError;

/// The atomic cell of the plain and dual bitmaps' storage:
/// [`NativeWord`]'s (`AtomicU64` on 64-bit targets, `AtomicU32` on 32-bit
/// ones).
pub type NativeStorage = <NativeWord as Word>::Atomic;

/// One bit per page (1 = allocated) in words of the target's native width
/// ([`NativeWord`]: 64 bits on 64-bit targets, 32 otherwise, as the
/// baseline's `unsigned long`), no protection.
///
/// Every fault in its storage is silent: a flipped bit is a wrong answer.
/// It is here as the floor every protected scheme is measured against, in
/// speed and memory (1 bit per page), and as the control of the fault
/// campaign. Its scrub checks nothing.
pub struct PlainBitmap {
    pages: usize,
    words: Words<NativeWord>,
    counters: Counters,
}

impl PlainBitmap {
    /// Storage words needed for `pages` pages.
    pub const fn words_for(pages: usize) -> usize {
        pages.div_ceil(NativeWord::BITS as usize)
    }

    /// A map of `pages` free pages in its own allocation.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn with_pages(pages: usize) -> PlainBitmap {
        PlainBitmap {
            pages,
            words: Words::new(Self::words_for(pages), |_| 0),
            counters: Counters::new(),
        }
    }

    /// A map of `pages` free pages over caller-provided storage of at least
    /// [`words_for(pages)`](Self::words_for) words, which it initialises
    /// (on error, it writes nothing:
    /// `tests/regressions.rs::failed_from_static_writes_nothing`). Taken by
    /// unique reference, so no other map can be built over it (see
    /// [`EccBitmap::from_static`](crate::EccBitmap::from_static)):
    ///
    /// ```compile_fail,E0499
    /// use eccmap::{NativeStorage, PlainBitmap};
    /// let storage: &'static mut [NativeStorage] = Box::leak(Box::new([const { NativeStorage::new(0) }; 4]));
    /// let a = PlainBitmap::from_static(storage, 128)?;
    /// let b = PlainBitmap::from_static(storage, 128)?;
    /// # Ok::<(), eccmap::StateError>(())
    /// ```
    ///
    /// # Errors
    /// [`StateError::StorageTooSmall`] if `storage` has fewer than
    /// [`words_for(pages)`](Self::words_for) words.
    pub fn from_static(
        storage: &'static mut [NativeStorage],
        pages: usize,
    ) -> Result<PlainBitmap, StateError> {
        let words = Words::borrowed(storage, Self::words_for(pages), |_| 0)?;
        Ok(PlainBitmap {
            pages,
            words,
            counters: Counters::new(),
        })
    }

    /// Cells of a [`StaticStorage`] for `pages` pages:
    /// [`words_for(pages)`](Self::words_for).
    pub const fn static_cells(pages: usize) -> usize {
        Self::words_for(pages)
    }

    /// The storage of a map of `pages` free pages, built at compile time
    /// (see [`EccBitmap::static_storage`](crate::EccBitmap::static_storage)).
    ///
    /// # Panics
    /// (At compile time, in a `static`.) If `N` is not
    /// [`static_cells(pages)`](Self::static_cells).
    #[cfg(not(loom))]
    #[must_use]
    pub const fn static_storage<const N: usize>(pages: usize) -> StaticStorage<Self, N> {
        assert!(
            N == Self::static_cells(pages),
            "N must be static_cells(pages)"
        );
        StaticStorage::new(pages, [const { NativeStorage::new(0) }; N])
    }

    /// The map over storage built by
    /// [`static_storage`](Self::static_storage): a `const fn` that writes
    /// nothing (see
    /// [`EccBitmap::from_static_storage`](crate::EccBitmap::from_static_storage)).
    #[cfg(not(loom))]
    #[must_use]
    pub const fn from_static_storage<const N: usize>(
        storage: &'static StaticStorage<Self, N>,
    ) -> Self {
        PlainBitmap {
            pages: storage.pages,
            words: Words::Borrowed(&storage.cells),
            counters: Counters::borrowed(&storage.counters),
        }
    }
}

impl crate::storage::Sealed for PlainBitmap {}
impl StaticLayout for PlainBitmap {
    type Cell = NativeStorage;
}

/// Sets (`alloc`) or clears the bits of `mask` in `cell` in one
/// compare-and-swap, provided none is already in the target state;
/// otherwise changes nothing. Returns the previous value.
#[inline]
pub(crate) fn test_and_update<W: Word>(
    cell: &W::Atomic,
    mask: W,
    alloc: bool,
) -> Result<W, Conflict<W>> {
    let mut old = cell.load(Ordering::Acquire);
    loop {
        let clash = clash(old, mask, alloc);
        if clash != W::ZERO {
            return Err(Conflict::State(clash));
        }
        match cell.compare_exchange_weak(old, old ^ mask, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(old),
            Err(now) => old = now,
        }
    }
}

impl Engine for PlainBitmap {
    type Word = NativeWord;
    const PAGES_PER_WORD: usize = NativeWord::BITS as usize;
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
    fn read(&self, w: usize, _want: NativeWord) -> WordRead<NativeWord> {
        WordRead {
            allocated: self.words[w].load(Ordering::Acquire),
            bad: 0,
        }
    }
    #[inline]
    fn update(&self, w: usize, mask: NativeWord, alloc: bool) -> Result<(), Conflict<NativeWord>> {
        test_and_update(&self.words[w], mask, alloc).map(|_| ())
    }
    #[inline]
    fn check_update(
        &self,
        w: usize,
        mask: NativeWord,
        alloc: bool,
    ) -> Result<NativeWord, Conflict<NativeWord>> {
        let old = self.words[w].load(Ordering::Acquire);
        match clash(old, mask, alloc) {
            0 => Ok(old),
            c => Err(Conflict::State(c)),
        }
    }
    #[inline(always)]
    fn whole_token(&self, _w: usize, alloc: bool) -> Option<NativeWord> {
        // The word itself: no page allocated, or every page.
        Some(if alloc { 0 } else { NativeWord::MAX })
    }
    #[inline]
    fn update_checked(
        &self,
        w: usize,
        mask: NativeWord,
        alloc: bool,
        token: NativeWord,
    ) -> Result<(), Conflict<NativeWord>> {
        let cell = &self.words[w];
        match cell.compare_exchange(token, token ^ mask, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            Err(_) => self.update(w, mask, alloc),
        }
    }
    fn scrub_word(&self, _w: usize, _report: &mut ScrubReport) -> NativeWord {
        0
    }
    fn storage_bytes(&self) -> usize {
        self.words.len() * core::mem::size_of::<NativeWord>()
    }
    fn storage_cell(&self, i: usize) -> Option<&NativeStorage> {
        self.words.get(i)
    }
    fn storage_len(&self) -> usize {
        self.words.len()
    }
    fn restore_word(
        &self,
        w: usize,
        mask: NativeWord,
        truth: NativeWord,
        keep: NativeWord,
    ) -> Result<Rewrite<NativeWord>, NativeWord> {
        // The range's bits, and those past the map's end (free).
        let (was, now) = restore_bits(&self.words[w], !keep, truth);
        Ok(Rewrite {
            written: was != now,
            pages: (was ^ truth) & mask,
            was,
            unknown: 0,
        })
    }
    fn restore_refuses(&self, _w: usize, _keep: NativeWord) -> NativeWord {
        0
    }
}

/// Sets the bits of `mask` in `cell` to those of `target` in one
/// compare-and-swap (retried if the cell changes), the other bits as they
/// stand; nothing is written if they already are. Returns the value
/// replaced and the value written. A restore of the plain and dual
/// bitmaps, which store each page apart.
pub(crate) fn restore_bits<W: Word>(cell: &W::Atomic, mask: W, target: W) -> (W, W) {
    let mut old = cell.load(Ordering::Acquire);
    loop {
        let new = (old & !mask) | (target & mask);
        if new == old {
            return (old, new);
        }
        match cell.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return (old, new),
            Err(now) => old = now,
        }
    }
}

crate::engine::page_state!(PlainBitmap);
