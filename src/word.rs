//! Storage words: the value type of one atomic cell of a map's storage, its
//! bit operations and its atomic type. The page logic (`engine.rs`) is
//! written once over [`Word`]; a map's word is chosen by its code
//! ([`WordCode`]) or, for the plain and dual bitmaps, is the target's
//! [`NativeWord`].

use crate::primitive::Ordering;
use core::fmt::Debug;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Not, Shl, Shr};
use eccmap_codes::LaneCode;

#[allow(unreachable_pub)]
mod sealed {
    pub trait Sealed {}
}

/// The value type of a storage word (`u32`, or `u64` where the target has
/// 64-bit atomics): the bit operations the page logic uses, and the atomic
/// cell it is stored in. A page mask of a map is a value of its word type
/// (bit `o` is the word's page `o`). Sealed: implemented here only.
pub trait Word:
    sealed::Sealed
    + Copy
    + Eq
    + Debug
    + Default
    + Send
    + Sync
    + 'static
    + BitAnd<Output = Self>
    + BitAndAssign
    + BitOr<Output = Self>
    + BitOrAssign
    + BitXor<Output = Self>
    + BitXorAssign
    + Not<Output = Self>
    + Shl<usize, Output = Self>
    + Shr<usize, Output = Self>
{
    /// Bits in the word.
    const BITS: u32;
    /// No bit set.
    const ZERO: Self;
    /// Every bit set.
    const ONES: Self;
    /// The atomic cell the word is stored in (`core`'s, or loom's under
    /// `--cfg loom`).
    type Atomic: AtomicWord<Self>;
    /// The low `n` bits set; every bit for `n >= BITS`.
    fn low(n: usize) -> Self;
    /// Only bit `o` set (`o < BITS`).
    fn bit(o: usize) -> Self;
    /// `v` zero-extended or truncated to the word.
    fn from_u64(v: u64) -> Self;
    /// The word's low 64 bits (all of it, for a word of 64 bits or fewer).
    fn low_u64(self) -> u64;
    /// As the primitive's `trailing_zeros`.
    fn trailing_zeros(self) -> u32;
    /// As the primitive's `leading_zeros`.
    fn leading_zeros(self) -> u32;
    /// As the primitive's `count_ones`.
    fn count_ones(self) -> u32;
    /// As the primitive's `is_power_of_two`.
    fn is_power_of_two(self) -> bool;
    /// As the primitive's `wrapping_neg`.
    fn wrapping_neg(self) -> Self;
    /// As the primitive's `wrapping_sub`.
    fn wrapping_sub(self, rhs: Self) -> Self;
}

/// The atomic operations a map performs on a storage cell holding a `W`:
/// those of `core`'s atomic integer of the same width. Sealed.
pub trait AtomicWord<W>: sealed::Sealed + Send + Sync + Sized + 'static {
    /// A cell holding `v`.
    fn new(v: W) -> Self;
    /// As the atomic's `load`.
    fn load(&self, order: Ordering) -> W;
    /// As the atomic's `store`.
    fn store(&self, v: W, order: Ordering);
    /// As the atomic's `compare_exchange`.
    ///
    /// # Errors
    /// The value found, if it was not `cur` (nothing is written).
    fn compare_exchange(&self, cur: W, new: W, ok: Ordering, err: Ordering) -> Result<W, W>;
    /// As the atomic's `compare_exchange_weak`.
    ///
    /// # Errors
    /// The value found, if it was not `cur` or the exchange failed
    /// spuriously (nothing is written).
    fn compare_exchange_weak(&self, cur: W, new: W, ok: Ordering, err: Ordering) -> Result<W, W>;
    /// As the atomic's `fetch_xor`.
    fn fetch_xor(&self, v: W, order: Ordering) -> W;
    /// As the atomic's `fetch_or`.
    fn fetch_or(&self, v: W, order: Ordering) -> W;
    /// As the atomic's `fetch_and`.
    fn fetch_and(&self, v: W, order: Ordering) -> W;
}

macro_rules! word {
    ($t:ty, $atomic:ty) => {
        impl sealed::Sealed for $t {}
        impl sealed::Sealed for $atomic {}
        impl Word for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: $t = 0;
            const ONES: $t = <$t>::MAX;
            type Atomic = $atomic;
            #[inline(always)]
            fn low(n: usize) -> $t {
                if n >= <$t>::BITS as usize {
                    <$t>::MAX
                } else {
                    (1 << n) - 1
                }
            }
            #[inline(always)]
            fn bit(o: usize) -> $t {
                1 << o
            }
            #[inline(always)]
            fn from_u64(v: u64) -> $t {
                v as $t
            }
            #[inline(always)]
            fn low_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn trailing_zeros(self) -> u32 {
                <$t>::trailing_zeros(self)
            }
            #[inline(always)]
            fn leading_zeros(self) -> u32 {
                <$t>::leading_zeros(self)
            }
            #[inline(always)]
            fn count_ones(self) -> u32 {
                <$t>::count_ones(self)
            }
            #[inline(always)]
            fn is_power_of_two(self) -> bool {
                <$t>::is_power_of_two(self)
            }
            #[inline(always)]
            fn wrapping_neg(self) -> $t {
                <$t>::wrapping_neg(self)
            }
            #[inline(always)]
            fn wrapping_sub(self, rhs: $t) -> $t {
                <$t>::wrapping_sub(self, rhs)
            }
        }
        impl AtomicWord<$t> for $atomic {
            #[inline(always)]
            fn new(v: $t) -> Self {
                <$atomic>::new(v)
            }
            #[inline(always)]
            fn load(&self, order: Ordering) -> $t {
                <$atomic>::load(self, order)
            }
            #[inline(always)]
            fn store(&self, v: $t, order: Ordering) {
                <$atomic>::store(self, v, order)
            }
            #[inline(always)]
            fn compare_exchange(
                &self,
                cur: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$atomic>::compare_exchange(self, cur, new, ok, err)
            }
            #[inline(always)]
            fn compare_exchange_weak(
                &self,
                cur: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$atomic>::compare_exchange_weak(self, cur, new, ok, err)
            }
            #[inline(always)]
            fn fetch_xor(&self, v: $t, order: Ordering) -> $t {
                <$atomic>::fetch_xor(self, v, order)
            }
            #[inline(always)]
            fn fetch_or(&self, v: $t, order: Ordering) -> $t {
                <$atomic>::fetch_or(self, v, order)
            }
            #[inline(always)]
            fn fetch_and(&self, v: $t, order: Ordering) -> $t {
                <$atomic>::fetch_and(self, v, order)
            }
        }
    };
}

word!(u32, crate::primitive::AtomicU32);
#[cfg(target_has_atomic = "64")]
word!(u64, crate::primitive::AtomicU64);

/// The word of the plain and dual bitmaps: the target's native word, as the
/// baseline's `unsigned long`. `u64` where pointers are 64 bits and 64-bit
/// atomics exist.
#[cfg(all(target_has_atomic = "64", target_pointer_width = "64"))]
pub type NativeWord = u64;
/// The word of the plain and dual bitmaps: the target's native word, as the
/// baseline's `unsigned long`. `u32` where pointers are 32 bits or 64-bit
/// atomics do not exist.
#[cfg(not(all(target_has_atomic = "64", target_pointer_width = "64")))]
pub type NativeWord = u32;

/// A code and the storage word its map keeps it in:
/// [`EccBitmap<C>`](crate::EccBitmap) packs `C::Word::BITS / C::CODE_BITS`
/// codewords into each storage word, and updates a word by one
/// compare-and-swap of that width.
///
/// | code | word | codewords per word | pages per word |
/// |---|---|---|---|
/// | `Secded32` | `u32` | 1 | 26 |
/// | `Secded64`, `Secded64Burst` | `u64` (only where 64-bit atomics exist) | 1 | 57, 56 |
/// | `Hamming84` | `u64` (`u32` without 64-bit atomics) | 8 (4) | 32 (16) |
/// | `Hamming74` | `u64` (`u32` without 64-bit atomics) | 9 (4) | 36 (16) |
///
/// A code of your own gets a map by implementing this trait.
pub trait WordCode: LaneCode {
    /// The storage word (at least `CODE_BITS` wide).
    type Word: Word;
}

impl WordCode for eccmap_codes::Secded32 {
    type Word = u32;
}
#[cfg(target_has_atomic = "64")]
impl WordCode for eccmap_codes::Secded64 {
    type Word = u64;
}
#[cfg(target_has_atomic = "64")]
impl WordCode for eccmap_codes::Secded64Burst {
    type Word = u64;
}
#[cfg(target_has_atomic = "64")]
impl WordCode for eccmap_codes::Hamming84 {
    type Word = u64;
}
#[cfg(not(target_has_atomic = "64"))]
impl WordCode for eccmap_codes::Hamming84 {
    type Word = u32;
}
#[cfg(target_has_atomic = "64")]
impl WordCode for eccmap_codes::Hamming74 {
    type Word = u64;
}
#[cfg(not(target_has_atomic = "64"))]
impl WordCode for eccmap_codes::Hamming74 {
    type Word = u32;
}
