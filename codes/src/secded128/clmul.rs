//! The fast syndrome of [`Secded128`](super::Secded128) on x86-64: the raw
//! remainder of the word modulo `g(x)` by carry-less multiplication
//! (`PCLMULQDQ`). The crate's `unsafe` code is in this module and in
//! the `avx512` module of src/wide.rs.
//!
//! Soundness rests on one invariant: a [`Clmul`] value exists only once the
//! CPU is known to have `pclmulqdq` (and `sse2`, part of the x86-64
//! baseline), because its one constructor, [`Clmul::detect`], checks that
//! first (the pattern of crc32fast's specialized state). Every call of the
//! `#[target_feature]` function goes through a `Clmul`.

use super::constants::{FOLD64, GEN, MU79};
use core::arch::x86_64::{__m128i, _mm_set_epi64x};

/// Proof that the running CPU has `pclmulqdq` and `sse2`. The private field
/// keeps every other module from building one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clmul(());

impl Clmul {
    /// `Some` if this CPU runs carry-less multiplication: detected at run
    /// time with the `std` feature (once per process: the answer is kept
    /// in a static, so a codec is built by one load and a branch), else
    /// known at compile time from the target features the build enables.
    /// `None` with the `std` feature if `ECCMAP_PORTABLE` is set in the
    /// environment (CI tests the portable tables that way). `sse2` is part
    /// of the build's target features (this module's `cfg`).
    #[inline(always)]
    pub(super) fn detect() -> Option<Clmul> {
        #[cfg(feature = "std")]
        let found = {
            use core::sync::atomic::{AtomicU8, Ordering};
            /// 0: not yet asked; 1: no; 2: yes.
            static FOUND: AtomicU8 = AtomicU8::new(0);
            #[cold]
            #[inline(never)]
            fn ask() -> bool {
                let yes = std::is_x86_feature_detected!("pclmulqdq")
                    && std::env::var_os("ECCMAP_PORTABLE").is_none();
                FOUND.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            // The common case in one compare.
            FOUND.load(Ordering::Relaxed) == 2 || (FOUND.load(Ordering::Relaxed) == 0 && ask())
        };
        #[cfg(not(feature = "std"))]
        let found = cfg!(target_feature = "pclmulqdq");
        found.then_some(Clmul(()))
    }

    /// `w(x) mod g(x)`, bit `i` the coefficient of `x^i`.
    #[inline(always)]
    pub(super) fn remainder(self, w: u128) -> u16 {
        // SAFETY: `remainder` needs the `pclmulqdq` and `sse2` target
        // features; `self` is a `Clmul`, which only `detect` builds, and
        // only after finding `pclmulqdq` on this CPU (or in the build's
        // enabled target features), in a build whose target features
        // include `sse2`. It reads no memory.
        unsafe { remainder(w) }
    }
}

/// `w(x) mod g(x)` in three carry-less multiplications:
///
/// 1. fold: `w = h·x^64 + l ≡ h·(x^64 mod g) + l =: a`, degree at most 78;
/// 2. Barrett: `q = floor(a / g) = floor(floor(a / x^16)·mu / x^63)` with
///    `mu = floor(x^79 / g)`, exact because `deg a < 79`; computed as the
///    high 64 bits of `(floor(a / x^16)·x)·mu`;
/// 3. the remainder: the low 16 bits of `a + q·g`.
///
/// Inline assembly rather than a `#[target_feature]` function, so that it
/// inlines into every caller (a target-feature function cannot be inlined
/// into code built without the feature, and the call would cost more than
/// the arithmetic).
///
/// # Safety
/// The CPU must support `pclmulqdq` and `sse2`.
#[inline(always)]
unsafe fn remainder(w: u128) -> u16 {
    // The constants as 128-bit SSE values: [FOLD64, GEN] and [MU79, 0]
    // (low qword first).
    let k: __m128i = _mm_set_epi64x(GEN as i64, FOLD64 as i64);
    let mu: __m128i = _mm_set_epi64x(0, MU79 as i64);
    // The word as an SSE value, low qword first (x86-64 is little-endian;
    // loaded straight from memory into a vector register where it comes
    // from memory, with no general-purpose register round trip).
    let w: __m128i = _mm_set_epi64x((w >> 64) as i64, w as i64);
    let out: u32;
    // SAFETY (of the instructions; the caller guarantees the CPU has them):
    // register-only SSE2 and PCLMULQDQ arithmetic, no memory access, no
    // stack use, flags untouched.
    unsafe {
        core::arch::asm!(
            // a = h·FOLD64 ^ l (`movq` between registers clears the high qword)
            "movdqa {t}, {w}",
            "pclmulqdq {t}, {k}, 0x01",
            "movq {a}, {w}",
            "pxor {a}, {t}",
            // t = floor(a / x^16)·x
            "movdqa {t}, {a}",
            "psrldq {t}, 2",
            "psllq {t}, 1",
            // q = high qword of t·mu; then q·g
            "pclmulqdq {t}, {mu}, 0x00",
            "pclmulqdq {t}, {k}, 0x11",
            "pxor {t}, {a}",
            "movd {out:e}, {t}",
            w = in(xmm_reg) w,
            k = in(xmm_reg) k,
            mu = in(xmm_reg) mu,
            a = out(xmm_reg) _,
            t = out(xmm_reg) _,
            out = lateout(reg) out,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out as u16
}
