//! `IndexKeys`, the address keys of `Ecc128`, proved by exhaustion: every
//! key has even weight and is neither 0 nor `H·1` (for every index, by a
//! span argument checked here, and directly below 2^20); indices that
//! differ in one to three bits get different keys (for every index: every
//! one, two or three of the 64 columns sum to nonzero, and the keys are
//! affine in the index); the keys have no period below 2^20; they take
//! each of their 2^14 values equally often; and the first 2^14 indices have
//! 2^14 different keys.

use eccmap::codes::Secded128;
use eccmap::IndexKeys;

/// The key from its definition: the offset and the columns of the set
/// index bits.
fn by_definition(i: u64) -> u16 {
    (0..64)
        .filter(|b| i >> b & 1 == 1)
        .fold(IndexKeys::OFFSET, |k, b| k ^ IndexKeys::column(b))
}

/// The rank of a set of 16-bit vectors, and whether `v` is in their span.
fn span_rank_and_contains(vs: &[u16], v: u16) -> (usize, bool) {
    // A basis in echelon form, by leading bit.
    let mut basis = [0u16; 16];
    let reduce = |basis: &[u16; 16], mut x: u16| {
        for b in (0..16).rev() {
            if x >> b & 1 == 1 && basis[b] != 0 {
                x ^= basis[b];
            }
        }
        x
    };
    for &x in vs {
        let r = reduce(&basis, x);
        if r != 0 {
            basis[15 - r.leading_zeros() as usize] = r;
        }
    }
    let rank = basis.iter().filter(|&&b| b != 0).count();
    (rank, reduce(&basis, v) == 0)
}

/// Every one, two or three distinct columns sum to a nonzero value: with
/// the keys affine in the index (below), any two indices (any `usize`) that
/// differ in one to three bits have different keys.
#[test]
fn columns_pairs_and_triples() {
    let c: Vec<u16> = (0..64).map(IndexKeys::column).collect();
    for a in 0..64 {
        assert_ne!(c[a], 0, "column {a}");
        for b in a + 1..64 {
            assert_ne!(c[a] ^ c[b], 0, "columns {a}, {b}");
            for d in b + 1..64 {
                assert_ne!(c[a] ^ c[b] ^ c[d], 0, "columns {a}, {b}, {d}");
            }
        }
    }
}

/// The keys are the affine function of the documented definition (every
/// index below 2^20, and spread-out ones), even, and never 0 or `H·1`: for
/// every index, since the columns and `H·1` span a subspace of even
/// values of dimension 14 that leaves out the even `OFFSET` (so every key
/// is outside it, and 0 and `H·1` are inside).
#[test]
fn keys_are_affine_and_avoid_zero_and_ones() {
    let ones = (0..128).fold(0u16, |s, p| s ^ Secded128::column(p));
    assert_eq!(ones, IndexKeys::ALL_ONES_SYNDROME);
    let mut vs: Vec<u16> = (0..64).map(IndexKeys::column).collect();
    vs.push(ones);
    assert!(vs.iter().all(|v| v.count_ones() % 2 == 0), "even columns");
    assert_eq!(IndexKeys::OFFSET.count_ones() % 2, 0);
    let (rank, has_offset) = span_rank_and_contains(&vs, IndexKeys::OFFSET);
    assert_eq!(rank, 14);
    assert!(!has_offset, "OFFSET outside the span");
    for i in 0..1u64 << 20 {
        let k = IndexKeys::coset(i as usize);
        assert_eq!(k, by_definition(i), "index {i}");
        assert_eq!(k.count_ones() % 2, 0, "index {i}");
        assert!(k != 0 && k != ones, "index {i}");
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..100_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = x as usize as u64;
        assert_eq!(
            IndexKeys::coset(i as usize),
            by_definition(i),
            "index {i:#x}"
        );
    }
}

/// Directly, on the map's indices: every index below 2^10 against every
/// index one to three bits away (anywhere in the index), and every index
/// below 2^12 against every index one to three bits away within the low
/// 20 bits.
#[test]
fn neighbours_differ() {
    let bits = usize::BITS as usize;
    let mut flips = Vec::new();
    for a in 0..bits {
        flips.push(1usize << a);
        for b in a + 1..bits {
            flips.push(1 << a | 1 << b);
            for c in b + 1..bits {
                flips.push(1 << a | 1 << b | 1 << c);
            }
        }
    }
    for i in 0..1usize << 10 {
        let k = IndexKeys::coset(i);
        for &f in &flips {
            assert_ne!(k, IndexKeys::coset(i ^ f), "{i} and {}", i ^ f);
        }
    }
    let low: Vec<usize> = flips.into_iter().filter(|&f| f < 1 << 20).collect();
    for i in 0..1usize << 12 {
        let k = IndexKeys::coset(i);
        for &f in &low {
            assert_ne!(k, IndexKeys::coset(i ^ f), "{i} and {}", i ^ f);
        }
    }
}

/// No period below 2^20: for every `p`, some `i` with `i + p < 2^21` has
/// `key(i) != key(i + p)`.
#[test]
fn no_period_below_2_pow_20() {
    let keys: Vec<u16> = (0..1usize << 21).map(IndexKeys::coset).collect();
    for p in 1..1usize << 20 {
        assert!(
            (0..keys.len() - p).any(|i| keys[i] != keys[i + p]),
            "period {p}"
        );
    }
}

/// Over the indices below 2^20 the keys take 2^14 values, each 64 times:
/// two indices drawn at random collide with probability 2^-14.
#[test]
fn keys_are_spread_evenly() {
    let mut count = std::collections::HashMap::new();
    for i in 0..1usize << 20 {
        *count.entry(IndexKeys::coset(i)).or_insert(0usize) += 1;
    }
    assert_eq!(count.len(), 1 << 14);
    assert!(count.values().all(|&n| n == 64));
}

/// The first 2^14 indices get 2^14 different keys (the columns of index
/// bits 0 to 13 are independent): a map of up to 16,384 words (1,835,008
/// pages) has no two words with one key, so any word copied over another
/// of the map is detected. The campaign's `word_misplaced` relies on it
/// (its maps have 293 words).
#[test]
fn the_first_2_pow_14_keys_are_distinct() {
    let mut seen = vec![false; 1 << 16];
    for i in 0..1usize << 14 {
        let k = usize::from(IndexKeys::coset(i));
        assert!(!seen[k], "index {i} repeats a key");
        seen[k] = true;
    }
    // And the next index repeats one: the claim is exact.
    assert!(seen[usize::from(IndexKeys::coset(1 << 14))]);
}

/// `step(w)` is `coset(w) ^ coset(w + 1)`: for every index below 2^20, and
/// around every carry into a higher bit, to the wrap of `usize::MAX`.
#[test]
fn step_is_the_difference() {
    let next = |w: usize| IndexKeys::coset(w.wrapping_add(1));
    for w in 0..1usize << 20 {
        assert_eq!(IndexKeys::step(w), IndexKeys::coset(w) ^ next(w), "{w}");
    }
    for b in 20..usize::BITS {
        for w in [
            (1usize << b) - 1,
            (1usize << b) - 2,
            1usize << b,
            usize::MAX >> (usize::BITS - b),
        ] {
            assert_eq!(IndexKeys::step(w), IndexKeys::coset(w) ^ next(w), "{w:#x}");
        }
    }
    assert_eq!(
        IndexKeys::step(usize::MAX),
        IndexKeys::coset(usize::MAX) ^ IndexKeys::coset(0)
    );
}
