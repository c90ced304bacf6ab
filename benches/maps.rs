//! The maps side by side: every scheme of `common::schemes!` runs the same
//! generic code on the same precomputed inputs, one criterion group per
//! operation. One criterion iteration is one operation (see
//! `common::MAP_GROUPS`), so a median is a time per operation.
//!
//! Each timed loop counts its results and checks them after the clock
//! stops: a scheme that answered wrongly fails the bench, it is not timed.
//!
//! Run one group: `cargo bench --bench maps -- alloc_free` (or the built
//! executable with `--bench alloc_free`, see docs/benchmarks.md).

use criterion::measurement::WallTime;
use criterion::Throughput;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod common;
use common::{for_each_scheme, Scheme, Visit, BIG_PAGES, BLOCK, FLOOR, MAP_PAGES};
use eccmap::{EccBitmap, PageState};
use testkit::Rng;

/// Length of the random sequences (a power of two: the loops index with a mask).
const SEQ: usize = 1 << 14;
/// Length of the random sequence of the 256 Mi-page groups (a power of
/// two): 4 Mi pages, so one cycle touches far more cache lines (256 MiB of
/// them, in a map of 32 to 64 MiB) than the core's caches hold.
const BIG_SEQ: usize = 1 << 22;
/// Pages per thread in `contended`: thread `t` uses pages `t, t + 2, ...`
/// below `2 * CONTENDED_PAGES`, all in storage word 0 of every scheme (the
/// densest, `ecc8_4`, holds 32 pages per word).
const CONTENDED_PAGES: usize = 16;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// `len` values in `0..n` from `seed`, times `scale`.
fn sequence(seed: u64, len: usize, n: usize, scale: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.below(n) * scale).collect()
}

/// Runs `op(i % len)` for `i` in `0..iters` (`len` a power of two), timed;
/// `op` returns how many of its calls succeeded, `per` calls per iteration.
/// Panics after the clock stops if any call failed.
#[inline(always)]
fn timed(
    iters: u64,
    len: usize,
    per: u64,
    what: &str,
    mut op: impl FnMut(usize) -> u64,
) -> Duration {
    let mut ok = 0;
    let start = Instant::now();
    for i in 0..iters {
        ok += op(i as usize & (len - 1));
    }
    let t = start.elapsed();
    assert_eq!(ok, per * iters, "{what}: some calls failed");
    t
}

fn ok<T, E>(r: Result<T, E>) -> u64 {
    u64::from(black_box(r).is_ok())
}

struct AllocFree<'g, 'a> {
    g: &'g mut Group<'a>,
    pages: &'g [usize],
}

impl Visit for AllocFree<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let map = S::with_pages(MAP_PAGES);
        let pages = self.pages;
        self.g.bench_function(S::ID, |b| {
            b.iter_custom(|iters| {
                timed(iters, SEQ, 2, S::ID, |i| {
                    let p = black_box(pages[i]);
                    ok(map.alloc(p)) + ok(map.free(p))
                })
            })
        });
    }
}

struct RangeOrder9<'g, 'a> {
    g: &'g mut Group<'a>,
    firsts: &'g [usize],
}

impl Visit for RangeOrder9<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let map = S::with_pages(MAP_PAGES);
        let firsts = self.firsts;
        self.g.bench_function(S::ID, |b| {
            b.iter_custom(|iters| {
                timed(iters, SEQ, 2, S::ID, |i| {
                    let p = black_box(firsts[i]);
                    ok(map.alloc_range(p, BLOCK)) + ok(map.free_range(p, BLOCK))
                })
            })
        });
    }
}

/// A half-full random map (the same pages allocated in every scheme) and
/// queries on it with their known answers.
struct HalfFull {
    /// Bit `p % 64` of word `p / 64`: page `p` is allocated.
    truth: Vec<u64>,
    /// Random pages to query.
    queries: Vec<usize>,
    /// `allocated[i]`: whether `queries[i]` is allocated.
    allocated: Vec<bool>,
    /// `distance[i]`: `find_free(queries[i]) - queries[i]`.
    distance: Vec<usize>,
}

impl HalfFull {
    fn new() -> HalfFull {
        let mut rng = Rng::new(3);
        let mut truth: Vec<u64> = (0..MAP_PAGES / 64).map(|_| rng.next_u64()).collect();
        // The last page stays free so every query finds one.
        *truth.last_mut().expect("pages") &= !(1 << 63);
        let is = |p: usize| truth[p / 64] >> (p % 64) & 1 == 1;
        let queries = sequence(4, SEQ, MAP_PAGES, 1);
        let allocated = queries.iter().map(|&p| is(p)).collect();
        let distance = queries
            .iter()
            .map(|&p| (p..MAP_PAGES).find(|&q| !is(q)).expect("last page free") - p)
            .collect();
        HalfFull {
            truth,
            queries,
            allocated,
            distance,
        }
    }

    /// A map of scheme `S` in this state, checked.
    fn build<S: Scheme>(&self) -> S {
        let map = S::with_pages(MAP_PAGES);
        let mut n = 0;
        for (w, &bits) in self.truth.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                map.alloc(w * 64 + b.trailing_zeros() as usize)
                    .expect("fresh page");
                b &= b - 1;
                n += 1;
            }
        }
        assert_eq!(map.count_allocated(), Ok(n), "{}: half-full map", S::ID);
        map
    }

    /// How many of the first `iters` queries (cycling) satisfy `f`.
    fn expected(&self, iters: u64, f: impl Fn(usize) -> u64) -> u64 {
        let per_cycle: u64 = (0..SEQ).map(&f).sum();
        let rest: u64 = (0..iters as usize % SEQ).map(&f).sum();
        iters / SEQ as u64 * per_cycle + rest
    }
}

struct IsAllocated<'g, 'a> {
    g: &'g mut Group<'a>,
    half: &'g HalfFull,
}

impl Visit for IsAllocated<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let half = self.half;
        // Built on first use, so a filtered run skips it.
        let mut map = None;
        self.g.bench_function(S::ID, |b| {
            let map = &*map.get_or_insert_with(|| half.build::<S>());
            b.iter_custom(|iters| {
                let (mut yes, mut err) = (0u64, 0u64);
                let start = Instant::now();
                for i in 0..iters {
                    let r = black_box(
                        map.is_allocated(black_box(half.queries[i as usize & (SEQ - 1)])),
                    );
                    yes += u64::from(r == Ok(true));
                    err += u64::from(r.is_err());
                }
                let t = start.elapsed();
                let want = half.expected(iters, |i| u64::from(half.allocated[i]));
                assert_eq!((yes, err), (want, 0), "{}: is_allocated answers", S::ID);
                t
            })
        });
    }
}

struct FindFree<'g, 'a> {
    g: &'g mut Group<'a>,
    half: &'g HalfFull,
}

impl Visit for FindFree<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let half = self.half;
        // Built on first use, so a filtered run skips it.
        let mut map = None;
        self.g.bench_function(S::ID, |b| {
            let map = &*map.get_or_insert_with(|| half.build::<S>());
            b.iter_custom(|iters| {
                let (mut dist, mut err) = (0u64, 0u64);
                let start = Instant::now();
                for i in 0..iters {
                    let from = half.queries[i as usize & (SEQ - 1)];
                    match black_box(map.find_free(black_box(from))) {
                        Ok(Some(p)) => dist += (p - from) as u64,
                        _ => err += 1,
                    }
                }
                let t = start.elapsed();
                let want = half.expected(iters, |i| half.distance[i] as u64);
                assert_eq!((dist, err), (want, 0), "{}: find_free answers", S::ID);
                t
            })
        });
    }
}

struct Scrub<'g, 'a> {
    g: &'g mut Group<'a>,
    pages: usize,
}

impl Visit for Scrub<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let pages = self.pages;
        // Built on first use, so a filtered run skips it (up to 64 MiB).
        let mut state = None;
        self.g.bench_function(S::ID, |b| {
            let (map, words) = &*state.get_or_insert_with(|| {
                let map = S::with_pages(pages);
                let words = map.scrub().words;
                // At most 64 pages per 64-bit word, 112 per 128-bit word
                // (ecc128): the scrub must have covered them all.
                assert!(words * 112 >= pages, "{}: scrub words", S::ID);
                (map, words)
            });
            let words = *words;
            b.iter(|| {
                let r = black_box(map.scrub());
                assert!(r.is_clean() && r.words == words, "{}: clean scrub", S::ID);
            })
        });
    }
}

/// The memory-speed floor of a scrub of `pages` pages: a sequential read,
/// XOR fold, of as many bytes as `ecc64`'s storage (non-zero, so no page
/// is the shared zero page), checked against the fold computed once.
fn floor(g: &mut Group<'_>, pages: usize) {
    // Built on first use, so a filtered run skips it (up to 36 MiB).
    let mut state = None;
    g.bench_function(FLOOR, |b| {
        let (words, want) = &*state.get_or_insert_with(|| {
            let bytes = EccBitmap::<eccmap::codes::Secded64>::with_pages(pages).storage_bytes();
            let mut rng = Rng::new(6);
            let words: Vec<u64> = (0..bytes / 8).map(|_| rng.next_u64() | 1).collect();
            let want = words.iter().fold(0, |a, w| a ^ w);
            (words, want)
        });
        b.iter(|| {
            let words: &[u64] = black_box(words);
            let x = words.iter().fold(0, |a, w| a ^ w);
            assert_eq!(black_box(x), *want, "floor: XOR fold");
        })
    });
}

/// A free map of `BIG_PAGES` pages of scheme `S` whose storage has been
/// written once (a range alloc and free of every block), so the timing
/// takes no page faults; checked empty.
fn big_map<S: Scheme>() -> S {
    let map = S::with_pages(BIG_PAGES);
    for first in (0..BIG_PAGES).step_by(BLOCK) {
        map.alloc_range(first, BLOCK).expect("fresh block");
        map.free_range(first, BLOCK).expect("allocated block");
    }
    assert_eq!(map.count_allocated(), Ok(0), "{}: big map", S::ID);
    map
}

struct AllocFreeBig<'g, 'a> {
    g: &'g mut Group<'a>,
    pages: &'g [u32],
}

impl Visit for AllocFreeBig<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let pages = self.pages;
        // Built on first use, so a filtered run skips it (up to 64 MiB).
        let mut map = None;
        self.g.bench_function(S::ID, |b| {
            let map = &*map.get_or_insert_with(big_map::<S>);
            b.iter_custom(|iters| {
                timed(iters, BIG_SEQ, 2, S::ID, |i| {
                    let p = black_box(pages[i]) as usize;
                    ok(map.alloc(p)) + ok(map.free(p))
                })
            })
        });
    }
}

struct AllocFreeBigChain<'g, 'a> {
    g: &'g mut Group<'a>,
    pages: &'g [u32],
}

impl Visit for AllocFreeBigChain<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let pages = self.pages;
        // Built on first use, so a filtered run skips it (up to 64 MiB).
        let mut map = None;
        self.g.bench_function(S::ID, |b| {
            let map = &*map.get_or_insert_with(big_map::<S>);
            b.iter_custom(|iters| {
                let (mut good, mut dep) = (0u64, 0usize);
                let start = Instant::now();
                for i in 0..iters {
                    let p = pages[(i as usize ^ dep) & (BIG_SEQ - 1)] as usize;
                    let r = black_box(map.is_allocated(p));
                    // 0 for the right answer (every page is free): the next
                    // page's address waits for this answer as data.
                    dep = usize::from(!matches!(r, Ok(false))) << 21;
                    good += u64::from(dep == 0) + ok(map.alloc(p)) + ok(map.free(p));
                }
                let t = start.elapsed();
                assert_eq!(good, 3 * iters, "{}: chained calls failed", S::ID);
                t
            })
        });
    }
}

struct Contended<'g, 'a> {
    g: &'g mut Group<'a>,
    /// Per thread, its pages in a random order.
    pages: &'g [Vec<usize>; 2],
}

/// Tells parked `contended` workers to return, when dropped.
struct Release<'a> {
    start: &'a Barrier,
    stop: &'a AtomicBool,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.start.wait();
    }
}

impl Visit for Contended<'_, '_> {
    fn visit<S: Scheme>(&mut self) {
        let map = S::with_pages(MAP_PAGES);
        let (start, done) = (Barrier::new(3), Barrier::new(3));
        let iters = AtomicU64::new(0);
        let (stop, failed) = (AtomicBool::new(false), AtomicBool::new(false));
        std::thread::scope(|s| {
            for pages in self.pages {
                let (map, start, done, iters, stop, failed) =
                    (&map, &start, &done, &iters, &stop, &failed);
                s.spawn(move || loop {
                    start.wait();
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let n = iters.load(Ordering::Acquire);
                    let mut good = 0;
                    for i in 0..n {
                        let p = black_box(pages[i as usize & (SEQ - 1)]);
                        good += ok(map.alloc(p)) + ok(map.free(p));
                    }
                    if good != 2 * n {
                        failed.store(true, Ordering::Release);
                    }
                    done.wait();
                });
            }
            // Stops the workers at the end of the scope, also if the bench
            // panics (the scope would otherwise wait for them forever).
            let _release = Release {
                start: &start,
                stop: &stop,
            };
            // The workers are started once: the timing covers the barrier
            // release, the loops and the join barrier, not thread start-up.
            self.g.bench_function(S::ID, |b| {
                b.iter_custom(|n| {
                    iters.store(n, Ordering::Release);
                    let t0 = Instant::now();
                    start.wait();
                    done.wait();
                    t0.elapsed()
                })
            });
        });
        // Checked after the workers are joined, so a failure cannot hang them.
        assert!(
            !failed.load(Ordering::Acquire),
            "{}: contended calls failed",
            S::ID
        );
        assert_eq!(
            map.count_allocated(),
            Ok(0),
            "{}: contended end state",
            S::ID
        );
    }
}

fn ops(c: &mut Criterion) {
    let pages = sequence(1, SEQ, MAP_PAGES, 1);
    let mut g = c.benchmark_group("alloc_free");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut AllocFree {
        g: &mut g,
        pages: &pages,
    });
    g.finish();

    let firsts = sequence(2, SEQ, MAP_PAGES / BLOCK, BLOCK);
    let mut g = c.benchmark_group("range_order9");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut RangeOrder9 {
        g: &mut g,
        firsts: &firsts,
    });
    g.finish();

    let half = HalfFull::new();
    let mut g = c.benchmark_group("is_allocated");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut IsAllocated {
        g: &mut g,
        half: &half,
    });
    g.finish();

    let mut g = c.benchmark_group("find_free");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut FindFree {
        g: &mut g,
        half: &half,
    });
    g.finish();
}

fn scrub(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrub_4mi");
    g.throughput(Throughput::Elements(MAP_PAGES as u64))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut Scrub {
        g: &mut g,
        pages: MAP_PAGES,
    });
    floor(&mut g, MAP_PAGES);
    g.finish();

    // 10-150 ms per scrub: few flat samples.
    let mut g = c.benchmark_group("scrub_256mi");
    g.throughput(Throughput::Elements(BIG_PAGES as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for_each_scheme(&mut Scrub {
        g: &mut g,
        pages: BIG_PAGES,
    });
    floor(&mut g, BIG_PAGES);
    g.finish();
}

fn big(c: &mut Criterion) {
    let mut rng = Rng::new(7);
    let pages: Vec<u32> = (0..BIG_SEQ)
        .map(|_| u32::try_from(rng.below(BIG_PAGES)).expect("256 Mi pages fit u32"))
        .collect();
    let mut g = c.benchmark_group("alloc_free_256mi");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut AllocFreeBig {
        g: &mut g,
        pages: &pages,
    });
    g.finish();

    let mut g = c.benchmark_group("alloc_free_256mi_chain");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut AllocFreeBigChain {
        g: &mut g,
        pages: &pages,
    });
    g.finish();
}

fn contended(c: &mut Criterion) {
    let mut rng = Rng::new(5);
    let pages = [0, 1].map(|t| {
        (0..SEQ)
            .map(|_| t + 2 * rng.below(CONTENDED_PAGES))
            .collect::<Vec<_>>()
    });
    let mut g = c.benchmark_group("contended");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for_each_scheme(&mut Contended {
        g: &mut g,
        pages: &pages,
    });
    g.finish();
}

criterion_group!(benches, ops, scrub, big, contended);
criterion_main!(benches);
