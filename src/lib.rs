//! Page (frame) allocation state that survives bit flips.
//!
//! Four maps implement [`PageState`], each lock-free, each with the same
//! page-level behaviour and the same [`FaultInjection`] access to its raw
//! storage:
//!
//! | map | storage per page | a flipped bit is | tested by |
//! |---|---|---|---|
//! | [`PlainBitmap`] | 1 bit | silent: a wrong answer | `tests/faults.rs::plain_every_flip_is_a_silent_wrong_answer` |
//! | [`DualBitmap`] (the baseline) | 2 bits | detected | `tests/faults.rs::dual_every_single_flip_is_detected_not_repaired` |
//! | [`EccBitmap<Secded64>`](EccBitmap) (other codes: see [`EccBitmap`]; also [`KeyedEccBitmap`]) | 1.123 bits | corrected in place (Hamming (7,4): bit 63 is unused, a flip there changes nothing) | `tests/faults.rs::ecc_every_single_flip_is_corrected` |
//! | [`StripedBitmap`] | 1.140 bits | corrected in place (checked against its group unless the group is stale) | `tests/faults.rs::ecc_every_single_flip_is_corrected::striped` |
//!
//! [`PageMap`] is `EccBitmap<Secded64>`, or `DualBitmap` with the
//! `dual-bitmap` feature; every type stays available for side-by-side use.
//!
//! Features: `std` (default, implies `alloc`), `alloc` (maps that allocate
//! their own storage, scrub reports with page ranges, snapshots),
//! `panic-on-fault` (panic on a double alloc/free or an uncorrectable word
//! instead of returning the error, the baseline's fail-deterministically
//! mode), `dual-bitmap` (see above). Without `alloc`, maps are built over
//! caller-provided `&'static mut [AtomicU64]` storage with `from_static`.
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
mod plain;
mod primitive;
mod state;
mod storage;
mod striped;
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
pub use plain::PlainBitmap;
pub use state::{Claim, FaultInjection, FaultStats, PageState, ScrubReport};
pub use striped::{StripedBitmap, GROUP_WORDS};
#[cfg(feature = "x86_64")]
pub use x86_frames::{PhysFrameAllocator, PhysFrameStats, PhysFramesError};

/// The atomic word type that caller-provided storage is made of
/// (`core`'s, or loom's under `--cfg loom`).
#[cfg(not(loom))]
pub use core::sync::atomic::AtomicU64;
/// The atomic word type that caller-provided storage is made of
/// (`core`'s, or loom's under `--cfg loom`).
#[cfg(loom)]
pub use loom::sync::atomic::AtomicU64;

/// The map this build recommends: [`EccBitmap<Secded64>`](EccBitmap)
/// (corrects single-bit faults at 1.123 bits per page).
#[cfg(not(feature = "dual-bitmap"))]
pub type PageMap = EccBitmap<eccmap_codes::Secded64>;

/// The map this build recommends: with the `dual-bitmap` feature, the
/// baseline [`DualBitmap`] (detects single-bit faults at 2 bits per page).
#[cfg(feature = "dual-bitmap")]
pub type PageMap = DualBitmap;

/// The README's code examples, compiled and run as doctests so that they
/// stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
