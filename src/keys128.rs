//! The address keys of the 128-bit map: a 16-bit coset constant per word
//! index, computed from the index (no table of keys, no period).

use eccmap_codes::Secded128;

/// The address keys of [`Ecc128`](crate::Ecc128) (an
/// [`AddressKeyed`](crate::AddressKeyed) map of
/// [`Secded128`](eccmap_codes::Secded128)): word `i`'s 16-bit coset
/// constant (syndrome space, `s15..s0`) is
///
/// `coset(i) = OFFSET ^ XOR of column(b) for every set bit b of i`,
///
/// an affine function of the index, where
/// - the 64 columns are `L(u_b)`: `u_b` is the unit `1 << b` for `b < 14`,
///   then the 14-bit values of weight 3 in increasing order (all of odd
///   weight, all distinct), and `L` an injective linear map of the
///   14-bit values onto a subspace `V` of the even-weight 16-bit values that
///   contains `H·1`, the syndrome of an all-ones word: `V` = the even values
///   `v` with `v_p = v_q`, for two bits `p`, `q` where `H·1` has equal bits;
/// - `OFFSET` is an even value outside `V` (`v_p != v_q`).
///
/// What follows, for every pair of indices of a map (any `usize`):
/// - every key has even weight, like every syndrome of the (even) faults
///   below, and every column of the code has odd weight: a zeroed word
///   (syndrome `coset(i)`), an all-ones word (`H·1 ^ coset(i)`) and a word
///   copied from index `j` (`coset(i) ^ coset(j)`) are never "corrected";
/// - no key is 0 or `H·1` (each lies outside `V`, and 0 and `H·1` inside):
///   a zeroed or all-ones word is always detected;
/// - indices that differ in 1 to 3 bits get different keys (the difference
///   is `L` of a sum of at most three distinct odd-weight values, which is
///   nonzero): a word read through an address line stuck or flipped in up
///   to three bits is always detected;
/// - the keys do not repeat with any period: a copy between other indices
///   goes undetected only if their keys collide, which for indices spread
///   over at least 14 bits happens for a fraction `2^-14` of the pairs
///   (the keys take `2^14` values, each equally often).
///
/// Proved by exhaustion in `tests/keys128.rs`: `::columns_pairs_and_triples`
/// (every one, two or three columns sum to nonzero, hence any two indices
/// that differ in at most three bits), `::keys_are_affine_and_avoid_zero_and_ones`
/// (the span argument, and every index below 2^20),
/// `::no_period_below_2_pow_20`, `::neighbours_differ`.
///
/// ```
/// use eccmap::IndexKeys;
/// let k = IndexKeys::coset(5);
/// assert_eq!(k.count_ones() % 2, 0);
/// assert_eq!(k, IndexKeys::OFFSET ^ IndexKeys::column(0) ^ IndexKeys::column(2));
/// assert_ne!(IndexKeys::coset(5), IndexKeys::coset(5 ^ 1 << 20));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexKeys;

/// `H·1`: the syndrome (before the coset) of the all-ones word.
const ONES: u16 = {
    let mut s = 0;
    let mut p = 0;
    while p < Secded128::CODE_BITS {
        s ^= Secded128::column(p);
        p += 1;
    }
    s
};

/// Bits `p < q` at which `H·1` has equal bits (any three bits hold two
/// equal ones), and `s`, the bit set to make a key even.
const PQS: (u32, u32, u32) = {
    let (mut p, mut q) = (0, 1);
    while (ONES >> p) & 1 != (ONES >> q) & 1 {
        q += 1;
        if q == 16 {
            p += 1;
            q = p + 1;
        }
    }
    // `s`: the highest bit other than `p` and `q`.
    let mut s = 15;
    while s == p || s == q {
        s -= 1;
    }
    (p, q, s)
};

/// `L(z)`: the 14 bits of `z` in the bit positions other than `q` and `s`
/// (in increasing order), then bit `q` equal to bit `p` and bit `s` making
/// the weight even.
const fn embed(z: u16) -> u16 {
    let (p, q, s) = PQS;
    let mut v = 0u16;
    let mut i = 0;
    let mut pos = 0;
    while pos < 16 {
        if pos != q && pos != s {
            v |= ((z >> i) & 1) << pos;
            i += 1;
        }
        pos += 1;
    }
    v |= ((v >> p) & 1) << q;
    v |= ((v.count_ones() & 1) as u16) << s;
    v
}

/// The 64 columns `L(u_b)`: `u_b` the unit `1 << b` for `b < 14` (so any
/// 2^14 indices that differ only in their low 14 bits get all 2^14 keys),
/// then the 14-bit values of weight 3 in increasing order.
const COLUMNS: [u16; 64] = {
    let mut c = [0u16; 64];
    let mut b = 0;
    while b < 14 {
        c[b] = embed(1 << b);
        b += 1;
    }
    let mut u = 0u16;
    while b < 64 {
        u += 1;
        if u.count_ones() == 3 {
            c[b] = embed(u);
            b += 1;
        }
    }
    c
};

/// `PREFIX[t]`: the XOR of columns `0..=t`, the key difference of a
/// carry through the `t` lowest index bits.
const PREFIX: [u16; 64] = {
    let mut p = [0u16; 64];
    let mut x = 0;
    let mut t = 0;
    while t < 64 {
        x ^= COLUMNS[t];
        p[t] = x;
        t += 1;
    }
    p
};

/// `TABLES[t][v]`: the XOR of the columns of the set bits of byte `t` of
/// an index whose byte `t` is `v` (4 KiB).
const TABLES: [[u16; 256]; 8] = {
    let mut t = [[0u16; 256]; 8];
    let mut byte = 0;
    while byte < 8 {
        let mut v = 0;
        while v < 256 {
            let mut x = 0u16;
            let mut j = 0;
            while j < 8 {
                if (v >> j) & 1 == 1 {
                    x ^= COLUMNS[8 * byte + j];
                }
                j += 1;
            }
            t[byte][v] = x;
            v += 1;
        }
        byte += 1;
    }
    t
};

impl IndexKeys {
    /// The affine part: an even value with `v_p != v_q` (bit `p` and the
    /// lowest bit other than `p` and `q`), outside `V`.
    pub const OFFSET: u16 = {
        let (p, q, _) = PQS;
        let mut r = 0;
        while r == p || r == q {
            r += 1;
        }
        (1 << p) | (1 << r)
    };

    /// `H·1` of [`Secded128`]: the syndrome (before the coset) of an
    /// all-ones word.
    pub const ALL_ONES_SYNDROME: u16 = ONES;

    /// The column of index bit `b`: what a flip of bit `b` of a word's
    /// index XORs into its key.
    ///
    /// # Panics
    /// If `b >= 64`.
    pub const fn column(b: u32) -> u16 {
        assert!(b < 64, "index bit out of range");
        COLUMNS[b as usize]
    }

    /// `coset(word) ^ coset(word + 1)` (wrapping): the columns of the
    /// index bits that change from `word` to `word + 1`, its trailing ones
    /// and the zero above them, by one load from a table of 64 prefix sums
    /// (`tests/keys128.rs::step_is_the_difference`). A scan steps a key by
    /// it instead of computing each.
    #[inline(always)]
    pub const fn step(word: usize) -> u16 {
        // The trailing ones and the zero above them flip; `usize::MAX`
        // wraps to 0 and flips every bit of the index, whose width is the
        // target's (32 bits on a 32-bit target).
        let t = word.trailing_ones();
        let top = usize::BITS - 1;
        PREFIX[if t > top { top as usize } else { t as usize }]
    }

    /// The 16-bit coset constant of word `word`: one table lookup for
    /// each of the two low bytes of the index and each further byte
    /// up to the highest nonzero one.
    #[inline]
    pub const fn coset(word: usize) -> u16 {
        // The two low bytes always (most maps have fewer than 2^16 words),
        // then the nonzero rest.
        let x = word as u64;
        let mut k =
            Self::OFFSET ^ TABLES[0][(x & 0xFF) as usize] ^ TABLES[1][((x >> 8) & 0xFF) as usize];
        let mut x = x >> 16;
        let mut t = 2;
        while x != 0 {
            k ^= TABLES[t][(x & 0xFF) as usize];
            x >>= 8;
            t += 1;
        }
        k
    }
}
