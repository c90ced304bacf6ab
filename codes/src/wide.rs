//! Syndrome tests of eight words at a time, for scans such as a scrub:
//! [`Matrix::first_dirty`] finds the first word of a run that is not a
//! codeword, [`Matrix::first_dirty_in`] the same over a slice of atomic
//! words with their keys from a [`KeyRing`] (a map's scrub), [`Matrix::dirty8`]
//! tells which of eight words are not, and [`WideBackend`] which
//! implementation they run.
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
//! [`Matrix::first_dirty_in`] reads the storage itself, eight words by one
//! aligned vector load (the module docs of the AVX-512 path say why that
//! is eight relaxed loads), and XORs each word's key from a [`KeyRing`]
//! by one more vector load. Where the CPU also has `GFNI`, `AVX512_VBMI`
//! and `AVX512BW` (unless `ECCMAP_NO_GFNI` is set in the environment, so
//! that tests can reach the `VPOPCNTQ` kernel on such a CPU), it tests 32
//! words per step: for each eight, one `VPERMB` puts byte `b` of every
//! word in lane `b`, one `VGF2P8AFFINEQB` multiplies it by the 8x8 bit
//! matrix of byte `b`'s share of the syndrome, and the four vectors' lanes
//! are XOR-folded into the 32 syndromes (7 shuffles, 4 XORs) and tested by
//! one `VPTESTMB`: about 7 vector instructions per eight words, against
//! the `VPOPCNTQ` kernel's 24. The rest of a run (under 32 words) takes
//! eight-word `VPOPCNTQ` steps, then single words.
//!
//! The AVX-512 path needs Rust 1.89 (stable AVX-512 intrinsics); the build
//! script enables it there (`cfg(eccmap_avx512)`). All of this module's
//! `unsafe` code is in its `avx512` submodule.

use crate::Matrix;
#[cfg(target_has_atomic = "64")]
use core::sync::atomic::{AtomicU64, Ordering};

/// The implementation [`Matrix::dirty8`] runs in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WideBackend {
    /// Eight table syndromes ([`Matrix::dirty8_portable`]), any target.
    Portable,
    /// AVX-512: `VPANDQ`, `VPOPCNTQ`, `VPORQ` per row, one `VPTESTMQ`
    /// (and for [`Matrix::first_dirty_in`], `VPERMB` and `VGF2P8AFFINEQB`
    /// where the CPU has GFNI and AVX512-VBMI: see the module docs).
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

/// The patterns a scan XORs into the words it tests, repeating with a
/// period: word `i` of a scan that starts at class `c` gets
/// [`key((c + i) % period)`](Self::key) (a map keyed to the word index keeps
/// its keys so, and an unkeyed map has period 1). Kept with the first
/// seven keys repeated past the period, so that the keys of any eight
/// consecutive words are eight consecutive entries, one vector load from
/// any class.
#[derive(Clone)]
pub struct KeyRing {
    /// `keys[c]` for `c < period`, then `keys[period + j] == keys[j]` for
    /// `j < 7`; 0 past that.
    keys: [u64; KeyRing::MAX_PERIOD + 7],
    period: usize,
}

impl KeyRing {
    /// The longest period a ring holds (a longer one is refused).
    pub const MAX_PERIOD: usize = 128;

    /// The ring of period `period` whose class `c` has the key `key(c)`
    /// (called once for each `c` in `0..period`, in order), or `None` if
    /// `period` is 0 or over [`MAX_PERIOD`](Self::MAX_PERIOD).
    #[inline]
    pub fn new(period: usize, mut key: impl FnMut(usize) -> u64) -> Option<KeyRing> {
        if period == 0 || period > Self::MAX_PERIOD {
            return None;
        }
        let mut keys = [0u64; Self::MAX_PERIOD + 7];
        for (c, k) in keys[..period].iter_mut().enumerate() {
            *k = key(c);
        }
        for j in period..period + 7 {
            keys[j] = keys[j % period];
        }
        Some(KeyRing { keys, period })
    }

    /// The period.
    #[inline]
    pub fn period(&self) -> usize {
        self.period
    }

    /// The key of class `class`.
    ///
    /// # Panics
    /// If `class >= period()`.
    #[inline]
    pub fn key(&self, class: usize) -> u64 {
        assert!(class < self.period, "key class past the period");
        self.keys[class]
    }

    /// The keys of classes `class..class + 8` (modulo the period).
    #[cfg_attr(
        not(all(eccmap_avx512, target_arch = "x86_64", target_feature = "sse2")),
        allow(dead_code)
    )]
    #[inline(always)]
    fn window(&self, class: usize) -> &[u64; 8] {
        debug_assert!(class < self.period);
        // `class < period <= MAX_PERIOD`: in bounds (one compare, which
        // the scan's invariant keeps from failing).
        let w: &[u64] = &self.keys[class..class + 8];
        w.try_into().expect("eight keys")
    }
}

impl core::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyRing")
            .field("period", &self.period)
            .field("keys", &&self.keys[..self.period])
            .finish()
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

    /// The first index `i` of `words` whose word, loaded with relaxed
    /// ordering and XORed with its key, has a nonzero linear syndrome (as
    /// [`dirty8`](Self::dirty8) tests it), or `words.len()` if there is
    /// none. Word `i`'s key is `ring.key((class + i) % ring.period())`: a
    /// map's scrub passes `key ^ encoding of 0` so that exactly its clean
    /// words pass. On the AVX-512 backend, 8 or 32 words per step: one
    /// vector load per eight words (the module docs say why that is eight
    /// relaxed loads), one of their keys, the syndrome test. Each word is
    /// read once, in increasing order, up to at most the end of the step
    /// that holds the answer; the loads order nothing (relaxed): a caller
    /// that acts on a word found dirty loads it again.
    ///
    /// # Panics
    /// If the code is wider than 64 bits, or `class >= ring.period()`.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub fn first_dirty_in(&self, words: &[AtomicU64], ring: &KeyRing, class: usize) -> usize {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        assert!(class < ring.period, "key class past the period");
        #[cfg(all(eccmap_avx512, target_arch = "x86_64", target_feature = "sse2"))]
        if let Some(fast) = avx512::Avx512::get() {
            return fast.first_dirty_in(self, words, ring, class);
        }
        self.first_dirty_in_portable(words, ring, class)
    }

    /// [`first_dirty_in`](Self::first_dirty_in) by table syndromes, one
    /// word at a time, on any target.
    ///
    /// # Panics
    /// If the code is wider than 64 bits, or `class >= ring.period()`.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub fn first_dirty_in_portable(
        &self,
        words: &[AtomicU64],
        ring: &KeyRing,
        class: usize,
    ) -> usize {
        assert!(self.code_bits() <= 64, "code wider than 64 bits");
        assert!(class < ring.period, "key class past the period");
        let m = crate::mask(self.code_bits());
        let mut class = class;
        for (i, w) in words.iter().enumerate() {
            if self.linear_syndrome((w.load(Ordering::Relaxed) ^ ring.keys[class]) & m) != 0 {
                return i;
            }
            class += 1;
            if class == ring.period {
                class = 0;
            }
        }
        words.len()
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
    //! once the CPU is known to have `avx512f` and `avx512vpopcntdq` (and,
    //! if its `gfni` field is true, `avx512bw`, `avx512vbmi` and `gfni`),
    //! because its one constructor, [`Avx512::get`], checks that first.
    //! Every call of a `#[target_feature]` function goes through one.
    //!
    //! # Eight atomic words by one vector load
    //!
    //! [`first_dirty_in`] reads eight `AtomicU64` cells with one
    //! `vmovdqa64` (inline assembly, 64-byte aligned: the scan first goes
    //! word by word up to a cache-line boundary), and treats the result as
    //! eight `load(Relaxed)`s. Why that is sound:
    //!
    //! - Rust: the assembly is opaque to the compiler, which must assume it
    //!   reads the 64 bytes it is given (and nothing else: `readonly`,
    //!   `nostack`) in whatever way the hardware does; there is no Rust-level
    //!   non-atomic access for the optimiser to exploit. What we owe is that
    //!   the hardware's read is one that eight relaxed atomic loads could
    //!   give: relaxed loads of distinct cells order nothing among
    //!   themselves, so any order, or one read of all eight, qualifies; only
    //!   a torn cell (half of one store, half of another) would not.
    //! - x86: the Intel SDM (vol. 3A, 9.1.1 "Guaranteed Atomic Operations";
    //!   AMD APM vol. 2, 7.3.2, alike) guarantees that a read of a quadword
    //!   aligned on a 64-bit boundary is atomic. Each lane here is such a
    //!   quadword (`AtomicU64` is 8-byte aligned) inside one cache line (the
    //!   load is line-aligned). The SDM adds that an SSE/AVX access wider
    //!   than a quadword "may be implemented using multiple memory
    //!   accesses", without naming their granularity: it is the read of one
    //!   cache line on every implementation (a line is the unit of
    //!   coherence), and never finer than the aligned quadword, so no lane
    //!   tears; that is established practice, not a sentence of the manual.
    //! - Consequence if it were ever false: a scan value is only a verdict
    //!   "looks clean" or "looks dirty". Nothing is written from it: a word
    //!   found dirty is loaded again (acquire) and decoded by `scrub_word`
    //!   before anything is repaired or reported, so a torn read could at
    //!   worst delay the detection of a fault to the next scrub.
    //!
    //! The alternative, eight relaxed scalar loads put together into a
    //! vector (the compiler makes 8 `mov`, 8 `vmovq`, 4 `vpunpcklqdq` and 3
    //! inserts of them, no store to the stack), measured 2.1 to 2.3 times
    //! slower on `scrub_4mi` (Intel Xeon, family 6, model 207): the 15
    //! shuffles compete for the port the syndrome test needs.

    use super::Matrix;
    use core::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_loadu_epi64, _mm512_or_si512, _mm512_popcnt_epi64,
        _mm512_set1_epi64, _mm512_setzero_si512, _mm512_test_epi64_mask,
    };
    use core::sync::atomic::{AtomicU8, Ordering};

    /// Proof that the running CPU has `avx512f` and `avx512vpopcntdq`, and
    /// if `gfni`, also `avx512bw`, `avx512vbmi` and `gfni`. The private
    /// fields keep every other module from building one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512 {
        #[cfg_attr(not(target_feature = "sse2"), allow(dead_code))]
        gfni: bool,
    }

    /// The choice, made once: 0 not yet, 1 portable, 2 AVX-512, 3 AVX-512
    /// with GFNI and VBMI.
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
            (c >= 2).then_some(Avx512 { gfni: c == 3 })
        }

        #[cold]
        fn choose() -> u8 {
            #[cfg(feature = "std")]
            let (found, gfni) = (
                std::env::var_os("ECCMAP_PORTABLE").is_none()
                    && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vpopcntdq"),
                std::env::var_os("ECCMAP_NO_GFNI").is_none()
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vbmi")
                    && std::is_x86_feature_detected!("gfni"),
            );
            #[cfg(not(feature = "std"))]
            let (found, gfni) = (
                cfg!(all(
                    target_feature = "avx512f",
                    target_feature = "avx512vpopcntdq"
                )),
                cfg!(all(
                    target_feature = "avx512bw",
                    target_feature = "avx512vbmi",
                    target_feature = "gfni"
                )),
            );
            let c = match (found, gfni) {
                (false, _) => 1,
                (true, false) => 2,
                (true, true) => 3,
            };
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

    /// The scan over atomic words ([`Matrix::first_dirty_in`]). Only where
    /// the target has SSE2, i.e. vector registers in its ABI: for a
    /// soft-float target (x86_64-unknown-none) LLVM cannot build it (it
    /// could never run there: such a kernel keeps the vector state off),
    /// and `first_dirty_in` takes the portable path.
    #[cfg(target_feature = "sse2")]
    mod scan {
        use super::super::KeyRing;
        use super::{kernel, Avx512, Matrix};
        use core::arch::x86_64::{
            __m512i, _mm512_gf2p8affine_epi64_epi8, _mm512_loadu_epi64, _mm512_loadu_si512,
            _mm512_permutexvar_epi8, _mm512_shuffle_epi32, _mm512_shuffle_i64x2,
            _mm512_test_epi8_mask, _mm512_xor_si512, _MM_PERM_BADC,
        };
        use core::sync::atomic::AtomicU64;

        impl Avx512 {
            /// [`Matrix::first_dirty_in`] on this backend.
            #[inline(always)]
            pub(in super::super) fn first_dirty_in(
                self,
                m: &Matrix,
                words: &[AtomicU64],
                ring: &KeyRing,
                class: usize,
            ) -> usize {
                // SAFETY: `first_dirty_in` needs the `avx512f` and
                // `avx512vpopcntdq` target features, and `avx512bw`,
                // `avx512vbmi` and `gfni` if passed `gfni = true`; `self` is an
                // `Avx512`, which only `get` builds, and only after finding
                // those on this CPU (or in the build's enabled target
                // features). It reads only through `m`, `words` and `ring`.
                unsafe { first_dirty_in(m, words, ring, class, self.gfni) }
            }
        }

        /// Eight consecutive atomic words (`&[AtomicU64; 8]`), loaded with
        /// relaxed ordering, as one vector (lane `i` = `cells[i]`): one
        /// `vmovdqa64`. It needs an `unsafe` block whose caller promises that
        /// the cells are 64-byte aligned and that the CPU has `avx512f` (the
        /// enclosing function enables it): a macro, so that promise is made
        /// at each use.
        macro_rules! load8 {
            ($cells:expr) => {{
                let cells: &[AtomicU64; 8] = $cells;
                debug_assert!((cells.as_ptr() as usize).is_multiple_of(64));
                let v: __m512i;
                // As eight relaxed loads of the cells: see the module docs.
                // `cells` is 64 readable bytes, 64-byte aligned (the caller's
                // promise, which `vmovdqa64` needs); the instruction reads
                // them and nothing else, and writes no memory, no stack and no
                // flags.
                core::arch::asm!(
                    "vmovdqa64 {v}, zmmword ptr [{p}]",
                    p = in(reg) cells.as_ptr(),
                    v = out(zmm_reg) v,
                    options(readonly, nostack, preserves_flags),
                );
                v
            }};
        }

        /// `(class + n) % period`, for `class < period`.
        #[inline(always)]
        fn advance(class: usize, n: usize, period: usize) -> usize {
            (class + n % period) % period
        }

        /// See [`Matrix::first_dirty_in`]: word by word up to a cache-line
        /// boundary, then 32 words per step by GFNI (if `gfni`), eight per step
        /// by `VPOPCNTQ`, and the last few word by word.
        ///
        /// # Safety
        /// The CPU must have `avx512f` and `avx512vpopcntdq`, and if `gfni`,
        /// `avx512bw`, `avx512vbmi` and `gfni`.
        #[target_feature(enable = "avx512f,avx512vpopcntdq")]
        unsafe fn first_dirty_in(
            m: &Matrix,
            words: &[AtomicU64],
            ring: &KeyRing,
            class: usize,
            gfni: bool,
        ) -> usize {
            let period = ring.period;
            // Words before the first 64-byte boundary (the cells are 8-byte
            // aligned, so this is exact).
            let head = ((words.as_ptr() as usize).wrapping_neg() % 64 / 8).min(words.len());
            let found = m.first_dirty_in_portable(&words[..head], ring, class);
            if found < head {
                return found;
            }
            let mut i = head;
            let mut class = advance(class, head, period);
            if gfni {
                // SAFETY: the caller's promise for `gfni`; `words[i..]` starts
                // on a 64-byte boundary.
                let (found, done) = unsafe { scan32(m, &words[i..], ring, class) };
                if found {
                    return i + done;
                }
                i += done;
                class = advance(class, done, period);
            }
            let rows = m.rows();
            // The class of the next step's first word advances by 8 modulo the
            // period.
            let step = 8 % period;
            let mut chunks = words[i..].chunks_exact(8);
            for chunk in &mut chunks {
                let Ok(cells) = <&[AtomicU64; 8]>::try_from(chunk) else {
                    break;
                };
                let keys = ring.window(class);
                // SAFETY: `keys` is 8 `u64`, 64 readable bytes; the load has no
                // alignment requirement.
                let k = unsafe { _mm512_loadu_epi64(keys.as_ptr().cast()) };
                // SAFETY: `cells` starts on a 64-byte boundary (word `i` does:
                // the head ends on one, and the GFNI and these steps are
                // multiples of 64 bytes); the CPU has `avx512f` (this
                // function's promise).
                let x = unsafe { load8!(cells) };
                let dirty = kernel(rows, _mm512_xor_si512(x, k));
                if dirty != 0 {
                    return i + dirty.trailing_zeros() as usize;
                }
                i += 8;
                class = add_mod(class, step, period);
            }
            i + m.first_dirty_in_portable(chunks.remainder(), ring, class)
        }

        /// The GFNI matrices of `rows`: lane `b` maps byte `b` of a word to its
        /// share of the syndrome (`VGF2P8AFFINEQB` takes output bit `j`'s row
        /// from byte `7 - j` of the lane).
        #[inline(always)]
        fn affine_matrices(rows: &[u64; 8]) -> [u64; 8] {
            let mut a = [0u64; 8];
            for (b, a) in a.iter_mut().enumerate() {
                for (j, &row) in rows.iter().enumerate() {
                    *a |= (row >> (8 * b) & 0xff) << (8 * (7 - j));
                }
            }
            a
        }

        /// The `VPERMB` index that transposes eight words' bytes: lane `b`,
        /// byte `i` of the result is byte `b` of word `i`.
        const TRANSPOSE: [u8; 64] = {
            let mut t = [0u8; 64];
            let mut p = 0;
            while p < 64 {
                t[p] = ((p % 8) * 8 + p / 8) as u8;
                p += 1;
            }
            t
        };

        /// 32 words per step: for each eight, one `VPERMB` puts byte `b` of
        /// every word in lane `b`, one `VGF2P8AFFINEQB` maps it to its share of
        /// the syndrome (per-lane matrices); the four vectors' lanes are then
        /// XOR-folded together (7 shuffles, 4 XORs) into the 32 syndromes, one
        /// byte each, tested at once. Returns `(true, i)` for the first dirty
        /// word `i`, or `(false, n)` with `n` the words tested (a multiple of
        /// 32), all clean.
        ///
        /// # Safety
        /// The CPU must have `avx512f`, `avx512bw`, `avx512vbmi` and `gfni`;
        /// `words` must start on a 64-byte boundary.
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,gfni")]
        unsafe fn scan32(
            m: &Matrix,
            words: &[AtomicU64],
            ring: &KeyRing,
            class: usize,
        ) -> (bool, usize) {
            let period = ring.period;
            let step8 = 8 % period;
            let mut class = class;
            let a = affine_matrices(m.rows());
            // SAFETY: `a` and `TRANSPOSE` are 64 readable bytes each; the loads
            // have no alignment requirement.
            let a = unsafe { _mm512_loadu_si512(a.as_ptr().cast()) };
            // SAFETY: as above.
            let t = unsafe { _mm512_loadu_si512(TRANSPOSE.as_ptr().cast()) };
            // The syndrome shares of eight words keyed by `keys`: lane `b`,
            // byte `i` is byte `b` of word `i`'s share of its syndrome. Needs
            // an `unsafe` block whose caller promises that `cells` is 64-byte
            // aligned (as `load8`).
            macro_rules! shares {
                ($cells:expr, $keys:expr) => {{
                    let keys: &[u64; 8] = $keys;
                    let x =
                        _mm512_xor_si512(load8!($cells), _mm512_loadu_epi64(keys.as_ptr().cast()));
                    _mm512_gf2p8affine_epi64_epi8::<0>(_mm512_permutexvar_epi8(t, x), a)
                }};
            }
            let mut chunks = words.chunks_exact(32);
            let mut i = 0;
            for chunk in &mut chunks {
                let Ok(cells) = <&[[AtomicU64; 8]; 4]>::try_from(chunk.as_chunks::<8>().0) else {
                    break;
                };
                let c1 = add_mod(class, step8, period);
                let c2 = add_mod(c1, step8, period);
                let c3 = add_mod(c2, step8, period);
                // SAFETY: the CPU has the features (the caller's promise);
                // each `cells[k]` starts on a 64-byte boundary (`words` does,
                // and they lie at multiples of 64 bytes from it); the keys are
                // 64 readable bytes (no alignment needed).
                let s0 = unsafe { shares!(&cells[0], ring.window(class)) };
                // SAFETY: as above.
                let s1 = unsafe { shares!(&cells[1], ring.window(c1)) };
                // SAFETY: as above.
                let s2 = unsafe { shares!(&cells[2], ring.window(c2)) };
                // SAFETY: as above.
                let s3 = unsafe { shares!(&cells[3], ring.window(c3)) };
                // Fold 256-bit halves: [s0 lo^hi, s1 lo^hi] in 128-bit blocks.
                let p01 = _mm512_xor_si512(
                    _mm512_shuffle_i64x2::<0b01_00_01_00>(s0, s1),
                    _mm512_shuffle_i64x2::<0b11_10_11_10>(s0, s1),
                );
                let p23 = _mm512_xor_si512(
                    _mm512_shuffle_i64x2::<0b01_00_01_00>(s2, s3),
                    _mm512_shuffle_i64x2::<0b11_10_11_10>(s2, s3),
                );
                // Fold 128-bit blocks: block k holds s_k folded to 128 bits.
                let f = _mm512_xor_si512(
                    _mm512_shuffle_i64x2::<0b10_00_10_00>(p01, p23),
                    _mm512_shuffle_i64x2::<0b11_01_11_01>(p01, p23),
                );
                // Fold the two quadwords of each block (both get the result):
                // byte `w` of block `k` is the syndrome of word `8k + w`.
                let g = _mm512_xor_si512(f, _mm512_shuffle_epi32::<_MM_PERM_BADC>(f));
                let dirty = _mm512_test_epi8_mask(g, g);
                if dirty != 0 {
                    let bit = dirty.trailing_zeros() as usize;
                    return (true, i + bit / 16 * 8 + bit % 8);
                }
                i += 32;
                class = add_mod(c3, step8, period);
            }
            (false, i)
        }

        /// `(class + step) % period`, for `class, step < period`: no division.
        #[inline(always)]
        fn add_mod(class: usize, step: usize, period: usize) -> usize {
            let c = class + step;
            if c >= period {
                c - period
            } else {
                c
            }
        }
    }
}
