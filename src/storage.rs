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
/// statistics, not synchronisation).
pub(crate) struct Counters {
    ce: AtomicCounter,
    ue: AtomicCounter,
    double_alloc: AtomicCounter,
    double_free: AtomicCounter,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            ce: AtomicCounter::new(0),
            ue: AtomicCounter::new(0),
            double_alloc: AtomicCounter::new(0),
            double_free: AtomicCounter::new(0),
        }
    }
    pub(crate) fn ce(&self, n: u64) {
        self.ce.fetch_add(n as _, Ordering::Relaxed);
    }
    pub(crate) fn ue(&self) {
        self.ue_n(1);
    }
    pub(crate) fn ue_n(&self, n: u64) {
        if n != 0 {
            self.ue.fetch_add(n as _, Ordering::Relaxed);
        }
    }
    /// Counts a refused update to `alloc`: a double allocation when
    /// `alloc`, a double free otherwise.
    pub(crate) fn refused(&self, alloc: bool) {
        let c = if alloc {
            &self.double_alloc
        } else {
            &self.double_free
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    // The counters are `u32` where 64-bit atomics do not exist.
    #[allow(clippy::useless_conversion)]
    pub(crate) fn snapshot(&self) -> FaultStats {
        FaultStats {
            ce_count: self.ce.load(Ordering::Relaxed).into(),
            ue_count: self.ue.load(Ordering::Relaxed).into(),
            double_alloc: self.double_alloc.load(Ordering::Relaxed).into(),
            double_free: self.double_free.load(Ordering::Relaxed).into(),
        }
    }
}
