//! Page (frame) allocation state that survives bit flips.
//!
//! Four maps implement [`PageState`], each lock-free, each with the same
//! page-level behaviour and, with the `fault-injection` feature, the same
//! `FaultInjection` access to its raw storage:
//!
//! | map | storage per page | a flipped bit is | tested by |
//! |---|---|---|---|
//! | [`PlainBitmap`] | 1 bit | silent: a wrong answer | `tests/faults.rs::plain_every_flip_is_a_silent_wrong_answer` |
//! | [`DualBitmap`] (the baseline) | 2 bits | detected | `tests/faults.rs::dual_every_single_flip_is_detected_not_repaired` |
//! | [`EccBitmap<Secded64>`](EccBitmap) (other codes: see [`EccBitmap`]; also [`KeyedEccBitmap`]) | 1.123 bits | corrected in place (Hamming (7,4): bit 63 is unused, a flip there changes nothing) | `tests/faults.rs::ecc_every_single_flip_is_corrected` |
//! | [`StripedBitmap`] | 1.140 bits | corrected in place (checked against its group unless the group is stale) | `tests/faults.rs::ecc_every_single_flip_is_corrected::striped` |
//! | [`Ecc128`] (x86-64 and aarch64, where the 16-byte compare-and-swap is lock-free) | 1.143 bits | corrected in place | `tests/ecc128.rs::every_single_flip_is_corrected_in_place` |
//!
//! [`PageMap`] is `EccBitmap<Secded64>` (`EccBitmap<Secded32>` on targets
//! without 64-bit atomics), or `DualBitmap` with the `dual-bitmap` feature;
//! every type stays available for side-by-side use.
//!
//! Storage words: an ECC map's word is its code's ([`WordCode`]: `u32` for
//! `Secded32`, `u64` for the 64-bit codes; [`MapCode`]: `u128` for
//! `Secded128`); the plain and dual bitmaps use
//! the target's [`NativeWord`]. On targets without 64-bit atomics
//! (Cortex-M, RV32IMAC) the 64-bit maps, [`StripedBitmap`] and `AtomicU64`
//! are left out (docs/design.md, "Storage words").
//!
//! Features: `std` (default, implies `alloc`), `alloc` (maps that allocate
//! their own storage, scrub reports with page ranges, snapshots),
//! `panic-on-fault` (panic on a double alloc/free or an uncorrectable word
//! instead of returning the error, the baseline's fail-deterministically
//! mode), `dual-bitmap` (see above), `fault-injection` (`FaultInjection`:
//! raw writes to a map's stored bits, for tests and fault campaigns; off by
//! default, see its docs), `x86_64` (below). Without `alloc`, maps are built over
//! caller-provided `&'static mut` storage with `from_static` (of
//! [`PageMapStorage`] for a `PageMap`), or at compile time in a `static`
//! (below).
//!
//! A page whose stored state is lost (`ScrubReport::bad_pages`,
//! [`StateError::Uncorrectable`]) is written back from the caller's own
//! records with [`PageState::restore`], while other threads use the map.
//!
//! ## A map in a `static`
//!
//! A `#![no_std]` kernel declares its map as a `static`, built at compile
//! time with nothing initialised at run time: [`static_map!`] puts a
//! [`StaticStorage`] (the map's words, encoded by a `const fn` exactly as
//! `with_pages` encodes them, and its counters) in a `static` that only
//! the map can reach, and builds the map over it with the `const fn`
//! `from_static_storage`. Every map has the pair `static_storage` /
//! `from_static_storage` (an [`EccBitmap`] of each lane code here, unkeyed
//! or keyed), except [`Ecc128`], whose lock-free check runs when it is
//! built (no `const fn` can make it), so this compiles for whatever
//! [`PageMap`] is
//! (`tests/static_map.rs` checks a static map word for word against
//! `with_pages`, and allocates, frees and corrects a fault in it):
//!
//! ```
//! #![no_std]
//! use eccmap::{PageMap, PageState, StateError};
//!
//! const PAGES: usize = 32 * 1024;
//! static MAP: PageMap = eccmap::static_map!(PageMap, PAGES);
//!
//! fn boot() -> Result<(), StateError> {
//!     MAP.alloc_range(0, 256)?; // the kernel image
//!     assert_eq!(MAP.find_free(0)?, Some(256));
//!     MAP.free(255)?;
//!     assert!(MAP.scrub().is_clean());
//!     Ok(())
//! }
//! # fn main() { boot().unwrap() }
//! ```
//!
//! The same with the storage named (it can then be given to a linker
//! section, for instance):
//!
//! ```
//! use eccmap::{codes::Secded64, PageState, StaticStorage, KeyedEccBitmap};
//! type Map = KeyedEccBitmap<Secded64>;
//! static STORAGE: StaticStorage<Map, { Map::static_cells(1000) }> = Map::static_storage(1000);
//! static MAP: Map = Map::from_static_storage(&STORAGE);
//! MAP.alloc(7)?;
//! assert_eq!(MAP.count_allocated()?, 1);
//! # Ok::<(), eccmap::StateError>(())
//! ```
//!
//! [`FrameAllocator`] is a lock-free frame allocator on any of them. With
//! the `x86_64` feature, `PhysFrameAllocator` puts it behind the `x86_64`
//! crate's `FrameAllocator<Size4KiB>` and `FrameDeallocator<Size4KiB>`
//! traits, at a physical base address, with a boot flow that starts with
//! every frame reserved and frees the usable regions a bootloader reports.
//!
//! The codes are in the `eccmap-codes` crate, re-exported as [`codes`].
#![cfg_attr(not(feature = "std"), no_std)]
// docs.rs (`--cfg docsrs`, nightly): mark every feature-gated item with the
// feature it needs. `doc_cfg` does this for each `#[cfg]` by itself; `loom`
// is a test-only configuration and not shown.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod dual;
mod ecc;
mod engine;
mod error;
mod frame;
mod keys128;
mod plain;
mod primitive;
mod state;
mod storage;
#[cfg(target_has_atomic = "64")]
mod striped;
mod word;
#[cfg(feature = "x86_64")]
mod x86_frames;

pub use dual::DualBitmap;
pub use ecc::{AddressKeyed, EccBitmap, Keying, Unkeyed};

/// [`EccBitmap`] with address-keyed cosets ([`AddressKeyed`]): a zeroed or
/// all-ones word is detected at every index, and so is a word copied to an
/// index that is not a multiple of the key period away (63 words for
/// `Secded64`); a copy a multiple of the period away has the same key and is
/// accepted. A code for which keys cannot keep this (`Hamming74`) does not
/// compile. Tested by `tests/keyed.rs::misplaced_words_are_detected` (every
/// copy among 130 words, the same-key ones accepted) and
/// `::zero_and_ones_uncorrectable_at_every_index`, and for every accepted
/// code by `tests/keyed_codes.rs::*_promise_at_every_index`
/// (`hamming74_is_refused_and_must_be` for the refusal).
pub type KeyedEccBitmap<C> = EccBitmap<C, AddressKeyed>;
pub use eccmap_codes as codes;
pub use error::StateError;
pub use frame::{FrameAllocator, Policy};
pub use plain::{NativeStorage, PlainBitmap};
#[cfg(feature = "fault-injection")]
pub use state::FaultInjection;
pub use state::{Claim, FaultStats, PageState, Restored, ScrubReport};
pub use storage::StaticLayout;
/// Not under `--cfg loom`.
#[cfg(not(loom))]
pub use storage::StaticStorage;
/// Not on targets without 64-bit atomics: its parity words need them.
#[cfg(target_has_atomic = "64")]
pub use striped::{StripedBitmap, GROUP_WORDS};
pub use word::{AtomicWord, LaneDecoded, MapCode, NativeWord, Word, WordCode};

/// The 128-bit map: [`EccBitmap`] of [`Secded128`](eccmap_codes::Secded128),
/// one (128,112) codeword per `u128` word (112 pages, 1.143 bits per page),
/// each update one 16-byte compare-and-swap, address-keyed by
/// [`IndexKeys`]. On x86-64 and aarch64 only, and built only where the
/// 16-byte compare-and-swap is lock-free (`try_with_pages`,
/// `from_static`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub type Ecc128 = EccBitmap<eccmap_codes::Secded128, AddressKeyed>;
pub use keys128::IndexKeys;
#[cfg(feature = "x86_64")]
pub use x86_frames::{PhysFrameAllocator, PhysFrameStats, PhysFramesError};

/// The 128-bit atomic that caller-provided storage of [`Ecc128`] is made
/// of (portable-atomic's, lock-free through a 16-byte compare-and-swap; a
/// loom mutex under `--cfg loom`). On x86-64 and aarch64 only.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub use primitive::AtomicU128;
/// The 32-bit atomic that caller-provided storage of 32-bit maps is made
/// of (`core`'s, or loom's under `--cfg loom`).
pub use primitive::AtomicU32;
/// The 64-bit atomic that caller-provided storage of 64-bit maps is made
/// of (`core`'s, or loom's under `--cfg loom`). Not on targets without
/// 64-bit atomics.
#[cfg(target_has_atomic = "64")]
pub use primitive::AtomicU64;

/// The map this build recommends: [`EccBitmap<Secded64>`](EccBitmap)
/// (corrects single-bit faults at 1.123 bits per page). Not `Ecc128`,
/// even where its 16-byte compare-and-swap is lock-free: it catches more
/// garbage, but an update that misses the cache cost it 0.72 to 2.77
/// times the dual bitmap's in six runs on the CPU measured (issue 15's
/// target, 0.8, is not shown to hold), its 16-byte load and
/// compare-and-swap of a line that misses alone costing more than the dual
/// bitmap's two read-modify-writes (docs/benchmarks.md, "Reading these
/// results").
#[cfg(all(not(feature = "dual-bitmap"), target_has_atomic = "64"))]
pub type PageMap = EccBitmap<eccmap_codes::Secded64>;

/// The map this build recommends: on a target without 64-bit atomics,
/// [`EccBitmap<Secded32>`](EccBitmap), one (32,26) codeword per
/// `AtomicU32` (corrects single-bit faults at 1.231 bits per page).
#[cfg(all(not(feature = "dual-bitmap"), not(target_has_atomic = "64")))]
pub type PageMap = EccBitmap<eccmap_codes::Secded32>;

/// The map this build recommends: with the `dual-bitmap` feature, the
/// baseline [`DualBitmap`] (detects single-bit faults at 2 bits per page).
#[cfg(feature = "dual-bitmap")]
pub type PageMap = DualBitmap;

/// The atomic cell [`PageMap`]'s storage is made of, whatever the target
/// and features (`AtomicU64` for `EccBitmap<Secded64>`, `AtomicU32` for
/// `EccBitmap<Secded32>`, [`NativeStorage`] for `DualBitmap`): declare
/// storage for `PageMap::from_static` with it and the same code builds
/// everywhere.
#[cfg(all(not(feature = "dual-bitmap"), target_has_atomic = "64"))]
pub type PageMapStorage = AtomicU64;
/// The atomic cell [`PageMap`]'s storage is made of, whatever the target
/// and features (`AtomicU64` for `EccBitmap<Secded64>`, `AtomicU32` for
/// `EccBitmap<Secded32>`, [`NativeStorage`] for `DualBitmap`): declare
/// storage for `PageMap::from_static` with it and the same code builds
/// everywhere.
#[cfg(all(not(feature = "dual-bitmap"), not(target_has_atomic = "64")))]
pub type PageMapStorage = AtomicU32;
/// The atomic cell [`PageMap`]'s storage is made of, whatever the target
/// and features (`AtomicU64` for `EccBitmap<Secded64>`, `AtomicU32` for
/// `EccBitmap<Secded32>`, [`NativeStorage`] for `DualBitmap`): declare
/// storage for `PageMap::from_static` with it and the same code builds
/// everywhere.
#[cfg(feature = "dual-bitmap")]
pub type PageMapStorage = NativeStorage;

/// Without the `fault-injection` feature there is no `FaultInjection`: this
/// doctest exists only in such builds, and fails if the import compiles.
///
/// ```compile_fail,E0432
/// use eccmap::FaultInjection;
/// ```
#[cfg(all(doctest, not(feature = "fault-injection")))]
struct FaultInjectionIsOff;

/// A map built at compile time, for a `static`: `static_map!(Map, pages)`
/// is a `const` expression of type `Map`, a map of `pages` free pages over
/// a [`StaticStorage`] declared inside the expression, where no other code
/// can name it (see the crate documentation). `Map` is any map type with a
/// `static_storage` (every map here; an [`EccBitmap`] of a code of your
/// own has none). Meant for a `static`'s initialiser: evaluated at run
/// time (in a function), each evaluation of one use of the macro gives a
/// handle to the same map, words and counters, never a fresh one.
///
/// ```
/// use eccmap::{PageMap, PageState};
/// static MAP: PageMap = eccmap::static_map!(PageMap, 4096);
/// MAP.alloc(3)?;
/// assert_eq!(MAP.pages(), 4096);
/// # Ok::<(), eccmap::StateError>(())
/// ```
///
/// A size whose storage is not the map's does not compile: the storage's
/// cell count is computed from the pages by the map itself.
#[cfg(not(loom))]
#[macro_export]
macro_rules! static_map {
    ($map:ty, $pages:expr) => {{
        static STORAGE: $crate::StaticStorage<$map, { <$map>::static_cells($pages) }> =
            <$map>::static_storage($pages);
        <$map>::from_static_storage(&STORAGE)
    }};
}

/// The README's code examples, compiled and run as doctests so that they
/// stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
