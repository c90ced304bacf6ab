//! The 16-byte atomics of [`AtomicU128`] on x86-64, without
//! portable-atomic's per-operation dispatch: portable-atomic (built
//! without the `cmpxchg16b` target feature) picks its implementation
//! through a function pointer on every operation, an indirect call that
//! nothing inlines; here the CPU's features are read once into a static,
//! and each operation is one compare of that static and the instruction
//! itself, inline:
//! - a compare-and-swap is `lock cmpxchg16b`;
//! - a load is `vmovdqa` where the CPU has AVX (Intel's SDM, vol. 3A,
//!   "Guaranteed Atomic Operations", and AMD's APM, vol. 2, "Access
//!   Atomicity": on a CPU that enumerates AVX, a 16-byte aligned
//!   `MOVDQA`/`VMOVDQA` is atomic; portable-atomic relies on the same),
//!   else a `lock cmpxchg16b` of 0 with 0, which writes back what it finds;
//! - a store and the read-modify-writes are compare-and-swap loops.
//!
//! Where the CPU has no `cmpxchg16b` (or the `std` feature is off and the
//! build does not enable it), or `ECCMAP_PORTABLE` is set in the
//! environment (with `std`; CI uses it to test the fallback), every
//! operation is portable-atomic's. Both act on the same cell: when this
//! module uses `cmpxchg16b`, portable-atomic's operations on it are the
//! same lock-free instructions, so a mix of the two stays atomic
//! (`tests/ecc128.rs::atomic_word_ops_are_atomic_across_threads`).
//!
//! Also the prefetch hint of the 128-bit scrub's scan. The crate's
//! `unsafe` code is in this module (besides the `unsafe impl`s of
//! src/x86_frames.rs). Soundness rests on one invariant: `cmpxchg16b` and
//! `vmovdqa` run only after [`caps`] has found them on this CPU (the
//! prefetch is SSE, part of the build's target features, and a hint that
//! never faults). Not built under Miri or loom (portable-atomic's
//! operations, or loom's stand-in, there).

use super::{AtomicU128, Ordering};
use core::arch::asm;
use core::sync::atomic::AtomicU8;

/// [`CAPS`] has been filled in.
const KNOWN: u8 = 1;
/// The CPU has `cmpxchg16b` (and `ECCMAP_PORTABLE` is not set).
const CX16: u8 = 2;
/// And AVX, with vector registers in this build: loads by `vmovdqa`.
const AVX: u8 = 4;

/// The features found, `KNOWN` once filled in (0 before the first use).
static CAPS: AtomicU8 = AtomicU8::new(0);

// `cmpxchg16b` and `vmovdqa` need the cell 16-byte aligned.
const _: () = assert!(core::mem::align_of::<AtomicU128>() == 16);
const _: () = assert!(core::mem::size_of::<AtomicU128>() == 16);

/// The features of this CPU this module uses, read once.
#[inline(always)]
fn caps() -> u8 {
    let c = CAPS.load(core::sync::atomic::Ordering::Relaxed);
    if c != 0 {
        c
    } else {
        detect()
    }
}

#[cold]
#[inline(never)]
fn detect() -> u8 {
    #[cfg(feature = "std")]
    let (cx16, avx) = (
        std::is_x86_feature_detected!("cmpxchg16b")
            && std::env::var_os("ECCMAP_PORTABLE").is_none(),
        std::is_x86_feature_detected!("avx"),
    );
    #[cfg(not(feature = "std"))]
    let (cx16, avx) = (
        cfg!(target_feature = "cmpxchg16b"),
        cfg!(target_feature = "avx"),
    );
    // `vmovdqa` needs vector registers, which a soft-float build (such as
    // `x86_64-unknown-none`) does not have.
    let avx = avx && cfg!(target_feature = "sse2");
    let mut c = KNOWN;
    if cx16 {
        c |= CX16;
        if avx {
            c |= AVX;
        }
    }
    CAPS.store(c, core::sync::atomic::Ordering::Relaxed);
    c
}

/// `lock cmpxchg16b`: if `*dst == old`, writes `new`; returns the value
/// found and whether it was `old`. Sequentially consistent.
///
/// # Safety
/// The CPU must have `cmpxchg16b`; `dst` must be valid for reads and
/// writes, 16-byte aligned, and accessed only atomically.
#[inline(always)]
unsafe fn cmpxchg16b(dst: *mut u128, old: u128, new: u128) -> (u128, bool) {
    let (lo, hi): (u64, u64);
    let ok: u8;
    // SAFETY: the caller's contract. `rbx` cannot be named as an operand:
    // the low half of `new` goes in through another register and is
    // swapped into `rbx` around the instruction, which then restores it.
    // The address is in `rdi`, named, because a generic register operand
    // may be given `rbx` itself (it was, in one build: the swap then
    // replaced the address); the flag is read after `rbx` is restored
    // (`mov` keeps the flags), so that `ok` may be any byte register. No
    // `nomem`: the compiler treats it as a read and write of any memory (a
    // barrier, as the instruction is a full fence).
    unsafe {
        asm!(
            "xchg {new_lo}, rbx",
            "lock cmpxchg16b xmmword ptr [rdi]",
            "mov rbx, {new_lo}",
            "sete {ok}",
            in("rdi") dst,
            new_lo = inout(reg) new as u64 => _,
            ok = out(reg_byte) ok,
            in("rcx") (new >> 64) as u64,
            inout("rax") old as u64 => lo,
            inout("rdx") (old >> 64) as u64 => hi,
            options(nostack),
        );
    }
    (u128::from(hi) << 64 | u128::from(lo), ok != 0)
}

/// `vmovdqa`: a 16-byte atomic load (acquire, as every x86 load).
///
/// # Safety
/// The CPU must have AVX, the build vector registers; `src` must be valid
/// for reads, 16-byte aligned, and accessed only atomically.
#[cfg(target_feature = "sse2")]
#[inline(always)]
unsafe fn vmovdqa(src: *const u128) -> u128 {
    let out: core::arch::x86_64::__m128i;
    // SAFETY: the caller's contract. No `readonly`/`nomem`: the compiler
    // keeps later memory accesses after it (acquire).
    unsafe {
        asm!(
            "vmovdqa {out}, xmmword ptr [{src}]",
            src = in(reg) src,
            out = out(xmm_reg) out,
            options(nostack, preserves_flags),
        );
    }
    // SAFETY: `__m128i` and `u128` are 16 bytes of plain bits; x86-64 is
    // little-endian, so lane 0 is the low half, as in memory.
    unsafe { core::mem::transmute::<core::arch::x86_64::__m128i, u128>(out) }
}

/// A hint to bring the cache line of `p` into the cache (`prefetcht0`).
#[cfg(target_feature = "sse")]
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    // SAFETY: `prefetcht0` (SSE, in the build's target features) is a
    // hint: it never faults, whatever the address, and changes no state
    // the program can see.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
}

/// The operations the maps run on an [`AtomicU128`] on x86-64, with
/// the type's own signatures (`AtomicWord` for `u128` calls them).
pub(crate) struct U128Ops;

impl U128Ops {
    // `AtomicWord` builds cells through its operations type.
    #[allow(clippy::new_ret_no_self)]
    #[inline(always)]
    pub(crate) fn new(v: u128) -> AtomicU128 {
        AtomicU128::new(v)
    }

    /// As `AtomicU128::load`.
    #[inline(always)]
    pub(crate) fn load(a: &AtomicU128, order: Ordering) -> u128 {
        // The common case in one compare of the static.
        #[cfg(target_feature = "sse2")]
        if CAPS.load(core::sync::atomic::Ordering::Relaxed) == KNOWN | CX16 | AVX {
            // SAFETY: `AVX` is set only where the CPU has AVX and the build
            // vector registers; the cell is 16-byte aligned (asserted above),
            // live for the borrow, and accessed only by atomic operations.
            return unsafe { vmovdqa(a.as_ptr()) };
        }
        Self::load_other(a, order)
    }

    /// [`load`](Self::load) on a CPU without AVX or `cmpxchg16b`, or before the first
    /// detection.
    #[inline(never)]
    fn load_other(a: &AtomicU128, order: Ordering) -> u128 {
        let c = caps();
        #[cfg(target_feature = "sse2")]
        if c & AVX != 0 {
            // SAFETY: as in `load`.
            return unsafe { vmovdqa(a.as_ptr()) };
        }
        if c & CX16 != 0 {
            // SAFETY: `CX16` is set only where the CPU has `cmpxchg16b`; the
            // cell is aligned, live, writable (an atomic cell) and accessed
            // only atomically. Comparing with 0 and writing 0 changes nothing.
            return unsafe { cmpxchg16b(a.as_ptr(), 0, 0) }.0;
        }
        a.load(order)
    }

    /// As `AtomicU128::compare_exchange`.
    ///
    /// # Errors
    /// The value found, if it was not `cur` (nothing is written).
    #[inline(always)]
    pub(crate) fn compare_exchange(
        a: &AtomicU128,
        cur: u128,
        new: u128,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u128, u128> {
        // `CX16` is never set before the detection: one test of the static.
        if CAPS.load(core::sync::atomic::Ordering::Relaxed) & CX16 != 0 {
            // SAFETY: `CX16` is set only where the CPU has `cmpxchg16b`; the
            // cell is aligned (asserted above), live for the borrow, and
            // accessed only by atomic operations.
            let (found, hit) = unsafe { cmpxchg16b(a.as_ptr(), cur, new) };
            return if hit { Ok(found) } else { Err(found) };
        }
        Self::compare_exchange_other(a, cur, new, ok, err)
    }

    /// [`compare_exchange`](Self::compare_exchange) before the first detection or on a CPU without
    /// `cmpxchg16b`.
    #[inline(never)]
    fn compare_exchange_other(
        a: &AtomicU128,
        cur: u128,
        new: u128,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u128, u128> {
        if caps() & CX16 != 0 {
            return Self::compare_exchange(a, cur, new, ok, err);
        }
        a.compare_exchange(cur, new, ok, err)
    }

    /// As `AtomicU128::compare_exchange_weak`: [`compare_exchange`](Self::compare_exchange)
    /// (`cmpxchg16b` never fails spuriously, and a strong exchange is a valid
    /// weak one).
    ///
    /// # Errors
    /// The value found, if it was not `cur` (nothing is written).
    #[inline(always)]
    pub(crate) fn compare_exchange_weak(
        a: &AtomicU128,
        cur: u128,
        new: u128,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u128, u128> {
        Self::compare_exchange(a, cur, new, ok, err)
    }

    /// A read-modify-write by compare-and-swap loop: `f` of the value found is
    /// written; returns the value it replaced.
    #[inline(always)]
    fn update(a: &AtomicU128, order: Ordering, f: impl Fn(u128) -> u128) -> Option<u128> {
        if caps() & CX16 == 0 {
            return None;
        }
        let mut cur = Self::load(a, order);
        loop {
            match Self::compare_exchange(a, cur, f(cur), order, Ordering::Relaxed) {
                Ok(v) => return Some(v),
                Err(now) => cur = now,
            }
        }
    }

    /// As `AtomicU128::store`.
    #[inline]
    pub(crate) fn store(a: &AtomicU128, v: u128, order: Ordering) {
        if Self::update(a, order, |_| v).is_none() {
            a.store(v, order);
        }
    }

    /// As `AtomicU128::fetch_xor`.
    #[inline]
    pub(crate) fn fetch_xor(a: &AtomicU128, x: u128, order: Ordering) -> u128 {
        Self::update(a, order, |v| v ^ x).unwrap_or_else(|| a.fetch_xor(x, order))
    }

    /// As `AtomicU128::fetch_or`.
    #[inline]
    pub(crate) fn fetch_or(a: &AtomicU128, x: u128, order: Ordering) -> u128 {
        Self::update(a, order, |v| v | x).unwrap_or_else(|| a.fetch_or(x, order))
    }

    /// As `AtomicU128::fetch_and`.
    #[inline]
    pub(crate) fn fetch_and(a: &AtomicU128, x: u128, order: Ordering) -> u128 {
        Self::update(a, order, |v| v & x).unwrap_or_else(|| a.fetch_and(x, order))
    }
}
