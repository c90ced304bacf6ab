//! [`PhysFrameAllocator`]: the `x86_64` crate's frame-allocation traits on
//! a [`FrameAllocator`] (the `x86_64` feature).

use crate::frame::FrameAllocator;
use crate::state::PageState;
use crate::StateError;
use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicUsize, Ordering};
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, FrameDeallocator, PageSize, PhysFrame, Size4KiB,
};
use x86_64::PhysAddr;

/// Bytes per frame.
const FRAME: u64 = Size4KiB::SIZE;

/// The first address past the 52-bit physical address space of x86-64.
const PHYS_LIMIT: u64 = 1 << 52;

/// A [`FrameAllocator`] handing out and taking back the `x86_64` crate's
/// 4 KiB [`PhysFrame`]s, through that crate's
/// [`FrameAllocator<Size4KiB>`](X86FrameAllocator) and
/// [`FrameDeallocator<Size4KiB>`](FrameDeallocator) traits (`x86_64` 0.15,
/// the `x86_64` feature).
///
/// Page `p` of the map is the frame at physical address `base + p * 4096`;
/// the map's pages cover `base..base + pages * 4096`, which must lie within
/// the 52-bit physical address space (checked by the constructors).
///
/// Both traits are implemented for the adapter and for `&PhysFrameAllocator`:
/// every operation is lock-free and takes `&self` underneath, so one adapter
/// (a `static`, say) can serve every CPU at once, each passing
/// `&mut &ALLOCATOR` where the `x86_64` crate asks for `&mut impl
/// FrameAllocator`.
///
/// The traits have no error channel, so faults are counted instead
/// ([`stats`](Self::stats)), besides the map's own
/// [`FaultStats`](crate::FaultStats):
/// - `allocate_frame` returns `None` when memory is exhausted, and also when
///   the only free frames left are in words whose state could not be
///   verified (the allocator never hands out such a frame; it counts the
///   call in [`PhysFrameStats::uncorrectable_allocs`], the map in
///   `ue_count`). A frame of unverifiable state is skipped while verifiable
///   free frames remain, with no `None`. Over a
///   [`DualBitmap`](crate::DualBitmap), threads racing for the same frames
///   can also meet its false alarms (see there), which end as `None` too.
/// - `deallocate_frame` of a frame outside the map, of a frame that is
///   already free (a double free), or of a frame whose state cannot be
///   verified changes nothing and is counted
///   ([`foreign_frees`](PhysFrameStats::foreign_frees) or
///   [`refused_frees`](PhysFrameStats::refused_frees); the map also counts a
///   double free in `double_free` and an unverifiable word in `ue_count`).
///   With the `panic-on-fault` feature, each of these panics instead, as
///   the map does on a double free or an unverifiable word (the map's
///   counters and `foreign_frees` count the call first; `refused_frees`
///   and `uncorrectable_allocs` stay 0, the map panicking before it
///   returns).
///
/// Boot: start with every page reserved
/// ([`all_reserved`](Self::all_reserved)) and hand in the usable regions of
/// the bootloader's memory map ([`add_usable`](Self::add_usable)): only the
/// whole frames inside them become free.
///
/// ```
/// use eccmap::{FrameAllocator, PageMap, PageState, PhysFrameAllocator};
/// use x86_64::structures::paging::{FrameAllocator as _, FrameDeallocator, Size4KiB};
///
/// // 64 MiB of frames from physical address 0, every frame reserved.
/// let frames = PhysFrameAllocator::all_reserved(
///     FrameAllocator::new(PageMap::with_pages(16384)),
///     0,
/// )?;
/// // The bootloader's usable regions; partial frames at their ends stay reserved.
/// let usable = [0x1000..0x9fc00, 0x10_0000..0x400_0000];
/// assert_eq!(frames.add_usable(usable)?, 0x9e + 0x3f00);
///
/// let frame = (&frames).allocate_frame().expect("a frame");
/// assert!(frame.start_address().as_u64() >= 0x1000);
/// // SAFETY: the frame is not in use (just allocated, never mapped).
/// unsafe { (&frames).deallocate_frame(frame) };
/// // A double free changes nothing; it is counted.
/// # #[cfg(not(feature = "panic-on-fault"))]
/// # {
/// unsafe { (&frames).deallocate_frame(frame) };
/// assert_eq!(frames.stats().refused_frees, 1);
/// assert_eq!(frames.frames().map().stats().double_free, 1);
/// # }
/// # Ok::<(), eccmap::PhysFramesError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "x86_64")))]
pub struct PhysFrameAllocator<M: PageState> {
    frames: FrameAllocator<M>,
    /// Physical address of page 0.
    base: u64,
    /// `base + pages * FRAME`, at most `PHYS_LIMIT`.
    end: u64,
    uncorrectable_allocs: AtomicUsize,
    foreign_frees: AtomicUsize,
    refused_frees: AtomicUsize,
}

/// What [`PhysFrameAllocator`]'s trait methods could not report as an error,
/// counted since construction.
#[cfg_attr(docsrs, doc(cfg(feature = "x86_64")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct PhysFrameStats {
    /// `allocate_frame` calls that returned `None` because the free frames
    /// left were all of unverifiable state (with the map's `ue_count`).
    pub uncorrectable_allocs: u64,
    /// `deallocate_frame` calls with a frame outside the map, ignored.
    pub foreign_frees: u64,
    /// `deallocate_frame` calls the map refused, ignored: a double free
    /// (the map counts it in `double_free`) or a frame of unverifiable state
    /// (in `ue_count`).
    pub refused_frees: u64,
}

/// Why a [`PhysFrameAllocator`] could not be built.
#[cfg_attr(docsrs, doc(cfg(feature = "x86_64")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhysFramesError {
    /// The physical base address is not a multiple of 4096.
    #[error("physical base {base:#x} is not 4 KiB aligned")]
    UnalignedBase {
        /// The base given.
        base: u64,
    },
    /// The map's frames would run past the 52-bit physical address space
    /// (or past `u64`).
    #[error(
        "{pages} frames from physical base {base:#x} run past the 52-bit physical address space"
    )]
    BeyondPhysical {
        /// The base given.
        base: u64,
        /// The map's page count.
        pages: usize,
    },
    /// The map refused the reservation of its pages
    /// ([`all_reserved`](PhysFrameAllocator::all_reserved)).
    #[error("reserving the map's pages: {0}")]
    State(#[from] StateError),
}

impl<M: PageState> PhysFrameAllocator<M> {
    /// An adapter over `frames` whose page 0 is the frame at physical address
    /// `base`, taking the map's state as it is.
    ///
    /// # Errors
    /// [`PhysFramesError::UnalignedBase`] if `base` is not a multiple of
    /// 4096; [`PhysFramesError::BeyondPhysical`] if `base + pages * 4096`
    /// exceeds 2^52 (or the physical address of the last frame is otherwise
    /// not a valid [`PhysAddr`], as with the `x86_64` crate's memory
    /// encryption bit configured).
    pub fn new(frames: FrameAllocator<M>, base: u64) -> Result<Self, PhysFramesError> {
        if base % FRAME != 0 {
            return Err(PhysFramesError::UnalignedBase { base });
        }
        let pages = frames.map().pages();
        let end = u64::try_from(pages)
            .ok()
            .and_then(|n| n.checked_mul(FRAME))
            .and_then(|bytes| base.checked_add(bytes))
            .filter(|&end| end <= PHYS_LIMIT)
            .ok_or(PhysFramesError::BeyondPhysical { base, pages })?;
        if end > base && PhysAddr::try_new(end - 1).is_err() {
            return Err(PhysFramesError::BeyondPhysical { base, pages });
        }
        Ok(PhysFrameAllocator {
            frames,
            base,
            end,
            uncorrectable_allocs: AtomicUsize::new(0),
            foreign_frees: AtomicUsize::new(0),
            refused_frees: AtomicUsize::new(0),
        })
    }

    /// [`new`](Self::new), then marks every page allocated: the start of a
    /// boot, before [`add_usable`](Self::add_usable) hands in what the
    /// bootloader reports usable. Pages already allocated stay so (and are
    /// not counted as double allocations).
    ///
    /// # Errors
    /// Those of [`new`](Self::new), and [`PhysFramesError::State`] if the
    /// state of a page cannot be verified (or another thread changes the map
    /// meanwhile).
    pub fn all_reserved(frames: FrameAllocator<M>, base: u64) -> Result<Self, PhysFramesError> {
        let this = Self::new(frames, base)?;
        let pages = this.pages();
        if pages > 0 {
            if this.frames.map().count_allocated()? == 0 {
                this.frames.reserve(0, pages)?;
            } else {
                // Some pages are allocated already: reserve the free ones.
                let mut at = 0;
                while let Some(free) = this.frames.map().find_free(at)? {
                    this.frames.reserve(free, 1)?;
                    at = free + 1;
                }
            }
        }
        Ok(this)
    }

    /// Frees the whole frames of the map inside each physical address range
    /// `start..end` of `usable` (bootloaders report memory this way),
    /// and returns how many it freed. Each range is clipped to the map;
    /// a frame only partly inside a range stays as it was, and so do frames
    /// outside the map. An empty or reversed range frees nothing.
    ///
    /// # Errors
    /// Each range's frames are freed all or nothing
    /// ([`FrameAllocator::dealloc_contiguous`]); the first range refused
    /// stops the call with its error: [`StateError::DoubleFree`] if one of
    /// its frames is free already (say, regions that overlap), or
    /// [`StateError::Uncorrectable`]. The ranges before it have been freed,
    /// that range and the ones after it not.
    pub fn add_usable<I>(&self, usable: I) -> Result<usize, StateError>
    where
        I: IntoIterator<Item = Range<u64>>,
    {
        let mut freed = 0;
        for range in usable {
            if let Some((first, count)) = self.whole_frames(range) {
                self.frames.dealloc_contiguous(first, count)?;
                freed += count;
            }
        }
        Ok(freed)
    }

    /// The pages of the map whose frames lie wholly inside `range`, as
    /// `(first, count)`; `None` if there are none.
    fn whole_frames(&self, range: Range<u64>) -> Option<(usize, usize)> {
        let lo = range.start.max(self.base);
        let hi = range.end.min(self.end);
        if lo >= hi {
            return None;
        }
        // No overflow: lo < hi <= end <= 2^52. `base` and `end` are aligned.
        let lo = lo.next_multiple_of(FRAME);
        let hi = hi - hi % FRAME;
        if lo >= hi {
            return None;
        }
        // Both fit in usize: they are at most the map's page count.
        Some((
            ((lo - self.base) / FRAME) as usize,
            ((hi - lo) / FRAME) as usize,
        ))
    }

    /// The allocator underneath, for its fallible calls
    /// ([`FrameAllocator::reserve`], [`FrameAllocator::dealloc`], ...) by
    /// page index (see [`page`](Self::page) and [`frame`](Self::frame)).
    pub fn frames(&self) -> &FrameAllocator<M> {
        &self.frames
    }

    /// The allocator underneath, giving up the adapter.
    pub fn into_inner(self) -> FrameAllocator<M> {
        self.frames
    }

    /// Number of frames (pages) the map covers.
    pub fn pages(&self) -> usize {
        self.frames.map().pages()
    }

    /// The physical addresses the map covers: `base..base + pages * 4096`
    /// (its end can be 2^52, which is not a valid [`PhysAddr`]).
    pub fn phys_range(&self) -> Range<u64> {
        self.base..self.end
    }

    /// The frame of page `page`, if the map has that page.
    pub fn frame(&self, page: usize) -> Option<PhysFrame<Size4KiB>> {
        (page < self.pages()).then(|| self.frame_of(page))
    }

    /// The page of `frame`, if the map covers it.
    pub fn page(&self, frame: PhysFrame<Size4KiB>) -> Option<usize> {
        let addr = frame.start_address().as_u64();
        (self.base..self.end)
            .contains(&addr)
            .then(|| ((addr - self.base) / FRAME) as usize)
    }

    /// The frame of a page of the map (`page < pages()`).
    fn frame_of(&self, page: usize) -> PhysFrame<Size4KiB> {
        // Below `end`, so a valid physical address (checked by `new`).
        PhysFrame::containing_address(PhysAddr::new(self.base + page as u64 * FRAME))
    }

    /// The counts of what the trait methods could not report as errors.
    pub fn stats(&self) -> PhysFrameStats {
        let load = |c: &AtomicUsize| c.load(Ordering::Relaxed) as u64;
        PhysFrameStats {
            uncorrectable_allocs: load(&self.uncorrectable_allocs),
            foreign_frees: load(&self.foreign_frees),
            refused_frees: load(&self.refused_frees),
        }
    }

    /// `allocate_frame` of both trait impls.
    fn allocate(&self) -> Option<PhysFrame<Size4KiB>> {
        match self.frames.alloc() {
            Ok(page) => page.map(|p| self.frame_of(p)),
            // For one page, the allocator's only error is
            // `StateError::Uncorrectable`: no verifiable free frame is left.
            Err(_) => {
                self.uncorrectable_allocs.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// `deallocate_frame` of both trait impls.
    fn deallocate(&self, frame: PhysFrame<Size4KiB>) {
        let Some(page) = self.page(frame) else {
            self.foreign_frees.fetch_add(1, Ordering::Relaxed);
            if cfg!(feature = "panic-on-fault") {
                panic!(
                    "eccmap: frame {:#x} is outside the map's {:#x}..{:#x}",
                    frame.start_address().as_u64(),
                    self.base,
                    self.end
                );
            }
            return;
        };
        // A refused free changes nothing (and panics with `panic-on-fault`).
        if self.frames.dealloc(page).is_err() {
            self.refused_frees.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: a frame is handed out only after the map's atomic update marked its
// page allocated, by exactly one caller (`FrameAllocator::alloc`); it is not
// handed out again until it is deallocated.
unsafe impl<M: PageState> X86FrameAllocator<Size4KiB> for &PhysFrameAllocator<M> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.allocate()
    }
}

// SAFETY: as for `&PhysFrameAllocator`, whose calls these are.
unsafe impl<M: PageState> X86FrameAllocator<Size4KiB> for PhysFrameAllocator<M> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.allocate()
    }
}

impl<M: PageState> FrameDeallocator<Size4KiB> for &PhysFrameAllocator<M> {
    /// Marks `frame` free. A frame outside the map, a frame already free
    /// and a frame of unverifiable state are ignored and counted (see
    /// [`PhysFrameAllocator::stats`]), or with `panic-on-fault`, panic.
    ///
    /// # Safety
    /// The `x86_64` crate's contract: `frame` is no longer in use. The map's
    /// state stays consistent whatever `frame` is; the contract protects the
    /// frame's next owner, who would share it with a user that still holds
    /// it.
    unsafe fn deallocate_frame(&mut self, frame: PhysFrame<Size4KiB>) {
        self.deallocate(frame);
    }
}

impl<M: PageState> FrameDeallocator<Size4KiB> for PhysFrameAllocator<M> {
    /// As for `&PhysFrameAllocator`.
    ///
    /// # Safety
    /// `frame` is no longer in use (see the impl for `&PhysFrameAllocator`).
    unsafe fn deallocate_frame(&mut self, frame: PhysFrame<Size4KiB>) {
        self.deallocate(frame);
    }
}

impl<M: PageState> fmt::Debug for PhysFrameAllocator<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysFrameAllocator")
            .field(
                "phys_range",
                &format_args!("{:#x}..{:#x}", self.base, self.end),
            )
            .field("pages", &self.pages())
            .field("free_pages", &self.frames.free_pages())
            .field("stats", &self.stats())
            .field("map_stats", &self.frames.map().stats())
            .finish()
    }
}
