//! The unprotected bitmap: the zero-cost floor and the control.

use crate::engine::{clash, Conflict, Engine, WordRead};
use crate::primitive::Ordering;
use crate::state::ScrubReport;
use crate::storage::{Counters, Words};
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
}

crate::engine::page_state!(PlainBitmap);
