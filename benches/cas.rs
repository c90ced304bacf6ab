//! The floor of a 16-byte update (issue 15): a load and a compare-and-swap
//! of one word alone, 8 bytes (`AtomicU64`) against 16 bytes
//! (portable-atomic's `AtomicU128`, as `Ecc128` uses it: run-time detected
//! `cmpxchg16b` unless the build enables the target feature), and the dual
//! bitmap's two read-modify-writes (`fetch_or` on two `AtomicU64`s); and
//! the `_eccmap` cases: the load and compare-and-swap through the map's own
//! 16-byte operations (`AtomicWord` of `AtomicU128`: inline `vmovdqa` and
//! `lock cmpxchg16b` on x86-64, the CPU's features read once, where
//! portable-atomic dispatches every operation at run time):
//! - `cas_hot`: the same word every time (the instruction's own cost);
//! - `cas_random`: a random word of a 16 MiB array per operation, from a
//!   fixed sequence (cache and TLB misses, as `alloc_free_256mi`).
//!
//! Run: `cargo bench --bench cas`.

use criterion::{criterion_group, criterion_main, Criterion};
use eccmap::{AtomicU128, AtomicWord};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use testkit::Rng;

/// Bytes of the arrays of `cas_random`.
const BYTES: usize = 16 << 20;
/// Length of the random index sequence (a power of two).
const SEQ: usize = 1 << 16;

fn load_cas_u64(a: &AtomicU64) {
    let cur = a.load(Ordering::Acquire);
    let _ = a.compare_exchange_weak(cur, cur ^ 1, Ordering::AcqRel, Ordering::Acquire);
}

fn load_cas_u128(a: &AtomicU128) {
    let cur = a.load(Ordering::Acquire);
    let _ = a.compare_exchange_weak(cur, cur ^ 1, Ordering::AcqRel, Ordering::Acquire);
}

/// `load_cas_u128` through the map's operations (`AtomicWord`).
fn load_cas_u128_eccmap(a: &AtomicU128) {
    let cur = AtomicWord::load(a, Ordering::Acquire);
    let _ = AtomicWord::compare_exchange_weak(a, cur, cur ^ 1, Ordering::AcqRel, Ordering::Acquire);
}

/// A compare-and-swap with no load before it (a failing one returns the
/// current value: the first try of a loop that guesses).
fn cas_u128(a: &AtomicU128) {
    let _ = a.compare_exchange_weak(0, 2, Ordering::AcqRel, Ordering::Acquire);
}

/// A load by compare-and-swap (of 0 with 0: it changes nothing), then the
/// compare-and-swap: the line is fetched for writing once.
fn cas_load_cas_u128(a: &AtomicU128) {
    let cur = match a.compare_exchange(0, 0, Ordering::AcqRel, Ordering::Acquire) {
        Ok(v) | Err(v) => v,
    };
    let _ = a.compare_exchange_weak(cur, cur ^ 1, Ordering::AcqRel, Ordering::Acquire);
}

fn two_rmw(a: &AtomicU64, b: &AtomicU64) {
    a.fetch_xor(1, Ordering::AcqRel);
    b.fetch_xor(1, Ordering::AcqRel);
}

fn hot(c: &mut Criterion) {
    let mut g = c.benchmark_group("cas_hot");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let a = AtomicU64::new(0);
    let b = AtomicU64::new(0);
    let w = AtomicU128::new(0);
    assert!(AtomicU128::is_lock_free());
    g.bench_function("load_cas_u64", |i| i.iter(|| load_cas_u64(black_box(&a))));
    g.bench_function("load_cas_u128", |i| i.iter(|| load_cas_u128(black_box(&w))));
    g.bench_function("load_cas_u128_eccmap", |i| {
        i.iter(|| load_cas_u128_eccmap(black_box(&w)))
    });
    g.bench_function("cas_load_cas_u128", |i| {
        i.iter(|| cas_load_cas_u128(black_box(&w)))
    });
    g.bench_function("two_rmw_u64", |i| {
        i.iter(|| two_rmw(black_box(&a), black_box(&b)))
    });
    g.finish();
}

fn random(c: &mut Criterion) {
    let mut g = c.benchmark_group("cas_random");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut rng = Rng::new(15);
    let seq: Vec<usize> = (0..SEQ).map(|_| rng.below(1 << 30)).collect();
    let n64 = BYTES / 8;
    let n128 = BYTES / 16;
    let a: Vec<AtomicU64> = (0..n64).map(|_| AtomicU64::new(1)).collect();
    let b: Vec<AtomicU64> = (0..n64).map(|_| AtomicU64::new(1)).collect();
    let w: Vec<AtomicU128> = (0..n128).map(|_| AtomicU128::new(1)).collect();
    let mut k = 0;
    g.bench_function("load_cas_u64", |i| {
        i.iter(|| {
            k += 1;
            load_cas_u64(&a[seq[k & (SEQ - 1)] % n64])
        })
    });
    g.bench_function("load_cas_u128", |i| {
        i.iter(|| {
            k += 1;
            load_cas_u128(&w[seq[k & (SEQ - 1)] % n128])
        })
    });
    g.bench_function("load_cas_u128_eccmap", |i| {
        i.iter(|| {
            k += 1;
            load_cas_u128_eccmap(&w[seq[k & (SEQ - 1)] % n128])
        })
    });
    g.bench_function("load_u128_eccmap", |i| {
        i.iter(|| {
            k += 1;
            AtomicWord::load(&w[seq[k & (SEQ - 1)] % n128], Ordering::Acquire)
        })
    });
    g.bench_function("cas_u128", |i| {
        i.iter(|| {
            k += 1;
            cas_u128(&w[seq[k & (SEQ - 1)] % n128])
        })
    });
    g.bench_function("cas_load_cas_u128", |i| {
        i.iter(|| {
            k += 1;
            cas_load_cas_u128(&w[seq[k & (SEQ - 1)] % n128])
        })
    });
    g.bench_function("load_u128", |i| {
        i.iter(|| {
            k += 1;
            w[seq[k & (SEQ - 1)] % n128].load(Ordering::Acquire)
        })
    });
    // The dual bitmap's two words of one page: one in each of two arrays
    // of half the bytes each.
    g.bench_function("two_rmw_u64", |i| {
        i.iter(|| {
            k += 1;
            let j = seq[k & (SEQ - 1)] % (n64 / 2);
            two_rmw(&a[j], &b[j])
        })
    });
    g.finish();
}

criterion_group!(benches, hot, random);
criterion_main!(benches);
