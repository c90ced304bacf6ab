//! Errors of the state maps.

/// Why a map operation failed. Every failure but
/// [`UndoConflict`](StateError::UndoConflict) leaves the map's state as it
/// was before the call (for the exact guarantee under concurrency, see
/// docs/design.md, "All or nothing"; tested by
/// `tests/behaviour.rs::range_alloc_is_all_or_nothing`,
/// `::range_free_is_all_or_nothing`, `::double_alloc_leaves_state_unchanged`
/// and under races by `tests/regressions.rs`).
///
/// `#[non_exhaustive]`: a match on it needs a wildcard arm, so that an
/// error added later does not break it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// `alloc` of a page that is already allocated.
    #[error("double allocation of page {page}")]
    DoubleAlloc {
        /// The first page of the call found allocated.
        page: usize,
    },
    /// `free` of a page that is not allocated.
    #[error("double free of page {page}")]
    DoubleFree {
        /// The first page of the call found free.
        page: usize,
    },
    /// Stored state that the map could not verify: an uncorrectable codeword,
    /// or (dual bitmap) a page whose two copies disagree. No answer is
    /// guessed; the pages named stay unusable until their storage is rebuilt.
    #[error("uncorrectable state for pages {first}..{}", first + count)]
    Uncorrectable {
        /// First page whose state is unknown.
        first: usize,
        /// Number of pages whose state is unknown, from `first`.
        count: usize,
    },
    /// A range call (`alloc_range`, `free_range`, `try_alloc_range`) spanning
    /// several words checked its whole range, started changing it word by
    /// word, and was then refused at page `refused` because a concurrent
    /// call changed that page after the check. Changing its earlier words
    /// back, it found `count` pages of the range, the lowest `page`, that
    /// it could not put back; every other page of the range is back in its
    /// state from before the call.
    ///
    /// Each of those `count` pages was either changed by another call while
    /// this one held it (it is then back in its state from before this
    /// call, but that call's alloc or free was accepted against this call's
    /// transient state: a page freed twice, or for a `free_range`, a page
    /// now allocated by that call while this call's caller still holds it;
    /// counted in `double_free` or `double_alloc`), or its stored state
    /// became unverifiable meanwhile (counted in `ue_count`; reads report it
    /// as [`Uncorrectable`](StateError::Uncorrectable)). Either needs two
    /// concurrent calls on the same pages, at least one of them a caller's
    /// bug (or a fault). The refusal at `refused` is counted as its own
    /// error would have been.
    ///
    /// What the undo cannot see: a page that another call changed and a
    /// third call changed back while this call held it (a buggy free of
    /// a page this call had just allocated, then an allocation of it by
    /// another caller). The undo then puts it back to its state from
    /// before the call, taking it from the third caller, and nothing is
    /// reported; docs/design.md ("All or nothing") states this limit. Tested by
    /// `tests/regressions.rs::undo_conflict_is_reported_not_dropped`.
    #[error("range refused at page {refused}; {count} pages from page {page} could not be put back (changed by another call, or unverifiable)")]
    UndoConflict {
        /// The page at which the call was refused.
        refused: usize,
        /// The lowest page the undo could not put back.
        page: usize,
        /// How many pages the undo could not put back.
        count: usize,
    },
    /// A page index at or beyond the map's size.
    #[error("page {page} out of range (the map has {pages} pages)")]
    OutOfRange {
        /// The page asked for.
        page: usize,
        /// The map's page count.
        pages: usize,
    },
    /// A range of zero pages.
    #[error("empty page range at {first}")]
    EmptyRange {
        /// Its first page.
        first: usize,
    },
    /// A range that runs past the end of the map, or overflows `usize`.
    #[error("page range {first}+{count} runs past the map's {pages} pages")]
    RangeOutOfBounds {
        /// Its first page.
        first: usize,
        /// Its length.
        count: usize,
        /// The map's page count.
        pages: usize,
    },
    /// Caller-provided storage shorter than the map needs.
    #[error("storage of {given} words is too small: {needed} needed")]
    StorageTooSmall {
        /// Words needed.
        needed: usize,
        /// Words given.
        given: usize,
    },
    /// A storage word or bit index beyond the map's storage (fault injection).
    #[error("storage index {index} out of range ({len})")]
    StorageOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of storage words, or bits, there are.
        len: usize,
    },
    /// A map whose storage words this CPU cannot update lock-free: a
    /// 128-bit map ([`Ecc128`](crate::Ecc128)) on an x86-64 CPU without
    /// `cmpxchg16b`. The map is not built.
    #[error("{bits}-bit atomic compare-and-swap is not lock-free on this CPU")]
    NotLockFree {
        /// The width of the storage word.
        bits: u32,
    },
}
