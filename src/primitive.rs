//! The atomics the maps run on: `core`'s, or loom's under `--cfg loom` so the
//! same code runs under the model checker.

#[cfg(loom)]
pub use loom::sync::atomic::AtomicU32;
#[cfg(all(loom, target_has_atomic = "64"))]
pub use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::AtomicU32;
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub use core::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, Ordering};

/// The atomic the counters are kept in: 64 bits where the target has 64-bit
/// atomics, 32 bits (wrapping past `u32::MAX` events) otherwise.
#[cfg(target_has_atomic = "64")]
pub(crate) type AtomicCounter = AtomicU64;
/// The atomic the counters are kept in: 64 bits where the target has 64-bit
/// atomics, 32 bits (wrapping past `u32::MAX` events) otherwise.
#[cfg(not(target_has_atomic = "64"))]
pub(crate) type AtomicCounter = AtomicU32;

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
// Used by the striped map, which needs 64-bit atomics.
#[cfg_attr(not(target_has_atomic = "64"), allow(dead_code))]
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
