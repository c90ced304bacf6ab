//! eccmap on a Cortex-M3 (thumbv7m-none-eabi, no 64-bit atomics), under
//! QEMU's `lm3s6965evb` board: `PageMap` (here `EccBitmap<Secded32>`, one
//! (32,26) codeword per `AtomicU32`) over `static` storage, no allocator.
//! Runs the baseline dual bitmap's own 11 test cases on it, flips stored
//! bits behind the encoder's back and checks that reads correct them, runs
//! a map built at compile time in a `static` (`static_map!`) and restores
//! a lost word of it from the truth (`PageState::restore`), and exits
//! through semihosting: success only if every check passed; failure
//! otherwise, and on any panic (`panic-semihosting` with `exit`).
//!
//! `cargo run --release` (the runner is QEMU, see `.cargo/config.toml`);
//! `.ci/run` runs it, and runs it once more with the `fail-on-purpose`
//! feature, which adds one false check, to show that a failure is seen.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use eccmap::{FaultInjection, FaultStats, PageMap, PageMapStorage, PageState, StateError};
use panic_semihosting as _;

/// Storage cells for every map the checks build (each takes its own).
const POOL: usize = 64;

/// The maps' storage, handed out in disjoint `&'static mut` pieces.
struct Pool(&'static mut [PageMapStorage]);

impl Pool {
    /// A fresh map of `pages` pages over the next free cells.
    fn map(&mut self, pages: usize) -> PageMap {
        let rest = core::mem::take(&mut self.0);
        let (mine, rest) = rest.split_at_mut(PageMap::words_for(pages));
        self.0 = rest;
        PageMap::from_static(mine, pages).expect("the pool holds every map")
    }
}

/// Counts the checks and the failed ones, and prints each failure.
struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, case: &str, what: &str, ok: bool) {
        self.run += 1;
        if !ok {
            self.failed += 1;
            hprintln!("FAIL {}: {}", case, what);
        }
    }
}

/// Pages per storage cell of `PageMap`.
const PPW: usize = PageMap::PAGES_PER_WORD;
/// Bits per storage cell.
const CELL_BITS: usize = 8 * core::mem::size_of::<PageMapStorage>();

/// The storage bit that holds page `page`'s state (one codeword per cell,
/// data bits first).
fn state_bit(page: usize) -> usize {
    page / PPW * CELL_BITS + page % PPW
}

/// Whether the state of `map` is exactly `allocated` for every page.
fn state_is(map: &PageMap, allocated: impl Fn(usize) -> bool) -> bool {
    (0..map.pages()).all(|p| map.is_allocated(p) == Ok(allocated(p)))
}

/// A flipped bit guarding free page 42 (its own data bit, or a check bit of
/// its codeword) is corrected by whichever comes first: a scrub, or a read.
fn corrected(c: &mut Checks, case: &str, map: &PageMap, bit: usize, scrub_first: bool) {
    map.flip_storage_bit(bit).unwrap();
    if scrub_first {
        let r = map.scrub();
        c.check(
            case,
            "scrub corrects",
            (r.corrected, r.uncorrectable) == (1, 0),
        );
    }
    c.check(
        case,
        "read answers right",
        map.is_allocated(42) == Ok(false),
    );
    c.check(case, "counted once", map.stats().ce_count == 1);
    c.check(case, "repaired in place", map.scrub().is_clean());
    c.check(case, "every page right", state_is(map, |_| false));
}

fn run(pool: &mut Pool, c: &mut Checks) {
    let zero = FaultStats::default();

    let case = "01 initial state consistent";
    for pages in [1, PPW - 1, PPW, PPW + 1, 100] {
        let map = pool.map(pages);
        let r = map.scrub();
        c.check(case, "scrub clean", r.is_clean());
        c.check(case, "every word", r.words == PageMap::words_for(pages));
        c.check(case, "none allocated", map.count_allocated() == Ok(0));
        c.check(case, "every page free", state_is(&map, |_| false));
        c.check(case, "no counts", map.stats() == zero);
    }

    let case = "02 set keeps consistency";
    // This map lives in a `static` too, taken once.
    let map: &'static PageMap = cortex_m::singleton!(: PageMap = pool.map(100)).unwrap();
    c.check(case, "was not set", map.alloc(42) == Ok(()));
    c.check(case, "scrub clean", map.scrub().is_clean());
    c.check(case, "set", state_is(map, |p| p == 42));
    c.check(case, "no counts", map.stats() == zero);

    let case = "03 clear keeps consistency";
    let map = pool.map(100);
    let fresh = pool.map(100);
    map.alloc(42).unwrap();
    c.check(case, "was set", map.free(42) == Ok(()));
    c.check(case, "scrub clean", map.scrub().is_clean());
    c.check(case, "clear", state_is(&map, |_| false));
    let same = (0..map.storage_words()).all(|i| map.storage_word(i) == fresh.storage_word(i));
    c.check(case, "storage as fresh", same);
    c.check(case, "no counts", map.stats() == zero);

    let case = "04 double set reported";
    let map = pool.map(100);
    map.alloc(7).unwrap();
    c.check(
        case,
        "reported",
        map.alloc(7) == Err(StateError::DoubleAlloc { page: 7 }),
    );
    c.check(case, "counted", map.stats().double_alloc == 1);
    c.check(case, "scrub clean", map.scrub().is_clean());
    c.check(case, "still set", map.is_allocated(7) == Ok(true));

    let case = "05 clear of a never-set bit reported";
    let map = pool.map(100);
    c.check(
        case,
        "reported",
        map.free(7) == Err(StateError::DoubleFree { page: 7 }),
    );
    c.check(case, "counted", map.stats().double_free == 1);
    c.check(case, "scrub clean", map.scrub().is_clean());
    c.check(case, "still clear", map.is_allocated(7) == Ok(false));

    let case = "06 corruption of the state bit corrected";
    for scrub_first in [true, false] {
        let map = pool.map(100);
        corrected(c, case, &map, state_bit(42), scrub_first);
    }

    let case = "07 corruption of a check bit corrected";
    for scrub_first in [true, false] {
        let map = pool.map(100);
        // A set check bit of page 42's codeword (bits 26..32 of its cell).
        let cell = 42 / PPW * CELL_BITS;
        let bit = (cell + PPW..cell + CELL_BITS)
            .find(|&b| map.storage_word(b / 64) >> (b % 64) & 1 == 1)
            .unwrap_or(cell + PPW);
        corrected(c, case, &map, bit, scrub_first);
    }

    let case = "08 many operations";
    let map = pool.map(100);
    let set = (0..64).all(|p| map.alloc(p).is_ok());
    let cleared = (32..64).all(|p| map.free(p).is_ok());
    c.check(case, "all accepted", set && cleared);
    c.check(case, "exact state", state_is(&map, |p| p < 32));
    c.check(case, "counted", map.count_allocated() == Ok(32));
    c.check(case, "scrub clean", map.scrub().is_clean());

    let case = "09 boundary bits";
    let pages = 3 * PPW;
    let map = pool.map(pages);
    let edges = [0, pages - 1, PPW - 1, PPW];
    for p in edges {
        c.check(case, "set", map.alloc(p) == Ok(()));
        c.check(case, "test set", map.is_allocated(p) == Ok(true));
    }
    c.check(case, "exact state", state_is(&map, |p| edges.contains(&p)));
    c.check(case, "scrub clean", map.scrub().is_clean());
    for p in edges {
        c.check(case, "clear", map.free(p) == Ok(()));
        c.check(case, "test clear", map.is_allocated(p) == Ok(false));
    }
    c.check(case, "none left", map.count_allocated() == Ok(0));

    let case = "10 test follows set and clear";
    let map = pool.map(100);
    for p in [0, 13, 63, 64, 99] {
        c.check(case, "clear", map.is_allocated(p) == Ok(false));
        map.alloc(p).unwrap();
        c.check(case, "set", map.is_allocated(p) == Ok(true));
        map.free(p).unwrap();
        c.check(case, "clear again", map.is_allocated(p) == Ok(false));
    }

    let case = "11 size not a multiple of the word";
    let map = pool.map(100);
    c.check(case, "set", (95..100).all(|p| map.alloc(p).is_ok()));
    c.check(
        case,
        "past the end",
        map.alloc(100)
            == Err(StateError::OutOfRange {
                page: 100,
                pages: 100,
            }),
    );
    map.free(97).unwrap();
    c.check(case, "exact state", state_is(&map, |p| p >= 95 && p != 97));
    c.check(case, "find free", map.find_free(95) == Ok(Some(97)));
    c.check(case, "none after", map.find_free(98) == Ok(None));
    c.check(case, "scrub clean", map.scrub().is_clean());

    let case = "12 ranges and a double flip";
    let map = pool.map(100);
    c.check(case, "range", map.alloc_range(10, 60) == Ok(()));
    c.check(case, "counted", map.count_allocated() == Ok(60));
    // Two flips in one codeword: detected, never guessed.
    map.flip_storage_bit(state_bit(30)).unwrap();
    map.flip_storage_bit(state_bit(31)).unwrap();
    c.check(
        case,
        "detected",
        map.is_allocated(30)
            == Err(StateError::Uncorrectable {
                first: PPW,
                count: PPW,
            }),
    );
    c.check(case, "other words fine", map.is_allocated(0) == Ok(false));

    let case = "13 a static map, restored from the truth";
    // Built at compile time, in a `static` nothing else can name: nothing
    // initialised at run time, no `unsafe`.
    static MAP: PageMap = eccmap::static_map!(PageMap, 100);
    let map = &MAP;
    c.check(
        case,
        "fresh",
        map.scrub().is_clean() && map.count_allocated() == Ok(0),
    );
    let truth = |p: usize| (10..30).contains(&p);
    map.alloc_range(10, 20).unwrap();
    map.flip_storage_bit(state_bit(12)).unwrap();
    c.check(case, "corrected", map.is_allocated(12) == Ok(true));
    // Two flips in word 1's codeword: its pages are lost...
    map.flip_storage_bit(state_bit(PPW + 4)).unwrap();
    map.flip_storage_bit(state_bit(PPW + 5)).unwrap();
    c.check(case, "detected", map.is_allocated(PPW).is_err());
    // ... and written back from the kernel's records.
    let r = map.restore(PPW, PPW, &truth);
    c.check(
        case,
        "restored",
        r.map(|r| (r.words, r.pages)) == Ok((1, PPW)),
    );
    c.check(case, "exact state", state_is(map, truth));
    c.check(case, "scrub clean", map.scrub().is_clean());
    c.check(case, "counted", map.stats().restored == 1);

    #[cfg(feature = "fail-on-purpose")]
    c.check("fail-on-purpose", "a false check", false);
}

#[entry]
fn main() -> ! {
    // The storage, a `static` taken once as `&'static mut` (`singleton!`
    // returns `None` on a second call): no `unsafe`, no allocator.
    let storage: &'static mut [PageMapStorage; POOL] = cortex_m::singleton!(
        : [PageMapStorage; POOL] = [const { PageMapStorage::new(0) }; POOL]
    )
    .unwrap();
    let mut pool = Pool(storage);
    let mut c = Checks { run: 0, failed: 0 };
    hprintln!(
        "eccmap on Cortex-M3: PageMap = {} pages per {}-bit word",
        PPW,
        CELL_BITS
    );
    run(&mut pool, &mut c);
    hprintln!("{} checks, {} failed", c.run, c.failed);
    debug::exit(if c.failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
