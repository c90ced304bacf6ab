//! A kernel's boot flow through the `x86_64` crate's frame-allocation traits,
//! run on the host: a simulated bootloader memory map (usable and reserved
//! regions, some ending mid-frame, one beyond the map), every frame reserved
//! first, the usable regions handed in, frames allocated and freed through
//! `FrameAllocator<Size4KiB>` and `FrameDeallocator<Size4KiB>` (from two
//! threads sharing the allocator by reference), then the counters.
//!
//! `cargo run --example x86_64_boot --features x86_64`

use eccmap::codes::Secded64;
use eccmap::{EccBitmap, FrameAllocator, PageState, PhysFrameAllocator};
use std::ops::Range;
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, FrameDeallocator, PhysFrame, Size4KiB,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Usable,
    Reserved,
    /// The kernel image and the bootloader's page tables.
    Bootloader,
    AcpiReclaimable,
}

/// A memory map as a BIOS bootloader reports it (E820-like).
const MEMORY_MAP: &[(Range<u64>, Kind)] = &[
    (0x0..0x1000, Kind::Reserved),
    // Ends mid-frame where the EBDA starts: frame 0x9f000 stays reserved.
    (0x1000..0x9_fc00, Kind::Usable),
    (0x9_fc00..0x10_0000, Kind::Reserved),
    (0x10_0000..0x40_0000, Kind::Bootloader),
    (0x40_0000..0x7fe_0000, Kind::Usable),
    (0x7fe_0000..0x800_0000, Kind::AcpiReclaimable),
    (0xfffc_0000..0x1_0000_0000, Kind::Reserved),
    // Beyond the map's 128 MiB: clipped away.
    (0x1_0000_0000..0x1_4000_0000, Kind::Usable),
];

/// Takes up to `n` frames through the trait, as a page-table mapper would.
fn take<A: X86FrameAllocator<Size4KiB>>(frames: &mut A, n: usize) -> Vec<PhysFrame> {
    (0..n).map_while(|_| frames.allocate_frame()).collect()
}

fn usable(frame: PhysFrame) -> bool {
    let (lo, hi) = (
        frame.start_address().as_u64(),
        frame.start_address().as_u64() + 4096,
    );
    MEMORY_MAP
        .iter()
        .any(|(r, kind)| *kind == Kind::Usable && r.start <= lo && hi <= r.end)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 128 MiB of 4 KiB frames from physical address 0, all reserved. The
    // default `PageMap`, named: with the `dual-bitmap` feature `PageMap` is
    // the dual bitmap, whose threads racing for frames see false alarms.
    let map = EccBitmap::<Secded64>::with_pages(32768);
    let frames = PhysFrameAllocator::all_reserved(FrameAllocator::new(map), 0)?;
    println!("map: {frames:?}");
    assert_eq!(frames.frames().free_pages(), 0);

    let regions = MEMORY_MAP
        .iter()
        .filter(|(_, kind)| *kind == Kind::Usable)
        .map(|(r, _)| r.clone());
    let freed = frames.add_usable(regions)?;
    let usable_bytes: u64 = MEMORY_MAP
        .iter()
        .filter(|(_, kind)| *kind == Kind::Usable)
        .map(|(r, _)| r.end - r.start)
        .sum();
    println!(
        "usable regions: {} KiB reported, {freed} whole frames ({} KiB) inside the map freed",
        usable_bytes / 1024,
        freed * 4
    );
    assert_eq!(freed, 0x9e + (0x7fe_0000 - 0x40_0000) / 4096);

    // Two CPUs allocate at once through `&PhysFrameAllocator`.
    let held: Vec<PhysFrame> = std::thread::scope(|s| {
        let cpus: Vec<_> = (0..2)
            .map(|_| s.spawn(|| take(&mut &frames, 1000)))
            .collect();
        cpus.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    let mut sorted: Vec<u64> = held.iter().map(|f| f.start_address().as_u64()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 2000, "no frame handed out twice");
    assert!(held.iter().all(|&f| usable(f)), "only usable frames");
    println!(
        "2 threads took 2000 distinct frames, all in usable regions ({:#x}..={:#x})",
        sorted[0],
        sorted[sorted.len() - 1]
    );

    // Free half of them back through the trait.
    let mut shared = &frames;
    for &frame in &held[..1000] {
        // SAFETY: these frames were never mapped or used.
        unsafe { shared.deallocate_frame(frame) };
    }

    // Mistakes a kernel can make: counted and ignored (with `panic-on-fault`,
    // each would panic instead).
    if !cfg!(feature = "panic-on-fault") {
        let beyond = PhysFrame::containing_address(x86_64::PhysAddr::new(0x1_0000_0000));
        // SAFETY: neither frame is in use.
        unsafe {
            shared.deallocate_frame(held[0]); // freed above: a double free
            shared.deallocate_frame(beyond); // not a frame of this map
        }
    }

    // Drain what is left, by value this time.
    let mut owned = frames;
    let rest = take(&mut owned, usize::MAX).len();
    println!("drained {rest} more frames; allocate_frame now returns None");
    assert_eq!(rest, freed - 1000);
    assert_eq!(owned.allocate_frame(), None);

    println!("adapter: {:?}", owned.stats());
    println!("map:     {:?}", owned.frames().map().stats());
    println!("scrub:   {:?}", owned.frames().map().scrub());
    println!("map: {owned:?}");
    Ok(())
}
