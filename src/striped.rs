//! Keyed in-word SECDED plus an interleaved parity stripe: the second
//! dimension that confirms corrections and rebuilds lost words.

#[cfg(not(loom))]
use crate::ecc::address_key;
use crate::ecc::{AddressKeyed, EccBitmap};
#[cfg(feature = "alloc")]
use crate::engine::push_runs;
use crate::engine::{clash, low, valid, Conflict, Engine, Rewrite, WordRead};
use crate::primitive::{relax, AtomicU64, Ordering};
use crate::state::ScrubReport;
#[cfg(not(loom))]
use crate::storage::StaticStorage;
use crate::storage::{Counters, StaticLayout, Words};
use crate::StateError;
use eccmap_codes::Secded64;

/// Data words per parity group.
pub const GROUP_WORDS: usize = 64;

// Parity-word layout: the group's control field in bits 0..7, then the sum
// of its members' page masks in bits 7..64. The sum is of the masks as
// integers, mod 2^57 (a carry out of bit 63 falls off): an alloc of pages
// that were free adds their mask to their word's mask, a free subtracts it,
// so an updater's whole retire (fold its change in, leave the count) is one
// `fetch_add`, with no retry loop.
/// Updaters in flight (bits 0..4: at most 15 at once per group).
const COUNT: u64 = 0xF;
/// One updater in flight.
const ONE: u64 = 1;
/// The sum is not kept up to date: an updater found the count full for
/// too long and went ahead without a slot. Nothing is rebuilt from the
/// group until an exclusive scrub resets the field and recomputes the sum.
/// Set by contention, it comes with DIRTY (see [`CONTENDED`]).
const STALE: u64 = 1 << 4;
/// A checker holds the group.
const CHECK: u64 = 1 << 5;
/// An updater announced itself while the checker held the group.
const DIRTY: u64 = 1 << 6;
/// The whole control field.
const CONTROL: u64 = 0x7F;
/// A control field left stale by contention: STALE with DIRTY, which no
/// checker can be holding (none takes a stale group). Kept by the release
/// of a checker that held the group when it went stale, so that
/// `scrub_exclusive`, finding it (and nothing else) at rest, can tell it
/// from a flipped STALE bit and does not count it as a repair.
const CONTENDED: u64 = STALE | DIRTY;
/// Where the sum starts.
const SUM_SHIFT: u32 = 7;
/// The sum's bits, once shifted down.
const SUM: u64 = u64::MAX >> SUM_SHIFT;

/// Snapshot attempts before a group check gives up and calls the group
/// busy (updated throughout, or a control field that a fault left stuck:
/// a concurrent check cannot tell the two apart). Giving up reports no
/// fault: the caller falls back to the word's own code, or a scrub leaves
/// the group for a later one. Generous, because a thread that holds the
/// group may be preempted: with `std`, each attempt after the first few
/// yields the thread.
#[cfg(not(loom))]
const TRIES: u32 = 1 << 16;
#[cfg(loom)]
const TRIES: u32 = 32;
/// Group checks an operation runs on its word before it gives up: each
/// round repairs the word, so only a word damaged again faster than it is
/// repaired runs out of rounds.
#[cfg(not(loom))]
const REPAIR_ROUNDS: u32 = 1 << 10;
#[cfg(loom)]
const REPAIR_ROUNDS: u32 = 3;

/// Waits for a free slot in a group's in-flight count before an update
/// marks the group stale (15 updaters in flight in one group, or a count a
/// fault set).
#[cfg(not(loom))]
const ANNOUNCE_TRIES: u32 = 1 << 10;
#[cfg(loom)]
const ANNOUNCE_TRIES: u32 = 4;

/// Page allocation state as address-keyed SECDED codewords (as
/// [`KeyedEccBitmap`](crate::KeyedEccBitmap)), plus one parity word per
/// group of [`GROUP_WORDS`] data words in a separate allocation.
///
/// **Layout.** With `W` data words there are `S = ceil(W / 64)` groups;
/// word `w` belongs to group `w % S`, so the members of a group are `S`
/// words (`8·S` bytes) apart: 8 KiB or more once a map has 1,024 groups
/// (65,536 words, 3.56 Mi pages with `Secded64`), and a 64-byte line (8
/// words) touches 8 different groups whenever `S >= 8`. A parity word holds
/// a control field (bits `0..7`: updaters in flight, a stale flag, a
/// checker flag, a dirty flag) and the sum of its members' page masks, as
/// integers mod 2^57 (bits `7..64`).
/// Storage: `(W + S) · 64` bits, 1.140 bits per page with `Secded64`.
///
/// **What the group adds.** While its group can be checked (not busy, not
/// stale), a fault the in-word code sees is resolved against the group
/// before an answer uses it:
/// - an uncorrectable word (2+ flipped bits, zeroed, garbage, misplaced) is
///   rebuilt from the sum and the other members: repaired, not reported;
/// - a single-bit correction is confirmed by the group, which catches
///   garbage that happens to decode as a correctable error; but two
///   corrected members whose corrections leave a small sum mismatch are
///   applied unconfirmed (the fewest-events rule of `docs/design.md`);
/// - scrub also checks every group as a whole, which finds a damaged parity
///   word (rebuilt from the data) and garbage that decodes as clean.
///
/// A busy or stale group (below) falls back to unconfirmed in-word
/// correction, as [`KeyedEccBitmap`](crate::KeyedEccBitmap): there a
/// garbage word that decodes clean or as a single-bit error gives a wrong
/// `Ok` answer, where a checkable group would have rebuilt it.
///
/// **Concurrency.** An update is three atomic operations: announce itself
/// in its group's control field (a compare-and-swap), one compare-and-swap
/// of the data word (exactly as `EccBitmap`), then one `fetch_add` that
/// adds its page mask to the sum (or subtracts it) and retires. A group
/// check takes the checker flag only when no updater is in flight, reads
/// the members, and accepts the snapshot only if still none is in flight
/// and none announced meanwhile (dirty flag); otherwise it retries.
/// So it never rebuilds from a torn snapshot and never raises a false
/// alarm; updaters never wait for checkers. A check that cannot get a
/// still snapshot after many tries (a group updated without pause, or a
/// control field damaged by a fault: it cannot tell which) calls the group
/// busy, which is never reported as a fault: a read then answers from the
/// word's own code and leaves the repair to a later check, an update
/// repairs a single-bit error in-word as
/// [`KeyedEccBitmap`](crate::KeyedEccBitmap)'s does, and a scrub counts
/// the group in [`ScrubReport::busy`] and leaves it for a later scrub.
/// Only a word beyond its own code is then reported
/// ([`StateError::Uncorrectable`]), as it is a real fault.
/// A group that 15 stalled updaters of its own (or a fault) kept full goes
/// stale: its members are then read, updated and scrubbed on their own
/// code alone until [`scrub_exclusive`](crate::PageState::scrub_exclusive)
/// recomputes its sum.
/// See `docs/design.md` for the argument.
///
/// With the `fault-injection` feature (the stray write):
///
/// ```
/// # #[cfg(feature = "fault-injection")] {
/// use eccmap::{FaultInjection, PageState, StripedBitmap};
/// let map = StripedBitmap::with_pages(57 * 128);
/// map.alloc_range(0, 100)?;
/// map.write_storage_word(1, 0)?; // a stray memset over pages 57..114
/// assert_eq!(map.is_allocated(60), Ok(true)); // rebuilt from its group
/// assert_eq!(map.stats().ce_count, 1);
/// # }
/// # Ok::<(), eccmap::StateError>(())
/// ```
pub struct StripedBitmap {
    data: Data,
    parity: Words<u64>,
    group_of: FastMod,
}

/// `w % d` by a multiply instead of a division (Lemire's fastmod): the
/// group index is on every update's path, and a 64-bit `div` costs tens of
/// cycles. Exact for `w, d < 2^32`; larger maps fall back to `%`.
struct FastMod {
    d: u64,
    magic: u64,
}

impl FastMod {
    const fn new(d: usize) -> FastMod {
        let d = if d == 0 { 1 } else { d as u64 };
        FastMod {
            d,
            magic: (u64::MAX / d).wrapping_add(1),
        }
    }
    #[inline(always)]
    fn of(&self, w: usize) -> usize {
        let w = w as u64;
        if w >> 32 == 0 && self.d >> 32 == 0 {
            ((u128::from(self.magic.wrapping_mul(w)) * u128::from(self.d)) >> 64) as usize
        } else {
            (w % self.d) as usize
        }
    }
}

/// What a group check concluded.
enum Verdict {
    /// Every member verified (after any repair).
    Sound,
    /// Some member could not be verified.
    Unknown,
    /// The group is stale: its sum cannot confirm or rebuild anything, and
    /// its members stand on their in-word code alone until
    /// `scrub_exclusive`.
    Stale,
    /// No still snapshot within [`TRIES`]: the group was updated
    /// throughout, or its control field is stuck. Nothing is known about
    /// the members beyond their own code, and nothing is a fault.
    Busy,
}

/// The data words: keyed (64,57) codewords.
type Data = EccBitmap<Secded64, AddressKeyed>;

impl StripedBitmap {
    /// Data words needed for `pages` pages.
    pub const fn words_for(pages: usize) -> usize {
        Data::words_for(pages)
    }

    /// Parity words needed for `pages` pages.
    pub const fn parity_words_for(pages: usize) -> usize {
        Self::words_for(pages).div_ceil(GROUP_WORDS)
    }

    /// A map of `pages` free pages, data and parity in two allocations.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn with_pages(pages: usize) -> Self {
        let groups = Self::parity_words_for(pages);
        StripedBitmap {
            data: Data::with_pages(pages),
            parity: Words::new(groups, |_| 0),
            group_of: FastMod::new(groups),
        }
    }

    /// A map of `pages` free pages over caller-provided storage: `data` of
    /// at least [`words_for(pages)`](Self::words_for) words and `parity` of
    /// at least [`parity_words_for(pages)`](Self::parity_words_for) (keep
    /// them apart), which it initialises. Both sizes are checked before
    /// anything is written: on error, it writes nothing. Taken by unique
    /// reference, so no other map can be built over them (see
    /// [`EccBitmap::from_static`](crate::EccBitmap::from_static)).
    ///
    /// # Errors
    /// [`StateError::StorageTooSmall`] if `data` has fewer than
    /// [`words_for(pages)`](Self::words_for) words or `parity` fewer than
    /// [`parity_words_for(pages)`](Self::parity_words_for).
    pub fn from_static(
        data: &'static mut [AtomicU64],
        parity: &'static mut [AtomicU64],
        pages: usize,
    ) -> Result<Self, StateError> {
        let groups = Self::parity_words_for(pages);
        // Both sizes first: a failed constructor writes nothing.
        Words::<u64>::fits(data, Self::words_for(pages))?;
        Words::<u64>::fits(parity, groups)?;
        Ok(StripedBitmap {
            data: Data::from_static(data, pages)?,
            parity: Words::borrowed(parity, groups, |_| 0)?,
            group_of: FastMod::new(groups),
        })
    }

    /// Cells of a [`StaticStorage`] for `pages` pages: the data words
    /// ([`words_for(pages)`](Self::words_for)), then the parity words
    /// ([`parity_words_for(pages)`](Self::parity_words_for)).
    pub const fn static_cells(pages: usize) -> usize {
        Self::words_for(pages) + Self::parity_words_for(pages)
    }

    /// The storage of a map of `pages` free pages, built at compile time
    /// (see [`EccBitmap::static_storage`](crate::EccBitmap::static_storage)):
    /// the data words, then the parity words, in one object (adjacent in
    /// memory, where `with_pages` makes two allocations).
    ///
    /// # Panics
    /// (At compile time, in a `static`.) If `N` is not
    /// [`static_cells(pages)`](Self::static_cells).
    #[cfg(not(loom))]
    #[must_use]
    pub const fn static_storage<const N: usize>(pages: usize) -> StaticStorage<Self, N> {
        assert!(
            N == Self::static_cells(pages),
            "N must be static_cells(pages)"
        );
        // The data words as `Data::static_storage` writes them; the parity
        // words 0 (sums of free pages, no updater in flight).
        let mut cells = [const { AtomicU64::new(0) }; N];
        let mut w = 0;
        while w < Self::words_for(pages) {
            cells[w] = AtomicU64::new(Data::blank_value(address_key::<Secded64>(w)));
            w += 1;
        }
        StaticStorage::new(pages, cells)
    }

    /// The map over storage built by
    /// [`static_storage`](Self::static_storage): a `const fn` that writes
    /// nothing (see
    /// [`EccBitmap::from_static_storage`](crate::EccBitmap::from_static_storage)).
    #[cfg(not(loom))]
    #[must_use]
    pub const fn from_static_storage<const N: usize>(
        storage: &'static StaticStorage<Self, N>,
    ) -> Self {
        let cells: &'static [AtomicU64] = &storage.cells;
        let (data, parity) = cells.split_at(Self::words_for(storage.pages));
        StripedBitmap {
            data: Data::over_static(storage.pages, data, &storage.counters),
            parity: Words::Borrowed(parity),
            group_of: FastMod::new(parity.len()),
        }
    }

    fn groups(&self) -> usize {
        self.parity.len()
    }

    /// The members of group `g`.
    fn members(&self, g: usize) -> impl Iterator<Item = usize> {
        (g..self.data.word_count()).step_by(self.groups().max(1))
    }

    /// Registers an updater in flight in group `g`; false if it goes ahead
    /// without a slot. A checker holding the group is told (DIRTY) in the
    /// same compare-and-swap, before the update touches its word. If the
    /// count stays full (a fault filled it, or 15 updaters of this group
    /// are stalled), the group is marked stale once ([`CONTENDED`]) and
    /// updates then go on without it: the data stays right and checked
    /// in-word, and the group only loses its power to rebuild until
    /// `scrub_exclusive`.
    fn announce(&self, g: usize) -> bool {
        let cell = &self.parity[g];
        let mut p = cell.load(Ordering::Acquire);
        let mut waits = 0;
        loop {
            if p & STALE != 0 {
                return false;
            }
            if p & COUNT == COUNT {
                if waits == ANNOUNCE_TRIES {
                    cell.fetch_or(CONTENDED, Ordering::AcqRel);
                    return false;
                }
                waits += 1;
                relax(waits);
                p = cell.load(Ordering::Acquire);
                continue;
            }
            let dirty = if p & CHECK != 0 { DIRTY } else { 0 };
            match cell.compare_exchange_weak(
                p,
                (p + ONE) | dirty,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => p = now,
            }
        }
    }

    /// Folds an update of `pages` (allocated if `alloc`, else freed; 0 for
    /// an update that changed nothing) into group `g`'s sum and retires
    /// the updater: one `fetch_add`. (A count that a fault set to 0 borrows
    /// into the flags: it leaves a count of 15 and flips STALE, and higher
    /// flags or the sum if STALE was clear; either way no checker can take
    /// the group until an exclusive scrub, as for any damaged control
    /// field.)
    #[inline(always)]
    fn retire(&self, g: usize, pages: u64, alloc: bool) {
        self.retire_change(g, if alloc { pages } else { pages.wrapping_neg() });
    }

    /// [`retire`](Self::retire) of an update that changed its word's page
    /// mask by `change` (as integers, wrapping).
    #[inline(always)]
    fn retire_change(&self, g: usize, change: u64) {
        self.parity[g].fetch_add((change << SUM_SHIFT).wrapping_sub(ONE), Ordering::AcqRel);
    }

    /// Takes group `g`, whose parity word was just read as `p`, for a
    /// checker, if no updater is in flight and no other checker holds it
    /// (and it is not stale); returns the parity word as taken (its DIRTY
    /// flag cleared). DIRTY is only ever set while a checker holds the
    /// group, and cleared when it lets go: found set here, it is a flipped
    /// bit, now cleared and counted.
    fn take(&self, g: usize, p: u64, report: Option<&mut ScrubReport>) -> Option<u64> {
        let cell = &self.parity[g];
        if p & (STALE | CHECK | COUNT) != 0 {
            return None;
        }
        let taken = (p | CHECK) & !DIRTY;
        cell.compare_exchange(p, taken, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        if p & DIRTY != 0 {
            self.data.counters().ce(1);
            if let Some(r) = report {
                r.corrected += 1;
            }
        }
        Some(taken)
    }

    /// The parity word of group `g`, taken as `p`, after the members were
    /// read, if no update overlapped the reads. One that did announced
    /// itself after the take (the count was 0 there), so it set DIRTY, or it
    /// is still in flight; the sum cannot move without one.
    fn still(&self, g: usize, p: u64) -> Option<u64> {
        let seen = self.parity[g].load(Ordering::Acquire);
        let moved = seen & (COUNT | DIRTY | STALE) != 0 || (seen ^ p) & !CONTROL != 0;
        (!moved).then_some(seen)
    }

    /// Lets go of group `g`. If the group went stale meanwhile, DIRTY is
    /// left set with STALE ([`CONTENDED`]): the checker cannot tell an
    /// announce's DIRTY from the stale mark's, and either way the group
    /// went stale through a full count.
    fn release(&self, g: usize) {
        let was = self.parity[g].fetch_and(!(CHECK | DIRTY), Ordering::AcqRel);
        if was & CONTENDED == CONTENDED {
            self.parity[g].fetch_or(DIRTY, Ordering::AcqRel);
        }
    }

    /// Takes a still snapshot of group `g` and resolves every fault in it.
    ///
    /// With a scrub's `report`: a stale group has its members scrubbed
    /// in-word, as `KeyedEccBitmap`'s (only what is beyond that is
    /// reported); a busy group is counted in `report.busy` and left for a
    /// later scrub, with nothing repaired and nothing reported as a fault.
    #[cold]
    #[inline(never)]
    fn check_group(&self, g: usize, mut report: Option<&mut ScrubReport>) -> Verdict {
        let mut raw = [0u64; GROUP_WORDS];
        for attempt in 0..TRIES {
            if attempt > 0 {
                relax(attempt);
            }
            let p = self.parity[g].load(Ordering::Acquire);
            if p & STALE != 0 {
                if let Some(r) = report {
                    self.scrub_in_word(g, r);
                }
                return Verdict::Stale;
            }
            let Some(p) = self.take(g, p, report.as_deref_mut()) else {
                continue;
            };
            for (j, w) in self.members(g).enumerate() {
                raw[j] = self.data.cell(w).load(Ordering::Acquire);
            }
            if let Some(seen) = self.still(g, p) {
                let verdict = self.resolve(g, &raw, seen, report);
                self.release(g);
                return verdict;
            }
            self.release(g);
        }
        if let Some(r) = report {
            r.busy += 1;
        }
        Verdict::Busy
    }

    /// Scrubs the members of group `g` on their own code alone, as
    /// `KeyedEccBitmap`'s scrub would (a stale group has no sum to confirm
    /// or rebuild with): single-bit errors repaired in place, the pages of
    /// a member beyond that reported. Members that decode clean report
    /// nothing.
    fn scrub_in_word(&self, g: usize, r: &mut ScrubReport) {
        for w in self.members(g) {
            let bad = self.data.scrub_word(w, r) & valid(self, w);
            #[cfg(feature = "alloc")]
            push_runs(&mut r.bad_pages, w * Self::PAGES_PER_WORD, bad);
            let _ = bad;
        }
    }

    /// Whether a stale group `g` must stay stale: a member is beyond
    /// in-word correction, so the sum cannot be recomputed.
    fn still_stale(&self, g: usize) -> bool {
        self.members(g)
            .any(|w| Data::view(self.data.cell(w).load(Ordering::Acquire), Data::key(w)).bad != 0)
    }

    /// Counts group `g` as one uncorrectable error of a scrub and adds its
    /// pages to the scrub's unverifiable pages.
    fn report_group(&self, g: usize, r: &mut ScrubReport) {
        r.uncorrectable += 1;
        #[cfg(feature = "alloc")]
        for w in self.members(g) {
            push_runs(&mut r.bad_pages, w * Self::PAGES_PER_WORD, valid(self, w));
        }
        let _ = g;
    }

    /// Resolves the faults of a still snapshot `raw` of group `g` whose
    /// parity word (with the checker flag held) is `seen`.
    ///
    /// `total` is the sum of the decoded page masks of every member that
    /// decodes; the group agrees when it equals the stored sum. A
    /// correction is applied only if the group agrees exactly: a
    /// miscorrected burst (wrong in one or two data bits) or garbage
    /// decoding as a single-bit error is rebuilt from the sum instead,
    /// which is the one-fault explanation.
    fn resolve(
        &self,
        g: usize,
        raw: &[u64; GROUP_WORDS],
        seen: u64,
        report: Option<&mut ScrubReport>,
    ) -> Verdict {
        let stored = seen >> SUM_SHIFT;
        // The common case, every member clean and the sum right, by
        // syndromes alone (what the full pass below would conclude).
        let mut clean_sum = 0u64;
        let all_clean = self.members(g).enumerate().all(|(j, w)| {
            clean_sum = clean_sum.wrapping_add(raw[j] & low(Data::PAGES_PER_WORD));
            Data::is_clean(raw[j], Data::key(w))
        });
        if all_clean && clean_sum & SUM == stored {
            return Verdict::Sound;
        }
        let mut total = 0u64;
        let (mut bad, mut bad_at, mut corrected, mut corrected_at) = (0, 0, 0, 0);
        let mut fixes = [0u64; GROUP_WORDS];
        let mut data = [0u64; GROUP_WORDS];
        for (j, w) in self.members(g).enumerate() {
            let v = Data::view(raw[j], Data::key(w));
            fixes[j] = v.fixed;
            data[j] = v.allocated;
            if v.bad != 0 {
                (bad, bad_at) = (bad + 1, j);
            } else {
                total = total.wrapping_add(v.allocated);
                if v.corrected != 0 {
                    (corrected, corrected_at) = (corrected + 1, j);
                }
            }
        }
        let total = total & SUM;
        // The stored sum's bits that are wrong if every decoded member is
        // right (flipped bits of the parity word).
        let flips = stored ^ total;
        // Member `j` as the sum and the other members say it is; `counted`
        // is what `total` holds of it.
        let rebuilt = |counted: u64| stored.wrapping_sub(total.wrapping_sub(counted)) & SUM;
        let mut repaired = 0u64;
        // Corrected members and a small disagreement: either the
        // correction is right and the parity word took a flip of its own
        // (two single-bit events), or the member took an adjacent burst that
        // the code miscorrected (one event). Take the burst when rebuilding
        // the member from the sum explains the word by one short run of
        // flipped bits; otherwise the two flips.
        // With two or more corrected members only the parity reading is
        // left (one parity word cannot rebuild two members).
        let two_flips = bad == 0
            && corrected >= 1
            && flips.count_ones() <= 2
            && (corrected >= 2 || {
                let w = g + corrected_at * self.groups();
                let diff = raw[corrected_at] ^ Data::encode_word(w, rebuilt(data[corrected_at]));
                let run = diff >> diff.trailing_zeros();
                !(diff != 0 && diff.count_ones() <= 4 && (run & (run + 1)) == 0)
            });
        let sound = if bad == 0 && (flips == 0 || corrected == 0 || two_flips) {
            // The group confirms every correction (flips == 0); or what
            // disagrees is damage to the parity word itself: flipped bits,
            // or with every member decoding clean, a zeroed or overwritten
            // parity word, rewritten from the data. The other reading of
            // the latter, a member holding garbage that decodes as clean,
            // is 1 in 128 of garbage words and cannot be told apart
            // (docs/safety.md).
            for (j, w) in self.members(g).enumerate() {
                if fixes[j] != raw[j] && self.swap(w, raw[j], fixes[j]) {
                    repaired += 1;
                }
            }
            if flips != 0 && self.swap_parity(g, seen, (seen & CONTROL) | total << SUM_SHIFT) {
                repaired += 1;
            }
            true
        } else if bad + corrected == 1 {
            // One member the group contradicts (garbage decoded as a
            // single-bit error) or that does not decode: rebuild it from
            // the sum and the other members.
            let j = if bad == 1 { bad_at } else { corrected_at };
            let w = g + j * self.groups();
            let pages = rebuilt(if bad == 1 { 0 } else { data[j] });
            let fits = pages & !valid(self, w) == 0;
            if fits && self.swap(w, raw[j], Data::encode_word(w, pages)) {
                repaired += 1;
                true
            } else {
                false
            }
        } else {
            // Garbage that decodes as clean (which member is undecidable),
            // or two or more damaged members: beyond one parity word.
            false
        };
        self.data.counters().ce(repaired);
        if let Some(r) = report {
            r.corrected += repaired as usize;
            if !sound {
                self.report_group(g, r);
            }
        }
        if sound {
            Verdict::Sound
        } else {
            Verdict::Unknown
        }
    }

    /// Writes `new` over data word `w` if it still holds `old`.
    fn swap(&self, w: usize, old: u64, new: u64) -> bool {
        self.data
            .cell(w)
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Rewrites group `g`'s parity bits, keeping the checker flag held.
    fn swap_parity(&self, g: usize, seen: u64, new: u64) -> bool {
        self.parity[g]
            .compare_exchange(seen, new, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The update of data word `w` of group `g` on the word's own code, as
    /// `KeyedEccBitmap`'s (a single-bit error repaired in the same
    /// compare-and-swap), announced and retired like any update.
    #[cold]
    fn update_in_word(
        &self,
        g: usize,
        w: usize,
        mask: u64,
        alloc: bool,
    ) -> Result<(), Conflict<u64>> {
        let held = self.announce(g);
        let done = self.data.update(w, mask, alloc);
        if held {
            self.retire(g, if done.is_ok() { mask } else { 0 }, alloc);
        }
        done
    }

    /// One attempt at the update of data word `w`, trusting only a clean
    /// word: `Some(..)` done or refused, `None` the word needs its group.
    #[inline(always)]
    fn try_update(
        &self,
        w: usize,
        mask: u64,
        delta: u64,
        alloc: bool,
    ) -> Option<Result<(), Conflict<u64>>> {
        let cell = self.data.cell(w);
        let key = Data::key(w);
        let mut cur = cell.load(Ordering::Acquire);
        loop {
            let v = Data::view(cur, key);
            if v.bad != 0 || v.corrected != 0 {
                return None;
            }
            let clash = clash(v.allocated, mask, alloc);
            if clash != 0 {
                return Some(Err(Conflict::State(clash)));
            }
            match cell.compare_exchange_weak(cur, cur ^ delta, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(Ok(())),
                Err(now) => cur = now,
            }
        }
    }
}

impl Engine for StripedBitmap {
    type Word = u64;
    const PAGES_PER_WORD: usize = Data::PAGES_PER_WORD;
    fn page_count(&self) -> usize {
        self.data.page_count()
    }
    fn word_count(&self) -> usize {
        self.data.word_count()
    }
    fn counters(&self) -> &Counters {
        self.data.counters()
    }
    fn read(&self, w: usize, want: u64) -> WordRead<u64> {
        let all = low(Self::PAGES_PER_WORD);
        for _ in 0..REPAIR_ROUNDS {
            let v = Data::view(self.data.cell(w).load(Ordering::Acquire), Data::key(w));
            if v.bad == 0 && v.corrected == 0 {
                return WordRead {
                    allocated: v.allocated,
                    bad: 0,
                };
            }
            match self.check_group(self.group_of.of(w), None) {
                Verdict::Sound => {}
                Verdict::Unknown => break,
                // As `KeyedEccBitmap`: a single-bit error corrected in place.
                Verdict::Stale => return self.data.read(w, want),
                // The answer of the word's own code, with no repair written:
                // the fault is left for a check the group can confirm.
                Verdict::Busy => {
                    let v = Data::view(self.data.cell(w).load(Ordering::Acquire), Data::key(w));
                    return WordRead {
                        allocated: v.allocated,
                        bad: v.bad,
                    };
                }
            }
        }
        WordRead {
            allocated: 0,
            bad: all,
        }
    }
    fn update(&self, w: usize, mask: u64, alloc: bool) -> Result<(), Conflict<u64>> {
        let g = self.group_of.of(w);
        let all = low(Self::PAGES_PER_WORD);
        let delta = Data::delta(mask);
        for _ in 0..REPAIR_ROUNDS {
            let held = self.announce(g);
            let done = self.try_update(w, mask, delta, alloc);
            if held {
                let changed = if let Some(Ok(())) = done { mask } else { 0 };
                self.retire(g, changed, alloc);
            }
            if let Some(result) = done {
                return result;
            }
            match self.check_group(g, None) {
                Verdict::Sound => {}
                Verdict::Unknown => break,
                // As `KeyedEccBitmap`: the update carries any single-bit
                // repair in its compare-and-swap (announced, so that the
                // sum of a busy group keeps up; a stale one has none).
                Verdict::Stale | Verdict::Busy => return self.update_in_word(g, w, mask, alloc),
            }
        }
        Err(Conflict::Bad { bad: all, at: mask })
    }
    fn scrub_word(&self, w: usize, report: &mut ScrubReport) -> u64 {
        // Each group is checked whole when its first (lowest) member comes
        // up; its other members are then already repaired.
        // A group that cannot be verified reports all its pages there.
        if w < self.groups() {
            self.check_group(w, Some(report));
        }
        0
    }
    fn quiesce(&mut self) -> usize {
        // No updater or checker can be in flight: a nonzero control field
        // is damage, or a group left stale by contention. Reset it (one
        // repair, unless it is exactly the contention mark, which is no
        // fault); the scrub then checks the sum.
        // A stale sum missed the updates made without a slot: its members
        // are first corrected in-word, as `KeyedEccBitmap` would (a stale
        // group has nothing to confirm a correction with), and the sum is
        // recomputed from them; if one of them is beyond that, the group
        // stays stale (nothing can be rebuilt from it) and the scrub
        // reports that member's pages.
        let mut fixed = 0;
        for g in 0..self.groups() {
            let p = self.parity[g].load(Ordering::Acquire);
            if p & CONTROL == 0 {
                continue;
            }
            let contended = p & CONTROL == CONTENDED;
            let keep_stale = p & STALE != 0 && self.still_stale(g);
            if keep_stale && (p & CONTROL == STALE || contended) {
                continue; // nothing to reset, nothing repaired
            }
            let mut new = p & !CONTROL;
            if keep_stale {
                new |= STALE;
            } else if p & STALE != 0 {
                let mut total = 0u64;
                for w in self.members(g) {
                    let cell = self.data.cell(w);
                    let v = Data::view(cell.load(Ordering::Acquire), Data::key(w));
                    if v.corrected != 0 {
                        cell.store(v.fixed, Ordering::Release);
                        fixed += v.corrected as usize;
                    }
                    total = total.wrapping_add(v.allocated);
                }
                new = (total & SUM) << SUM_SHIFT;
            }
            self.parity[g].store(new, Ordering::Release);
            if !contended {
                fixed += 1;
            }
        }
        self.data.counters().ce(fixed as u64);
        fixed
    }
    fn storage_bytes(&self) -> usize {
        (self.data.word_count() + self.parity.len()) * 8
    }
    fn storage_cell(&self, i: usize) -> Option<&AtomicU64> {
        let n = self.data.word_count();
        if i < n {
            Some(self.data.cell(i))
        } else {
            self.parity.get(i - n)
        }
    }
    fn storage_len(&self) -> usize {
        self.data.word_count() + self.parity.len()
    }
    fn restore_word(
        &self,
        w: usize,
        mask: u64,
        truth: u64,
        keep: u64,
    ) -> Result<Rewrite<u64>, u64> {
        let g = self.group_of.of(w);
        // A word its own code does not read clean goes to its group first,
        // which may rebuild or confirm it. If the group cannot vouch for it
        // (Unknown), its share of the sum is unknown.
        let v = Data::view(self.data.cell(w).load(Ordering::Acquire), Data::key(w));
        let vouched = v.bad == 0 && v.corrected == 0
            || !matches!(self.check_group(g, None), Verdict::Unknown);
        // Announced as any update, so that no checker takes the group while
        // the word and the sum disagree.
        let held = self.announce(g);
        let r = self.data.restore_word(w, mask, truth, keep);
        if held {
            let mut change = 0;
            if let Ok(r) = r {
                if r.written && r.unknown == 0 && vouched {
                    // The word's mask went from `was` to `was & keep | truth`.
                    change = truth.wrapping_sub(r.was & !keep);
                } else if r.written {
                    // Its old share of the sum is unknown: the sum is no
                    // longer of use until `scrub_exclusive` recomputes it
                    // (marked as contention does; a checker cannot hold
                    // the group while this update is in flight).
                    self.parity[g].fetch_or(CONTENDED, Ordering::AcqRel);
                }
            }
            self.retire_change(g, change);
        }
        r
    }
}

crate::engine::page_state!(StripedBitmap);

impl crate::storage::Sealed for StripedBitmap {}
impl StaticLayout for StripedBitmap {
    type Cell = AtomicU64;
}
