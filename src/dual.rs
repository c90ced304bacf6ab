//! The baseline: a bitmap and its complement in two separate allocations.

use crate::engine::{clash, Conflict, Engine, Rewrite, WordRead};
use crate::plain::{restore_bits, test_and_update, NativeStorage};
use crate::primitive::{fence, pause, Ordering};
use crate::state::ScrubReport;
#[cfg(not(loom))]
use crate::storage::StaticStorage;
use crate::storage::{Counters, StaticLayout, Words};
use crate::word::NativeWord;
use crate::StateError;

/// Reads before the final, fenced read of a consistency check (the
/// baseline's rule: three tries with a CPU pause between, then a read
/// barrier and a last read).
const TRIES: usize = 3;

/// The dual-bitmap consistency checker proposed for Linux, faithfully: a
/// primary bitmap (1 = allocated) and its complement (0 = allocated) in two
/// separate allocations, `primary == !secondary` word for word.
///
/// - A page update is a consistency pre-check of that page, then a
///   test-and-set (or -clear) on the primary, a compare-and-swap loop that
///   changes nothing if the page is already in the target state, then a
///   plain `fetch_and` (or `fetch_or`) on the secondary whose result is not
///   checked: two atomic operations, not atomic together. Range updates do
///   the same with whole words (two atomics per word), faster than the
///   baseline's per-page loop, so that comparisons are against the
///   strongest version of it.
/// - A consistency check reads both bits, up to three times with a pause
///   between (an update between the two reads looks like corruption), then
///   once more after a read barrier.
/// - Scrub is the baseline's `validate()`: every word pair, same retry rule;
///   `uncorrectable` counts inconsistent word pairs.
///
/// It detects a disagreement; it cannot tell which copy is right, so it
/// repairs nothing: the pages are reported [`StateError::Uncorrectable`]
/// (`tests/faults.rs::dual_every_single_flip_is_detected_not_repaired`).
/// Storage: 2 bits per page, in words of the target's native width
/// ([`NativeWord`], as the baseline's `unsigned long`).
///
/// Because the two atomics are not atomic together, two threads that race
/// to claim the same free page (while one of them also frees it) can cross
/// their updates and leave both copies equal: the page is then reported
/// corrupt though no fault occurred. The kernel's page allocator never lets
/// two threads claim one page; [`FrameAllocator`](crate::FrameAllocator)
/// does, so `FrameAllocator<DualBitmap>` under contention sees such false
/// alarms (docs/design.md; the loom model
/// `tests/loom.rs::dual_bitmap_claim_racing_alloc_and_free_leaves_the_copies_inconsistent`
/// finds the schedule).
pub struct DualBitmap {
    pages: usize,
    primary: Words<NativeWord>,
    secondary: Words<NativeWord>,
    counters: Counters,
}

impl DualBitmap {
    /// Storage words [`from_static`](Self::from_static) needs for `pages`
    /// pages: both bitmaps, [`bitmap_words(pages)`](Self::bitmap_words)
    /// each. The same meaning as every map's `words_for`, so that code
    /// sizing storage for a [`PageMap`](crate::PageMap) builds with and
    /// without the `dual-bitmap` feature.
    pub const fn words_for(pages: usize) -> usize {
        2 * Self::bitmap_words(pages)
    }

    /// Words of one of the two bitmaps for `pages` pages (what
    /// [`from_static_pair`](Self::from_static_pair) needs of each buffer,
    /// and what [`ScrubReport::words`] counts: word pairs).
    pub const fn bitmap_words(pages: usize) -> usize {
        pages.div_ceil(NativeWord::BITS as usize)
    }

    /// A map of `pages` free pages in two allocations of its own.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn with_pages(pages: usize) -> DualBitmap {
        let n = Self::bitmap_words(pages);
        DualBitmap {
            pages,
            primary: Words::new(n, |_| 0),
            secondary: Words::new(n, |_| NativeWord::MAX),
            counters: Counters::new(),
        }
    }

    /// A map of `pages` free pages over one caller-provided buffer of at
    /// least [`words_for(pages)`](Self::words_for) words, which it
    /// initialises: the primary bitmap in its first
    /// [`bitmap_words(pages)`](Self::bitmap_words) words, the secondary in
    /// the next as many (words past them are left alone). The signature
    /// every map's `from_static` has, so that
    /// [`PageMap::from_static`](crate::PageMap) takes the same arguments
    /// with and without the `dual-bitmap` feature
    /// (`tests/page_map.rs::page_map_from_static_builds_under_every_feature_setting`).
    ///
    /// The two bitmaps are then neighbours in one buffer, where the
    /// baseline keeps them in two separate allocations (so that one
    /// damaged region of memory is less likely to hold both copies of a
    /// page): [`from_static_pair`](Self::from_static_pair) takes two
    /// buffers. The size is checked before anything is written: on error,
    /// it writes nothing. Taken by unique reference, so no other map can be
    /// built over it (see
    /// [`EccBitmap::from_static`](crate::EccBitmap::from_static)).
    ///
    /// # Errors
    /// [`StateError::StorageTooSmall`] if `storage` has fewer than
    /// [`words_for(pages)`](Self::words_for) words.
    pub fn from_static(
        storage: &'static mut [NativeStorage],
        pages: usize,
    ) -> Result<DualBitmap, StateError> {
        let n = Self::bitmap_words(pages);
        Words::<NativeWord>::fits(storage, 2 * n)?;
        let (primary, secondary) = storage.split_at_mut(n);
        Self::from_static_pair(primary, secondary, pages)
    }

    /// A map of `pages` free pages over two caller-provided bitmaps of at
    /// least [`bitmap_words(pages)`](Self::bitmap_words) words each (keep
    /// them in separate allocations, as the baseline does), which it
    /// initialises. Both sizes are checked before anything is written: on
    /// error, it writes nothing
    /// (`tests/regressions.rs::failed_from_static_writes_nothing`). Taken by
    /// unique reference, so no other map can be built over them (see
    /// [`EccBitmap::from_static`](crate::EccBitmap::from_static)).
    ///
    /// # Errors
    /// [`StateError::StorageTooSmall`] if either buffer has fewer than
    /// [`bitmap_words(pages)`](Self::bitmap_words) words.
    pub fn from_static_pair(
        primary: &'static mut [NativeStorage],
        secondary: &'static mut [NativeStorage],
        pages: usize,
    ) -> Result<DualBitmap, StateError> {
        let n = Self::bitmap_words(pages);
        // Both sizes first: a failed constructor writes nothing.
        Words::<NativeWord>::fits(primary, n)?;
        Words::<NativeWord>::fits(secondary, n)?;
        Ok(DualBitmap {
            pages,
            primary: Words::borrowed(primary, n, |_| 0)?,
            secondary: Words::borrowed(secondary, n, |_| NativeWord::MAX)?,
            counters: Counters::new(),
        })
    }

    /// Cells of a [`StaticStorage`] for `pages` pages,
    /// [`words_for(pages)`](Self::words_for): the primary's
    /// [`bitmap_words(pages)`](Self::bitmap_words), then the secondary's.
    pub const fn static_cells(pages: usize) -> usize {
        Self::words_for(pages)
    }

    /// The storage of a map of `pages` free pages, built at compile time
    /// (see [`EccBitmap::static_storage`](crate::EccBitmap::static_storage)):
    /// the primary's words (0) then the secondary's (all ones), in one
    /// object, so that in a `static` the two copies are adjacent in memory
    /// rather than in two allocations.
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
        let mut cells = [const { NativeStorage::new(0) }; N];
        let mut i = N / 2;
        while i < N {
            cells[i] = NativeStorage::new(NativeWord::MAX);
            i += 1;
        }
        StaticStorage::new(pages, cells)
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
        let cells: &'static [NativeStorage] = &storage.cells;
        let (primary, secondary) = cells.split_at(N / 2);
        DualBitmap {
            pages: storage.pages,
            primary: Words::Borrowed(primary),
            secondary: Words::Borrowed(secondary),
            counters: Counters::borrowed(&storage.counters),
        }
    }

    /// The word pairs `w0..w0 + n`, primary and secondary, over the two
    /// slices (one bounds check each).
    #[inline(always)]
    fn pairs(&self, w0: usize, n: usize) -> impl Iterator<Item = (&NativeStorage, &NativeStorage)> {
        self.primary[w0..w0 + n]
            .iter()
            .zip(&self.secondary[w0..w0 + n])
    }

    /// [`Engine::update_checked`] of word pair `w`, whose cells are `p`
    /// (primary) and `s` (secondary): the consistency check was
    /// `check_update`'s, so if the primary still holds the word it checked
    /// (`token`), its test-and-update is one CAS and the secondary follows;
    /// otherwise the full update.
    #[inline(always)]
    fn update_pair(
        &self,
        p: &NativeStorage,
        s: &NativeStorage,
        w: usize,
        mask: NativeWord,
        alloc: bool,
        token: NativeWord,
    ) -> Result<(), Conflict<NativeWord>> {
        match p.compare_exchange(token, token ^ mask, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                follow(s, mask, alloc);
                Ok(())
            }
            Err(_) => self.update(w, mask, alloc),
        }
    }

    /// The secondary's half of an update whose primary half is done.
    #[inline(always)]
    fn follow(&self, w: usize, mask: NativeWord, alloc: bool) {
        follow(&self.secondary[w], mask, alloc);
    }

    /// The baseline's consistency check of the bits `want` of word pair `w`:
    /// returns the primary word and the inconsistent bits among `want`.
    #[inline]
    fn check(&self, w: usize, want: NativeWord) -> (NativeWord, NativeWord) {
        let (p, s) = (&self.primary[w], &self.secondary[w]);
        for _ in 0..TRIES {
            let a = p.load(Ordering::Acquire);
            let bad = !(a ^ s.load(Ordering::Acquire)) & want;
            if bad == 0 {
                return (a, 0);
            }
            pause();
        }
        fence(Ordering::Acquire);
        let a = p.load(Ordering::Acquire);
        (a, !(a ^ s.load(Ordering::Acquire)) & want)
    }
}

/// The one primary word a whole word's check passes: no page allocated
/// (before an alloc), or every page (before a free).
#[inline(always)]
fn whole(alloc: bool) -> NativeWord {
    if alloc {
        0
    } else {
        NativeWord::MAX
    }
}

/// The secondary word `s`'s half of an update of `mask` whose primary half
/// is done: the complement follows.
#[inline(always)]
fn follow(s: &NativeStorage, mask: NativeWord, alloc: bool) {
    if alloc {
        s.fetch_and(!mask, Ordering::AcqRel);
    } else {
        s.fetch_or(mask, Ordering::AcqRel);
    }
}

impl Engine for DualBitmap {
    type Word = NativeWord;
    const PAGES_PER_WORD: usize = NativeWord::BITS as usize;
    fn page_count(&self) -> usize {
        self.pages
    }
    fn word_count(&self) -> usize {
        self.primary.len()
    }
    fn counters(&self) -> &Counters {
        &self.counters
    }
    #[inline]
    fn read(&self, w: usize, want: NativeWord) -> WordRead<NativeWord> {
        let (allocated, bad) = self.check(w, want);
        WordRead { allocated, bad }
    }
    #[inline]
    fn update(&self, w: usize, mask: NativeWord, alloc: bool) -> Result<(), Conflict<NativeWord>> {
        // The baseline's consistency pre-check, then, if the pages are in
        // the opposite state, the test-and-update.
        self.check_update(w, mask, alloc)?;
        // A concurrent caller may still win the same pages: the primary's
        // test-and-update decides, and the loser leaves the secondary alone.
        test_and_update::<NativeWord>(&self.primary[w], mask, alloc)?;
        self.follow(w, mask, alloc);
        Ok(())
    }
    #[inline]
    fn check_update(
        &self,
        w: usize,
        mask: NativeWord,
        alloc: bool,
    ) -> Result<NativeWord, Conflict<NativeWord>> {
        let (p, bad) = self.check(w, mask);
        if bad != 0 {
            return Err(Conflict::Bad { bad, at: bad });
        }
        match clash(p, mask, alloc) {
            0 => Ok(p),
            c => Err(Conflict::State(c)),
        }
    }
    #[inline(always)]
    fn whole_token(&self, _w: usize, alloc: bool) -> Option<NativeWord> {
        Some(whole(alloc))
    }
    #[inline]
    fn update_checked(
        &self,
        w: usize,
        mask: NativeWord,
        alloc: bool,
        token: NativeWord,
    ) -> Result<(), Conflict<NativeWord>> {
        self.update_pair(&self.primary[w], &self.secondary[w], w, mask, alloc, token)
    }
    #[inline(always)]
    fn check_wholes(
        &self,
        w0: usize,
        n: usize,
        full: NativeWord,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<NativeWord>)> {
        // `check_update` of each pair, over the two slices: the pair passes
        // at once if the primary holds its one valid value and the
        // secondary its complement; anything else takes the full check
        // (with its retries).
        let token = whole(alloc);
        for (i, (p, s)) in self.pairs(w0, n).enumerate() {
            if p.load(Ordering::Acquire) != token || s.load(Ordering::Acquire) != !token {
                let w = w0 + i;
                self.check_update(w, full, alloc).map_err(|c| (w, c))?;
            }
        }
        Ok(())
    }
    #[inline(always)]
    fn update_wholes(
        &self,
        w0: usize,
        n: usize,
        full: NativeWord,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<NativeWord>)> {
        // `update_checked` of each pair with its token, over the two slices.
        let token = whole(alloc);
        for (i, (p, s)) in self.pairs(w0, n).enumerate() {
            self.update_pair(p, s, w0 + i, full, alloc, token)
                .map_err(|c| (i, c))?;
        }
        Ok(())
    }
    fn scrub_word(&self, w: usize, report: &mut ScrubReport) -> NativeWord {
        let (_, bad) = self.check(w, NativeWord::MAX);
        if bad != 0 {
            report.uncorrectable += 1;
        }
        bad
    }
    fn storage_bytes(&self) -> usize {
        (self.primary.len() + self.secondary.len()) * core::mem::size_of::<NativeWord>()
    }
    fn storage_cell(&self, i: usize) -> Option<&NativeStorage> {
        let n = self.primary.len();
        if i < n {
            self.primary.get(i)
        } else {
            self.secondary.get(i - n)
        }
    }
    fn storage_len(&self) -> usize {
        self.primary.len() + self.secondary.len()
    }
    fn restore_word(
        &self,
        w: usize,
        mask: NativeWord,
        truth: NativeWord,
        keep: NativeWord,
    ) -> Result<Rewrite<NativeWord>, NativeWord> {
        // Each copy's bits of the range (and those past the map's end,
        // free) only: the other pages' updates go on meanwhile, each copy
        // a compare-and-swap retried if it changed. Between the two writes
        // a reader of the range sees the copies disagree, as it would
        // inside an update.
        let (p, p_now) = restore_bits::<NativeWord>(&self.primary[w], !keep, truth);
        let (s, s_now) = restore_bits::<NativeWord>(&self.secondary[w], !keep, !truth);
        Ok(Rewrite {
            written: p != p_now || s != s_now,
            pages: ((p ^ truth) | (s ^ !truth)) & mask,
            was: p,
            unknown: !(p ^ s) & mask,
        })
    }
    fn restore_refuses(&self, _w: usize, _keep: NativeWord) -> NativeWord {
        0
    }
}

impl crate::storage::Sealed for DualBitmap {}
impl StaticLayout for DualBitmap {
    type Cell = NativeStorage;
}

crate::engine::page_state!(DualBitmap);
