//! The `frame_alloc` group: `FrameAllocator` over the plain, dual and ECC
//! maps, next to the `bitmap-allocator` crate (the rCore / ArceOS kernels'
//! allocator) behind a `Mutex`, on a 1 Mi-page (4 GiB) space.
//!
//! Benchmark ids are `frame_alloc/<scheme>/<case>`, where the case is
//! `single_1t` / `single_2t` (alloc + dealloc of one frame, one or two
//! threads) or `order9_1t` / `order9_2t` (alloc_contiguous(512, 9) +
//! dealloc_contiguous). One iteration is one alloc + dealloc pair per
//! thread; with two threads the figure is wall time per pair per thread.
//! Every allocation is checked (`Some`) outside the timed loop's hot path
//! by `expect`, so a failing allocator fails the bench. The one exception
//! is the dual bitmap's documented race (docs/safety.md): two threads that
//! claim the same free page while one of them also frees it can leave its
//! two copies equal, and a later operation on that page then fails with
//! `Uncorrectable`. For `dual` such failures are counted and printed after
//! each case (the operation is retried, or the page left out of use); for
//! every other scheme any failure panics.

use bitmap_allocator::{BitAlloc, BitAlloc1M};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use eccmap::codes::Secded64;
use eccmap::{DualBitmap, EccBitmap, FrameAllocator, PageState, PlainBitmap, StateError};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PAGES: usize = 1 << 20;

/// What one case needs of an allocator.
trait Frames: Sync {
    fn alloc_one(&self) -> usize;
    fn free_one(&self, p: usize);
    fn alloc_block(&self) -> usize;
    fn free_block(&self, p: usize);
    /// Operations that failed so far (only the dual bitmap may have any).
    fn failed(&self) -> u64 {
        0
    }
}

/// A `FrameAllocator` and the count of its operations that failed.
struct Counted<M: PageState> {
    frames: FrameAllocator<M>,
    /// Failures are the scheme's documented behaviour (the dual bitmap's
    /// race), counted; for any other scheme a failure panics.
    may_fail: bool,
    failed: AtomicU64,
}

impl<M: PageState> Counted<M> {
    fn new(map: M, may_fail: bool) -> Counted<M> {
        Counted {
            frames: FrameAllocator::new(map),
            may_fail,
            failed: AtomicU64::new(0),
        }
    }

    /// Runs `op` until it succeeds (allocations, at most `RETRIES` times)
    /// or once (frees), counting the failures the scheme may have.
    fn run<T>(&self, retry: bool, mut op: impl FnMut() -> Result<T, StateError>) -> Option<T> {
        const RETRIES: usize = 1000;
        for _ in 0..RETRIES {
            match op() {
                Ok(v) => return Some(v),
                Err(_) if self.may_fail => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    if !retry {
                        return None;
                    }
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        panic!("{RETRIES} failed attempts in a row")
    }
}

impl<M: PageState> Frames for Counted<M> {
    fn alloc_one(&self) -> usize {
        let got = self.run(true, || self.frames.alloc());
        got.flatten().expect("a free frame")
    }
    fn free_one(&self, p: usize) {
        self.run(false, || self.frames.dealloc(p));
    }
    fn alloc_block(&self) -> usize {
        let got = self.run(true, || self.frames.alloc_contiguous(512, 9));
        got.flatten().expect("a free block")
    }
    fn free_block(&self, p: usize) {
        self.run(false, || self.frames.dealloc_contiguous(p, 512));
    }
    fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// `bitmap-allocator` is `&mut self`: the usual kernel wrapping is a lock.
struct Locked(Mutex<Box<BitAlloc1M>>);

impl Frames for Locked {
    fn alloc_one(&self) -> usize {
        self.0.lock().unwrap().alloc().expect("a free frame")
    }
    fn free_one(&self, p: usize) {
        assert!(self.0.lock().unwrap().dealloc(p));
    }
    fn alloc_block(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .alloc_contiguous(None, 512, 9)
            .expect("a free block")
    }
    fn free_block(&self, p: usize) {
        assert!(self.0.lock().unwrap().dealloc_contiguous(p, 512));
    }
}

fn locked() -> Locked {
    let mut b = Box::new(BitAlloc1M::DEFAULT);
    b.insert(0..PAGES);
    Locked(Mutex::new(b))
}

/// Half of the space allocated in scattered frames first, so that searches
/// do real work (a fixed pattern: every other 64-frame run).
fn prefill(f: &dyn Frames) {
    let mut held = Vec::new();
    for _ in 0..PAGES / 2 {
        held.push(f.alloc_one());
    }
    for (i, p) in held.into_iter().enumerate() {
        if (i / 64) % 2 == 1 {
            f.free_one(p);
        }
    }
}

fn pair(f: &dyn Frames, block: bool) {
    if block {
        let p = f.alloc_block();
        f.free_block(black_box(p));
    } else {
        let p = f.alloc_one();
        f.free_one(black_box(p));
    }
}

fn time(f: &dyn Frames, block: bool, threads: usize, iters: u64) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            pair(f, block);
        }
        return start.elapsed();
    }
    let barrier = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    pair(f, block);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn frame_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_alloc");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    // A fresh, prefilled allocator for every case: a dual bitmap that lost
    // pages to its race in one case does not carry them into the next.
    type Make = fn() -> Box<dyn Frames>;
    let schemes: [(&str, Make); 4] = [
        ("plain", || {
            Box::new(Counted::new(PlainBitmap::with_pages(PAGES), false))
        }),
        ("dual", || {
            Box::new(Counted::new(DualBitmap::with_pages(PAGES), true))
        }),
        ("ecc64", || {
            Box::new(Counted::new(
                EccBitmap::<Secded64>::with_pages(PAGES),
                false,
            ))
        }),
        ("bitmap_allocator", || Box::new(locked())),
    ];
    for (name, make) in schemes {
        for (case, block, threads) in [
            ("single_1t", false, 1),
            ("single_2t", false, 2),
            ("order9_1t", true, 1),
            ("order9_2t", true, 2),
        ] {
            let f = make();
            prefill(f.as_ref());
            g.bench_function(BenchmarkId::new(name, case), |b| {
                b.iter_custom(|iters| time(f.as_ref(), block, threads, iters))
            });
            let failed = f.failed();
            if failed != 0 {
                println!("frame_alloc/{name}/{case}: {failed} operations failed (the dual bitmap's race)");
            }
        }
    }
    g.finish();
}

criterion_group!(benches, frame_alloc);
criterion_main!(benches);
