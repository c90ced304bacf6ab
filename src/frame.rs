//! A lock-free frame allocator on any [`PageState`].

use crate::state::{Claim, PageState};
use crate::StateError;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Where [`FrameAllocator::alloc`] starts its search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Next fit: from a rotating hint just past the last page handed out, so
    /// that concurrent callers do not all fight over the first free word.
    #[default]
    NextFit,
    /// Lowest free page first, always from page 0 (the policy of
    /// `bitmap-allocator` and of a simple boot allocator).
    LowestFirst,
}

/// A concurrent bitmap frame allocator whose protection is chosen by its map
/// type: `FrameAllocator<EccBitmap<Secded64>>` repairs single-bit faults in
/// its state, `FrameAllocator<DualBitmap>` detects them (and, with threads
/// racing for the same frames, also reports false alarms: see
/// [`DualBitmap`](crate::DualBitmap)).
///
/// Every method takes `&self` and is lock-free: a page is claimed by the
/// map's atomic update, and a caller that loses a page to another thread
/// moves on to the next candidate.
///
/// The allocator never hands out a page whose state it could not verify.
/// A page found unverifiable while searching is skipped (the map counts it
/// in `ue_count`, and [`PageState::scrub`] reports it); if no verifiable
/// free page remains but unverifiable ones were skipped, the allocation
/// fails with [`StateError::Uncorrectable`] rather than `Ok(None)`
/// (`tests/frame_alloc.rs::unverifiable_pages_are_never_handed_out`). Under
/// threads, every frame is handed out once until it is freed
/// (`tests/frame_alloc.rs::threads_exhaust_plain_dual_ecc`, and with
/// single-bit faults injected `::threads_exhaust_ecc_with_single_bit_faults`).
///
/// ```
/// use eccmap::{FrameAllocator, PageMap};
/// let frames = FrameAllocator::new(PageMap::with_pages(4096));
/// frames.reserve(0, 16)?; // firmware
/// let page = frames.alloc()?.expect("memory left");
/// let block = frames.alloc_contiguous(512, 9)?.expect("an aligned block");
/// assert_eq!(block % 512, 0);
/// assert_eq!(frames.free_pages(), 4096 - 16 - 1 - 512);
/// frames.dealloc(page)?;
/// frames.dealloc_contiguous(block, 512)?;
/// # Ok::<(), eccmap::StateError>(())
/// ```
pub struct FrameAllocator<M: PageState> {
    map: M,
    policy: Policy,
    hint: AtomicUsize,
    /// Free pages counted: updated with wrapping adds and subtracts, read
    /// as an `isize` (see [`free_pages`](Self::free_pages)).
    free: AtomicUsize,
}

/// Its size, free count, policy and the map's counters, not the map's
/// storage.
impl<M: PageState> core::fmt::Debug for FrameAllocator<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameAllocator")
            .field("pages", &self.map.pages())
            .field("free_pages", &self.free_pages())
            .field("policy", &self.policy)
            .field("storage_bytes", &self.map.storage_bytes())
            .field("stats", &self.map.stats())
            .finish()
    }
}

impl<M: PageState> FrameAllocator<M> {
    /// An allocator over `map`, next-fit, taking the map's current state as
    /// it is (pages already allocated stay allocated).
    #[must_use]
    pub fn new(map: M) -> Self {
        Self::with_policy(map, Policy::NextFit)
    }

    /// An allocator over `map` with the given search policy.
    #[must_use]
    pub fn with_policy(map: M, policy: Policy) -> Self {
        let free = match map.count_allocated() {
            Ok(n) => map.pages() - n,
            // Count only the pages known to be free.
            Err(_) => (0..map.pages())
                .filter(|&p| map.is_allocated(p) == Ok(false))
                .count(),
        };
        FrameAllocator {
            map,
            policy,
            hint: AtomicUsize::new(0),
            free: AtomicUsize::new(free),
        }
    }

    /// The map underneath.
    pub fn map(&self) -> &M {
        &self.map
    }

    /// Pages currently free, as this allocator has counted them: at most
    /// [`pages()`](PageState::pages) of the map. While calls are in flight
    /// it may lag them (a page is counted just after its state changes; an
    /// intermediate count outside `0..=pages()` is shown clipped to it).
    pub fn free_pages(&self) -> usize {
        // The counter is kept in wrapping two's complement: a dealloc and
        // an alloc of the same page may count in either order, so it can
        // dip below 0 (or rise above the page count) for a moment.
        let n = self.free.load(Ordering::Relaxed) as isize;
        n.clamp(0, self.map.pages().min(isize::MAX as usize) as isize) as usize
    }

    /// Marks `count` pages from `first` allocated (holes, firmware areas at
    /// boot). All or nothing; fails with [`StateError::DoubleAlloc`] if one
    /// of them already is.
    ///
    /// # Errors
    /// Those of [`PageState::alloc_range`].
    pub fn reserve(&self, first: usize, count: usize) -> Result<(), StateError> {
        self.map
            .alloc_range(first, count)
            .map_err(|e| self.settle(e, true))?;
        self.free.fetch_sub(count, Ordering::Relaxed);
        Ok(())
    }

    /// Keeps the free count right after a range call that ended in
    /// [`StateError::UndoConflict`]: the pages its undo could not put back
    /// were changed by another call, which counted them as if this call's
    /// transient state were real (a buggy `dealloc` added a page that an
    /// allocating call held, an `alloc` took a page that a freeing call had
    /// released). Those counts are taken back here. (A page lost to a fault
    /// instead is counted the same way: its state is unknown either way.)
    fn settle(&self, e: StateError, alloc: bool) -> StateError {
        if let StateError::UndoConflict { count, .. } = e {
            if alloc {
                self.free.fetch_sub(count, Ordering::Relaxed);
            } else {
                self.free.fetch_add(count, Ordering::Relaxed);
            }
        }
        e
    }

    /// A free page, now allocated; `Ok(None)` when memory is exhausted.
    ///
    /// # Errors
    /// [`StateError::Uncorrectable`] if no verifiable free page is left but
    /// pages of unknown state were skipped; [`StateError::UndoConflict`] as
    /// [`PageState::try_alloc_range`] returns it.
    pub fn alloc(&self) -> Result<Option<usize>, StateError> {
        let found = self.search(1, 0)?;
        if let Some(p) = found {
            if self.policy == Policy::NextFit {
                self.hint.store(p + 1, Ordering::Relaxed);
            }
        }
        Ok(found)
    }

    /// `count` contiguous free pages whose first page is a multiple of
    /// `2^align_log2`, now allocated; `Ok(None)` if there is no such block.
    /// Always searches lowest first.
    ///
    /// # Errors
    /// [`StateError::EmptyRange`] if `count == 0`;
    /// [`StateError::RangeOutOfBounds`] if `align_log2 >= usize::BITS`;
    /// otherwise as [`alloc`](Self::alloc).
    pub fn alloc_contiguous(
        &self,
        count: usize,
        align_log2: u32,
    ) -> Result<Option<usize>, StateError> {
        if count == 0 {
            return Err(StateError::EmptyRange { first: 0 });
        }
        if align_log2 >= usize::BITS {
            return Err(StateError::RangeOutOfBounds {
                first: 0,
                count,
                pages: self.map.pages(),
            });
        }
        self.search(count, align_log2)
    }

    /// Frees one page.
    ///
    /// # Errors
    /// Those of [`PageState::free`] (the free count is then unchanged).
    pub fn dealloc(&self, page: usize) -> Result<(), StateError> {
        self.map.free(page)?;
        self.free.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Frees `count` pages from `first`, all or nothing, as
    /// [`PageState::free_range`]: if another call changes one of the pages
    /// while this one holds it, the error is
    /// [`StateError::UndoConflict`], naming the pages that could not be put
    /// back (then held by that call).
    ///
    /// # Errors
    /// Those of [`PageState::free_range`].
    pub fn dealloc_contiguous(&self, first: usize, count: usize) -> Result<(), StateError> {
        self.map
            .free_range(first, count)
            .map_err(|e| self.settle(e, false))?;
        self.free.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }

    /// Finds and claims `count` free pages at a multiple of `2^align_log2`.
    /// Single pages start at the hint and wrap around; blocks search from 0.
    fn search(&self, count: usize, align_log2: u32) -> Result<Option<usize>, StateError> {
        let pages = self.map.pages();
        let align = 1usize << align_log2;
        let start = match (count, self.policy) {
            (1, Policy::NextFit) => self.hint.load(Ordering::Relaxed) % pages.max(1),
            _ => 0,
        };
        let mut skipped: Option<StateError> = None;
        // Two passes: start..pages, then 0..start.
        for (from, end) in [(start, pages), (0, start)] {
            let mut at = from;
            while at < end {
                let free = match self.map.find_free(at) {
                    Ok(Some(f)) if f < end => f,
                    Ok(_) => break,
                    Err(e @ StateError::Uncorrectable { first, count }) => {
                        skipped = Some(e);
                        at = first + count;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let base = match free.checked_next_multiple_of(align) {
                    Some(b) if b.checked_add(count).is_some_and(|e| e <= pages) => b,
                    _ => break,
                };
                match self.map.try_alloc_range(base, count) {
                    Ok(Claim::Claimed) => {
                        self.free.fetch_sub(count, Ordering::Relaxed);
                        return Ok(Some(base));
                    }
                    Ok(Claim::Busy { page }) => at = page + 1,
                    Err(e @ StateError::Uncorrectable { first, count }) => {
                        skipped = Some(e);
                        at = first + count;
                    }
                    Err(e) => return Err(self.settle(e, true)),
                }
            }
        }
        match skipped {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}
