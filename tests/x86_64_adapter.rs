//! `PhysFrameAllocator` (the `x86_64` feature): the `x86_64` crate's
//! `FrameAllocator<Size4KiB>` / `FrameDeallocator<Size4KiB>` on eccmap's
//! `FrameAllocator`. Construction checks, the boot flow against a model of
//! whole frames in usable regions, frames handed out once across threads,
//! refused frees leaving the state as it was, and an uncorrectable word
//! turned into "no frame" and counted.
//!
//! `cargo test -p eccmap --features x86_64,fault-injection --test x86_64_adapter`; with
//! `panic-on-fault` as well, the tests of that mode run instead of those
//! that expect a refused free to be ignored.

// `add_usable` takes regions: a one-region array is a list of one region,
// not a range to collect.
#![allow(clippy::single_range_in_vec_init)]

use eccmap::{
    DualBitmap, FaultInjection, FrameAllocator, PageMap, PageState, PhysFrameAllocator,
    PhysFrameStats, PhysFramesError, Policy,
};
use std::collections::BTreeSet;
use std::ops::Range;
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, FrameDeallocator, PhysFrame, Size4KiB,
};
use x86_64::PhysAddr;

const FRAME: u64 = 4096;

fn frame_at(addr: u64) -> PhysFrame {
    PhysFrame::from_start_address(PhysAddr::new(addr)).unwrap()
}

fn adapter(pages: usize, base: u64) -> PhysFrameAllocator<PageMap> {
    PhysFrameAllocator::all_reserved(
        FrameAllocator::with_policy(PageMap::with_pages(pages), Policy::LowestFirst),
        base,
    )
    .unwrap()
}

/// Every frame `allocate_frame` still hands out, through the trait.
fn drain<A: X86FrameAllocator<Size4KiB>>(frames: &mut A) -> Vec<PhysFrame> {
    std::iter::from_fn(|| frames.allocate_frame()).collect()
}

fn addrs(frames: &[PhysFrame]) -> BTreeSet<u64> {
    frames.iter().map(|f| f.start_address().as_u64()).collect()
}

fn state<M: PageState>(map: &M) -> Vec<bool> {
    (0..map.pages())
        .map(|p| map.is_allocated(p).unwrap())
        .collect()
}

#[test]
fn construction_checks_the_base() {
    let make = |pages: usize, base: u64| {
        PhysFrameAllocator::new(FrameAllocator::new(PageMap::with_pages(pages)), base).map(|_| ())
    };
    assert_eq!(
        make(8, 0x1800),
        Err(PhysFramesError::UnalignedBase { base: 0x1800 })
    );
    assert_eq!(make(8, 1), Err(PhysFramesError::UnalignedBase { base: 1 }));
    // The last frame may end exactly at 2^52, not one frame beyond.
    let top = 1u64 << 52;
    assert_eq!(make(2, top - 2 * FRAME), Ok(()));
    assert_eq!(
        make(3, top - 2 * FRAME),
        Err(PhysFramesError::BeyondPhysical {
            base: top - 2 * FRAME,
            pages: 3
        })
    );
    // base + pages * 4096 overflowing u64.
    let high = !(FRAME - 1); // the last 4 KiB-aligned u64
    assert_eq!(
        make(1, high),
        Err(PhysFramesError::BeyondPhysical {
            base: high,
            pages: 1
        })
    );
    let msg = PhysFramesError::UnalignedBase { base: 0x1800 }.to_string();
    assert_eq!(msg, "physical base 0x1800 is not 4 KiB aligned");
    let msg = PhysFramesError::BeyondPhysical {
        base: top,
        pages: 1,
    }
    .to_string();
    assert!(
        msg.contains("0x10000000000000") && msg.contains("52-bit"),
        "{msg}"
    );

    let top_frames =
        PhysFrameAllocator::new(FrameAllocator::new(PageMap::with_pages(2)), top - 2 * FRAME)
            .unwrap();
    assert_eq!(top_frames.phys_range(), top - 2 * FRAME..top);
    assert_eq!(
        top_frames.frame(1),
        Some(frame_at(top - FRAME)),
        "the last frame below 2^52"
    );
}

#[test]
fn frames_and_pages_map_one_to_one() {
    let base = 0x20_0000;
    let frames = adapter(100, base);
    assert_eq!(frames.pages(), 100);
    assert_eq!(frames.phys_range(), base..base + 100 * FRAME);
    for p in 0..100 {
        let f = frames.frame(p).unwrap();
        assert_eq!(f.start_address().as_u64(), base + p as u64 * FRAME);
        assert_eq!(frames.page(f), Some(p));
    }
    assert_eq!(frames.frame(100), None);
    assert_eq!(frames.page(frame_at(base - FRAME)), None);
    assert_eq!(frames.page(frame_at(base + 100 * FRAME)), None);
    assert_eq!(frames.page(frame_at(0)), None);
}

#[test]
fn boot_starts_reserved_and_frees_whole_frames_of_usable_regions() {
    let base = 0x10_0000;
    let end = base + 100 * FRAME; // 0x164000
    let mut frames = adapter(100, base);
    assert_eq!(frames.frames().free_pages(), 0);
    assert_eq!(frames.allocate_frame(), None, "every frame reserved");
    assert_eq!(
        frames.stats(),
        PhysFrameStats::default(),
        "exhaustion is no fault"
    );

    #[allow(clippy::reversed_empty_ranges)]
    let usable = [
        0..base,                                     // below the map: nothing
        base - 0x800..base + 2 * FRAME + 0x800,      // clipped at the base: pages 0, 1
        base + 5 * FRAME + 1..base + 8 * FRAME,      // first frame partial: pages 6, 7
        base + 9 * FRAME + 1..base + 10 * FRAME - 1, // inside one frame: nothing
        base + 20 * FRAME..base + 20 * FRAME,        // empty
        base + 30 * FRAME..base + 20 * FRAME,        // reversed
        end - 2 * FRAME..end + 0x10_0000,            // clipped at the end: pages 98, 99
        end..u64::MAX,                               // above the map: nothing
    ];
    assert_eq!(frames.add_usable(usable), Ok(6));
    assert_eq!(frames.frames().free_pages(), 6);
    let free: Vec<usize> = (0..100)
        .filter(|&p| !frames.frames().map().is_allocated(p).unwrap())
        .collect();
    assert_eq!(free, [0, 1, 6, 7, 98, 99]);

    let got = drain(&mut frames);
    let want: BTreeSet<u64> = [0u64, 1, 6, 7, 98, 99]
        .iter()
        .map(|p| base + p * FRAME)
        .collect();
    assert_eq!(addrs(&got), want);
    assert_eq!(got.len(), 6);
    assert_eq!(frames.allocate_frame(), None);
    assert_eq!(frames.stats(), PhysFrameStats::default());
    assert_eq!(frames.frames().map().stats(), Default::default());
}

/// Regions that overlap: the second range's frame already free is a double
/// free; that range is left as it was, the first stays freed.
#[cfg(not(feature = "panic-on-fault"))]
#[test]
fn overlapping_regions_stop_at_the_refused_range() {
    use eccmap::StateError;
    let frames = adapter(64, 0);
    let got = frames.add_usable([0..8 * FRAME, 4 * FRAME..12 * FRAME, 20 * FRAME..24 * FRAME]);
    assert_eq!(got, Err(StateError::DoubleFree { page: 4 }));
    let map = frames.frames().map();
    let free: Vec<usize> = (0..64).filter(|&p| !map.is_allocated(p).unwrap()).collect();
    assert_eq!(free, (0..8).collect::<Vec<_>>());
    assert_eq!(frames.frames().free_pages(), 8);
}

/// `all_reserved` over a map that already has allocated pages reserves the
/// rest, without counting a double allocation.
#[test]
fn all_reserved_keeps_pages_already_allocated() {
    let map = PageMap::with_pages(200);
    map.alloc(3).unwrap();
    map.alloc_range(100, 60).unwrap();
    let frames = PhysFrameAllocator::all_reserved(FrameAllocator::new(map), 0).unwrap();
    assert_eq!(frames.frames().map().count_allocated(), Ok(200));
    assert_eq!(frames.frames().free_pages(), 0);
    assert_eq!(frames.frames().map().stats().double_alloc, 0);
    assert_eq!(frames.add_usable([0..200 * FRAME]), Ok(200));
    assert_eq!(frames.frames().map().count_allocated(), Ok(0));

    // And over an empty map.
    let empty =
        PhysFrameAllocator::all_reserved(FrameAllocator::new(PageMap::with_pages(0)), 0).unwrap();
    assert_eq!(empty.add_usable([0..u64::MAX]), Ok(0));
    assert_eq!((&empty).allocate_frame(), None);
}

/// A bootloader memory map drawn at random: consecutive regions, each
/// usable or not, with ends anywhere (so frames cut by a region boundary).
/// The frames freed must be exactly those wholly inside one usable region
/// and inside the map.
#[test]
fn add_usable_frees_exactly_the_whole_frames_of_a_random_memory_map() {
    fn prop(base_frames: u8, pages: u16, regions: Vec<(u16, u16, bool)>) -> bool {
        let base = u64::from(base_frames) * FRAME;
        let pages = usize::from(pages % 400);
        let frames = adapter(pages, base);
        let mut cursor = 0u64;
        let mut usable: Vec<Range<u64>> = Vec::new();
        for &(len, gap, is_usable) in &regions {
            // Up to about 4 frames each, ends at any byte.
            let (len, gap) = (u64::from(len) % (4 * FRAME), u64::from(gap) % (2 * FRAME));
            let r = cursor + gap..cursor + gap + len;
            cursor = r.end;
            if is_usable {
                usable.push(r);
            }
        }
        let model: BTreeSet<usize> = (0..pages)
            .filter(|&p| {
                let lo = base + p as u64 * FRAME;
                usable.iter().any(|r| r.start <= lo && lo + FRAME <= r.end)
            })
            .collect();
        let freed = frames.add_usable(usable.iter().cloned()).unwrap();
        let got: BTreeSet<usize> = drain(&mut &frames)
            .into_iter()
            .map(|f| frames.page(f).unwrap())
            .collect();
        freed == model.len()
            && got == model
            && frames.frames().map().count_allocated() == Ok(pages)
            && frames.stats() == PhysFrameStats::default()
    }
    quickcheck::QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(u8, u16, Vec<(u16, u16, bool)>) -> bool);
}

/// Frames go back through `FrameDeallocator` and come out again.
#[test]
fn deallocated_frames_are_handed_out_again() {
    let mut frames = adapter(300, 0x4000_0000);
    frames
        .add_usable([0x4000_0000..0x4000_0000 + 300 * FRAME])
        .unwrap();
    let first = drain(&mut frames);
    assert_eq!(first.len(), 300);
    for &f in first.iter().step_by(3) {
        // SAFETY: not in use.
        unsafe { frames.deallocate_frame(f) };
    }
    assert_eq!(frames.frames().free_pages(), 100);
    let again = drain(&mut frames);
    assert_eq!(
        addrs(&again),
        addrs(&first.iter().step_by(3).cloned().collect::<Vec<_>>())
    );
    assert_eq!(frames.stats(), PhysFrameStats::default());
}

/// Threads share one adapter through `&PhysFrameAllocator`: every usable
/// frame is handed out exactly once, and all come back. (An ECC map: the
/// dual bitmap, `PageMap` with `dual-bitmap`, sees false alarms when
/// threads race for frames; see `DualBitmap`.)
#[test]
fn shared_by_reference_every_frame_is_handed_out_once() {
    use eccmap::codes::Secded64;
    use eccmap::EccBitmap;
    let frames = PhysFrameAllocator::all_reserved(
        FrameAllocator::new(EccBitmap::<Secded64>::with_pages(20_000)),
        0x100_0000,
    )
    .unwrap();
    let base = 0x100_0000;
    let usable = [
        base + 10 * FRAME..base + 9_000 * FRAME,
        base + 9_500 * FRAME..base + 20_000 * FRAME,
    ];
    let n = frames.add_usable(usable.clone()).unwrap();
    assert_eq!(n, 8_990 + 10_500);
    let taken: Vec<Vec<PhysFrame>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| drain(&mut &frames))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<PhysFrame> = taken.iter().flatten().cloned().collect();
    let set = addrs(&all);
    assert_eq!(all.len(), n);
    assert_eq!(set.len(), n, "a frame handed out twice");
    assert!(set
        .iter()
        .all(|a| usable.iter().any(|r| r.start <= *a && a + FRAME <= r.end)));
    std::thread::scope(|s| {
        for mine in &taken {
            let frames = &frames;
            s.spawn(move || {
                let mut shared = frames;
                for &f in mine {
                    // SAFETY: not in use.
                    unsafe { shared.deallocate_frame(f) };
                }
            });
        }
    });
    assert_eq!(frames.frames().free_pages(), n);
    assert_eq!(frames.frames().map().count_allocated(), Ok(20_000 - n));
    assert_eq!(frames.stats(), PhysFrameStats::default());
    assert!(frames.frames().map().scrub().is_clean());
}

/// A frame outside the map and a double free change nothing and are counted.
#[cfg(not(feature = "panic-on-fault"))]
#[test]
fn refused_frees_are_counted_and_change_nothing() {
    let base = 0x10_0000;
    let mut frames = adapter(128, base);
    frames.add_usable([base..base + 128 * FRAME]).unwrap();
    let held = drain(&mut frames)[..5].to_vec();
    // SAFETY (all calls below): not in use.
    unsafe { frames.deallocate_frame(held[0]) };
    let before = state(frames.frames().map());
    let free_before = frames.frames().free_pages();
    unsafe {
        frames.deallocate_frame(held[0]); // double free
        (&frames).deallocate_frame(held[0]); // again, by reference
        frames.deallocate_frame(frame_at(base - FRAME)); // below the map
        (&frames).deallocate_frame(frame_at(base + 128 * FRAME)); // past it
        frames.deallocate_frame(frame_at(0));
    }
    assert_eq!(state(frames.frames().map()), before);
    assert_eq!(frames.frames().free_pages(), free_before);
    let s = frames.stats();
    assert_eq!(
        (s.foreign_frees, s.refused_frees, s.uncorrectable_allocs),
        (3, 2, 0)
    );
    assert_eq!(frames.frames().map().stats().double_free, 2);
    // The held frames are still held; the freed one comes out again.
    assert_eq!(frames.allocate_frame(), Some(held[0]));
    assert!(format!("{frames:?}").contains("foreign_frees: 3"));
}

/// An uncorrectable word: its free frames are skipped while others remain,
/// then `allocate_frame` returns `None` and counts it; a free into it is
/// refused and counted.
#[cfg(not(feature = "panic-on-fault"))]
#[test]
fn uncorrectable_state_is_no_frame_and_counted() {
    use eccmap::codes::Secded64;
    use eccmap::{EccBitmap, StateError};
    // Secded64: 57 pages per storage word; two words.
    let mut frames = PhysFrameAllocator::all_reserved(
        FrameAllocator::new(EccBitmap::<Secded64>::with_pages(114)),
        0,
    )
    .unwrap();
    frames.add_usable([0..114 * FRAME]).unwrap();
    let map = frames.frames().map();
    map.flip_storage_bit(0).unwrap();
    map.flip_storage_bit(1).unwrap(); // word 0: a double-bit fault
    let got = drain(&mut frames);
    assert_eq!(addrs(&got), (57..114).map(|p| p * FRAME).collect());
    assert_eq!(
        frames.stats().uncorrectable_allocs,
        1,
        "the last call: None"
    );
    assert!(frames.frames().map().stats().ue_count >= 1);
    assert_eq!(frames.allocate_frame(), None);
    assert_eq!(frames.stats().uncorrectable_allocs, 2);

    unsafe { frames.deallocate_frame(frame_at(5 * FRAME)) }; // SAFETY: not in use
    assert_eq!(frames.stats().refused_frees, 1);
    assert_eq!(
        frames.frames().map().is_allocated(5),
        Err(StateError::Uncorrectable {
            first: 0,
            count: 57
        })
    );

    // The dual bitmap: one flipped bit makes its page unknown.
    let frames =
        PhysFrameAllocator::all_reserved(FrameAllocator::new(DualBitmap::with_pages(64)), 0x8000)
            .unwrap();
    assert_eq!(
        frames.add_usable([0x8000 + 9 * FRAME..0x8000 + 10 * FRAME]),
        Ok(1)
    );
    frames.frames().map().flip_storage_bit(9).unwrap();
    assert_eq!((&frames).allocate_frame(), None);
    assert_eq!(frames.stats().uncorrectable_allocs, 1);
}

#[cfg(feature = "panic-on-fault")]
mod panic_on_fault {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    fn panic_message(f: impl FnOnce()) -> String {
        let e = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .expect("a text panic message")
    }

    #[test]
    fn refused_frees_panic() {
        let base = 0x10_0000;
        let frames = adapter(16, base);
        frames.add_usable([base..base + 16 * FRAME]).unwrap();
        let f = (&frames).allocate_frame().unwrap();
        // SAFETY (all calls below): not in use.
        unsafe { (&frames).deallocate_frame(f) };
        let before = state(frames.frames().map());
        assert_eq!(
            panic_message(|| unsafe { (&frames).deallocate_frame(f) }),
            "eccmap: double free of page 0"
        );
        assert_eq!(
            panic_message(|| unsafe { (&frames).deallocate_frame(frame_at(0)) }),
            "eccmap: frame 0x0 is outside the map's 0x100000..0x110000"
        );
        assert_eq!(state(frames.frames().map()), before);
        // Counted by the adapter (foreign) or by the map (double free)
        // before the panic.
        let s = frames.stats();
        assert_eq!((s.foreign_frees, s.refused_frees), (1, 0));
        assert_eq!(frames.frames().map().stats().double_free, 1);
    }

    #[test]
    fn uncorrectable_state_panics() {
        let frames =
            PhysFrameAllocator::all_reserved(FrameAllocator::new(DualBitmap::with_pages(64)), 0)
                .unwrap();
        frames.add_usable([0..64 * FRAME]).unwrap();
        frames.frames().map().flip_storage_bit(0).unwrap();
        let msg = panic_message(|| {
            let _ = drain(&mut &frames);
        });
        assert!(msg.starts_with("eccmap: uncorrectable state"), "{msg}");
    }
}
