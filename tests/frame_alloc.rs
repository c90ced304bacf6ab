//! FrameAllocator: differential test against the `bitmap-allocator` crate
//! (the rCore / ArceOS kernels' allocator), and threads allocating to
//! exhaustion, with and without faults injected into an ECC map.

use bitmap_allocator::{BitAlloc, BitAlloc4K};
use eccmap::codes::{LaneCode, Secded64};
use eccmap::{
    DualBitmap, EccBitmap, FaultInjection, FrameAllocator, PageState, PlainBitmap, Policy,
    StateError,
};
use quickcheck::{quickcheck, Arbitrary, Gen};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

const CAP: usize = BitAlloc4K::CAP;

#[derive(Debug, Clone)]
enum Op {
    /// bitmap-allocator's `insert`: mark pages free.
    Insert(usize, usize),
    /// bitmap-allocator's `remove`: mark pages allocated.
    Remove(usize, usize),
    Alloc,
    AllocContiguous(usize, u32),
    Dealloc(usize),
    /// Free the n-th block handed out by AllocContiguous that is still held.
    DeallocBlock(usize),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let page = |g: &mut Gen| usize::arbitrary(g) % CAP;
        let len = |g: &mut Gen| 1 + usize::arbitrary(g) % 700;
        match u8::arbitrary(g) % 10 {
            0 => Op::Insert(page(g), len(g)),
            1 => Op::Remove(page(g), len(g)),
            2..=4 => Op::Alloc,
            5 | 6 => Op::AllocContiguous(len(g), u32::arbitrary(g) % 10),
            7 | 8 => Op::Dealloc(page(g)),
            _ => Op::DeallocBlock(usize::arbitrary(g)),
        }
    }
}

/// Applies `ops` to the oracle and to a lowest-first FrameAllocator over
/// `map`, comparing every result and the whole state after every step.
fn differential<M: PageState>(map: M, ops: &[Op]) -> Result<(), String> {
    let mut oracle = BitAlloc4K::default();
    oracle.insert(0..CAP);
    let ours = FrameAllocator::with_policy(map, Policy::LowestFirst);
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert(first, len) => {
                let end = (first + len).min(CAP);
                oracle.insert(first..end);
                for p in first..end {
                    if ours.map().is_allocated(p).unwrap() {
                        ours.dealloc(p).unwrap();
                    }
                }
                blocks.retain(|&(b, n)| b + n <= first || b >= end);
            }
            Op::Remove(first, len) => {
                let end = (first + len).min(CAP);
                oracle.remove(first..end);
                for p in first..end {
                    if !ours.map().is_allocated(p).unwrap() {
                        ours.reserve(p, 1).unwrap();
                    }
                }
            }
            Op::Alloc => {
                let (a, b) = (oracle.alloc(), ours.alloc().unwrap());
                if a != b {
                    return Err(format!("step {step} alloc: oracle {a:?}, ours {b:?}"));
                }
            }
            Op::AllocContiguous(n, align) => {
                let a = oracle.alloc_contiguous(None, n, align as usize);
                let b = ours.alloc_contiguous(n, align).unwrap();
                if a != b {
                    return Err(format!(
                        "step {step} alloc_contiguous({n}, {align}): oracle {a:?}, ours {b:?}"
                    ));
                }
                if let Some(base) = b {
                    blocks.push((base, n));
                }
            }
            Op::Dealloc(p) => {
                let was_allocated = !oracle.test(p);
                let a = oracle.dealloc(p);
                let b = ours.dealloc(p);
                if a != was_allocated || a != b.is_ok() {
                    return Err(format!("step {step} dealloc({p}): oracle {a}, ours {b:?}"));
                }
                if !a && b != Err(StateError::DoubleFree { page: p }) {
                    return Err(format!("step {step}: expected DoubleFree, got {b:?}"));
                }
                blocks.retain(|&(b, n)| !(b..b + n).contains(&p));
            }
            Op::DeallocBlock(i) => {
                if blocks.is_empty() {
                    continue;
                }
                let (base, n) = blocks.swap_remove(i % blocks.len());
                let a = oracle.dealloc_contiguous(base, n);
                let b = ours.dealloc_contiguous(base, n);
                if !a || b.is_err() {
                    return Err(format!(
                        "step {step} dealloc_contiguous({base}, {n}): oracle {a}, ours {b:?}"
                    ));
                }
            }
        }
        let mut free = 0;
        for p in 0..CAP {
            let oracle_free = oracle.test(p);
            free += usize::from(oracle_free);
            if ours.map().is_allocated(p).unwrap() == oracle_free {
                return Err(format!("step {step} ({op:?}): page {p} differs"));
            }
        }
        if ours.free_pages() != free {
            return Err(format!(
                "step {step}: free_pages {} != {free}",
                ours.free_pages()
            ));
        }
    }
    Ok(())
}

quickcheck! {
    fn differential_plain(ops: Vec<Op>) -> Result<(), String> {
        differential(PlainBitmap::with_pages(CAP), &ops)
    }
    fn differential_dual(ops: Vec<Op>) -> Result<(), String> {
        differential(DualBitmap::with_pages(CAP), &ops)
    }
    fn differential_ecc64(ops: Vec<Op>) -> Result<(), String> {
        differential(EccBitmap::<Secded64>::with_pages(CAP), &ops)
    }
}

/// A fixed sequence that exercises the oracle's contiguous search, so the
/// differential test is known to compare non-trivial answers.
#[test]
fn differential_fixed_sequence() {
    let ops = [
        Op::Remove(0, 3),
        Op::Alloc,
        Op::AllocContiguous(512, 9),
        Op::AllocContiguous(5, 3),
        Op::Dealloc(1),
        Op::Alloc,
        Op::Alloc,
        Op::AllocContiguous(600, 0),
        Op::DeallocBlock(0),
        Op::AllocContiguous(512, 9),
        Op::Remove(1000, 700),
        Op::AllocContiguous(700, 2),
    ];
    differential(EccBitmap::<Secded64>::with_pages(CAP), &ops).unwrap();
}

/// Threads allocate single pages (and some blocks) until memory is
/// exhausted: every page is handed out exactly once and none is lost.
/// `alarms`: the map may report a page that another thread is updating (the
/// dual bitmap, between its two atomics: docs/design.md); such an
/// allocation is tried again.
fn exhaust<M: PageState + FaultInjection>(
    map: M,
    inject: bool,
    alarms: bool,
) -> (FrameAllocator<M>, u64) {
    const THREADS: usize = 3;
    let pages = map.pages();
    let frames = FrameAllocator::new(map);
    frames.reserve(0, 10).unwrap();
    let got = Mutex::new(Vec::new());
    let done = AtomicBool::new(false);
    let injected = AtomicU64::new(0);
    std::thread::scope(|s| {
        if inject {
            s.spawn(|| {
                // One single-bit fault at a time, in a word that decodes
                // clean, waiting for its repair before the next.
                let mut x = 0x2545_F491_4F6C_DD1Du64;
                let words = frames.map().storage_words();
                while !done.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let w = (x as usize) % words;
                    frames
                        .map()
                        .flip_storage_bit(w * 64 + (x >> 58) as usize)
                        .unwrap();
                    injected.fetch_add(1, Ordering::Relaxed);
                    while Secded64::syndrome(frames.map().storage_word(w)) != 0
                        && !done.load(Ordering::Relaxed)
                    {
                        // Run for its repair; the counters are checked below.
                        let _ = frames.map().scrub();
                    }
                }
            });
        }
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let frames = &frames;
                let got = &got;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut i = 0;
                    let claim = |block: bool| {
                        for _ in 0..100_000 {
                            let r = if block {
                                frames.alloc_contiguous(8, 3).map(|b| b.map(|b| (b, 8)))
                            } else {
                                frames.alloc().map(|p| p.map(|p| (p, 1)))
                            };
                            match r {
                                Ok(got) => return got,
                                Err(StateError::Uncorrectable { .. }) if alarms => {
                                    std::thread::yield_now()
                                }
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                        panic!("a page stayed unverifiable")
                    };
                    loop {
                        i += 1;
                        let r = claim((i + t) % 17 == 0);
                        // A failed block search is not exhaustion: try a page.
                        let r = r.or_else(|| claim(false));
                        match r {
                            Some(b) => mine.push(b),
                            None => break,
                        }
                    }
                    got.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let got = got.into_inner().unwrap();
    let mut seen = HashSet::new();
    for &(b, n) in &got {
        for p in b..b + n {
            assert!(
                p >= 10 && p < pages,
                "reserved or out-of-range page {p} handed out"
            );
            assert!(seen.insert(p), "page {p} handed out twice");
        }
    }
    assert_eq!(seen.len(), pages - 10, "pages lost");
    assert_eq!(frames.free_pages(), 0);
    for &(b, n) in &got {
        frames.dealloc_contiguous(b, n).unwrap();
    }
    assert_eq!(frames.free_pages(), pages - 10);
    assert_eq!(frames.map().count_allocated(), Ok(10));
    (frames, injected.load(Ordering::Relaxed))
}

#[test]
fn threads_exhaust_plain_dual_ecc() {
    exhaust(PlainBitmap::with_pages(20_000), false, false);
    exhaust(DualBitmap::with_pages(20_000), false, true);
    exhaust(EccBitmap::<Secded64>::with_pages(20_000), false, false);
}

#[test]
fn threads_exhaust_ecc_with_single_bit_faults() {
    let (frames, injected) = exhaust(EccBitmap::<Secded64>::with_pages(20_000), true, false);
    assert_eq!(frames.map().scrub().uncorrectable, 0);
    assert!(injected > 0);
    assert_eq!(
        frames.map().stats().ce_count,
        injected,
        "every fault repaired exactly once"
    );
    assert_eq!(frames.map().stats().ue_count, 0);
    assert!(frames.map().scrub().is_clean());
}

/// A damaged word is skipped, never handed out; with nothing verifiable
/// left, the error is returned rather than "out of memory".
#[test]
fn unverifiable_pages_are_never_handed_out() {
    let frames =
        FrameAllocator::with_policy(EccBitmap::<Secded64>::with_pages(114), Policy::LowestFirst);
    frames.map().write_storage_word(0, 0).unwrap(); // pages 0..57 unknown
    let mut got = Vec::new();
    while let Ok(Some(p)) = frames.alloc() {
        got.push(p);
    }
    assert_eq!(got, (57..114).collect::<Vec<_>>());
    assert_eq!(
        frames.alloc(),
        Err(StateError::Uncorrectable {
            first: 0,
            count: 57
        })
    );
    assert_eq!(
        frames.alloc_contiguous(4, 2),
        Err(StateError::Uncorrectable {
            first: 0,
            count: 57
        })
    );
}

#[test]
fn bad_input() {
    let frames = FrameAllocator::new(EccBitmap::<Secded64>::with_pages(100));
    assert_eq!(
        frames.alloc_contiguous(0, 0),
        Err(StateError::EmptyRange { first: 0 })
    );
    assert!(matches!(
        frames.alloc_contiguous(1, 64),
        Err(StateError::RangeOutOfBounds { .. })
    ));
    assert_eq!(frames.alloc_contiguous(101, 0), Ok(None));
    assert!(matches!(
        frames.reserve(90, 20),
        Err(StateError::RangeOutOfBounds { .. })
    ));
    assert_eq!(frames.dealloc(5), Err(StateError::DoubleFree { page: 5 }));
    assert_eq!(frames.free_pages(), 100);
    let empty = FrameAllocator::new(EccBitmap::<Secded64>::with_pages(0));
    assert_eq!(empty.alloc(), Ok(None));
}
