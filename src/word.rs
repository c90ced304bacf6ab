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

/// The value type of a storage word (`u32`, `u64` where the target has
/// 64-bit atomics, `u128` on x86-64 and aarch64): the bit operations the page logic uses, and the atomic
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
    /// Whether bit `o` is set (`o < BITS`): `self & bit(o) != ZERO`, by a
    /// test of one 64-bit half (a 128-bit mask costs a shift of a pair).
    fn test_bit(self, o: usize) -> bool;
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
    /// Whether the cell's operations are lock-free on this CPU: always for
    /// `core`'s atomics; for [`AtomicU128`](crate::AtomicU128), only where
    /// the CPU has a 16-byte compare-and-swap.
    fn lock_free() -> bool {
        true
    }
    /// The cells as `core`'s [`AtomicU64`](core::sync::atomic::AtomicU64)s,
    /// for the scans of `eccmap-codes` that take those
    /// ([`Matrix::first_dirty_in`](eccmap_codes::Matrix::first_dirty_in)):
    /// `Some` for the 64-bit word on `core`'s atomics, `None` otherwise
    /// (other widths, loom's atomics).
    #[cfg(target_has_atomic = "64")]
    fn core_u64s(cells: &[Self]) -> Option<&[core::sync::atomic::AtomicU64]> {
        let _ = cells;
        None
    }
}

macro_rules! word {
    ($t:ty, $atomic:ty) => {
        word!($t, $atomic, true, $atomic);
    };
    // `$ops`: the type whose associated functions run the atomic's
    // operations (the atomic itself, or `U128Ops`); `$extra`: more methods
    // of the atomic's `AtomicWord` impl.
    ($t:ty, $atomic:ty, $lock_free:expr, $ops:ty $(, { $($extra:tt)* })?) => {
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
            fn test_bit(self, o: usize) -> bool {
                let half = if o >= 64 {
                    self.checked_shr(64).unwrap_or(0) as u64
                } else {
                    self as u64
                };
                (half >> (o & 63)) & 1 != 0
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
                <$ops>::new(v)
            }
            #[inline(always)]
            fn load(&self, order: Ordering) -> $t {
                <$ops>::load(self, order)
            }
            #[inline(always)]
            fn store(&self, v: $t, order: Ordering) {
                <$ops>::store(self, v, order)
            }
            #[inline(always)]
            fn compare_exchange(
                &self,
                cur: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$ops>::compare_exchange(self, cur, new, ok, err)
            }
            #[inline(always)]
            fn compare_exchange_weak(
                &self,
                cur: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$ops>::compare_exchange_weak(self, cur, new, ok, err)
            }
            #[inline(always)]
            fn fetch_xor(&self, v: $t, order: Ordering) -> $t {
                <$ops>::fetch_xor(self, v, order)
            }
            #[inline(always)]
            fn fetch_or(&self, v: $t, order: Ordering) -> $t {
                <$ops>::fetch_or(self, v, order)
            }
            #[inline(always)]
            fn fetch_and(&self, v: $t, order: Ordering) -> $t {
                <$ops>::fetch_and(self, v, order)
            }
            #[inline]
            fn lock_free() -> bool {
                $lock_free
            }
            $($($extra)*)?
        }
    };
}

word!(u32, crate::primitive::AtomicU32);
#[cfg(target_has_atomic = "64")]
word!(
    u64,
    crate::primitive::AtomicU64,
    true,
    crate::primitive::AtomicU64,
    {
        #[cfg(not(loom))]
        #[inline(always)]
        fn core_u64s(cells: &[Self]) -> Option<&[core::sync::atomic::AtomicU64]> {
            Some(cells)
        }
    }
);
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
word!(
    u128,
    crate::primitive::AtomicU128,
    crate::primitive::u128_lock_free(),
    crate::primitive::U128Ops
);

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

/// The verdict on one codeword of a storage word, at the word's width:
/// [`Decoded`](eccmap_codes::Decoded) for any [`MapCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneDecoded<W> {
    /// A codeword; its data bits.
    Clean(W),
    /// One bit was wrong: the data with it flipped back, and the codeword
    /// bit that was wrong (the stored codeword is repaired by flipping it).
    Corrected {
        /// The corrected data.
        data: W,
        /// The wrong codeword bit (check bits included).
        bit: u32,
    },
    /// Not a codeword and not one bit from one.
    Uncorrectable,
}

/// What [`EccBitmap<C, K>`](crate::EccBitmap) needs of its code `C`, at the
/// width of its storage word: the codeword layout and the decode, syndrome
/// and update deltas of one codeword held in the low bits of a word, and
/// the address keys of keying `K`.
///
/// Every [`WordCode`] (a [`LaneCode`] of at most 64 bits, packed into `u32`
/// or `u64` words) is one, by a blanket implementation that converts
/// between the word and the code's `u64`; so is
/// [`Secded128`](eccmap_codes::Secded128), in one `u128` word, on x86-64
/// and aarch64 (see [`Ecc128`](crate::Ecc128)). Implement [`WordCode`] for a
/// lane code of your own; this trait directly for a code wider than 64
/// bits.
pub trait MapCode: Send + Sync + 'static {
    /// The storage word (at least `LANE_BITS` wide).
    type Word: Word;
    /// Human-readable name of the code.
    const NAME: &'static str;
    /// Bits of one codeword (a lane of the word).
    const LANE_BITS: u32;
    /// Data bits (pages) of one codeword.
    const LANE_DATA_BITS: u32;
    /// The coset constant of one codeword, in the word's low `LANE_BITS`
    /// bits.
    fn coset() -> Self::Word;
    /// The syndrome of the codeword in the low `LANE_BITS` bits of `lane`
    /// (higher bits ignored), offset by the coset: 0 for a codeword.
    fn syndrome(lane: Self::Word) -> u32;
    /// Decodes the codeword in the low `LANE_BITS` bits of `lane` (higher
    /// bits must be 0).
    fn decode(lane: Self::Word) -> LaneDecoded<Self::Word>;
    /// The codeword change that flips data bit `bit` (`bit <
    /// LANE_DATA_BITS`).
    fn delta(bit: u32) -> Self::Word;
    /// The codeword change that flips every data bit of `mask` (bits at
    /// and above `LANE_DATA_BITS` ignored).
    fn delta_mask(mask: Self::Word) -> Self::Word;
    /// The pattern keying `K` XORs into storage word `word` (on top of the
    /// code's coset), in every codeword of the word that fits.
    fn key<K: crate::Keying>(word: usize) -> Self::Word;
    /// How often keying `K`'s keys repeat ([`Keying::period`](crate::Keying::period)).
    fn period<K: crate::Keying>() -> usize;
    /// The key of the words of class `class` (`w % period`).
    fn key_of_class<K: crate::Keying>(class: usize) -> Self::Word;
    /// Whether the codeword in the low `LANE_BITS` bits of `lane` is clean:
    /// `syndrome(lane) == 0`, by the code's fastest test.
    #[inline(always)]
    fn is_codeword(lane: Self::Word) -> bool {
        Self::syndrome(lane) == 0
    }
    /// For a code of one codeword per word that has a scan of its own (the
    /// 128-bit code): how many words of `words`, from its start, are clean
    /// codewords, word `i` of `words` keyed by keying `K` as storage word
    /// `first + i` (relaxed loads: a word found dirty is loaded again by
    /// whoever handles it). `None` if the code has no such scan.
    #[inline(always)]
    fn clean_prefix<K: crate::Keying>(
        words: &[<Self::Word as Word>::Atomic],
        first: usize,
    ) -> Option<usize> {
        let _ = (words, first);
        None
    }
    /// The parity-check matrix of one codeword, for the fast paths that
    /// work on codes of at most 64 bits (the lane codes); `None` for wider
    /// codes, which take the general paths.
    #[inline(always)]
    fn lane_matrix() -> Option<&'static eccmap_codes::Matrix> {
        None
    }
}

impl<C: WordCode> MapCode for C {
    #[inline(always)]
    fn lane_matrix() -> Option<&'static eccmap_codes::Matrix> {
        Some(<C as LaneCode>::MATRIX)
    }
    type Word = <C as WordCode>::Word;
    const NAME: &'static str = <C as LaneCode>::NAME;
    const LANE_BITS: u32 = <C as LaneCode>::CODE_BITS;
    const LANE_DATA_BITS: u32 = <C as LaneCode>::DATA_BITS;
    #[inline(always)]
    fn coset() -> Self::Word {
        Self::Word::from_u64(<C as LaneCode>::COSET)
    }
    #[inline(always)]
    fn syndrome(lane: Self::Word) -> u32 {
        <C as LaneCode>::syndrome(lane.low_u64())
    }
    #[inline(always)]
    fn decode(lane: Self::Word) -> LaneDecoded<Self::Word> {
        match <C as LaneCode>::decode(lane.low_u64()) {
            eccmap_codes::Decoded::Clean(d) => LaneDecoded::Clean(Self::Word::from_u64(d)),
            eccmap_codes::Decoded::Corrected { data, bit } => LaneDecoded::Corrected {
                data: Self::Word::from_u64(data),
                bit,
            },
            eccmap_codes::Decoded::Uncorrectable { .. } => LaneDecoded::Uncorrectable,
        }
    }
    #[inline(always)]
    fn delta(bit: u32) -> Self::Word {
        Self::Word::from_u64(<C as LaneCode>::delta(bit))
    }
    #[inline(always)]
    fn delta_mask(mask: Self::Word) -> Self::Word {
        Self::Word::from_u64(<C as LaneCode>::delta_mask(mask.low_u64()))
    }
    #[inline(always)]
    fn key<K: crate::Keying>(word: usize) -> Self::Word {
        Self::Word::from_u64(K::key::<C>(word))
    }
    #[inline(always)]
    fn period<K: crate::Keying>() -> usize {
        K::period::<C>()
    }
    #[inline(always)]
    fn key_of_class<K: crate::Keying>(class: usize) -> Self::Word {
        Self::Word::from_u64(K::key_of_class::<C>(class))
    }
}

/// The codec of the running CPU: carry-less multiplication where the CPU
/// has it, the portable tables otherwise (`Secded128::new`'s choice).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn codec128() -> eccmap_codes::Secded128 {
    eccmap_codes::Secded128::new()
}

/// One (128,112) codeword per `u128` word: 112 pages per word, 1.143 bits
/// per page. The keys are 16-bit ([`Keying::coset_128`](crate::Keying::coset_128)).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
impl MapCode for eccmap_codes::Secded128 {
    type Word = u128;
    const NAME: &'static str = eccmap_codes::Secded128::NAME;
    const LANE_BITS: u32 = eccmap_codes::Secded128::CODE_BITS;
    const LANE_DATA_BITS: u32 = eccmap_codes::Secded128::DATA_BITS;
    #[inline(always)]
    fn coset() -> u128 {
        eccmap_codes::Secded128::COSET
    }
    #[inline(always)]
    fn syndrome(lane: u128) -> u32 {
        codec128().syndrome(lane)
    }
    #[inline(always)]
    fn is_codeword(lane: u128) -> bool {
        codec128().is_codeword(lane)
    }
    /// [`Secded128::first_unclean`](eccmap_codes::Secded128::first_unclean)
    /// over the words, the coset constant stepped from word to word
    /// ([`Keying::coset_128_step`](crate::Keying::coset_128_step)).
    #[inline(always)]
    fn clean_prefix<K: crate::Keying>(
        words: &[crate::primitive::AtomicU128],
        first: usize,
    ) -> Option<usize> {
        let own = eccmap_codes::Secded128::MATRIX.coset();
        let mut coset = K::coset_128(first).unwrap_or(own);
        let mut w = first;
        Some(codec128().first_unclean(words.len(), |i| {
            crate::primitive::prefetch_ahead(words, i);
            let raw = <crate::primitive::AtomicU128 as AtomicWord<u128>>::load(
                &words[i],
                Ordering::Relaxed,
            );
            let c = coset;
            coset ^= K::coset_128_step(w);
            w = w.wrapping_add(1);
            (raw, c)
        }))
    }
    #[inline(always)]
    fn decode(lane: u128) -> LaneDecoded<u128> {
        match codec128().decode(lane) {
            eccmap_codes::Decoded128::Clean(d) => LaneDecoded::Clean(d),
            eccmap_codes::Decoded128::Corrected { data, bit } => {
                LaneDecoded::Corrected { data, bit }
            }
            eccmap_codes::Decoded128::Uncorrectable { .. } => LaneDecoded::Uncorrectable,
        }
    }
    #[inline(always)]
    fn delta(bit: u32) -> u128 {
        eccmap_codes::Secded128::delta(bit)
    }
    #[inline(always)]
    fn delta_mask(mask: u128) -> u128 {
        codec128().delta_mask(mask)
    }
    #[inline(always)]
    fn key<K: crate::Keying>(word: usize) -> u128 {
        match K::coset_128(word) {
            // The pattern that turns the code's coset into `c`: the check
            // bits have unit columns.
            Some(c) => {
                u128::from(c ^ eccmap_codes::Secded128::MATRIX.coset())
                    << eccmap_codes::Secded128::DATA_BITS
            }
            None => 0,
        }
    }
    fn period<K: crate::Keying>() -> usize {
        K::period_128()
    }
    #[inline(always)]
    fn key_of_class<K: crate::Keying>(class: usize) -> u128 {
        Self::key::<K>(class)
    }
}
