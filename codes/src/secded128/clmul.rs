//! The fast syndrome of [`Secded128`](super::Secded128) on x86-64: the raw
//! remainder of the word modulo `g(x)` by carry-less multiplication
//! (`PCLMULQDQ`). All of the crate's `unsafe` code is in this module.
//!
//! Soundness rests on one invariant: a [`Clmul`] value exists only once the
//! CPU is known to have `pclmulqdq` (and `sse2`, part of the x86-64
//! baseline), because its one constructor, [`Clmul::detect`], checks that
//! first (the pattern of crc32fast's specialized state). Every call of the
//! `#[target_feature]` function goes through a `Clmul`.

use super::constants::{FOLD64, GEN, MU79};
use core::arch::x86_64::{
    __m128i, _mm_clmulepi64_si128, _mm_cvtsi128_si32, _mm_move_epi64, _mm_set_epi64x,
    _mm_slli_epi64, _mm_srli_si128, _mm_xor_si128,
};

/// Proof that the running CPU has `pclmulqdq` and `sse2`. The private field
/// keeps every other module from building one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clmul(());

impl Clmul {
    /// `Some` if this CPU runs carry-less multiplication: detected at run
    /// time with the `std` feature, else known at compile time from the
    /// target features the build enables.
    pub(super) fn detect() -> Option<Clmul> {
        #[cfg(feature = "std")]
        let found =
            std::is_x86_feature_detected!("pclmulqdq") && std::is_x86_feature_detected!("sse2");
        #[cfg(not(feature = "std"))]
        let found = cfg!(all(target_feature = "pclmulqdq", target_feature = "sse2"));
        found.then_some(Clmul(()))
    }

    /// `w(x) mod g(x)`, bit `i` the coefficient of `x^i`.
    #[inline(always)]
    pub(super) fn remainder(self, w: u128) -> u16 {
        // SAFETY: `remainder` needs the `pclmulqdq` and `sse2` target
        // features; `self` is a `Clmul`, which only `detect` builds, and
        // only after finding both on this CPU (or in the build's enabled
        // target features). It reads no memory.
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
/// # Safety
/// The CPU must support `pclmulqdq` and `sse2`.
#[target_feature(enable = "pclmulqdq,sse2")]
#[inline]
unsafe fn remainder(w: u128) -> u16 {
    let k: __m128i = _mm_set_epi64x(GEN as i64, FOLD64 as i64);
    let mu: __m128i = _mm_set_epi64x(0, MU79 as i64);
    let w: __m128i = _mm_set_epi64x((w >> 64) as i64, w as i64);
    // h·(x^64 mod g) + l: the high qword of `w` times the low one of `k`.
    let a = _mm_xor_si128(_mm_clmulepi64_si128::<0x01>(w, k), _mm_move_epi64(w));
    // floor(a / x^16)·x: degree at most 63, in the low qword (the high
    // qword of `a` holds bits 64..79, which the byte shift moves down).
    let t = _mm_slli_epi64::<1>(_mm_srli_si128::<2>(a));
    // q = high qword of t·mu.
    let q = _mm_clmulepi64_si128::<0x00>(t, mu);
    // q·g: the high qword of `q` times the high one of `k`.
    let qg = _mm_clmulepi64_si128::<0x11>(q, k);
    _mm_cvtsi128_si32(_mm_xor_si128(a, qg)) as u16
}
