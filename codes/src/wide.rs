//! Syndrome tests of eight words at a time, for scans such as a scrub:
//! [`Matrix::first_dirty`] finds the first word of a run that is not a
//! codeword, [`Matrix::dirty8`] tells which of eight words are not, and
//! [`WideBackend`] which implementation they run.
//!
//! On x86-64 with AVX-512 (`AVX512F` and `AVX512_VPOPCNTDQ`, detected at
//! run time with the `std` feature, else known from the build's target
//! features), the eight words sit in one 512-bit register: for each of the
//! matrix's (at most 8) rows, `VPANDQ` with the row and `VPOPCNTQ` give the
//! row's count in every word, ORed together; `VPTESTMQ` with 1 then sets
//! bit `i` exactly when some row has odd parity in word `i`, i.e. when its
//! syndrome is nonzero: 28 vector instructions for eight words, the rows
//! kept in registers through a scan. Everywhere else
//! (and with `ECCMAP_PORTABLE` set in the environment, which CI uses to
//! test the fallback on a CPU that has the fast path) it is eight table
//! syndromes ([`Matrix::dirty8_portable`], [`Matrix::first_dirty_portable`]).
//!
//! The AVX-512 path needs Rust 1.89 (stable AVX-512 intrinsics); the build
//! script enables it there (`cfg(eccmap_avx512)`). All of this module's
//! `unsafe` code is in its `avx512` submodule.

use crate::Matrix;

/// The implementation [`Matrix::dirty8`] runs in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WideBackend {
    /// Eight table syndromes ([`Matrix::dirty8_portable`]), any target.
    Portable,
    /// AVX-512: `VPANDQ`, `VPOPCNTQ`, `VPORQ` per row, one `VPTESTMQ`.
    Avx512,
}

impl WideBackend {
    /// The backend of this process, chosen on first use: AVX-512 where the
    /// CPU has it (with the `std` feature; without it, where the build
    /// enables the target features), unless the environment variable
    /// `ECCMAP_PORTABLE` is set (to anything); otherwise portable.
    #[inline]
    pub fn get() -> WideBackend {
        #[cfg(all(eccmap_avx512, target_arch = "x86_64"))]
        if avx512::Avx512::get().is_some() {
            return WideBackend::Avx512;
        }
        WideBackend::Portable
    }
}

impl Matrix {
    /// Bit `i` set if `words[i]` has a nonzero linear syndrome `H·w` (the
    /// coset not applied: XOR the encoding of 0 into a word first to test
    /// it against the code's coset), over codeword bits `0..code_bits()`
    /// (higher bits ignored). The same answer as
    /// [`dirty8_portable`](Self::dirty8_portable), on the backend of
    /// [`WideBackend::get`].
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline]
    pub fn dirty8(&self, words: &[u64; 8]) -> u8 {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        #[cfg(all(eccmap_avx512, target_arch = "x86_64"))]
        if let Some(fast) = avx512::Avx512::get() {
            return fast.dirty8(self.rows(), words);
        }
        self.dirty8_portable(words)
    }

    /// The first index `i` in `0..count` whose word `word(i)` has a nonzero
    /// linear syndrome (as [`dirty8`](Self::dirty8) tests it), or `count`
    /// if there is none: a scan, eight words per step on the AVX-512
    /// backend. `word` is called once for each index, in increasing order,
    /// from 0 up to at most the end of the eight-word step that holds the
    /// answer (so it may step a state of its own, such as a key class).
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline]
    pub fn first_dirty(&self, count: usize, word: impl FnMut(usize) -> u64) -> usize {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        #[cfg(all(eccmap_avx512, target_arch = "x86_64"))]
        if let Some(fast) = avx512::Avx512::get() {
            return fast.first_dirty(self, count, word);
        }
        self.first_dirty_portable(count, word)
    }

    /// [`first_dirty`](Self::first_dirty) by table syndromes, one word at a
    /// time, on any target.
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline]
    pub fn first_dirty_portable(&self, count: usize, mut word: impl FnMut(usize) -> u64) -> usize {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        let m = crate::mask(self.code_bits());
        (0..count)
            .find(|&i| self.linear_syndrome(word(i) & m) != 0)
            .unwrap_or(count)
    }

    /// [`dirty8`](Self::dirty8) by eight table syndromes, on any target.
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline]
    pub fn dirty8_portable(&self, words: &[u64; 8]) -> u8 {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        let mut dirty = 0u8;
        for (i, &w) in words.iter().enumerate() {
            dirty |= u8::from(self.linear_syndrome(w & crate::mask(self.code_bits())) != 0) << i;
        }
        dirty
    }
}

// Compiled only where the build script found Rust 1.89 or later, whose
// AVX-512 intrinsics the crate's MSRV (1.85) does not have.
#[cfg(all(eccmap_avx512, target_arch = "x86_64"))]
#[allow(clippy::incompatible_msrv)]
mod avx512 {
    //! Soundness rests on one invariant: an [`Avx512`] value exists only
    //! once the CPU is known to have `avx512f` and `avx512vpopcntdq`,
    //! because its one constructor, [`Avx512::get`], checks that first.
    //! Every call of the `#[target_feature]` function goes through one.

    use super::Matrix;
    use core::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_loadu_epi64, _mm512_or_si512, _mm512_popcnt_epi64,
        _mm512_set1_epi64, _mm512_setzero_si512, _mm512_test_epi64_mask,
    };
    use core::sync::atomic::{AtomicU8, Ordering};

    /// Proof that the running CPU has `avx512f` and `avx512vpopcntdq`. The
    /// private field keeps every other module from building one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512(());

    /// The choice, made once: 0 not yet, 1 portable, 2 AVX-512.
    static CHOICE: AtomicU8 = AtomicU8::new(0);

    impl Avx512 {
        /// `Some` if this process uses the AVX-512 path (see
        /// [`WideBackend::get`](super::WideBackend::get)).
        #[inline]
        pub(super) fn get() -> Option<Avx512> {
            let c = match CHOICE.load(Ordering::Relaxed) {
                0 => Self::choose(),
                c => c,
            };
            (c == 2).then_some(Avx512(()))
        }

        #[cold]
        fn choose() -> u8 {
            #[cfg(feature = "std")]
            let found = std::env::var_os("ECCMAP_PORTABLE").is_none()
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vpopcntdq");
            #[cfg(not(feature = "std"))]
            let found = cfg!(all(
                target_feature = "avx512f",
                target_feature = "avx512vpopcntdq"
            ));
            let c = if found { 2 } else { 1 };
            CHOICE.store(c, Ordering::Relaxed);
            c
        }

        /// [`Matrix::first_dirty`] on this backend.
        #[inline(always)]
        pub(super) fn first_dirty(
            self,
            m: &Matrix,
            count: usize,
            word: impl FnMut(usize) -> u64,
        ) -> usize {
            // SAFETY: `first_dirty` needs the `avx512f` and `avx512vpopcntdq`
            // target features; `self` is an `Avx512`, which only `get`
            // builds, and only after finding both on this CPU (or in the
            // build's enabled target features). It reads only through `m`
            // and `word`.
            unsafe { first_dirty(m, count, word) }
        }

        /// Bit `i` set if some row of `rows` has odd parity in `words[i]`.
        #[inline(always)]
        pub(super) fn dirty8(self, rows: &[u64; 8], words: &[u64; 8]) -> u8 {
            // SAFETY: `dirty8` needs the `avx512f` and `avx512vpopcntdq`
            // target features; `self` is an `Avx512`, which only `get`
            // builds, and only after finding both on this CPU (or in the
            // build's enabled target features). It reads only `rows` and
            // `words`, two references to 64 bytes each.
            unsafe { dirty8(rows, words) }
        }
    }

    /// See [`Avx512::dirty8`].
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    unsafe fn dirty8(rows: &[u64; 8], words: &[u64; 8]) -> u8 {
        // SAFETY: `words` is a reference to 8 `u64`, 64 readable bytes;
        // the load has no alignment requirement.
        let x = unsafe { _mm512_loadu_epi64(words.as_ptr().cast()) };
        kernel(rows, x)
    }

    /// Bit `i` set if some row of `rows` has odd parity in lane `i` of `x`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    fn kernel(rows: &[u64; 8], x: __m512i) -> u8 {
        let mut acc = _mm512_setzero_si512();
        // All eight rows (those past the code's last are 0): a fixed trip
        // count, so a scan keeps the broadcast rows in registers.
        for &row in rows {
            let hits = _mm512_and_si512(x, _mm512_set1_epi64(row as i64));
            acc = _mm512_or_si512(acc, _mm512_popcnt_epi64(hits));
        }
        // Bit 0 of `acc` in word `i`: some row's count was odd.
        _mm512_test_epi64_mask(acc, _mm512_set1_epi64(1))
    }

    /// See [`Matrix::first_dirty`].
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    unsafe fn first_dirty(m: &Matrix, count: usize, word: impl FnMut(usize) -> u64) -> usize {
        // A local copy, whose state the compiler keeps in registers.
        let mut word = word;
        let rows = m.rows();
        let mut i = 0;
        while count - i >= 8 {
            let mut x = [0u64; 8];
            for (k, x) in x.iter_mut().enumerate() {
                *x = word(i + k);
            }
            // SAFETY: `x` is 8 `u64`, 64 readable bytes; the load has no
            // alignment requirement.
            let v = unsafe { _mm512_loadu_epi64(x.as_ptr().cast()) };
            let dirty = kernel(rows, v);
            if dirty != 0 {
                return i + dirty.trailing_zeros() as usize;
            }
            i += 8;
        }
        let mask = crate::mask(m.code_bits());
        while i < count {
            if m.linear_syndrome(word(i) & mask) != 0 {
                return i;
            }
            i += 1;
        }
        count
    }
}
