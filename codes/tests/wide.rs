//! `Matrix::dirty8` (the eight-word syndrome test scrubs use, AVX-512 where
//! the CPU has it) gives the portable path's answer, and the answer of the
//! code's own syndrome: exhaustively over every error pattern of weight 0, 1
//! and 2 of every code of at most 64 bits (on several codewords), and on
//! random words by quickcheck. CI runs this file twice, the second time
//! with `ECCMAP_PORTABLE=1` (the portable path, checked against itself and
//! the syndrome).

use eccmap_codes::{
    mask, Hamming74, Hamming84, LaneCode, Secded32, Secded64, Secded64Burst, WideBackend,
};
use quickcheck::quickcheck;
use testkit::Rng;

/// The word `w` has a nonzero linear syndrome (the coset not applied), by
/// the code's own syndrome function.
fn dirty_by_syndrome<C: LaneCode>(w: u64) -> bool {
    // `syndrome` applies the coset; the encoding of 0 carries it.
    C::syndrome((w ^ C::encode(0)) & mask(C::CODE_BITS)) != 0
}

/// Checks one batch of eight words on both paths and against the syndrome.
fn check8<C: LaneCode>(words: &[u64; 8]) {
    let fast = C::MATRIX.dirty8(words);
    let portable = C::MATRIX.dirty8_portable(words);
    assert_eq!(fast, portable, "{}: {words:x?}", C::NAME);
    for (i, &w) in words.iter().enumerate() {
        assert_eq!(
            fast >> i & 1 == 1,
            dirty_by_syndrome::<C>(w),
            "{}: word {i} = {w:#x}",
            C::NAME
        );
    }
}

/// Every error pattern of weight 0, 1 and 2 over the code's bits, on
/// linear codewords of several data words (with the coset removed, as a
/// scrub presents them), in batches of eight; each batch also carries
/// junk above the code's bits in some words, which must be ignored.
fn every_pattern_up_to_two<C: LaneCode>() {
    let n = C::CODE_BITS;
    let mut patterns = vec![0u64];
    for a in 0..n {
        patterns.push(1 << a);
        for b in a + 1..n {
            patterns.push(1 << a | 1 << b);
        }
    }
    let mut rng = Rng::new(13);
    let mut batches = 0;
    for chunk in patterns.chunks(8) {
        let mut words = [0u64; 8];
        for (i, (w, &e)) in words.iter_mut().zip(chunk).enumerate() {
            // A codeword with the coset removed: linear in its data.
            let data = rng.next_u64() & mask(C::DATA_BITS);
            let junk = if i % 3 == 0 {
                rng.next_u64() & !mask(n)
            } else {
                0
            };
            *w = C::encode(data) ^ C::encode(0) ^ e ^ junk;
        }
        check8::<C>(&words);
        batches += 1;
    }
    assert_eq!(batches, patterns.len().div_ceil(8));
    // Every pattern but 0 is detected (weight 1 and 2 are below the
    // distance of every code here but Hamming (7,4), whose doubles alias
    // singles: still nonzero).
    for &e in &patterns[1..] {
        assert!(dirty_by_syndrome::<C>(e), "{}: {e:#x}", C::NAME);
    }
}

#[test]
fn hamming74_every_pattern() {
    every_pattern_up_to_two::<Hamming74>();
}
#[test]
fn hamming84_every_pattern() {
    every_pattern_up_to_two::<Hamming84>();
}
#[test]
fn secded32_every_pattern() {
    every_pattern_up_to_two::<Secded32>();
}
#[test]
fn secded64_every_pattern() {
    every_pattern_up_to_two::<Secded64>();
}
#[test]
fn secded64_burst_every_pattern() {
    every_pattern_up_to_two::<Secded64Burst>();
}

quickcheck! {
    fn random_words_agree(w: Vec<u64>) -> bool {
        let mut words = [0u64; 8];
        for (x, y) in words.iter_mut().zip(&w) {
            *x = *y;
        }
        check8::<Secded64>(&words);
        check8::<Secded64Burst>(&words);
        check8::<Secded32>(&words);
        check8::<Hamming84>(&words);
        true
    }
}

/// The backend is the one the CPU and the environment call for: AVX-512
/// where the CPU has it (and the compiler has the path: Rust 1.89 on),
/// unless `ECCMAP_PORTABLE` is set. So a run on an AVX-512 machine tests
/// the fast path, and CI's second run the portable one.
#[test]
fn backend_is_the_expected_one() {
    let backend = WideBackend::get();
    println!("dirty8 backend: {backend:?}");
    if std::env::var_os("ECCMAP_PORTABLE").is_some() {
        assert_eq!(backend, WideBackend::Portable);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vpopcntdq")
        && rustc_has_avx512()
    {
        assert_eq!(backend, WideBackend::Avx512);
    }
}

/// Whether the compiler building this test has stable AVX-512 (1.89 on),
/// from the version cargo passes to tests (`CARGO_PKG_RUST_VERSION` is the
/// MSRV, not the compiler: use the compiler's own answer instead).
fn rustc_has_avx512() -> bool {
    let rustc = option_env!("RUSTC").unwrap_or("rustc");
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let v = String::from_utf8_lossy(&out.stdout).into_owned();
    v.split_whitespace()
        .nth(1)
        .and_then(|s| s.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 89)
}

/// `first_dirty` (eight words per step on the AVX-512 backend, then one at
/// a time) finds the first dirty word of a run of clean ones wherever it
/// is, in steps and in the tail, with the portable path's answer, asking
/// for the words in order.
#[test]
fn first_dirty_finds_the_first_fault_anywhere() {
    let m = Secded64::MATRIX;
    let mut rng = Rng::new(7);
    for len in [0usize, 1, 7, 8, 9, 16, 23, 64, 71] {
        let clean: Vec<u64> = (0..len)
            .map(|_| Secded64::encode(rng.next_u64()) ^ Secded64::encode(0))
            .collect();
        for at in 0..=len {
            for e in [1u64 << 5, 1 << 63, 0b11 << 20] {
                let mut words = clean.clone();
                if at < len {
                    words[at] ^= e;
                }
                let mut asked = Vec::new();
                let fast = m.first_dirty(len, |i| {
                    asked.push(i);
                    words[i]
                });
                let portable = m.first_dirty_portable(len, |i| words[i]);
                assert_eq!((fast, portable), (at, at), "len {len}, fault at {at}");
                assert!(asked.iter().enumerate().all(|(k, &i)| k == i), "in order");
                assert!(asked.len() >= at.min(len) && asked.len() <= len);
            }
        }
    }
}

quickcheck! {
    fn first_dirty_agrees(w: Vec<u64>) -> bool {
        let m = Secded64Burst::MATRIX;
        m.first_dirty(w.len(), |i| w[i]) == m.first_dirty_portable(w.len(), |i| w[i])
    }
}

/// `first_dirty_in` (the scan over atomic words with a key ring: aligned
/// 32-word GFNI steps, eight-word steps and single words on the AVX-512
/// backend) finds the first dirty word, with the portable path's answer,
/// for every alignment of the slice (`from` 0 to 8 words into the
/// storage), every length class, key rings of several periods (1, under
/// 8, 8, 63, the longest) entered at several classes, clean runs and a
/// single-bit fault at every position, and a second fault behind it.
fn first_dirty_in_agrees<C: LaneCode>() {
    use eccmap_codes::KeyRing;
    use std::sync::atomic::{AtomicU64, Ordering};
    let m = C::MATRIX;
    let n = C::CODE_BITS;
    let mut rng = Rng::new(31);
    const LEN: usize = 300;
    for period in [1usize, 3, 8, 63, KeyRing::MAX_PERIOD] {
        let keys: Vec<u64> = (0..period).map(|_| rng.next_u64()).collect();
        let ring = KeyRing::new(period, |c| keys[c]).unwrap();
        assert_eq!(ring.period(), period);
        for start in [0, 1, period / 2, period - 1] {
            // Word `i` of the storage has class `(start + i) % period`: a
            // codeword with the coset removed, XORed with its key, and
            // (narrow codes) junk above the code's bits, ignored.
            let clean: Vec<u64> = (0..LEN)
                .map(|i| {
                    let junk = if n < 64 { rng.next_u64() & !mask(n) } else { 0 };
                    C::encode(rng.next_u64() & mask(C::DATA_BITS))
                        ^ C::encode(0)
                        ^ keys[(start + i) % period]
                        ^ junk
                })
                .collect();
            let store: Vec<AtomicU64> = clean.iter().map(|&w| AtomicU64::new(w)).collect();
            for from in 0..=8 {
                let class = (start + from) % period;
                for len in [0usize, 1, 7, 8, 9, 31, 32, 33, 39, 40, 64, 71, 96, 105, 291] {
                    let cells = &store[from..from + len];
                    let scan = |cells: &[AtomicU64]| {
                        let fast = m.first_dirty_in(cells, &ring, class);
                        let portable = m.first_dirty_in_portable(cells, &ring, class);
                        assert_eq!(fast, portable, "{} period {period} from {from}", C::NAME);
                        fast
                    };
                    assert_eq!(scan(cells), len, "{} clean, len {len}", C::NAME);
                    for at in 0..len {
                        let e = 1u64 << (rng.next_u64() % u64::from(n));
                        let second = at + 1 + (rng.next_u64() % 40) as usize;
                        cells[at].fetch_xor(e, Ordering::Relaxed);
                        if second < len {
                            cells[second].fetch_xor(1, Ordering::Relaxed);
                        }
                        let found = scan(cells);
                        cells[at].fetch_xor(e, Ordering::Relaxed);
                        if second < len {
                            cells[second].fetch_xor(1, Ordering::Relaxed);
                        }
                        assert_eq!(
                            found,
                            at,
                            "{}: period {period}, class {class}, from {from}, len {len}",
                            C::NAME
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn secded64_first_dirty_in_agrees() {
    first_dirty_in_agrees::<Secded64>();
}
#[test]
fn secded64_burst_first_dirty_in_agrees() {
    first_dirty_in_agrees::<Secded64Burst>();
}
#[test]
fn secded32_first_dirty_in_agrees() {
    first_dirty_in_agrees::<Secded32>();
}

/// A key ring holds periods 1 to `MAX_PERIOD`, refuses 0 and longer ones,
/// and gives back each class's key.
#[test]
fn key_ring_periods() {
    use eccmap_codes::KeyRing;
    assert!(KeyRing::new(0, |_| 0).is_none());
    assert!(KeyRing::new(KeyRing::MAX_PERIOD + 1, |_| 0).is_none());
    for period in [1, 2, 7, 8, 9, 63, KeyRing::MAX_PERIOD] {
        let mut asked = Vec::new();
        let ring = KeyRing::new(period, |c| {
            asked.push(c);
            (c as u64) << 40 | 5
        })
        .unwrap();
        assert_eq!(asked, (0..period).collect::<Vec<_>>());
        for c in 0..period {
            assert_eq!(ring.key(c), (c as u64) << 40 | 5);
        }
    }
}
