//! Errors of the state maps.

/// Why a map operation failed. Every failure leaves the map's state as it was
/// before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
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
}
