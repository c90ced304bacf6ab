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

/// The 128-bit atomic of [`Ecc128`](crate::Ecc128)'s storage:
/// portable-atomic's, lock-free through `cmpxchg16b` on x86-64 (detected
/// at run time unless the build enables the target feature) and through the
/// 128-bit pair instructions on aarch64. Only on those two architectures;
/// the map checks that it is lock-free before it is built.
#[cfg(all(not(loom), any(target_arch = "x86_64", target_arch = "aarch64")))]
pub use portable_atomic::AtomicU128;

#[cfg(all(not(loom), not(miri), target_arch = "x86_64"))]
mod x86_128;

/// The operations the maps run on an [`AtomicU128`], with the type's own
/// signatures: on x86-64 (but under Miri and loom) those of the `x86_128`
/// module (`cmpxchg16b` and `vmovdqa` inline, the CPU's features read
/// once).
#[cfg(all(not(loom), not(miri), target_arch = "x86_64"))]
pub(crate) use x86_128::U128Ops;
/// The operations the maps run on an [`AtomicU128`]: elsewhere (aarch64,
/// Miri, loom), the type's own methods.
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(all(not(loom), not(miri), target_arch = "x86_64"))
))]
pub(crate) type U128Ops = AtomicU128;

/// Words a scan asks the cache for ahead of its loads.
#[cfg(all(not(loom), not(miri), target_arch = "x86_64", target_feature = "sse"))]
const PREFETCH_AHEAD: usize = 128;

/// For a scan at word `i` of `words`, at every fourth word (each 64-byte
/// line of 16-byte words): a prefetch of the line `PREFETCH_AHEAD` words
/// ahead, on x86-64 (a no-op elsewhere, and under Miri and loom). The
/// 128-bit scan's test takes a few dozen instructions per word, too many
/// for the CPU's window to reach far enough ahead on its own when the
/// words come from L3 or memory.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
pub(crate) fn prefetch_ahead<T>(words: &[T], i: usize) {
    #[cfg(all(not(loom), not(miri), target_arch = "x86_64", target_feature = "sse"))]
    if i % 4 == 0 {
        // `wrapping_add`: the address may lie past the end (a prefetch
        // never faults), and nothing is assumed of it.
        x86_128::prefetch(words.as_ptr().wrapping_add(i + PREFETCH_AHEAD).cast());
    }
    let _ = (words, i);
}

/// Whether [`AtomicU128`] is lock-free on this CPU (on x86-64 without the
/// `cmpxchg16b` target feature, portable-atomic detects the instruction at
/// run time and would otherwise take a global lock).
#[cfg(all(not(loom), any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline]
pub(crate) fn u128_lock_free() -> bool {
    AtomicU128::is_lock_free()
}

/// Under loom, which has no 128-bit atomics: a loom mutex around a `u128`,
/// with the operations the maps use. Each operation is one critical
/// section, so it is atomic, and each lock is a loom scheduling point, so
/// the model checker interleaves the map's 16-byte operations as it does
/// its 8-byte ones (tests/loom.rs, the `ecc128_*` models).
#[cfg(all(loom, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub struct AtomicU128(loom::sync::Mutex<u128>);

#[cfg(all(loom, any(target_arch = "x86_64", target_arch = "aarch64")))]
#[allow(missing_docs)]
impl AtomicU128 {
    pub fn new(v: u128) -> AtomicU128 {
        AtomicU128(loom::sync::Mutex::new(v))
    }
    fn with<R>(&self, f: impl FnOnce(&mut u128) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
    pub fn load(&self, _order: Ordering) -> u128 {
        self.with(|v| *v)
    }
    pub fn store(&self, new: u128, _order: Ordering) {
        self.with(|v| *v = new)
    }
    pub fn compare_exchange(
        &self,
        cur: u128,
        new: u128,
        _ok: Ordering,
        _err: Ordering,
    ) -> Result<u128, u128> {
        self.with(|v| {
            if *v == cur {
                *v = new;
                Ok(cur)
            } else {
                Err(*v)
            }
        })
    }
    pub fn compare_exchange_weak(
        &self,
        cur: u128,
        new: u128,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u128, u128> {
        self.compare_exchange(cur, new, ok, err)
    }
    pub fn fetch_xor(&self, x: u128, _order: Ordering) -> u128 {
        self.with(|v| core::mem::replace(v, *v ^ x))
    }
    pub fn fetch_or(&self, x: u128, _order: Ordering) -> u128 {
        self.with(|v| core::mem::replace(v, *v | x))
    }
    pub fn fetch_and(&self, x: u128, _order: Ordering) -> u128 {
        self.with(|v| core::mem::replace(v, *v & x))
    }
}

/// The loom stand-in is a mutex: lock-free in the model's sense (every
/// operation completes), and the models need the map.
#[cfg(all(loom, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn u128_lock_free() -> bool {
    true
}

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
