//! Where a map's words live, and the counters every map keeps.

use crate::primitive::{AtomicU64, Ordering};
use crate::state::FaultStats;
#[cfg(feature = "alloc")]
use alloc::boxed::Box;

/// A map's words: its own allocation, or caller-provided storage for kernels
/// that place the state themselves early in boot.
pub(crate) enum Words {
    /// Caller-provided.
    Borrowed(&'static [AtomicU64]),
    /// Allocated by the map.
    #[cfg(feature = "alloc")]
    Owned(Box<[AtomicU64]>),
}

impl Words {
    /// `len` words, word `i` set to `init(i)`.
    #[cfg(feature = "alloc")]
    pub(crate) fn new(len: usize, init: impl Fn(usize) -> u64) -> Words {
        Words::Owned((0..len).map(|i| AtomicU64::new(init(i))).collect())
    }

    /// Fails unless `storage` holds at least `len` words. Constructors that
    /// take several buffers check them all before writing any.
    pub(crate) fn fits(storage: &[AtomicU64], len: usize) -> Result<(), crate::StateError> {
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
        storage: &'static mut [AtomicU64],
        len: usize,
        init: impl Fn(usize) -> u64,
    ) -> Result<Words, crate::StateError> {
        Self::fits(storage, len)?;
        let storage: &'static [AtomicU64] = &storage[..len];
        for (i, w) in storage.iter().enumerate() {
            w.store(init(i), Ordering::Release);
        }
        Ok(Words::Borrowed(storage))
    }
}

impl core::ops::Deref for Words {
    type Target = [AtomicU64];
    #[inline(always)]
    fn deref(&self) -> &[AtomicU64] {
        match self {
            Words::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Words::Owned(b) => b,
        }
    }
}

/// The EDAC-style counters, updated with relaxed atomics (they are
/// statistics, not synchronisation).
pub(crate) struct Counters {
    ce: AtomicU64,
    ue: AtomicU64,
    double_alloc: AtomicU64,
    double_free: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            ce: AtomicU64::new(0),
            ue: AtomicU64::new(0),
            double_alloc: AtomicU64::new(0),
            double_free: AtomicU64::new(0),
        }
    }
    pub(crate) fn ce(&self, n: u64) {
        self.ce.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn ue(&self) {
        self.ue_n(1);
    }
    pub(crate) fn ue_n(&self, n: u64) {
        if n != 0 {
            self.ue.fetch_add(n, Ordering::Relaxed);
        }
    }
    pub(crate) fn double_alloc(&self) {
        self.double_alloc.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn double_free(&self) {
        self.double_free.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> FaultStats {
        FaultStats {
            ce_count: self.ce.load(Ordering::Relaxed),
            ue_count: self.ue.load(Ordering::Relaxed),
            double_alloc: self.double_alloc.load(Ordering::Relaxed),
            double_free: self.double_free.load(Ordering::Relaxed),
        }
    }
}
