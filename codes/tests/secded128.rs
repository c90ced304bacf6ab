//! Secded128's properties, proved by exhaustion over error patterns.
//!
//! The decoders are first shown to compute `syndrome(w) = H·w ^ coset` on
//! both backends (every single-bit word on several codewords, every one of
//! the 65,536 syndromes, a large random set), and their verdict to depend on
//! the syndrome alone (`verdicts` records it for all 65,536 syndromes from
//! the real decoders). The code is linear, so the syndrome of an error
//! pattern `e` hitting any codeword is the XOR of the columns of its bits:
//! the pattern tests walk millions of patterns by XORing columns
//! incrementally and look the verdict up in that table, which keeps them
//! fast in a debug build.

use eccmap_codes::{Backend, Decoded128, Secded128};
use quickcheck::quickcheck;

const N: u32 = 128;
const K: u32 = 112;
const DATA_MASK: u128 = (1 << K) - 1;

/// Both backends: the one `new` picks on this CPU, and the portable tables.
fn codecs() -> [Secded128; 2] {
    [Secded128::new(), Secded128::portable()]
}

fn columns() -> Vec<u16> {
    (0..N).map(Secded128::column).collect()
}

/// `H·e` for an error pattern, by XOR of columns (no table of the crate).
fn h(e: u128) -> u16 {
    (0..N)
        .filter(|&p| (e >> p) & 1 == 1)
        .fold(0, |s, p| s ^ Secded128::column(p))
}

/// `a(x) mod g(x)` by shift and XOR, independently of the crate.
fn poly_mod(mut a: u128, g: u32) -> u32 {
    for i in (16..128).rev() {
        if (a >> i) & 1 == 1 {
            a ^= (g as u128) << (i - 16);
        }
    }
    a as u32
}

/// SplitMix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn word(&mut self) -> u128 {
        (self.next() as u128) << 64 | self.next() as u128
    }
}

/// Data words that exercise every bit.
fn samples() -> Vec<u128> {
    let mut rng = Rng(5);
    let mut v = vec![0, u128::MAX, 0x5555 << 96 | 0x5555_5555_5555_5555_5555_5555];
    v.extend((0..5).map(|_| rng.word()));
    v.into_iter().map(|d| d & DATA_MASK).collect()
}

/// The decoder's verdict on a syndrome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Clean,
    /// Corrected, naming this bit.
    Corrects(u32),
    Detects,
}

/// The verdict of the real decoders for every syndrome value, checked to be
/// the same on both backends, for several data words, and to be the rule:
/// clean on 0, the bit whose column it is, else uncorrectable. Built once.
fn verdicts() -> &'static [Verdict] {
    static TABLE: std::sync::OnceLock<Vec<Verdict>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        // The rule, from the columns alone.
        let mut expected = vec![Verdict::Detects; 1 << 16];
        expected[0] = Verdict::Clean;
        for p in 0..N {
            expected[Secded128::column(p) as usize] = Verdict::Corrects(p);
        }
        let data = samples();
        for (s, &want) in expected.iter().enumerate() {
            let bit = match want {
                Verdict::Corrects(p) => Some(p),
                _ => None,
            };
            assert_eq!(Secded128::bit_of(s as u32), bit, "bit_of({s:#06x})");
            for (i, code) in codecs().into_iter().enumerate() {
                let d = data[(s + i) % data.len()];
                // The check bits have unit columns: this word has syndrome `s`.
                let w = code.encode(d) ^ (s as u128) << K;
                assert_eq!(code.syndrome(w), s as u32);
                let want = match want {
                    Verdict::Clean => Decoded128::Clean(d),
                    // The correction flips bit `p` of the stored word back.
                    Verdict::Corrects(p) => Decoded128::Corrected {
                        data: (w ^ 1 << p) & DATA_MASK,
                        bit: p,
                    },
                    Verdict::Detects => Decoded128::Uncorrectable { syndrome: s as u32 },
                };
                assert_eq!(
                    code.decode(w),
                    want,
                    "{:?}, syndrome {s:#06x}",
                    code.backend()
                );
            }
        }
        expected
    })
}

#[test]
fn the_fast_path_runs_where_the_cpu_has_it() {
    assert_eq!(Secded128::portable().backend(), Backend::Portable);
    // Run-time detection needs the `std` feature (on by default);
    // `ECCMAP_PORTABLE` in the environment forces the tables.
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    if std::env::var_os("ECCMAP_PORTABLE").is_some() {
        assert_eq!(Secded128::new().backend(), Backend::Portable);
    } else if std::is_x86_feature_detected!("pclmulqdq") {
        assert_eq!(Secded128::new().backend(), Backend::Clmul);
    }
    // Without it, a build that enables the feature statically uses it
    // (`RUSTFLAGS="-C target-feature=+pclmulqdq"`, `--no-default-features`).
    #[cfg(all(
        target_arch = "x86_64",
        not(feature = "std"),
        target_feature = "pclmulqdq"
    ))]
    assert_eq!(Secded128::new().backend(), Backend::Clmul);
}

/// The code is the cyclic code of `g(x) = 0x17EFD` shortened to 128 bits,
/// and `H` is in systematic form `[A | I16]`.
#[test]
fn the_shortened_cyclic_code_of_g() {
    let g = Secded128::GENERATOR;
    assert_eq!(g, 0x17EFD);
    assert_eq!(32 - g.leading_zeros(), 17, "degree 16");
    assert_eq!(g.count_ones() % 2, 0, "g(1) = 0: x + 1 divides g");
    for j in 0..16 {
        assert_eq!(Secded128::column(K + j), 1 << j);
    }
    // The 112 deltas span the code (they are independent: data bit i is set
    // in delta(i) only), and each is a multiple of g: so the code is exactly
    // the multiples of g of degree below 128 (dimension 128 - 16 = 112).
    for i in 0..K {
        let delta = Secded128::delta(i);
        assert_eq!(delta & DATA_MASK, 1 << i);
        assert_eq!(poly_mod(delta, g), 0, "delta({i})");
        assert_eq!(h(delta), 0);
    }
    // Every codeword is a multiple of g plus the coset constant.
    for code in codecs() {
        for d in samples() {
            assert_eq!(poly_mod(code.encode(d) ^ Secded128::COSET, g), 0);
        }
    }
    // Every column has odd weight (x + 1 divides g), so an error of even
    // weight has an even syndrome, never a column.
    assert!(columns().iter().all(|c| c.count_ones() % 2 == 1));
}

/// `syndrome(w) = H·w ^ coset` on both backends: every single-bit error on
/// several codewords, and 100,000 random words.
#[test]
fn the_syndrome_is_h_times_the_word() {
    for code in codecs() {
        for d in samples() {
            let c = code.encode(d);
            assert_eq!(code.syndrome(c), 0);
            for p in 0..N {
                assert_eq!(code.syndrome(c ^ 1 << p), Secded128::column(p) as u32);
            }
        }
        let mut rng = Rng(17);
        for _ in 0..100_000 {
            let w = rng.word();
            assert_eq!(code.syndrome(w), (h(w) ^ 0b11) as u32, "{w:#x}");
        }
    }
}

/// The decoder's verdict for every one of the 65,536 syndromes: clean on 0,
/// the right bit on each of the 128 columns, uncorrectable otherwise. So a
/// random word decodes Clean with probability 1/65,536 and Corrected with
/// probability 128/65,536.
#[test]
fn verdict_of_every_syndrome() {
    let v = verdicts();
    let corrected = v
        .iter()
        .filter(|x| matches!(x, Verdict::Corrects(_)))
        .count();
    let detected = v.iter().filter(|&&x| x == Verdict::Detects).count();
    assert_eq!((corrected, detected), (128, 65_536 - 129));
}

/// Every 1-bit error corrected, every 2-, 3- and 4-bit error detected (all
/// 10,668,000 four-bit patterns and fewer), and the distance is exactly 6.
#[test]
fn every_error_of_up_to_four_bits() {
    let v = verdicts();
    let c = columns();
    let mut count = [0u64; 5];
    let mut bad = 0u64;
    for a in 0..128 {
        let sa = c[a];
        count[1] += 1;
        if v[sa as usize] != Verdict::Corrects(a as u32) {
            bad += 1;
        }
        for b in a + 1..128 {
            let sb = sa ^ c[b];
            count[2] += 1;
            bad += (v[sb as usize] != Verdict::Detects) as u64;
            for cc in b + 1..128 {
                let sc = sb ^ c[cc];
                count[3] += 1;
                bad += (v[sc as usize] != Verdict::Detects) as u64;
                for d in cc + 1..128 {
                    count[4] += 1;
                    bad += (v[(sc ^ c[d]) as usize] != Verdict::Detects) as u64;
                }
            }
        }
    }
    assert_eq!(count, [0, 128, 8_128, 341_376, 10_668_000]);
    assert_eq!(bad, 0);
    // Distance exactly 6: two disjoint triples with the same syndrome make
    // a codeword of weight 6.
    let mut seen = std::collections::HashMap::new();
    let mut six = None;
    'find: for a in 0..128 {
        for b in a + 1..128 {
            for cc in b + 1..128 {
                let bits = 1u128 << a | 1 << b | 1 << cc;
                if let Some(&other) = seen.get(&(c[a] ^ c[b] ^ c[cc])) {
                    if bits & other == 0 {
                        six = Some(bits | other);
                        break 'find;
                    }
                }
                seen.insert(c[a] ^ c[b] ^ c[cc], bits);
            }
        }
    }
    let six: u128 = six.expect("a weight-6 codeword");
    assert_eq!((six.count_ones(), h(six)), (6, 0));
    assert_eq!(Secded128::MIN_DISTANCE, 6);
}

/// The bits of x8 device `c`: `8c..8c+8` and `64+8c..64+8c+8`.
fn x8_device(c: u32) -> Vec<u32> {
    (8 * c..8 * c + 8)
        .chain(64 + 8 * c..64 + 8 * c + 8)
        .collect()
}

/// The bits of x4 device `c`: `4c..4c+4` and `64+4c..64+4c+4`.
fn x4_device(c: u32) -> Vec<u32> {
    (4 * c..4 * c + 4)
        .chain(64 + 4 * c..64 + 4 * c + 4)
        .collect()
}

/// Calls `f(pattern, syndrome)` for every nonzero error pattern over
/// `bits`, the syndrome kept incrementally along a Gray code.
fn each_pattern(bits: &[u32], mut f: impl FnMut(u128, u16)) {
    let (mut e, mut s) = (0u128, 0u16);
    for i in 1u64..1 << bits.len() {
        let p = bits[i.trailing_zeros() as usize];
        e ^= 1 << p;
        s ^= Secded128::column(p);
        f(e, s);
    }
}

/// The verdict on pattern `e` with syndrome `s`: right (one bit, corrected
/// at that bit), detected, or wrong (silent or miscorrected).
fn judge(v: &[Verdict], e: u128, s: u16) -> Result<bool, ()> {
    match v[s as usize] {
        Verdict::Detects => Ok(false),
        Verdict::Corrects(p) if e == 1 << p => Ok(true),
        _ => Err(()),
    }
}

/// Every error of every x8 device is detected or (one bit) corrected: its 16
/// columns are independent. Of its 65,535 patterns, the 16 single bits are
/// corrected and exactly 112 are miscorrected (one onto each column outside
/// the device: the limit no (128,112) code beats), the rest detected.
#[test]
fn every_x8_device_error() {
    let v = verdicts();
    for c in 0..8 {
        let bits = x8_device(c);
        let mut syndromes = vec![false; 1 << 16];
        let (mut right, mut detected, mut wrong) = (0, 0, 0);
        each_pattern(&bits, |e, s| {
            assert_ne!(s, 0, "device {c}: pattern {e:#x} is a codeword");
            assert!(!syndromes[s as usize], "device {c}: dependent columns");
            syndromes[s as usize] = true;
            match judge(v, e, s) {
                Ok(true) => right += 1,
                Ok(false) => detected += 1,
                Err(()) => {
                    // A miscorrection names a bit outside the device.
                    let Verdict::Corrects(p) = v[s as usize] else {
                        panic!()
                    };
                    assert!(!bits.contains(&p));
                    wrong += 1
                }
            }
        });
        assert_eq!(
            (right, detected, wrong),
            (16, 65_535 - 16 - 112, 112),
            "device {c}"
        );
    }
}

/// Every error of every x4 device is corrected (one bit) or detected, never
/// miscorrected.
#[test]
fn every_x4_device_error() {
    let v = verdicts();
    for c in 0..16 {
        let (mut right, mut detected) = (0, 0);
        each_pattern(&x4_device(c), |e, s| match judge(v, e, s) {
            Ok(true) => right += 1,
            Ok(false) => detected += 1,
            Err(()) => panic!("x4 device {c}: pattern {e:#x} miscorrected or silent"),
        });
        assert_eq!((right, detected), (8, 247));
    }
}

/// Every burst within 16 adjacent bits (first and last flipped bit at most
/// 15 apart, anything between) has a nonzero syndrome; those within 11 bits
/// are never miscorrected; 12 is where miscorrection starts (counts by span
/// quoted in docs/codes.md).
#[test]
fn every_burst_within_16_bits() {
    let v = verdicts();
    // miscorrected[len]: bursts spanning exactly `len` bits miscorrected.
    let mut miscorrected = [0u64; 17];
    let mut patterns = 0u64;
    for a in 0..N {
        let free: Vec<u32> = (a + 1..(a + 16).min(N)).collect();
        let sa = Secded128::column(a);
        assert_eq!(judge(v, 1 << a, sa), Ok(true));
        patterns += 1;
        each_pattern(&free, |e, s| {
            let e = e | 1 << a;
            let s = s ^ sa;
            patterns += 1;
            assert_ne!(s, 0, "burst {e:#x} is a codeword");
            if judge(v, e, s).is_err() {
                miscorrected[(128 - e.leading_zeros() - a) as usize] += 1;
            }
        });
    }
    // Start positions 0..=112 have 15 free bits; 113..127 fewer.
    assert_eq!(
        patterns,
        113 * (1 << 15) + (0..15).map(|f| 1u64 << f).sum::<u64>()
    );
    assert_eq!(miscorrected[..=11], [0; 12]);
    assert!(miscorrected[12] > 0);
    println!(
        "miscorrected bursts by span 12..=16: {:?}",
        &miscorrected[12..]
    );
}

/// The limit: `g(x)` is a codeword, so some 17-bit burst always is
/// (here at every shift).
#[test]
fn a_17_bit_burst_can_be_a_codeword() {
    for code in codecs() {
        let c = code.encode(0x1234_5678);
        for a in 0..=K - 1 {
            assert_eq!(
                code.decode(c ^ (Secded128::GENERATOR as u128) << a),
                Decoded128::Clean(0x1234_5678 ^ ((Secded128::GENERATOR as u128) << a) & DATA_MASK)
            );
        }
    }
}

/// A stray memset or pattern never passes and is never "corrected": each
/// has an even, nonzero syndrome.
#[test]
fn stray_words_are_uncorrectable() {
    let rep = |b: u8| u128::from_ne_bytes([b; 16]);
    let words = [
        0,
        u128::MAX,
        rep(0x55),
        rep(0xAA),
        rep(0x0F),
        rep(0xF0),
        u64::MAX as u128,
        (u64::MAX as u128) << 64,
    ];
    assert_eq!(Secded128::MATRIX.coset(), 0b11);
    assert_eq!(Secded128::COSET, 0b11 << K);
    for code in codecs() {
        for w in words {
            let Decoded128::Uncorrectable { syndrome } = code.decode(w) else {
                panic!("{w:#x} accepted")
            };
            assert!(syndrome != 0 && syndrome.count_ones() % 2 == 0);
        }
    }
}

/// The fast path equals the portable one: every single-bit word, every
/// single-bit error on every sample codeword, 200,000 random words (decode,
/// syndrome, encode, delta_mask).
#[test]
fn fast_and_portable_agree() {
    let (fast, slow) = (Secded128::new(), Secded128::portable());
    let mut words: Vec<u128> = (0..N).map(|p| 1 << p).collect();
    for d in samples() {
        let c = slow.encode(d);
        words.extend((0..N).map(|p| c ^ 1 << p));
    }
    let mut rng = Rng(99);
    words.extend((0..200_000).map(|_| rng.word()));
    for w in words {
        assert_eq!(fast.decode(w), slow.decode(w), "{w:#x}");
        assert_eq!(fast.syndrome(w), slow.syndrome(w));
        assert_eq!(fast.encode(w), slow.encode(w));
        assert_eq!(fast.delta_mask(w), slow.delta_mask(w));
    }
}

/// `is_codeword` is `syndrome == 0` for every one of the 65,536
/// syndromes (the check bits have unit columns, so XORing `s` into them
/// moves the syndrome by `s`), on both backends and several codewords.
#[test]
fn is_codeword_on_every_syndrome() {
    for code in codecs() {
        for d in samples() {
            let c = code.encode(d);
            for s in 0..=u16::MAX {
                let w = c ^ (s as u128) << K;
                assert_eq!(code.syndrome(w), s as u32);
                assert_eq!(code.is_codeword(w), s == 0, "{w:#x}");
            }
        }
    }
}

/// Words keyed with per-word coset constants: `c ^ (key ^ coset) << 112`,
/// the codeword `c` moved to the coset `key`.
fn keyed(c: u128, key: u16) -> u128 {
    c ^ ((key ^ Secded128::MATRIX.coset()) as u128) << K
}

/// `first_unclean` finds the first word whose syndrome under its own
/// coset constant is nonzero: 300 codewords with random coset constants,
/// all clean, then each one in turn spoiled by every one of its 128
/// single-bit errors and by a wrong coset; `word` called once per index,
/// in order, up to the answer. On both backends.
#[test]
fn first_unclean_is_the_first_dirty_word() {
    let mut rng = Rng(41);
    let n = 300;
    let keys: Vec<u16> = (0..n).map(|_| rng.next() as u16).collect();
    for code in codecs() {
        let words: Vec<u128> = (0..n)
            .map(|i| keyed(code.encode(rng.word()), keys[i]))
            .collect();
        let scan = |words: &[u128]| {
            let mut calls = Vec::new();
            let r = code.first_unclean(words.len(), |i| {
                calls.push(i);
                (words[i], keys[i])
            });
            assert_eq!(calls, (0..(r + 1).min(words.len())).collect::<Vec<_>>());
            r
        };
        assert_eq!(scan(&words), n);
        assert_eq!(scan(&words[..0]), 0);
        for j in [0, 1, 2, 63, 64, 150, n - 1] {
            let mut bad = words.clone();
            for p in 0..N {
                bad[j] = words[j] ^ 1 << p;
                assert_eq!(scan(&bad), j, "bit {p} of word {j}");
            }
            // The word of another coset (a misplaced word).
            bad[j] = keyed(code.encode(0), keys[j] ^ 0b110);
            assert_eq!(scan(&bad), j);
        }
    }
}

#[test]
#[should_panic(expected = "data bit out of range")]
fn delta_of_a_check_bit_panics() {
    Secded128::delta(K);
}

/// The matrix printed in the docs: 16 rows of 128 columns.
#[test]
fn matrix_rows_and_weight() {
    let m = Secded128::MATRIX;
    let printed = m.to_string();
    assert_eq!(printed.lines().count(), 17);
    for j in 0..16 {
        let row = m.row(j);
        for p in 0..N {
            assert_eq!((row >> p) & 1 == 1, (Secded128::column(p) >> j) & 1 == 1);
        }
    }
    assert_eq!(
        m.weight(),
        columns().iter().map(|c| c.count_ones()).sum::<u32>()
    );
}

fn both(f: impl Fn(Secded128) -> bool) -> bool {
    codecs().into_iter().all(f)
}

quickcheck! {
    fn qc_first_unclean_is_the_first_nonzero_syndrome(ws: Vec<(u64, u64, u16)>, clean: Vec<bool>) -> bool {
        // Words clean or random (random words are dirty but for 1 in 2^16).
        let portable = Secded128::portable();
        let words: Vec<(u128, u16)> = ws
            .iter()
            .zip(clean.iter().chain(core::iter::repeat(&true)))
            .map(|(&(hi, lo, key), &c)| {
                let w = (hi as u128) << 64 | lo as u128;
                (if c { keyed(portable.encode(w), key) } else { w }, key)
            })
            .collect();
        let expect = words
            .iter()
            .position(|&(w, key)| portable.syndrome(keyed(w, key)) != 0)
            .unwrap_or(words.len());
        both(|code| code.first_unclean(words.len(), |i| words[i]) == expect)
    }

    fn qc_is_codeword_is_syndrome_zero(hi: u64, lo: u64, clean: bool) -> bool {
        let w = (hi as u128) << 64 | lo as u128;
        let w = if clean { Secded128::portable().encode(w) } else { w };
        both(|code| code.is_codeword(w) == (code.syndrome(w) == 0))
    }

    fn qc_fast_equals_portable(hi: u64, lo: u64) -> bool {
        let w = (hi as u128) << 64 | lo as u128;
        let (fast, slow) = (Secded128::new(), Secded128::portable());
        fast.decode(w) == slow.decode(w) && fast.syndrome(w) == slow.syndrome(w)
    }

    fn qc_roundtrip(hi: u64, lo: u64) -> bool {
        let d = ((hi as u128) << 64 | lo as u128) & DATA_MASK;
        both(|code| code.decode(code.encode(d)) == Decoded128::Clean(d))
    }

    fn qc_delta_is_the_update(hi: u64, lo: u64, i: u8) -> bool {
        let d = ((hi as u128) << 64 | lo as u128) & DATA_MASK;
        let i = i as u32 % K;
        both(|code| code.encode(d) ^ Secded128::delta(i) == code.encode(d ^ 1 << i))
    }

    fn qc_delta_mask_is_xor_of_deltas(hi: u64, lo: u64) -> bool {
        let m = (hi as u128) << 64 | lo as u128;
        let x = (0..K).filter(|&i| (m >> i) & 1 == 1).fold(0, |x, i| x ^ Secded128::delta(i));
        both(|code| code.delta_mask(m) == x)
    }

    /// A fault already in the word is carried through an update and still
    /// corrected.
    fn qc_error_carried_through_update(hi: u64, lo: u64, i: u8, p: u8) -> bool {
        let d = ((hi as u128) << 64 | lo as u128) & DATA_MASK;
        let (i, p) = (i as u32 % K, p as u32 % N);
        both(|code| {
            let w = (code.encode(d) ^ 1 << p) ^ Secded128::delta(i);
            code.decode(w) == Decoded128::Corrected { data: d ^ 1 << i, bit: p }
        })
    }
}
