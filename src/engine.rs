//! The page-level logic every map shares, written once over [`Engine`]: the
//! few word-level primitives in which the schemes differ.
//!
//! A map's pages are laid out `PAGES_PER_WORD` to a storage word; a "page
//! mask" is a value of the map's [`Word`] type whose bit `o` stands for
//! page `word * PAGES_PER_WORD + o`.

use crate::error::StateError;
use crate::state::{Claim, FaultStats, Restored, ScrubReport};
use crate::storage::Counters;
#[cfg(feature = "fault-injection")]
use crate::word::AtomicWord;
use crate::word::Word;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// One verified read of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WordRead<W> {
    /// Pages allocated (meaningful outside `bad`).
    pub(crate) allocated: W,
    /// Pages whose state could not be verified.
    pub(crate) bad: W,
}

/// What a scheme provides: verified word reads, conditional word updates,
/// word scrubbing and raw storage.
pub(crate) trait Engine: Sync {
    /// The storage word, and the type of the page masks.
    type Word: Word;
    /// Pages held by one storage word of state.
    const PAGES_PER_WORD: usize;
    /// Pages tracked.
    fn page_count(&self) -> usize;
    /// Words of state (for the dual bitmap, word pairs).
    fn word_count(&self) -> usize;
    /// The shared counters.
    fn counters(&self) -> &Counters;
    /// Reads word `w`, verifying it and repairing what the scheme can.
    /// `want` are the pages the caller will use (a scheme may verify only
    /// those, retrying a transient mismatch).
    fn read(&self, w: usize, want: Self::Word) -> WordRead<Self::Word>;
    /// Atomically marks the pages of `mask` allocated (`alloc`) or free,
    /// provided each is verified and in the opposite state; otherwise
    /// changes nothing and returns which condition failed.
    fn update(&self, w: usize, mask: Self::Word, alloc: bool) -> Result<(), Conflict<Self::Word>>;
    /// [`update`](Self::update) of the one page at offset `o` of word `w`
    /// (`o < PAGES_PER_WORD`): the same conditions and result, for a scheme
    /// that has a shorter path for a single page.
    #[inline(always)]
    fn update_one(&self, w: usize, o: usize, alloc: bool) -> Result<(), Conflict<Self::Word>> {
        self.update(w, Self::Word::bit(o), alloc)
    }
    /// Verifies, by a read, that [`update`](Self::update) of `mask` to
    /// `alloc` would go ahead on word `w` as it stands (the same conditions,
    /// in the same order), changing nothing but a repair; on success returns
    /// a token for [`update_checked`](Self::update_checked).
    #[inline]
    fn check_update(
        &self,
        w: usize,
        mask: Self::Word,
        alloc: bool,
    ) -> Result<Self::Word, Conflict<Self::Word>> {
        let r = self.read(w, mask);
        let at = r.bad & mask;
        if at != Self::Word::ZERO {
            return Err(Conflict::Bad { bad: r.bad, at });
        }
        let c = clash(r.allocated, mask, alloc);
        if c != Self::Word::ZERO {
            return Err(Conflict::State(c));
        }
        Ok(Self::Word::ZERO)
    }
    /// [`update`](Self::update), given the token of a successful
    /// [`check_update`](Self::check_update) of the same update: a scheme
    /// may skip the verification if the word has not changed since.
    #[inline]
    fn update_checked(
        &self,
        w: usize,
        mask: Self::Word,
        alloc: bool,
        _token: Self::Word,
    ) -> Result<(), Conflict<Self::Word>> {
        self.update(w, mask, alloc)
    }
    /// The token a successful [`check_update`](Self::check_update) of every
    /// page of word `w` toward `alloc` gives, if the scheme can name it
    /// without reading the word: such a word has only one valid value.
    /// [`update_checked`](Self::update_checked) with it lands only if the
    /// word holds that value, so it needs no keeping. `None`: none.
    #[inline(always)]
    fn whole_token(&self, _w: usize, _alloc: bool) -> Option<Self::Word> {
        None
    }
    /// [`check_update`](Self::check_update) of every page of each of the
    /// `n` words from `w0` on (`full` is a whole word's mask), in order:
    /// the first refusal, named by its word. The range's whole words, in
    /// one call, so that a scheme can walk its storage slice (one bounds
    /// check for the run, the slice in registers) rather than index it word
    /// by word.
    #[inline(always)]
    fn check_wholes(
        &self,
        w0: usize,
        n: usize,
        full: Self::Word,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<Self::Word>)>
    where
        Self: Sized,
    {
        check_each(self, w0, n, full, alloc)
    }
    /// The update of every page of each of the `n` words from `w0` on to
    /// `alloc` (`full` is a whole word's mask), in order, after their
    /// [`check_wholes`](Self::check_wholes): as
    /// [`update_checked`](Self::update_checked) with each word's
    /// [`whole_token`](Self::whole_token). On a refusal, the number
    /// of words updated before it, and why.
    #[inline(always)]
    fn update_wholes(
        &self,
        w0: usize,
        n: usize,
        full: Self::Word,
        alloc: bool,
    ) -> Result<(), (usize, Conflict<Self::Word>)>
    where
        Self: Sized,
    {
        for i in 0..n {
            let w = w0 + i;
            apply_word(self, w, full, alloc, self.whole_token(w, alloc)).map_err(|c| (i, c))?;
        }
        Ok(())
    }
    /// How many words from `from` on are verified clean as they stand (no
    /// repair, nothing to report): a scrub skips them. 0 if the map has no
    /// faster check than [`scrub_word`](Self::scrub_word).
    fn clean_run(&self, _from: usize) -> usize {
        0
    }
    /// Checks word `w`, repairs what it can, and adds to `report`.
    /// Returns the page mask of the word's unverifiable pages.
    fn scrub_word(&self, w: usize, report: &mut ScrubReport) -> Self::Word;
    /// Repairs what only exclusive access can (nothing, for most maps);
    /// returns the number of repairs.
    fn quiesce(&mut self) -> usize {
        0
    }
    /// Rewrites word `w` for a restore: its pages of `mask` to the
    /// allocated pages `truth` (within `mask`), its pages of `keep` (the
    /// word's other pages of the map) as they stand at the write, retrying
    /// if the word changes under it. A scheme that re-encodes the whole
    /// word refuses (`Err`, the pages of `keep` whose state is unknown)
    /// rather than guess them, and writes nothing then.
    fn restore_word(
        &self,
        w: usize,
        mask: Self::Word,
        truth: Self::Word,
        keep: Self::Word,
    ) -> Result<Rewrite<Self::Word>, Self::Word>;
    /// The pages of `keep` that [`restore_word`](Self::restore_word) of
    /// word `w` would refuse as it stands (a read: it may repair).
    fn restore_refuses(&self, w: usize, keep: Self::Word) -> Self::Word {
        self.read(w, keep).bad & keep
    }
    /// Bytes of storage.
    fn storage_bytes(&self) -> usize;
    /// Raw storage cell `i` (data words first, then any second allocation).
    /// Only fault injection reads the raw cells.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    fn storage_cell(&self, i: usize) -> Option<&<Self::Word as Word>::Atomic>;
    /// Number of raw storage cells.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    fn storage_len(&self) -> usize;
}

/// What [`Engine::restore_word`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewrite<W> {
    /// Whether the word was written.
    pub(crate) written: bool,
    /// Pages of the mask whose stored state was wrong or unknown.
    pub(crate) pages: W,
    /// The allocated pages of the value replaced (meaningful outside
    /// `unknown`).
    pub(crate) was: W,
    /// Pages of the value replaced whose state was unknown.
    pub(crate) unknown: W,
}

/// Why a word update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict<W> {
    /// These pages of the mask were already in the target state.
    State(W),
    /// The word's pages in `bad` could not be verified, among them the
    /// pages `at` of the mask.
    Bad {
        /// Unverifiable pages of the word.
        bad: W,
        /// Those of them the update needed.
        at: W,
    },
}

/// Mask of the low `n` bits of a `u64`, `n <= 64` (the 64-bit maps'
/// [`Word::low`]).
#[cfg(target_has_atomic = "64")]
#[inline(always)]
pub(crate) fn low(n: usize) -> u64 {
    u64::low(n)
}

/// The pages of `mask` that are already in the state an update to
/// `alloc` would put them in (allocated for an alloc, free for a free).
#[inline(always)]
pub(crate) fn clash<W: Word>(allocated: W, mask: W, alloc: bool) -> W {
    if alloc {
        allocated & mask
    } else {
        !allocated & mask
    }
}

/// Whether a page of unknown state (`bad`) lies below the lowest page of
/// `decided` (or anywhere, if `decided` is empty): an answer that depends
/// on the first decided page of a word cannot then be given without a guess.
#[inline(always)]
fn unknown_before<W: Word>(bad: W, decided: W) -> bool {
    // With nothing decided, `first - 1` wraps to every page.
    let first = decided & decided.wrapping_neg();
    bad & first.wrapping_sub(W::bit(0)) != W::ZERO
}

/// The page mask of pages `lo..hi` within one word (`lo < hi <= W::BITS`).
#[inline(always)]
fn span<W: Word>(lo: usize, hi: usize) -> W {
    W::low(hi) & !W::low(lo)
}

/// Passes an error out, or panics on it with the `panic-on-fault` feature
/// (the baseline's fail-deterministically mode).
#[inline]
#[track_caller]
pub(crate) fn fail(e: StateError) -> StateError {
    #[cfg(feature = "panic-on-fault")]
    if matches!(
        e,
        StateError::DoubleAlloc { .. }
            | StateError::DoubleFree { .. }
            | StateError::Uncorrectable { .. }
            | StateError::UndoConflict { .. }
    ) {
        panic!("eccmap: {e}");
    }
    e
}

/// The error for the whole run of unverifiable pages of word `w` that
/// contains the lowest set bit of `at` (a subset of `bad`), clipped to the
/// map. Counted as one uncorrected error.
fn uncorrectable<E: Engine>(m: &E, w: usize, bad: E::Word, at: E::Word) -> StateError {
    let zero = E::Word::ZERO;
    debug_assert!(at != zero && at & !bad == zero);
    let p = at.trailing_zeros() as usize;
    let zeros_below = !bad & E::Word::low(p);
    let lo = if zeros_below == zero {
        0
    } else {
        E::Word::BITS as usize - zeros_below.leading_zeros() as usize
    };
    // The run may end past the last page: `hi` is clipped before it is
    // added, so that the last word of a map of nearly `usize::MAX` pages
    // cannot overflow.
    let hi = p + (!(bad >> p)).trailing_zeros() as usize;
    let base = w * E::PAGES_PER_WORD;
    let first = base + lo;
    let end = base + hi.min(m.page_count().saturating_sub(base));
    m.counters().ue();
    fail(StateError::Uncorrectable {
        first,
        count: end.saturating_sub(first).max(1),
    })
}

/// The word of `page` and the page's offset in it.
#[inline(always)]
fn locate<E: Engine>(m: &E, page: usize) -> Result<(usize, usize), StateError> {
    if page >= m.page_count() {
        return Err(StateError::OutOfRange {
            page,
            pages: m.page_count(),
        });
    }
    Ok((page / E::PAGES_PER_WORD, page % E::PAGES_PER_WORD))
}

/// The word of `page` and the page's mask in it.
#[inline(always)]
fn check_page<E: Engine>(m: &E, page: usize) -> Result<(usize, E::Word), StateError> {
    locate(m, page).map(|(w, o)| (w, E::Word::bit(o)))
}

fn check_range<E: Engine>(m: &E, first: usize, count: usize) -> Result<(), StateError> {
    let pages = m.page_count();
    if count == 0 {
        return Err(StateError::EmptyRange { first });
    }
    match first.checked_add(count) {
        Some(end) if end <= pages => Ok(()),
        _ => Err(StateError::RangeOutOfBounds {
            first,
            count,
            pages,
        }),
    }
}

/// The words of `first..first + count` and their page masks: the first
/// word from `first` on, the last up to the end, the ones between whole.
#[derive(Clone, Copy)]
struct Pieces<W> {
    /// The first word.
    w0: usize,
    /// Number of words.
    n: usize,
    /// The masks of the first word, of the last word (if not the first)
    /// and of a whole word.
    head: W,
    tail: W,
    full: W,
}

impl<W: Word> Pieces<W> {
    #[inline(always)]
    fn new<E: Engine<Word = W>>(first: usize, count: usize) -> Pieces<W> {
        let ppw = E::PAGES_PER_WORD;
        let end = first + count;
        let (w0, w1) = (first / ppw, (end - 1) / ppw);
        let full = W::low(ppw);
        let tail = W::low(end - w1 * ppw);
        let mut head = full & !W::low(first - w0 * ppw);
        if w0 == w1 {
            head &= tail;
        }
        Pieces {
            w0,
            n: w1 - w0 + 1,
            head,
            tail,
            full,
        }
    }
    /// Piece `i` (`i < n`): its word and page mask.
    #[inline(always)]
    fn get(&self, i: usize) -> (usize, W) {
        let mask = if i == 0 {
            self.head
        } else if i == self.n - 1 {
            self.tail
        } else {
            self.full
        };
        (self.w0 + i, mask)
    }
}

#[cold]
#[inline(never)]
fn conflict_error<E: Engine>(m: &E, w: usize, c: Conflict<E::Word>, alloc: bool) -> StateError {
    match c {
        Conflict::Bad { bad, at } => uncorrectable(m, w, bad, at),
        Conflict::State(pages) => {
            let page = w * E::PAGES_PER_WORD + pages.trailing_zeros() as usize;
            m.counters().refused(alloc);
            fail(if alloc {
                StateError::DoubleAlloc { page }
            } else {
                StateError::DoubleFree { page }
            })
        }
    }
}

#[inline(always)]
pub(crate) fn set_one<E: Engine>(m: &E, page: usize, alloc: bool) -> Result<(), StateError> {
    let (w, o) = locate(m, page)?;
    m.update_one(w, o, alloc)
        .map_err(|c| conflict_error(m, w, c, alloc))
}

/// Why a range update was refused.
struct Refused<W> {
    /// The word that refused, and why.
    w: usize,
    c: Conflict<W>,
    /// Pages of the range the undo could not put back (see
    /// [`StateError::UndoConflict`]): how many, and the first.
    lost: usize,
    first_lost: usize,
}

/// The tokens of a range's first and last words (a whole word's token is
/// [`Engine::whole_token`], which needs no keeping); `None` where the
/// check gave none.
struct Tokens<W> {
    head: Option<W>,
    tail: Option<W>,
}

/// A word that refused a check, and why.
type Refusal<W> = (usize, Conflict<W>);

/// [`Engine::check_update`] of word `w`, its refusal named by the word.
#[inline(always)]
fn check_word<E: Engine>(
    m: &E,
    w: usize,
    mask: E::Word,
    alloc: bool,
) -> Result<E::Word, Refusal<E::Word>> {
    m.check_update(w, mask, alloc).map_err(|c| (w, c))
}

/// Checks every word of the range `p` with [`Engine::check_update`], in
/// order, changing nothing; returns the first word that would refuse, or
/// the tokens of the range.
#[inline(always)]
fn precheck<E: Engine>(
    m: &E,
    p: &Pieces<E::Word>,
    alloc: bool,
) -> Result<Tokens<E::Word>, Refusal<E::Word>> {
    // The first word, the whole ones, the last.
    let head = Some(check_word(m, p.w0, p.head, alloc)?);
    m.check_wholes(p.w0 + 1, p.n.saturating_sub(2), p.full, alloc)?;
    let tail = if p.n > 1 {
        Some(check_word(m, p.w0 + p.n - 1, p.tail, alloc)?)
    } else {
        None
    };
    Ok(Tokens { head, tail })
}

/// [`Engine::check_update`] of every page of each of the `n` words from
/// `w0` on, word by word: [`Engine::check_wholes`] for a scheme that has no
/// faster walk.
#[inline(always)]
pub(crate) fn check_each<E: Engine>(
    m: &E,
    w0: usize,
    n: usize,
    full: E::Word,
    alloc: bool,
) -> Result<(), (usize, Conflict<E::Word>)> {
    for w in w0..w0 + n {
        m.check_update(w, full, alloc).map_err(|c| (w, c))?;
    }
    Ok(())
}

/// The update of one word of a range, with its token if it has one.
#[inline(always)]
fn apply_word<E: Engine>(
    m: &E,
    w: usize,
    mask: E::Word,
    alloc: bool,
    token: Option<E::Word>,
) -> Result<(), Conflict<E::Word>> {
    match token {
        Some(t) => m.update_checked(w, mask, alloc, t),
        None => m.update(w, mask, alloc),
    }
}

/// Applies `alloc` to the range `p` word by word (each word one atomic
/// update), given the tokens of a successful [`precheck`] of the whole
/// range, so that only a concurrent change refuses a later word. If one
/// does, the words already changed are changed back, page by page where a
/// page cannot be: each page another call changed meanwhile (it is then
/// back in its state from before this call) or whose state became unknown
/// is left as it is, counted, and returned in `lost`.
#[inline(always)]
fn apply_range<E: Engine>(
    m: &E,
    p: &Pieces<E::Word>,
    alloc: bool,
    tokens: &Tokens<E::Word>,
) -> Result<(), Refused<E::Word>> {
    apply_word(m, p.w0, p.head, alloc, tokens.head).map_err(|c| undo(m, *p, 0, alloc, p.w0, c))?;
    m.update_wholes(p.w0 + 1, p.n.saturating_sub(2), p.full, alloc)
        .map_err(|(done, c)| undo(m, *p, 1 + done, alloc, p.w0 + 1 + done, c))?;
    if p.n > 1 {
        let (i, w) = (p.n - 1, p.w0 + p.n - 1);
        apply_word(m, w, p.tail, alloc, tokens.tail).map_err(|c| undo(m, *p, i, alloc, w, c))?;
    }
    Ok(())
}

/// Changes back the first `done` words of the range `p` after word `w`
/// refused its update (`c`): page by page where a page cannot be (see
/// [`apply_range`]).
#[cold]
#[inline(never)]
fn undo<E: Engine>(
    m: &E,
    p: Pieces<E::Word>,
    done: usize,
    alloc: bool,
    w: usize,
    c: Conflict<E::Word>,
) -> Refused<E::Word> {
    let (mut lost, mut first_lost) = (0, usize::MAX);
    for (uw, umask) in (0..done).map(|i| p.get(i)) {
        let mut left = umask;
        while left != E::Word::ZERO {
            let skip = match m.update(uw, left, !alloc) {
                Ok(()) => break,
                // Another call put these pages back in their state
                // before this call: that call's alloc or free was
                // accepted against this call's transient state.
                Err(Conflict::State(p)) => {
                    m.counters().refused(!alloc);
                    p
                }
                Err(Conflict::Bad { at, .. }) => {
                    m.counters().ue();
                    at
                }
            };
            debug_assert!(skip != E::Word::ZERO && skip & !left == E::Word::ZERO);
            lost += skip.count_ones() as usize;
            first_lost = first_lost.min(uw * E::PAGES_PER_WORD + skip.trailing_zeros() as usize);
            left &= !skip;
        }
    }
    Refused {
        w,
        c,
        lost,
        first_lost,
    }
}

/// The error for a refused range whose undo lost pages. The refusal itself
/// is counted as it would have been (a lost race of `try_alloc_range`,
/// `claim`, is not).
fn undo_conflict<E: Engine>(m: &E, r: &Refused<E::Word>, alloc: bool, claim: bool) -> StateError {
    let pages = match r.c {
        Conflict::State(p) => {
            if !claim {
                m.counters().refused(alloc);
            }
            p
        }
        Conflict::Bad { at, .. } => {
            m.counters().ue();
            at
        }
    };
    fail(StateError::UndoConflict {
        refused: r.w * E::PAGES_PER_WORD + pages.trailing_zeros() as usize,
        page: r.first_lost,
        count: r.lost,
    })
}

pub(crate) fn set_range<E: Engine>(
    m: &E,
    first: usize,
    count: usize,
    alloc: bool,
) -> Result<(), StateError> {
    check_range(m, first, count)?;
    let w = first / E::PAGES_PER_WORD;
    if w == (first + count - 1) / E::PAGES_PER_WORD {
        // Within one word: one atomic update, nothing to check first.
        let mask = span::<E::Word>(
            first - w * E::PAGES_PER_WORD,
            first + count - w * E::PAGES_PER_WORD,
        );
        return m
            .update(w, mask, alloc)
            .map_err(|c| conflict_error(m, w, c, alloc));
    }
    let p = Pieces::new::<E>(first, count);
    let tokens = precheck(m, &p, alloc).map_err(|(w, c)| conflict_error(m, w, c, alloc))?;
    apply_range(m, &p, alloc, &tokens).map_err(|r| {
        if r.lost != 0 {
            undo_conflict(m, &r, alloc, false)
        } else {
            conflict_error(m, r.w, r.c, alloc)
        }
    })
}

pub(crate) fn try_alloc_range<E: Engine>(
    m: &E,
    first: usize,
    count: usize,
) -> Result<Claim, StateError> {
    check_range(m, first, count)?;
    // Look before claiming, so that a busy range is not claimed and undone.
    let p = Pieces::new::<E>(first, count);
    let mut tokens = Tokens {
        head: None,
        tail: None,
    };
    for i in 0..p.n {
        let (w, mask) = p.get(i);
        let busy = match m.check_update(w, mask, true) {
            Ok(t) => {
                if i == 0 {
                    tokens.head = Some(t);
                } else if i == p.n - 1 {
                    tokens.tail = Some(t);
                }
                continue;
            }
            Err(Conflict::State(busy)) => busy,
            // Unknown pages: busy ones below them still make it a `Busy`.
            Err(Conflict::Bad { .. }) => {
                let r = m.read(w, mask);
                let busy = r.allocated & mask & !r.bad;
                let bad = r.bad & mask;
                if unknown_before(bad, busy) {
                    return Err(uncorrectable(m, w, r.bad, bad));
                }
                if busy == E::Word::ZERO {
                    // Repaired or changed since: updated without a token
                    // (the first or last word; a whole one's is fixed).
                    continue;
                }
                busy
            }
        };
        return Ok(Claim::Busy {
            page: w * E::PAGES_PER_WORD + busy.trailing_zeros() as usize,
        });
    }
    match apply_range(m, &p, true, &tokens) {
        Ok(()) => Ok(Claim::Claimed),
        Err(r) if r.lost != 0 => Err(undo_conflict(m, &r, true, true)),
        // Another thread took a page in between: a lost race, not a violation.
        Err(Refused {
            w,
            c: Conflict::State(pages),
            ..
        }) => Ok(Claim::Busy {
            page: w * E::PAGES_PER_WORD + pages.trailing_zeros() as usize,
        }),
        Err(r) => Err(conflict_error(m, r.w, r.c, true)),
    }
}

#[inline(always)]
pub(crate) fn is_allocated<E: Engine>(m: &E, page: usize) -> Result<bool, StateError> {
    let (w, bit) = check_page(m, page)?;
    let r = m.read(w, bit);
    if r.bad & bit != E::Word::ZERO {
        return Err(uncorrectable(m, w, r.bad, bit));
    }
    Ok(r.allocated & bit != E::Word::ZERO)
}

/// Pages of word `w` that exist (below `page_count`).
pub(crate) fn valid<E: Engine>(m: &E, w: usize) -> E::Word {
    let base = w * E::PAGES_PER_WORD;
    E::Word::low(m.page_count().saturating_sub(base).min(E::PAGES_PER_WORD))
}

pub(crate) fn find_free<E: Engine>(m: &E, from: usize) -> Result<Option<usize>, StateError> {
    let pages = m.page_count();
    if from > pages {
        return Err(StateError::OutOfRange { page: from, pages });
    }
    if from == pages {
        return Ok(None);
    }
    let ppw = E::PAGES_PER_WORD;
    for w in from / ppw..m.word_count() {
        let mut want = valid(m, w);
        if w == from / ppw {
            want &= !E::Word::low(from % ppw);
        }
        let r = m.read(w, want);
        let free = !r.allocated & want & !r.bad;
        let bad = r.bad & want;
        if unknown_before(bad, free) {
            return Err(uncorrectable(m, w, r.bad, bad));
        }
        if free != E::Word::ZERO {
            return Ok(Some(w * ppw + free.trailing_zeros() as usize));
        }
    }
    Ok(None)
}

pub(crate) fn count_allocated<E: Engine>(m: &E) -> Result<usize, StateError> {
    let mut n = 0;
    for w in 0..m.word_count() {
        let want = valid(m, w);
        let r = m.read(w, want);
        if r.bad & want != E::Word::ZERO {
            return Err(uncorrectable(m, w, r.bad, r.bad & want));
        }
        n += (r.allocated & want).count_ones() as usize;
    }
    Ok(n)
}

pub(crate) fn scrub<E: Engine>(m: &E) -> ScrubReport {
    let mut report = ScrubReport::default();
    let mut w = 0;
    while w < m.word_count() {
        let clean = m.clean_run(w);
        report.words += clean;
        w += clean;
        if w == m.word_count() {
            break;
        }
        report.words += 1;
        let bad = m.scrub_word(w, &mut report);
        if bad != E::Word::ZERO {
            #[cfg(feature = "alloc")]
            push_runs(
                &mut report.bad_pages,
                w * E::PAGES_PER_WORD,
                bad & valid(m, w),
            );
        }
        w += 1;
    }
    #[cfg(feature = "alloc")]
    merge_runs(&mut report.bad_pages);
    m.counters().ue_n(report.uncorrectable as u64);
    #[cfg(feature = "panic-on-fault")]
    if report.uncorrectable != 0 {
        panic!(
            "eccmap: scrub found {} uncorrectable words",
            report.uncorrectable
        );
    }
    report
}

/// Appends the runs of set bits of `bad` (page mask at `base`) to `out`,
/// merging with the last range when contiguous.
#[cfg(feature = "alloc")]
pub(crate) fn push_runs<W: Word>(out: &mut Vec<core::ops::Range<usize>>, base: usize, mut bad: W) {
    while bad != W::ZERO {
        let lo = bad.trailing_zeros() as usize;
        let run = (!(bad >> lo)).trailing_zeros() as usize;
        let (s, e) = (base + lo, base + lo + run);
        match out.last_mut() {
            Some(last) if last.end == s => last.end = e,
            _ => out.push(s..e),
        }
        bad &= !span::<W>(lo, lo + run);
    }
}

/// Sorts `runs` and merges the ones that touch or overlap.
#[cfg(feature = "alloc")]
fn merge_runs(runs: &mut Vec<core::ops::Range<usize>>) {
    runs.sort_by_key(|r| r.start);
    let mut out: Vec<core::ops::Range<usize>> = Vec::with_capacity(runs.len());
    for r in runs.drain(..) {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    *runs = out;
}

/// A verified copy of the state, a word at a time (built as
/// [`PageBits`](crate::state::PageBits) says why).
#[cfg(feature = "alloc")]
pub(crate) fn snapshot<E: Engine>(m: &E) -> Result<bitvec::vec::BitVec<usize>, StateError> {
    let mut bits = crate::state::PageBits::new(m.page_count());
    for w in 0..m.word_count() {
        let want = valid(m, w);
        let r = m.read(w, want);
        if r.bad & want != E::Word::ZERO {
            return Err(uncorrectable(m, w, r.bad, r.bad & want));
        }
        // Bits of `a` are valid pages only, so every page is in range.
        let mut a = r.allocated & want;
        let base = w * E::PAGES_PER_WORD;
        while a != E::Word::ZERO {
            bits.set(base + a.trailing_zeros() as usize);
            a &= a.wrapping_sub(E::Word::bit(0));
        }
    }
    Ok(bits.into_bitvec())
}

/// [`PageState::restore`](crate::PageState::restore): every word of the
/// range through [`Engine::restore_word`], the end words checked first so
/// that a refusal there writes nothing.
pub(crate) fn restore<E: Engine>(
    m: &E,
    first: usize,
    count: usize,
    allocated: &dyn Fn(usize) -> bool,
) -> Result<Restored, StateError> {
    check_range(m, first, count)?;
    let ppw = E::PAGES_PER_WORD;
    let p = Pieces::new::<E>(first, count);
    // The end words: the first and, if another, the last.
    for i in [0, p.n - 1].into_iter().take(p.n.min(2)) {
        let (w, mask) = p.get(i);
        let keep = valid(m, w) & !mask;
        if keep == E::Word::ZERO {
            continue;
        }
        let bad = m.restore_refuses(w, keep);
        if bad != E::Word::ZERO {
            return Err(uncorrectable(m, w, bad, bad));
        }
    }
    let mut done = Restored::default();
    for i in 0..p.n {
        let (w, mask) = p.get(i);
        let base = w * ppw;
        let mut truth = E::Word::ZERO;
        let mut left = mask;
        while left != E::Word::ZERO {
            let o = left.trailing_zeros() as usize;
            if allocated(base + o) {
                truth |= E::Word::bit(o);
            }
            left &= left.wrapping_sub(E::Word::bit(0));
        }
        match m.restore_word(w, mask, truth, valid(m, w) & !mask) {
            Ok(r) => {
                done.words += usize::from(r.written);
                done.pages += r.pages.count_ones() as usize;
            }
            Err(bad) => {
                m.counters().restored(done.words as u64);
                return Err(uncorrectable(m, w, bad, bad));
            }
        }
    }
    m.counters().restored(done.words as u64);
    Ok(done)
}

pub(crate) fn stats<E: Engine>(m: &E) -> FaultStats {
    m.counters().snapshot()
}

/// A map's `Debug`: its type, size and counters, never its storage (a map
/// may hold millions of words). The type's name is `E`'s without module
/// paths, its parameters shown in a `types` field.
pub(crate) fn debug_map<E: Engine>(m: &E, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let full = core::any::type_name::<E>();
    let (path, params) = full.split_at(full.find('<').unwrap_or(full.len()));
    let mut d = f.debug_struct(path.rsplit("::").next().unwrap_or(path));
    if !params.is_empty() {
        d.field("types", &ShortTypeName(params));
    }
    d.field("pages", &m.page_count())
        .field("words", &m.word_count())
        .field("storage_bytes", &m.storage_bytes())
        .field("stats", &m.counters().snapshot())
        .finish()
}

/// A type name as `core::any::type_name` gives it, each path cut to its
/// last segment (`<eccmap_codes::secded::Secded64>` shows as `<Secded64>`).
struct ShortTypeName(&'static str);

impl core::fmt::Debug for ShortTypeName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let in_path = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
        // Each piece is a path followed by one delimiter (`<`, `,`, ...).
        for piece in self.0.split_inclusive(|c: char| !in_path(c)) {
            let cut = piece.len()
                - piece
                    .chars()
                    .next_back()
                    .filter(|&c| !in_path(c))
                    .map_or(0, char::len_utf8);
            let (path, delimiter) = piece.split_at(cut);
            f.write_str(path.rsplit("::").next().unwrap_or(path))?;
            f.write_str(delimiter)?;
        }
        Ok(())
    }
}

/// Bits of one storage cell.
#[cfg(feature = "fault-injection")]
const fn cell_bits<E: Engine>() -> usize {
    <E::Word as Word>::BITS as usize
}

/// [`FaultInjection::storage_words`](crate::FaultInjection::storage_words):
/// the 64-bit storage words the cells span, a trailing half word counted
/// whole.
#[cfg(feature = "fault-injection")]
pub(crate) fn storage_words<E: Engine>(m: &E) -> usize {
    storage_bits(m).div_ceil(64)
}

/// [`FaultInjection::storage_bits`](crate::FaultInjection::storage_bits):
/// the bits of every cell (saturating: storage that exists in memory
/// cannot reach it, even with 32-bit `usize`).
#[cfg(feature = "fault-injection")]
pub(crate) fn storage_bits<E: Engine>(m: &E) -> usize {
    m.storage_len().saturating_mul(cell_bits::<E>())
}

/// The cells that hold storage bits `64 * i .. 64 * i + 64` (`i` below
/// [`storage_words`]), each with the offset of its part within the cell
/// and within the storage word: two `u32` cells, one `u64` cell, or half of
/// a `u128` cell.
#[cfg(feature = "fault-injection")]
fn storage_parts<E: Engine>(
    m: &E,
    i: usize,
) -> impl Iterator<Item = (&<E::Word as Word>::Atomic, usize, usize)> {
    let bits = cell_bits::<E>();
    let b0 = i * 64;
    (b0 / bits..=(b0 + 63) / bits).filter_map(move |c| {
        let start = b0.max(c * bits);
        m.storage_cell(c)
            .map(|cell| (cell, start - c * bits, start - b0))
    })
}

#[cfg(feature = "fault-injection")]
fn check_storage_word<E: Engine>(m: &E, i: usize) -> Result<(), StateError> {
    let len = storage_words(m);
    if i >= len {
        return Err(StateError::StorageOutOfRange { index: i, len });
    }
    Ok(())
}

/// [`FaultInjection::storage_word`](crate::FaultInjection::storage_word):
/// one atomic load per cell; a trailing half word reads as 0.
#[cfg(feature = "fault-injection")]
pub(crate) fn storage_word<E: Engine>(m: &E, i: usize) -> Result<u64, StateError> {
    use crate::primitive::Ordering;
    check_storage_word(m, i)?;
    let mut v = 0u64;
    for (cell, in_cell, in_word) in storage_parts(m, i) {
        v |= (cell.load(Ordering::Acquire) >> in_cell).low_u64() << in_word;
    }
    Ok(v)
}

/// [`FaultInjection::write_storage_word`](crate::FaultInjection::write_storage_word):
/// one atomic store per cell the word covers whole; a cell it covers in
/// part (half a 128-bit cell) keeps its other bits, by compare-and-swap.
/// The bits of `value` past the last cell are ignored.
#[cfg(feature = "fault-injection")]
pub(crate) fn write_storage_word<E: Engine>(m: &E, i: usize, value: u64) -> Result<(), StateError> {
    use crate::primitive::Ordering;
    check_storage_word(m, i)?;
    let bits = cell_bits::<E>();
    for (cell, in_cell, in_word) in storage_parts(m, i) {
        let covered = (64 - in_word).min(bits - in_cell);
        let part = E::Word::from_u64(value >> in_word) & E::Word::low(covered);
        if covered == bits {
            cell.store(part, Ordering::Release);
        } else {
            let keep = !(E::Word::low(covered) << in_cell);
            let mut cur = cell.load(Ordering::Acquire);
            while let Err(now) = cell.compare_exchange_weak(
                cur,
                (cur & keep) | part << in_cell,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                cur = now;
            }
        }
    }
    Ok(())
}

/// [`FaultInjection::flip_storage_bit`](crate::FaultInjection::flip_storage_bit):
/// one atomic XOR; a bit of the missing half of a trailing half word is
/// ignored, as a write to it is.
#[cfg(feature = "fault-injection")]
pub(crate) fn flip_storage_bit<E: Engine>(m: &E, bit: usize) -> Result<(), StateError> {
    let bits = cell_bits::<E>();
    let Some(c) = m.storage_cell(bit / bits) else {
        let len = storage_words(m).saturating_mul(64);
        if bit < len {
            return Ok(());
        }
        return Err(StateError::StorageOutOfRange { index: bit, len });
    };
    c.fetch_xor(E::Word::bit(bit % bits), crate::primitive::Ordering::AcqRel);
    Ok(())
}

/// Implements [`PageState`](crate::PageState), `Debug` ([`debug_map`]) and,
/// with the `fault-injection` feature, `FaultInjection` for a map type by
/// delegating to the shared logic above.
macro_rules! page_state {
    ($ty:ty $(, $gen:ident : $bound:path)*) => {
        impl<$($gen: $bound),*> $crate::PageState for $ty {
            fn pages(&self) -> usize {
                $crate::engine::Engine::page_count(self)
            }
            #[inline]
            fn alloc(&self, page: usize) -> Result<(), $crate::StateError> {
                $crate::engine::set_one(self, page, true)
            }
            #[inline]
            fn free(&self, page: usize) -> Result<(), $crate::StateError> {
                $crate::engine::set_one(self, page, false)
            }
            #[inline]
            fn alloc_range(&self, first: usize, count: usize) -> Result<(), $crate::StateError> {
                $crate::engine::set_range(self, first, count, true)
            }
            #[inline]
            fn free_range(&self, first: usize, count: usize) -> Result<(), $crate::StateError> {
                $crate::engine::set_range(self, first, count, false)
            }
            #[inline]
            fn try_alloc_range(&self, first: usize, count: usize) -> Result<$crate::Claim, $crate::StateError> {
                $crate::engine::try_alloc_range(self, first, count)
            }
            #[inline]
            fn is_allocated(&self, page: usize) -> Result<bool, $crate::StateError> {
                $crate::engine::is_allocated(self, page)
            }
            #[inline]
            fn find_free(&self, from: usize) -> Result<Option<usize>, $crate::StateError> {
                $crate::engine::find_free(self, from)
            }
            fn count_allocated(&self) -> Result<usize, $crate::StateError> {
                $crate::engine::count_allocated(self)
            }
            fn scrub(&self) -> $crate::ScrubReport {
                $crate::engine::scrub(self)
            }
            fn scrub_exclusive(&mut self) -> $crate::ScrubReport {
                let fixed = $crate::engine::Engine::quiesce(self);
                let mut report = $crate::engine::scrub(self);
                report.corrected += fixed;
                report
            }
            fn stats(&self) -> $crate::FaultStats {
                $crate::engine::stats(self)
            }
            fn storage_bytes(&self) -> usize {
                $crate::engine::Engine::storage_bytes(self)
            }
            #[cfg(feature = "alloc")]
            fn snapshot(&self) -> Result<bitvec::vec::BitVec<usize>, $crate::StateError> {
                $crate::engine::snapshot(self)
            }
            fn restore(
                &self,
                first: usize,
                count: usize,
                allocated: &dyn Fn(usize) -> bool,
            ) -> Result<$crate::Restored, $crate::StateError> {
                $crate::engine::restore(self, first, count, allocated)
            }
        }

        impl<$($gen: $bound),*> core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                $crate::engine::debug_map(self, f)
            }
        }

        #[cfg(feature = "fault-injection")]
        impl<$($gen: $bound),*> $crate::FaultInjection for $ty {
            fn storage_words(&self) -> usize {
                $crate::engine::storage_words(self)
            }
            fn storage_bits(&self) -> usize {
                $crate::engine::storage_bits(self)
            }
            fn storage_word(&self, i: usize) -> u64 {
                $crate::engine::storage_word(self, i).expect("storage word index out of range")
            }
            fn flip_storage_bit(&self, bit: usize) -> Result<(), $crate::StateError> {
                $crate::engine::flip_storage_bit(self, bit)
            }
            fn write_storage_word(&self, i: usize, value: u64) -> Result<(), $crate::StateError> {
                $crate::engine::write_storage_word(self, i, value)
            }
        }
    };
}
pub(crate) use page_state;
