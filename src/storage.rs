//! Where a map's words live, and the counters every map keeps.

use crate::primitive::{AtomicCounter, Ordering};
use crate::state::FaultStats;
use crate::word::{AtomicWord, Word};
#[cfg(feature = "alloc")]
use alloc::boxed::Box;

/// A map's words: its own allocation, or caller-provided storage for kernels
/// that place the state themselves early in boot.
pub(crate) enum Words<W: Word> {
    /// Caller-provided.
    Borrowed(&'static [W::Atomic]),
    /// Allocated by the map.
    #[cfg(feature = "alloc")]
    Owned(Box<[W::Atomic]>),
}

impl<W: Word> Words<W> {
    /// `len` words, word `i` set to `init(i)`.
    #[cfg(feature = "alloc")]
    pub(crate) fn new(len: usize, init: impl Fn(usize) -> W) -> Words<W> {
        Words::Owned((0..len).map(|i| W::Atomic::new(init(i))).collect())
    }

    /// Fails unless `storage` holds at least `len` words. Constructors that
    /// take several buffers check them all before writing any.
    pub(crate) fn fits(storage: &[W::Atomic], len: usize) -> Result<(), crate::StateError> {
        if storage.len() < len {
            return Err(crate::StateError::StorageTooSmall {
                needed: len,
                given: storage.len(),
            });
        }
        Ok(())
    }

    /// The first `len` words of `storage`, word `i` set to `init(i)`; on
    /// error (too small) nothing is written. The storage is taken by
    /// unique reference, so no other map can be built over it.
    pub(crate) fn borrowed(
        storage: &'static mut [W::Atomic],
        len: usize,
        init: impl Fn(usize) -> W,
    ) -> Result<Words<W>, crate::StateError> {
        Self::fits(storage, len)?;
        let storage: &'static [W::Atomic] = &storage[..len];
        for (i, w) in storage.iter().enumerate() {
            w.store(init(i), Ordering::Release);
        }
        Ok(Words::Borrowed(storage))
    }
}

impl<W: Word> core::ops::Deref for Words<W> {
    type Target = [W::Atomic];
    #[inline(always)]
    fn deref(&self) -> &[W::Atomic] {
        match self {
            Words::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Words::Owned(b) => b,
        }
    }
}

/// The EDAC-style counters, updated with relaxed atomics (they are
/// statistics, not synchronisation): a map's own, or those of the
/// [`StaticStorage`] it was built over (so that every map built over one
/// storage shares them, as it shares the words).
pub(crate) struct Counters(Held);

enum Held {
    Own(CounterCells),
    #[cfg(not(loom))]
    Static(&'static CounterCells),
}

/// The counters' cells.
pub(crate) struct CounterCells {
    ce: AtomicCounter,
    ue: AtomicCounter,
    double_alloc: AtomicCounter,
    double_free: AtomicCounter,
    restored: AtomicCounter,
}

impl CounterCells {
    /// Every counter at 0; `const` so that a [`StaticStorage`] holding
    /// them is built at compile time.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> CounterCells {
        CounterCells {
            ce: AtomicCounter::new(0),
            ue: AtomicCounter::new(0),
            double_alloc: AtomicCounter::new(0),
            double_free: AtomicCounter::new(0),
            restored: AtomicCounter::new(0),
        }
    }
    /// Every counter at 0 (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub(crate) fn new() -> CounterCells {
        CounterCells {
            ce: AtomicCounter::new(0),
            ue: AtomicCounter::new(0),
            double_alloc: AtomicCounter::new(0),
            double_free: AtomicCounter::new(0),
            restored: AtomicCounter::new(0),
        }
    }
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters(Held::Own(CounterCells::new()))
    }
    /// The counters of a static storage.
    #[cfg(not(loom))]
    pub(crate) const fn borrowed(cells: &'static CounterCells) -> Counters {
        Counters(Held::Static(cells))
    }
    #[inline(always)]
    fn cells(&self) -> &CounterCells {
        match &self.0 {
            Held::Own(c) => c,
            #[cfg(not(loom))]
            Held::Static(c) => c,
        }
    }
    pub(crate) fn ce(&self, n: u64) {
        self.cells().ce.fetch_add(n as _, Ordering::Relaxed);
    }
    pub(crate) fn ue(&self) {
        self.ue_n(1);
    }
    pub(crate) fn ue_n(&self, n: u64) {
        if n != 0 {
            self.cells().ue.fetch_add(n as _, Ordering::Relaxed);
        }
    }
    /// Counts `n` words rewritten by a restore.
    pub(crate) fn restored(&self, n: u64) {
        if n != 0 {
            self.cells().restored.fetch_add(n as _, Ordering::Relaxed);
        }
    }
    /// Counts a refused update to `alloc`: a double allocation when
    /// `alloc`, a double free otherwise.
    pub(crate) fn refused(&self, alloc: bool) {
        let c = self.cells();
        let c = if alloc {
            &c.double_alloc
        } else {
            &c.double_free
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    // The counters are `u32` where 64-bit atomics do not exist.
    #[allow(clippy::useless_conversion)]
    pub(crate) fn snapshot(&self) -> FaultStats {
        let c = self.cells();
        FaultStats {
            ce_count: c.ce.load(Ordering::Relaxed).into(),
            ue_count: c.ue.load(Ordering::Relaxed).into(),
            double_alloc: c.double_alloc.load(Ordering::Relaxed).into(),
            double_free: c.double_free.load(Ordering::Relaxed).into(),
            restored: c.restored.load(Ordering::Relaxed).into(),
        }
    }
}

#[allow(unreachable_pub)]
mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// The maps that can be built at compile time over a [`StaticStorage`]:
/// names the atomic cell their storage is made of. Sealed: implemented by
/// [`EccBitmap`](crate::EccBitmap), [`PlainBitmap`](crate::PlainBitmap),
/// [`DualBitmap`](crate::DualBitmap) and
/// [`StripedBitmap`](crate::StripedBitmap).
pub trait StaticLayout: Sealed + Sized {
    /// The atomic cell of the map's storage.
    type Cell: Sync + 'static;
}

/// A map's storage, words and counters, built at compile time: the const
/// construction path for a `static` map in a `#![no_std]` kernel, with
/// nothing initialised at run time.
///
/// `M::static_storage::<N>(pages)` (a `const fn`) encodes `N` cells, every
/// page free, exactly as `with_pages` would (`N` must be
/// `M::static_cells(pages)`, checked at compile time);
/// `M::from_static_storage(&STORAGE)` (a `const fn`, no write) builds the
/// map over it. Its cells cannot be reached but through a map, and the map
/// keeps its counters here too: a second map built over the same storage
/// is the same map (the same words, the same counters), never a
/// re-initialisation. [`static_map!`](crate::static_map) declares the
/// storage inside the map's initialiser, where nothing else can name it.
///
/// Not under `--cfg loom` (loom's atomics have no `const` constructor).
///
/// ```
/// use eccmap::{PageMap, PageState, StaticStorage};
/// static STORAGE: StaticStorage<PageMap, { PageMap::static_cells(1000) }> =
///     PageMap::static_storage(1000);
/// static MAP: PageMap = PageMap::from_static_storage(&STORAGE);
/// assert_eq!(MAP.pages(), 1000);
/// ```
///
/// A cell count that is not the map's for its pages does not compile:
///
/// ```compile_fail,E0080
/// use eccmap::{PageMap, StaticStorage};
/// static STORAGE: StaticStorage<PageMap, 3> = PageMap::static_storage(1000);
/// ```
#[cfg(not(loom))]
pub struct StaticStorage<M: StaticLayout, const N: usize> {
    pub(crate) pages: usize,
    pub(crate) cells: [M::Cell; N],
    pub(crate) counters: CounterCells,
}

#[cfg(not(loom))]
impl<M: StaticLayout, const N: usize> StaticStorage<M, N> {
    /// Storage of `cells` for a map of `pages` pages, its counters at 0.
    pub(crate) const fn new(pages: usize, cells: [M::Cell; N]) -> Self {
        StaticStorage {
            pages,
            cells,
            counters: CounterCells::new(),
        }
    }

    /// The number of pages of the map built over it.
    pub const fn pages(&self) -> usize {
        self.pages
    }
}

#[cfg(not(loom))]
impl<M: StaticLayout, const N: usize> core::fmt::Debug for StaticStorage<M, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticStorage")
            .field("pages", &self.pages)
            .field("cells", &N)
            .finish_non_exhaustive()
    }
}
