//! The one definition of a code: its parity-check matrix, and the tables
//! derived from it at compile time.

use crate::{mask, Decoded};
use core::fmt;

/// Most codeword bits any code here has (Hsiao (72,64)).
const MAX_BITS: usize = 72;
/// Most bytes of codeword a syndrome table covers.
const MAX_BYTES: usize = MAX_BITS / 8;
/// Marks a syndrome that is not the column of any bit.
const NO_BIT: u8 = u8::MAX;

/// A parity-check matrix `H` with 1 to 8 rows and at most 72 columns (at
/// most 64 of them data columns), in systematic form: columns `0..k` are the data bits, columns `k..n` the
/// check bits with unit columns `1 << (p - k)`.
///
/// The syndrome of a word `w` is `H·w ^ coset`. It is 0 exactly for the
/// codewords, and `H·e` for a codeword hit by the error pattern `e`.
///
/// Its [`Display`](fmt::Display) prints the matrix row by row, bit 0 of the
/// codeword first, which is how the documentation shows it.
#[derive(Clone)]
pub struct Matrix {
    n: u32,
    k: u32,
    r: u32,
    coset: u8,
    columns: [u8; MAX_BITS],
    /// `syn[b][v]`: the syndrome contribution of byte `b` of the word having value `v`.
    syn: [[u8; 256]; MAX_BYTES],
    /// `pos[s]`: the bit whose column is `s`, or `NO_BIT`.
    pos: [u8; 256],
    /// `deltas[i]`: the codeword change flipping data bit `i` (codes of at most 64 bits).
    deltas: [u64; 64],
    /// `prefix[n]`: the check bits of data bits `0..n` all set (`n <= k`),
    /// so that a contiguous run of data bits costs two lookups.
    prefix: [u8; 65],
    /// `rows[j]`: [`row(j)`](Self::row), 0 for `j >= r`.
    rows: [u64; 8],
}

impl Matrix {
    /// Builds the matrix of a systematic code from its data columns (the
    /// check columns are the units `1 << j`), with `r` check bits and the
    /// coset constant `coset` (a syndrome-space value).
    ///
    /// # Panics
    /// (In a `const`, fails to compile.) If `r` is not in `1..=8`; if there
    /// are more than 64 data columns or more than 72 columns in all; if
    /// `coset` or a column has a bit at or above `r`; if a column is zero;
    /// if two columns (check columns included) are equal.
    #[must_use]
    pub const fn systematic(data_columns: &[u8], r: u32, coset: u8) -> Matrix {
        let k = data_columns.len();
        assert!(r >= 1 && r <= 8, "1 to 8 check bits");
        assert!(k <= 64, "at most 64 data bits");
        // At most 64 + 8 = MAX_BITS codeword bits.
        let n = k + r as usize;
        assert!(
            r == 8 || (coset as u32) < (1 << r),
            "coset wider than the check bits"
        );
        let mut columns = [0u8; MAX_BITS];
        let mut p = 0;
        while p < k {
            columns[p] = data_columns[p];
            p += 1;
        }
        while p < n {
            columns[p] = 1 << (p - k);
            p += 1;
        }
        // Distinct, nonzero, in range: the conditions for correcting one bit.
        let mut a = 0;
        while a < n {
            assert!(columns[a] != 0, "zero column");
            assert!(
                r == 8 || (columns[a] as u32) < (1 << r),
                "column wider than r"
            );
            let mut b = a + 1;
            while b < n {
                assert!(columns[a] != columns[b], "repeated column");
                b += 1;
            }
            a += 1;
        }
        let mut syn = [[0u8; 256]; MAX_BYTES];
        let mut byte = 0;
        while byte < MAX_BYTES {
            let mut v = 0;
            while v < 256 {
                let mut s = 0u8;
                let mut bit = 0;
                while bit < 8 {
                    let p = byte * 8 + bit;
                    if p < n && (v >> bit) & 1 == 1 {
                        s ^= columns[p];
                    }
                    bit += 1;
                }
                syn[byte][v] = s;
                v += 1;
            }
            byte += 1;
        }
        let mut pos = [NO_BIT; 256];
        let mut p = 0;
        while p < n {
            pos[columns[p] as usize] = p as u8;
            p += 1;
        }
        let mut deltas = [0u64; 64];
        let mut i = 0;
        while i < k && n <= 64 {
            deltas[i] = 1 << i | (columns[i] as u64) << k;
            i += 1;
        }
        let mut prefix = [0u8; 65];
        let mut i = 0;
        while i < k && i < 64 {
            prefix[i + 1] = prefix[i] ^ columns[i];
            i += 1;
        }
        let mut rows = [0u64; 8];
        let mut p = 0;
        while p < n && p < 64 {
            let mut j = 0;
            while j < r as usize {
                if (columns[p] >> j) & 1 == 1 {
                    rows[j] |= 1 << p;
                }
                j += 1;
            }
            p += 1;
        }
        Matrix {
            deltas,
            prefix,
            rows,
            n: n as u32,
            k: k as u32,
            r,
            coset,
            columns,
            syn,
            pos,
        }
    }

    /// Codeword bits `n`.
    pub const fn code_bits(&self) -> u32 {
        self.n
    }
    /// Data bits `k`.
    pub const fn data_bits(&self) -> u32 {
        self.k
    }
    /// Check bits (rows of `H`) `r`.
    pub const fn check_bits(&self) -> u32 {
        self.r
    }
    /// The coset constant, in syndrome space (the check-bit pattern XORed
    /// into every codeword).
    pub const fn coset(&self) -> u8 {
        self.coset
    }
    /// The column of codeword bit `p`: the syndrome a flip of that bit causes.
    ///
    /// # Panics
    /// If `p >= code_bits()`.
    pub const fn column(&self, p: u32) -> u8 {
        assert!(p < self.n, "bit out of range");
        self.columns[p as usize]
    }
    /// The codeword bit whose column is `syndrome`, if any (`None` for 0,
    /// for a value that is no column, and for any value above `0xFF`).
    #[inline(always)]
    pub const fn bit_of(&self, syndrome: u32) -> Option<u32> {
        if syndrome > 0xFF {
            return None;
        }
        match self.pos[syndrome as usize] {
            NO_BIT => None,
            p => Some(p as u32),
        }
    }
    /// Row `j` of `H` restricted to codeword bits `0..64`, as a mask: bit
    /// `j` of the syndrome is the parity of `word & row(j)` (before the coset).
    ///
    /// # Panics
    /// If `j >= check_bits()`.
    pub const fn row(&self, j: u32) -> u64 {
        assert!(j < self.r, "row out of range");
        self.rows[j as usize]
    }
    /// Every row ([`row`](Self::row)), 0 past the last.
    #[cfg_attr(not(all(eccmap_avx512, target_arch = "x86_64")), allow(dead_code))]
    pub(crate) const fn rows(&self) -> &[u64; 8] {
        &self.rows
    }
    /// Number of ones in the whole matrix (a measure of the encoder's cost).
    pub const fn weight(&self) -> u32 {
        let mut w = 0;
        let mut p = 0;
        while p < self.n {
            w += self.columns[p as usize].count_ones();
            p += 1;
        }
        w
    }

    /// `H·x` for the low 64 codeword bits of `x`, without the coset:
    /// one table lookup per byte that the code spans.
    #[inline(always)]
    pub const fn linear_syndrome(&self, x: u64) -> u8 {
        let bytes = if self.n >= 64 {
            8
        } else {
            self.n.div_ceil(8) as usize
        };
        let mut s = 0u8;
        let mut b = 0;
        while b < bytes {
            s ^= self.syn[b][((x >> (8 * b)) & 0xFF) as usize];
            b += 1;
        }
        s
    }

    /// Encodes the low `k` bits of `data` (higher bits ignored) as a
    /// codeword of at most 64 bits.
    ///
    /// # Panics
    /// If the code is wider than 64 bits (for [`Hsiao72`](crate::Hsiao72),
    /// use its own `encode`, which returns the check byte).
    #[inline(always)]
    pub const fn encode(&self, data: u64) -> u64 {
        assert!(self.n <= 64, "code wider than 64 bits");
        let d = data & mask(self.k);
        d | ((self.linear_syndrome(d) ^ self.coset) as u64) << self.k
    }

    /// The syndrome of a word of at most 64 codeword bits (bits at and
    /// above `code_bits()` ignored), offset by the coset.
    ///
    /// # Panics
    /// If the code is wider than 64 bits (its check bits would not be in
    /// `word`).
    #[inline(always)]
    pub const fn syndrome(&self, word: u64) -> u32 {
        assert!(self.n <= 64, "code wider than 64 bits");
        (self.linear_syndrome(word & mask(self.n)) ^ self.coset) as u32
    }

    /// Turns a syndrome into a verdict for a word whose data bits are
    /// `data`: clean for 0, corrected (data bit `p` flipped back if `p <
    /// k`) for the column of bit `p`, uncorrectable for any other value,
    /// including values above `0xFF`.
    #[inline(always)]
    pub const fn verdict(&self, syndrome: u32, data: u64) -> Decoded {
        if syndrome == 0 {
            return Decoded::Clean(data);
        }
        match self.bit_of(syndrome) {
            Some(bit) => {
                let data = if bit < self.k {
                    data ^ (1 << bit)
                } else {
                    data
                };
                Decoded::Corrected { data, bit }
            }
            None => Decoded::Uncorrectable { syndrome },
        }
    }

    /// Decodes a word of at most 64 codeword bits (bits at and above
    /// `code_bits()` ignored).
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline(always)]
    pub const fn decode(&self, word: u64) -> Decoded {
        self.verdict(self.syndrome(word), word & mask(self.k))
    }

    /// The codeword change that flips data bit `i` (a table lookup).
    ///
    /// # Panics
    /// If `i >= data_bits()` or the code is wider than 64 bits.
    #[inline(always)]
    pub const fn delta(&self, i: u32) -> u64 {
        assert!(self.n <= 64, "code wider than 64 bits");
        assert!(i < self.k, "data bit out of range");
        self.deltas[i as usize]
    }

    /// The codeword change that flips every data bit set in `mask`: two
    /// lookups for a contiguous run of bits (what range updates use), one
    /// per byte otherwise. Bits of `m` at and above `data_bits()` are
    /// ignored.
    ///
    /// # Panics
    /// If the code is wider than 64 bits.
    #[inline(always)]
    pub const fn delta_mask(&self, m: u64) -> u64 {
        assert!(self.n <= 64, "code wider than 64 bits");
        let d = m & mask(self.k);
        let check = if d != 0 && d.wrapping_add(d & d.wrapping_neg()) & d == 0 {
            let lo = d.trailing_zeros() as usize;
            let hi = 64 - d.leading_zeros() as usize;
            self.prefix[hi] ^ self.prefix[lo]
        } else {
            self.linear_syndrome(d)
        };
        d | (check as u64) << self.k
    }

    /// [`delta_mask`](Self::delta_mask) of a run of data bits, `d` a
    /// nonempty contiguous run of bits below [`data_bits`](Self::data_bits)
    /// (such as the pages of a range within one word): the two prefix
    /// lookups without `delta_mask`'s tests of the run.
    ///
    /// # Panics
    /// If the code is wider than 64 bits. In debug builds, also if `d` is
    /// not such a run (a release build then returns a value that is not
    /// `delta_mask(d)`).
    #[inline(always)]
    pub const fn delta_run(&self, d: u64) -> u64 {
        assert!(self.n <= 64, "code wider than 64 bits");
        debug_assert!(
            d != 0 && d & !mask(self.k) == 0 && d.wrapping_add(d & d.wrapping_neg()) & d == 0,
            "not a run of data bits"
        );
        let lo = d.trailing_zeros() as usize;
        let hi = 64 - d.leading_zeros() as usize;
        d | ((self.prefix[hi] ^ self.prefix[lo]) as u64) << self.k
    }
}

impl fmt::Debug for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matrix")
            .field("n", &self.n)
            .field("k", &self.k)
            .field("coset", &self.coset)
            .finish_non_exhaustive()
    }
}

/// Prints `H` one row per line, codeword bit 0 first, a space every 8 bits,
/// with `|` between data and check bits, then the coset constant.
impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for j in 0..self.r {
            write!(f, "s{j}: ")?;
            for p in 0..self.n {
                if p == self.k {
                    f.write_str(" | ")?;
                } else if p > 0 && p % 8 == 0 {
                    f.write_str(" ")?;
                }
                let one = (self.columns[p as usize] >> j) & 1 == 1;
                f.write_str(if one { "1" } else { "0" })?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "coset: {:0w$b} (s{}..s0)",
            self.coset,
            self.r - 1,
            w = self.r as usize
        )
    }
}

/// The `count` smallest `r`-bit values of the given odd weights, in order of
/// weight then value: the columns of a minimal-weight Hsiao code.
pub(crate) const fn odd_columns<const K: usize>(r: u32, weights: &[u32]) -> [u8; K] {
    let mut out = [0u8; K];
    let mut i = 0;
    let mut w = 0;
    while w < weights.len() {
        let mut v = 0u32;
        while v < (1 << r) {
            if v.count_ones() == weights[w] && i < K {
                out[i] = v as u8;
                i += 1;
            }
            v += 1;
        }
        w += 1;
    }
    assert!(i == K, "not enough columns of those weights");
    out
}
