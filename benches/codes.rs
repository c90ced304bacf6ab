//! The codecs side by side with the `secded` crate's `SecDed64` (the outside
//! reference): every codec of `common::codecs!` runs the same generic loop
//! on the same random data. One criterion iteration is one encode or one
//! decode of one codeword.
//!
//! Every input is decoded once and checked before it is timed: a codec that
//! returns wrong data fails the bench.
//!
//! Run one group: `cargo bench --bench codes -- codes_decode` (or the built
//! executable with `--bench codes_decode`, see docs/benchmarks.md).

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use eccmap::codes::{mask, Decoded, Decoded128, LaneCode, Secded128, Secded64};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod common;
use common::{for_each_codec, Codec, CodecId, VisitCodec};
use testkit::Rng;

/// Inputs per codec (a power of two: the loops index with a mask).
const N: usize = 1 << 10;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// `N` random data words for codec `C` (the same seed for every codec).
fn data<C: Codec>() -> Vec<u64> {
    let mut rng = Rng::new(11);
    (0..N)
        .map(|_| rng.next_u64() & mask(C::DATA_BITS))
        .collect()
}

/// Times `f` over `inputs`, one call per iteration.
fn bench_loop<T: Copy, R>(g: &mut Group<'_>, id: &str, inputs: &[T], f: impl Fn(T) -> R) {
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                black_box(f(black_box(inputs[i as usize & (N - 1)])));
            }
            start.elapsed()
        })
    });
}

/// Decode of clean codewords (`flip == false`) or of codewords with one bit
/// flipped at a random position.
struct Decode<'g, 'a> {
    g: &'g mut Group<'a>,
    flip: bool,
}

impl VisitCodec for Decode<'_, '_> {
    fn visit<C: CodecId>(&mut self) {
        let codec = C::new();
        let data = data::<C>();
        let mut rng = Rng::new(12);
        let words: Vec<C::Word> = data
            .iter()
            .map(|&d| {
                let w = codec.encode(d);
                if self.flip {
                    C::flip(w, rng.below(C::CODE_BITS as usize) as u32)
                } else {
                    w
                }
            })
            .collect();
        for (&w, &d) in words.iter().zip(&data) {
            assert_eq!(C::data_of(&codec.decode(w)), Some(d), "{}: decode", C::ID);
        }
        bench_loop(self.g, C::ID, &words, |w| codec.decode(w));
    }
}

struct Encode<'g, 'a> {
    g: &'g mut Group<'a>,
}

impl VisitCodec for Encode<'_, '_> {
    fn visit<C: CodecId>(&mut self) {
        let codec = C::new();
        let data = data::<C>();
        for &d in &data {
            let w = codec.encode(d);
            assert_eq!(C::data_of(&codec.decode(w)), Some(d), "{}: encode", C::ID);
        }
        bench_loop(self.g, C::ID, &data, |d| codec.encode(d));
    }
}

/// Words per iteration of `codes_decode_array` (16 KiB of `u128`: the
/// array stays in L1).
const ARRAY: usize = 1 << 10;

/// Decode throughput over an array of clean codewords: one iteration
/// decodes all `ARRAY` words and folds their data into one value, so
/// independent decodes overlap as they would in a scrub. Reported per word
/// (criterion's throughput in elements). `secded64` is the table decode of
/// `Secded64`; `secded128` the codec `Secded128::new()` picks on this CPU
/// (carry-less multiplication on x86-64 with PCLMULQDQ);
/// `secded128_portable` its byte tables.
fn decode_array(c: &mut Criterion) {
    let mut g = c.benchmark_group("codes_decode_array");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(ARRAY as u64));
    let mut rng = Rng::new(13);
    let words64: Vec<u64> = (0..ARRAY)
        .map(|_| Secded64::encode(rng.next_u64()))
        .collect();
    g.bench_function("secded64", |b| {
        b.iter(|| {
            black_box(&words64).iter().fold(0u64, |acc, &w| {
                acc ^ match Secded64::decode(w) {
                    Decoded::Clean(d) | Decoded::Corrected { data: d, .. } => d,
                    Decoded::Uncorrectable { syndrome } => syndrome as u64,
                }
            })
        })
    });
    for (id, code) in [
        ("secded128", Secded128::new()),
        ("secded128_portable", Secded128::portable()),
    ] {
        let mut rng = Rng::new(13);
        let words: Vec<u128> = (0..ARRAY)
            .map(|_| code.encode((rng.next_u64() as u128) << 64 | rng.next_u64() as u128))
            .collect();
        assert!(words
            .iter()
            .all(|&w| matches!(code.decode(w), Decoded128::Clean(_))));
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(&words).iter().fold(0u128, |acc, &w| {
                    acc ^ match code.decode(w) {
                        Decoded128::Clean(d) | Decoded128::Corrected { data: d, .. } => d,
                        Decoded128::Uncorrectable { syndrome } => syndrome as u128,
                    }
                })
            })
        });
    }
    g.finish();
}

fn codes(c: &mut Criterion) {
    decode_array(c);
    for (id, flip) in [("codes_decode", false), ("codes_decode_error", true)] {
        let mut g = c.benchmark_group(id);
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for_each_codec(&mut Decode { g: &mut g, flip });
        g.finish();
    }
    let mut g = c.benchmark_group("codes_encode");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for_each_codec(&mut Encode { g: &mut g });
    g.finish();
}

criterion_group!(benches, codes);
criterion_main!(benches);
