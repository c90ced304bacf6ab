//! SECDED (128,112): a shortened cyclic code with distance 6 in one 128-bit
//! word, decoded by carry-less multiplication where the CPU has it.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod clmul;

use core::fmt;

/// The generator polynomial `g(x)`, bit `i` the coefficient of `x^i`:
/// `x^16 + x^14 + x^13 + x^12 + x^11 + x^10 + x^9 + x^7 + x^6 + x^5 + x^4
/// + x^3 + x^2 + 1 = (x + 1)·p(x)`.
const G: u32 = 0x17EFD;
/// Codeword bits.
const N: usize = 128;
/// Data bits.
const K: usize = 112;
/// The coset constant in syndrome space (check bits `s15..s0`).
const COSET_SYNDROME: u16 = 0b11;
/// The data bits of a word.
const DATA_MASK: u128 = (1 << K) - 1;

/// `a(x) mod g(x)`: the raw remainder, bit `i` the coefficient of `x^i`.
const fn poly_mod(a: u128) -> u16 {
    let mut a = a;
    let mut i = 127;
    while i >= 16 {
        if (a >> i) & 1 == 1 {
            a ^= (G as u128) << (i - 16);
        }
        i -= 1;
    }
    a as u16
}

/// `floor(x^e / g(x))` for `16 <= e <= 127`.
const fn poly_quotient(e: u32) -> u128 {
    let mut a = 1u128 << e;
    let mut q = 0u128;
    let mut i = e;
    while i >= 16 {
        if (a >> i) & 1 == 1 {
            a ^= (G as u128) << (i - 16);
            q |= 1 << (i - 16);
        }
        i -= 1;
    }
    q
}

/// `to_sys[i]`: the image of the raw remainder `x^i` (`i < 16`) under the
/// linear map `T` that sends the raw column of check bit `j`,
/// `x^(112+j) mod g`, to the unit `1 << j`. Gauss-Jordan elimination on the
/// 16 check columns; fails to compile if they were dependent.
const fn systematic_basis() -> [u16; 16] {
    let mut v = [0u16; 16];
    let mut t = [0u16; 16];
    let mut j = 0;
    while j < 16 {
        v[j] = poly_mod(1 << (K + j));
        t[j] = 1 << j;
        j += 1;
    }
    let mut b = 0;
    while b < 16 {
        let mut r = b;
        while r < 16 && (v[r] >> b) & 1 == 0 {
            r += 1;
        }
        assert!(r < 16, "the check columns are linearly dependent");
        let (vr, tr) = (v[r], t[r]);
        v[r] = v[b];
        t[r] = t[b];
        v[b] = vr;
        t[b] = tr;
        let mut o = 0;
        while o < 16 {
            if o != b && (v[o] >> b) & 1 == 1 {
                v[o] ^= v[b];
                t[o] ^= t[b];
            }
            o += 1;
        }
        b += 1;
    }
    t
}

const TO_SYS: [u16; 16] = systematic_basis();

/// `T(r)`: the systematic syndrome of a word whose raw remainder is `r`.
const fn to_systematic_slow(r: u16) -> u16 {
    let mut s = 0;
    let mut i = 0;
    while i < 16 {
        if (r >> i) & 1 == 1 {
            s ^= TO_SYS[i];
        }
        i += 1;
    }
    s
}

/// The columns of `H = [A | I16]`: column `p` is `T(x^p mod g)`.
const fn columns() -> [u16; N] {
    let mut c = [0u16; N];
    let mut p = 0;
    while p < N {
        c[p] = to_systematic_slow(poly_mod(1 << p));
        p += 1;
    }
    // The check columns are units, and the columns are distinct and nonzero
    // (so every single-bit error is corrected).
    let mut j = 0;
    while j < 16 {
        assert!(c[K + j] == 1 << j, "check column not a unit");
        j += 1;
    }
    let mut a = 0;
    while a < N {
        assert!(c[a] != 0, "zero column");
        let mut b = a + 1;
        while b < N {
            assert!(c[a] != c[b], "repeated column");
            b += 1;
        }
        a += 1;
    }
    c
}

const COLUMNS: [u16; N] = columns();

/// `SYN[b][v]`: the syndrome contribution (before the coset) of byte `b` of
/// a word having value `v`. The portable path: 16 lookups per word.
const SYN: [[u16; 256]; 16] = {
    let mut t = [[0u16; 256]; 16];
    let mut b = 0;
    while b < 16 {
        let mut v = 0;
        while v < 256 {
            let mut s = 0u16;
            let mut i = 0;
            while i < 8 {
                if (v >> i) & 1 == 1 {
                    s ^= COLUMNS[8 * b + i];
                }
                i += 1;
            }
            t[b][v] = s;
            v += 1;
        }
        b += 1;
    }
    t
};

/// `DELTAS[i]`: [`Secded128::delta`]`(i)`, data bit `i` and its column in
/// the check bits (one 16-byte load instead of a 128-bit shift).
const DELTAS: [u128; K] = {
    let mut t = [0u128; K];
    let mut i = 0;
    while i < K {
        t[i] = 1 << i | (COLUMNS[i] as u128) << K;
        i += 1;
    }
    t
};

/// `T` as two byte tables: `T(r) = SYS[0][r & 0xFF] ^ SYS[1][r >> 8]`.
const SYS: [[u16; 256]; 2] = {
    let mut t = [[0u16; 256]; 2];
    let mut v = 0;
    while v < 256 {
        t[0][v] = to_systematic_slow(v as u16);
        t[1][v] = to_systematic_slow((v as u16) << 8);
        v += 1;
    }
    t
};

/// The raw remainder of every codeword, `COSET mod g`: a word is clean
/// exactly when its raw remainder equals this (the fast path's test).
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "sse2")),
    allow(dead_code)
)]
const RAW_COSET: u16 = poly_mod((COSET_SYNDROME as u128) << K);

/// Slots of the syndrome-to-position hash table (twice the columns).
const SLOTS: usize = 256;

/// The slot a syndrome's probe starts at.
const fn slot(s: u16) -> usize {
    ((s as u32).wrapping_mul(0x9E37_79B1) >> 24) as usize
}

/// Open-addressing table from a column to its bit position: `(column,
/// position)` per slot, column 0 marking an empty slot (no column is 0).
/// Half the slots stay empty, so every probe ends.
const POSITIONS: [(u16, u8); SLOTS] = {
    let mut t = [(0u16, 0u8); SLOTS];
    let mut p = 0;
    while p < N {
        let mut i = slot(COLUMNS[p]);
        while t[i].0 != 0 {
            i = (i + 1) % SLOTS;
        }
        t[i] = (COLUMNS[p], p as u8);
        p += 1;
    }
    t
};

/// The systematic syndrome of a word, before the coset, by 16 byte-table
/// lookups: the portable path.
#[inline(always)]
const fn linear_portable(x: u128) -> u16 {
    let mut s = 0u16;
    let mut b = 0;
    while b < 16 {
        s ^= SYN[b][((x >> (8 * b)) & 0xFF) as usize];
        b += 1;
    }
    s
}

/// `T(r)` by two table lookups.
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "sse2")),
    allow(dead_code)
)]
#[inline(always)]
const fn to_systematic(r: u16) -> u16 {
    SYS[0][(r & 0xFF) as usize] ^ SYS[1][(r >> 8) as usize]
}

/// The result of decoding a 128-bit word: [`Decoded`](crate::Decoded) with
/// 112 bits of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "a decode's verdict says whether the data can be used"]
pub enum Decoded128 {
    /// The word is a codeword; here is its data (bits `0..112`).
    Clean(u128),
    /// One bit was wrong; the returned data has it flipped back.
    Corrected {
        /// The corrected data.
        data: u128,
        /// The codeword bit that was wrong (`112..128` are check bits): the
        /// stored word is repaired by `word ^ 1 << bit`.
        bit: u32,
    },
    /// The syndrome is nonzero and not the column of any bit: two or more
    /// bits are wrong and the data cannot be trusted.
    Uncorrectable {
        /// The syndrome, offset by the coset constant (0 would mean clean).
        syndrome: u32,
    },
}

impl Decoded128 {
    /// The data, if the word was clean or corrected.
    pub fn data(self) -> Option<u128> {
        match self {
            Decoded128::Clean(d) | Decoded128::Corrected { data: d, .. } => Some(d),
            Decoded128::Uncorrectable { .. } => None,
        }
    }
}

/// The syndrome computation a [`Secded128`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// 16 byte-table lookups (8 KiB of tables), any target.
    Portable,
    /// Carry-less multiplication (x86-64 `PCLMULQDQ`): the raw remainder
    /// modulo `g(x)` by one fold and a Barrett reduction, three
    /// multiplications per word.
    Clmul,
}

#[derive(Clone, Copy)]
enum Imp {
    Portable,
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    Clmul(clmul::Clmul),
}

/// SECDED (128,112): 112 data bits in codeword bits `0..112`, 16 check bits
/// in `112..128`, minimum distance 6, in one 128-bit word (one 16-byte
/// compare-and-swap updates data and check bits together; 1.143 stored bits
/// per data bit).
///
/// The code is the cyclic code of the generator polynomial
/// `g(x) = 0x17EFD` (bit `i` the coefficient of `x^i`, degree 16, divisible
/// by `x + 1`), shortened to 128 bits: codeword bit `p` is the coefficient
/// of `x^p`, and a word (with the coset constant removed) is a codeword
/// exactly when `g(x)` divides it. Its systematic parity-check matrix
/// `H = [A | I16]` has column `p` equal to `T(x^p mod g)`, where `T` is the
/// fixed linear map that sends the remainders of the 16 check positions to
/// the units, so the check bits of a codeword are `A·data ^ coset`. All of it
/// is computed from `g` at compile time.
///
/// What it guarantees, over the word in storage order (proved by exhaustion
/// in `codes/tests/secded128.rs`):
/// - every 1-bit error is corrected; every 2-, 3- and 4-bit error is
///   detected, never miscorrected (distance 6);
/// - every error confined to one x8 DRAM device has a nonzero syndrome
///   (never silent), the word being two 64-bit bus beats: device `c` holds
///   bits `8c..8c+8` and `64+8c..64+8c+8`, and its 16 columns are linearly
///   independent;
/// - every error confined to one x4 device (bits `4c..4c+4` and
///   `64+4c..64+4c+4`) is corrected (one bit) or detected, never miscorrected;
/// - every burst within 16 adjacent bits has a nonzero syndrome (a cyclic
///   code's property); a burst within 11 adjacent bits is never
///   miscorrected.
///
/// Tests, in that order: `::every_error_of_up_to_four_bits`,
/// `::every_x8_device_error`, `::every_x4_device_error`,
/// `::every_burst_within_16_bits` (and `::a_17_bit_burst_can_be_a_codeword`
/// for the limit below).
///
/// Limits no (128,112) code beats: a single-error-correcting decoder
/// miscorrects 112 of the 65,535 error patterns of each x8 device; the
/// 17-bit burst `g(x)` itself is a codeword.
///
/// Coset constant `0000000000000011` (`s15..s0`): every column has odd
/// weight (`x + 1` divides `g`, so the parity of a syndrome is the parity of
/// the error), so an even, nonzero syndrome is never a column. It is the
/// lowest even-weight constant for which the all-zero, all-ones, 0x5555…,
/// 0xAAAA…, 0x0F0F…, 0xF0F0… and both half-ones words have nonzero (hence
/// even, non-column) syndromes: they decode as Uncorrectable.
///
/// Decoding: [`Secded128::new`] picks carry-less multiplication when the CPU
/// has it (detected at run time with the `std` feature, once per process,
/// else when the build enables `pclmulqdq`; never on a target without SSE2
/// registers, such as the soft-float `x86_64-unknown-none`, nor with `std`
/// when the environment variable `ECCMAP_PORTABLE` is set), else the
/// portable tables; both give the same results. [`Secded128::portable`]
/// forces the tables.
///
/// Parity-check matrix (codeword bit 0 first; data `|` check):
#[doc = concat!("```text\n", include_str!("../doc/secded128.txt"), "\n```")]
///
/// ```
/// use eccmap_codes::{Decoded128, Secded128};
/// let code = Secded128::new();
/// let word = code.encode(0b1011);
/// assert_eq!(code.decode(word), Decoded128::Clean(0b1011));
/// assert_eq!(
///     code.decode(word ^ 1 << 100),
///     Decoded128::Corrected { data: 0b1011, bit: 100 }
/// );
/// // Four flipped bits anywhere are detected.
/// assert!(matches!(code.decode(word ^ 0x8001_0001_0001 << 20), Decoded128::Uncorrectable { .. }));
/// // One XOR flips a data bit in a stored codeword.
/// assert_eq!(word ^ Secded128::delta(7), code.encode(0b1011 | 1 << 7));
/// // A zeroed word is not a codeword.
/// assert!(matches!(code.decode(0), Decoded128::Uncorrectable { .. }));
/// ```
#[derive(Clone, Copy)]
pub struct Secded128 {
    imp: Imp,
}

/// [`Secded128::first_unclean`] with the linear syndrome `linear` of one
/// backend: the loop, compiled once per backend so that the choice stays
/// outside it.
#[inline(always)]
fn first_unclean_by(
    count: usize,
    mut word: impl FnMut(usize) -> (u128, u16),
    linear: impl Fn(u128) -> u16,
) -> usize {
    let mut i = 0;
    while i < count {
        let (w, c) = word(i);
        if linear(w) != c {
            break;
        }
        i += 1;
    }
    i
}

impl Secded128 {
    /// Human-readable name.
    pub const NAME: &'static str = "SECDED (128,112)";
    /// Number of data bits `k`.
    pub const DATA_BITS: u32 = K as u32;
    /// Number of codeword bits `n`.
    pub const CODE_BITS: u32 = N as u32;
    /// Number of check bits.
    pub const CHECK_BITS: u32 = 16;
    /// Minimum Hamming distance between codewords.
    pub const MIN_DISTANCE: u32 = 6;
    /// The generator polynomial `g(x)`, bit `i` the coefficient of `x^i`.
    pub const GENERATOR: u32 = G;
    /// The coset constant as a codeword-bit pattern (in the check bits):
    /// every codeword is `linear_encode(data) ^ COSET`.
    pub const COSET: u128 = (COSET_SYNDROME as u128) << K;
    /// The parity-check matrix.
    pub const MATRIX: &'static Matrix128 = &Matrix128 {
        columns: COLUMNS,
        coset: COSET_SYNDROME,
    };

    /// The codec with the fastest syndrome this CPU runs: carry-less
    /// multiplication if available (unless `ECCMAP_PORTABLE` is set, with
    /// the `std` feature), else the portable tables. Cheap: the CPU is
    /// asked once per process.
    #[must_use]
    #[inline]
    pub fn new() -> Secded128 {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        if let Some(c) = clmul::Clmul::detect() {
            return Secded128 { imp: Imp::Clmul(c) };
        }
        Secded128::portable()
    }

    /// The codec on the portable tables, whatever the CPU.
    #[must_use]
    pub const fn portable() -> Secded128 {
        Secded128 { imp: Imp::Portable }
    }

    /// Which syndrome computation this codec runs.
    pub fn backend(&self) -> Backend {
        match self.imp {
            Imp::Portable => Backend::Portable,
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Imp::Clmul(_) => Backend::Clmul,
        }
    }

    /// `H·x`, the syndrome of `x` before the coset.
    #[inline(always)]
    fn linear(&self, x: u128) -> u16 {
        match self.imp {
            Imp::Portable => linear_portable(x),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Imp::Clmul(c) => to_systematic(c.remainder(x)),
        }
    }

    /// Encodes the low 112 bits of `data` (higher bits are ignored).
    #[inline]
    pub fn encode(&self, data: u128) -> u128 {
        let d = data & DATA_MASK;
        d | ((self.linear(d) ^ COSET_SYNDROME) as u128) << K
    }

    /// The syndrome of `word`, offset by the coset: 0 for a codeword, the
    /// column of bit `p` for a codeword with bit `p` flipped.
    #[inline]
    pub fn syndrome(&self, word: u128) -> u32 {
        (self.linear(word) ^ COSET_SYNDROME) as u32
    }

    /// Whether `word` is a codeword: `syndrome(word) == 0`, by the test
    /// alone (carry-less multiplication compares the raw remainder with
    /// the coset's, without mapping it to the syndrome).
    #[inline]
    pub fn is_codeword(&self, word: u128) -> bool {
        match self.imp {
            Imp::Portable => linear_portable(word) == COSET_SYNDROME,
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Imp::Clmul(c) => c.remainder(word) == RAW_COSET,
        }
    }

    /// The first `i` in `0..count` whose word is not a codeword of its own
    /// coset constant, `count` if there is none: `word(i)` gives word `i`
    /// and its coset constant `c` (syndrome space, `s15..s0`, in place of
    /// the code's own), and the word is a codeword exactly when
    /// `H·w == c` (the test of [`syndrome`](Self::syndrome)` == 0` for a
    /// word keyed with `c`). A scan, such as a scrub's: the backend is
    /// chosen once, outside the loop. `word` is called once for each
    /// index, in increasing order, from 0 up to the answer (so it may step
    /// a state of its own, such as the coset of an incrementing index).
    #[inline]
    pub fn first_unclean(&self, count: usize, word: impl FnMut(usize) -> (u128, u16)) -> usize {
        match self.imp {
            Imp::Portable => first_unclean_by(count, word, linear_portable),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Imp::Clmul(k) => first_unclean_by(count, word, |w| to_systematic(k.remainder(w))),
        }
    }

    /// Decodes `word`, correcting one flipped bit (check bits included).
    #[inline]
    pub fn decode(&self, word: u128) -> Decoded128 {
        match self.imp {
            Imp::Portable => Self::verdict(self.syndrome(word), word & DATA_MASK),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Imp::Clmul(c) => {
                let r = c.remainder(word);
                if r == RAW_COSET {
                    Decoded128::Clean(word & DATA_MASK)
                } else {
                    let s = to_systematic(r) ^ COSET_SYNDROME;
                    Self::verdict(s as u32, word & DATA_MASK)
                }
            }
        }
    }

    /// The codeword change that flips every data bit set in `mask` (bits at
    /// and above 112 are ignored): the XOR of their [`delta`](Self::delta)s.
    #[inline]
    pub fn delta_mask(&self, mask: u128) -> u128 {
        let d = mask & DATA_MASK;
        d | (self.linear(d) as u128) << K
    }

    /// The codeword change that flips data bit `data_bit`:
    /// `encode(d) ^ delta(i) == encode(d ^ 1 << i)`, so a stored codeword
    /// is updated by one XOR (one compare-and-swap).
    ///
    /// # Panics
    /// If `data_bit >= 112`.
    #[inline]
    pub const fn delta(data_bit: u32) -> u128 {
        assert!(data_bit < K as u32, "data bit out of range");
        DELTAS[data_bit as usize]
    }

    /// The data bits of a word, unchecked.
    #[inline]
    pub const fn data(word: u128) -> u128 {
        word & DATA_MASK
    }

    /// The column of codeword bit `p`: the syndrome a flip of that bit causes.
    ///
    /// # Panics
    /// If `p >= 128`.
    pub const fn column(p: u32) -> u16 {
        assert!(p < N as u32, "bit out of range");
        COLUMNS[p as usize]
    }

    /// The codeword bit whose column is `syndrome`, if any.
    #[inline]
    pub const fn bit_of(syndrome: u32) -> Option<u32> {
        if syndrome == 0 || syndrome > 0xFFFF {
            return None;
        }
        let s = syndrome as u16;
        let mut i = slot(s);
        loop {
            let (c, p) = POSITIONS[i];
            if c == s {
                return Some(p as u32);
            }
            if c == 0 {
                return None;
            }
            i = (i + 1) % SLOTS;
        }
    }

    /// The verdict on a word whose syndrome (coset removed) is `syndrome`
    /// and whose data bits are `data`: both backends end here.
    #[inline]
    pub const fn verdict(syndrome: u32, data: u128) -> Decoded128 {
        if syndrome == 0 {
            return Decoded128::Clean(data);
        }
        match Self::bit_of(syndrome) {
            Some(bit) => {
                let data = if bit < K as u32 {
                    data ^ 1 << bit
                } else {
                    data
                };
                Decoded128::Corrected { data, bit }
            }
            None => Decoded128::Uncorrectable { syndrome },
        }
    }
}

impl Default for Secded128 {
    fn default() -> Self {
        Secded128::new()
    }
}

impl fmt::Debug for Secded128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secded128")
            .field("backend", &self.backend())
            .finish()
    }
}

/// The parity-check matrix of [`Secded128`]: 16 rows, 128 columns, in
/// systematic form `[A | I16]`, plus its coset constant.
///
/// Its [`Display`](fmt::Display) prints it like [`Matrix`](crate::Matrix):
/// one row per line (the labels padded to equal width), codeword bit 0 first, a space every 8 bits, `|` between
/// data and check bits, then the coset constant.
#[derive(Clone, PartialEq, Eq)]
pub struct Matrix128 {
    columns: [u16; N],
    coset: u16,
}

impl Matrix128 {
    /// The column of codeword bit `p`.
    ///
    /// # Panics
    /// If `p >= 128`.
    pub const fn column(&self, p: u32) -> u16 {
        assert!(p < N as u32, "bit out of range");
        self.columns[p as usize]
    }
    /// The coset constant, in syndrome space.
    pub const fn coset(&self) -> u16 {
        self.coset
    }
    /// Row `j` of `H` as a mask: bit `j` of the syndrome is the parity of
    /// `word & row(j)` (before the coset).
    pub const fn row(&self, j: u32) -> u128 {
        let mut m = 0u128;
        let mut p = 0;
        while p < N {
            if (self.columns[p] >> j) & 1 == 1 {
                m |= 1 << p;
            }
            p += 1;
        }
        m
    }
    /// Number of ones in the matrix.
    pub const fn weight(&self) -> u32 {
        let mut w = 0;
        let mut p = 0;
        while p < N {
            w += self.columns[p].count_ones();
            p += 1;
        }
        w
    }
}

impl fmt::Debug for Matrix128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matrix128")
            .field("coset", &self.coset)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Matrix128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for j in 0..16 {
            // Rows s10..s15 take one more character: pad s0..s9 to align.
            write!(f, "s{j}: {}", if j < 10 { " " } else { "" })?;
            for p in 0..N {
                if p == K {
                    f.write_str(" | ")?;
                } else if p > 0 && p % 8 == 0 {
                    f.write_str(" ")?;
                }
                let one = (self.columns[p] >> j) & 1 == 1;
                f.write_str(if one { "1" } else { "0" })?;
            }
            writeln!(f)?;
        }
        write!(f, "coset: {:016b} (s15..s0)", self.coset)
    }
}

/// The Barrett constants of the fast path, derived from `g` here so that
/// both paths come from the one definition.
#[cfg_attr(
    not(all(target_arch = "x86_64", target_feature = "sse2")),
    allow(dead_code)
)]
mod constants {
    use super::{poly_mod, poly_quotient, G};
    /// `x^64 mod g`: folds the high 64 bits onto the low ones.
    pub(super) const FOLD64: u64 = poly_mod(1 << 64) as u64;
    /// `floor(x^79 / g)` (degree 63): the Barrett reciprocal for a
    /// remainder of a polynomial of degree below 79.
    pub(super) const MU79: u64 = poly_quotient(79) as u64;
    /// `g(x)` itself.
    pub(super) const GEN: u64 = G as u64;
    const _: () = assert!(poly_quotient(79) >> 63 == 1, "mu has degree 63");
}
