//! The atomics the maps run on: `core`'s, or loom's under `--cfg loom` so the
//! same code runs under the model checker.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, Ordering};

/// A CPU pause between retries (a scheduling point under loom).
#[inline]
pub(crate) fn pause() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// The `n`-th wait of a back-off: a CPU pause at first, then (with `std`)
/// a yield of the thread, so that a waiter on an oversubscribed machine lets
/// the thread it waits for run.
#[inline]
pub(crate) fn relax(n: u32) {
    #[cfg(all(feature = "std", not(loom)))]
    if n >= 16 {
        std::thread::yield_now();
        return;
    }
    let _ = n;
    pause();
}
