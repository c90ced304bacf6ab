//! What the benches and `examples/bench_report.rs` share: the schemes and
//! codecs under test (one line each), the group ids, the sizes, and the
//! deterministic input generator. The report includes this file too, so the
//! ids it reads are the ids the benches write.

use eccmap::codes::{
    Decoded, Hamming74, Hamming84, Hsiao72, LaneCode, Secded32, Secded64, Secded64Burst,
};
use eccmap::{DualBitmap, EccBitmap, KeyedEccBitmap, PageState, PlainBitmap, StripedBitmap};
use secded::SecDedCodec;
use std::marker::PhantomData;

/// Pages of the maps in `alloc_free`, `range_order9`, `is_allocated`,
/// `find_free` and `scrub_4mi`: 16 GiB of 4 KiB pages.
pub(crate) const MAP_PAGES: usize = 4 << 20;
/// Pages of the maps in `scrub_256mi`, `alloc_free_256mi` and
/// `alloc_free_256mi_chain`: 1 TiB of 4 KiB pages.
pub(crate) const BIG_PAGES: usize = 256 << 20;
/// The function id, in `scrub_4mi` and `scrub_256mi`, of the memory-speed
/// floor: a sequential XOR fold of as many bytes as `ecc64`'s storage.
pub(crate) const FLOOR: &str = "floor";
/// Pages of one `range_order9` block (order 9: 2 MiB of 4 KiB pages).
pub(crate) const BLOCK: usize = 512;

/// A map under test: a [`PageState`] with a constructor and a bench id.
pub(crate) trait Scheme: PageState + Sized + 'static {
    /// The criterion function id (`plain`, `dual`, `ecc64`, ...).
    const ID: &'static str;
    /// A map of `pages` free pages.
    fn with_pages(pages: usize) -> Self;
}

/// Code run once per scheme, generic over its type (so every scheme runs
/// the same monomorphised code, with no dynamic dispatch in the timing).
pub(crate) trait Visit {
    /// Runs for scheme `S`.
    fn visit<S: Scheme>(&mut self);
}

/// The constructor of a scheme line: `with_pages` unless one is given.
macro_rules! ctor {
    ($ty:ty) => {
        <$ty>::with_pages
    };
    ($ty:ty, $ctor:expr) => {
        $ctor
    };
}

/// Declares the schemes, in report order: `"id" => Type` (or
/// `"id" => Type = constructor` for a map built some other way than
/// `Type::with_pages(pages)`).
/// A line may carry a `#[cfg(...)]` (a scheme some targets lack).
macro_rules! schemes {
    ($($(#[$cfg:meta])* $id:literal => $ty:ty $(= $ctor:expr)?),* $(,)?) => {
        $($(#[$cfg])* impl Scheme for $ty {
            const ID: &'static str = $id;
            fn with_pages(pages: usize) -> Self {
                (ctor!($ty $(, $ctor)?))(pages)
            }
        })*
        /// The scheme ids, in report order.
        pub(crate) const SCHEMES: &[&str] = &[$($(#[$cfg])* $id),*];
        /// Calls `v.visit::<S>()` for every scheme, in report order.
        pub(crate) fn for_each_scheme(v: &mut impl Visit) {
            $($(#[$cfg])* v.visit::<$ty>();)*
        }
    };
}

// One line per scheme. `plain` and `dual` first: the report divides by them.
schemes! {
    "plain" => PlainBitmap,
    "dual" => DualBitmap,
    "ecc64" => EccBitmap<Secded64>,
    "ecc32" => EccBitmap<Secded32>,
    "ecc8_4" => EccBitmap<Hamming84>,
    "ecc7_4" => EccBitmap<Hamming74>,
    "ecc64b" => EccBitmap<Secded64Burst>,
    "ecc64k" => KeyedEccBitmap<Secded64>,
    "ecc64s" => StripedBitmap,
    // The 128-bit map: x86-64 (with cmpxchg16b) and aarch64.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    "ecc128" => eccmap::Ecc128,
}

/// A criterion group of the map benches and what one of its iterations is.
pub(crate) struct MapGroup {
    /// The criterion group id.
    pub(crate) id: &'static str,
    /// What one iteration (the "op" of the report) does.
    pub(crate) op: &'static str,
    /// Pages one iteration covers, for groups reported as a throughput.
    pub(crate) pages: Option<usize>,
    /// Whether the group also times [`FLOOR`].
    pub(crate) floor: bool,
}

/// The map groups, in the order the bench runs and the report prints them.
pub(crate) const MAP_GROUPS: &[MapGroup] = &[
    MapGroup {
        id: "alloc_free",
        op: "`alloc(p)` then `free(p)` of one page `p` from a fixed random sequence, 4 Mi-page map",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "range_order9",
        op: "`alloc_range(p, 512)` then `free_range(p, 512)` at a random 512-aligned `p`, 4 Mi-page map",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "is_allocated",
        op: "`is_allocated(p)` of a random page of a half-full random 4 Mi-page map",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "find_free",
        op: "`find_free(p)` from a random page of a half-full random 4 Mi-page map",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "scrub_4mi",
        op: "one full `scrub()` of a clean 4 Mi-page map (`plain` checks nothing and reads no memory: ratios to it are not meaningful here)",
        pages: Some(MAP_PAGES),
        floor: true,
    },
    MapGroup {
        id: "scrub_256mi",
        op: "one full `scrub()` of a clean 256 Mi-page map (`plain` checks nothing and reads no memory: ratios to it are not meaningful here)",
        pages: Some(BIG_PAGES),
        floor: true,
    },
    MapGroup {
        id: "alloc_free_256mi",
        op: "`alloc(p)` then `free(p)` of one page `p` from a fixed random sequence of 4 Mi pages, 256 Mi-page map (32 to 64 MiB of storage: every operation misses the core's caches)",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "alloc_free_256mi_chain",
        op: "`is_allocated(p)`, then `alloc(p)` and `free(p)`, 256 Mi-page map, where `p` depends on the previous `is_allocated` answer, so no two operations' misses overlap (the latency of one update)",
        pages: None,
        floor: false,
    },
    MapGroup {
        id: "contended",
        op: "wall time per `alloc(p)` + `free(p)` pair per thread, 2 threads on interleaved pages of one word",
        pages: None,
        floor: false,
    },
];

/// A codec under test, through its own native interface.
pub(crate) trait Codec {
    /// A stored codeword as the codec takes it.
    type Word: Copy;
    /// What `decode` returns.
    type Out;
    /// Data bits per codeword.
    const DATA_BITS: u32;
    /// Codeword bits (the positions a single-bit error can hit).
    const CODE_BITS: u32;
    /// The codec, ready to use.
    fn new() -> Self;
    /// Encodes the low `DATA_BITS` bits of `data`.
    fn encode(&self, data: u64) -> Self::Word;
    /// Decodes (and corrects) a stored word.
    fn decode(&self, word: Self::Word) -> Self::Out;
    /// The data `decode` delivered, if it delivered any.
    fn data_of(out: &Self::Out) -> Option<u64>;
    /// `word` with codeword bit `bit` flipped.
    fn flip(word: Self::Word, bit: u32) -> Self::Word;
}

/// A codec's criterion function id.
pub(crate) trait CodecId: Codec {
    /// `secded64`, ..., `secded_crate`.
    const ID: &'static str;
}

/// Code run once per codec, generic over its type.
pub(crate) trait VisitCodec {
    /// Runs for codec `C`.
    fn visit<C: CodecId>(&mut self);
}

/// One of our [`LaneCode`]s, one codeword in the low bits of a `u64`.
pub(crate) struct Lane<C>(PhantomData<C>);

impl<C: LaneCode> Codec for Lane<C> {
    type Word = u64;
    type Out = Decoded;
    const DATA_BITS: u32 = C::DATA_BITS;
    const CODE_BITS: u32 = C::CODE_BITS;
    fn new() -> Self {
        Lane(PhantomData)
    }
    #[inline(always)]
    fn encode(&self, data: u64) -> u64 {
        C::encode(data)
    }
    #[inline(always)]
    fn decode(&self, word: u64) -> Decoded {
        C::decode(word)
    }
    fn data_of(out: &Decoded) -> Option<u64> {
        out.data()
    }
    fn flip(word: u64, bit: u32) -> u64 {
        word ^ 1 << bit
    }
}

/// Hsiao (72,64): a `u64` of data and its check byte.
pub(crate) struct Hsiao;

impl Codec for Hsiao {
    type Word = (u64, u8);
    type Out = Decoded;
    const DATA_BITS: u32 = Hsiao72::DATA_BITS;
    const CODE_BITS: u32 = Hsiao72::CODE_BITS;
    fn new() -> Self {
        Hsiao
    }
    #[inline(always)]
    fn encode(&self, data: u64) -> (u64, u8) {
        (data, Hsiao72::encode(data))
    }
    #[inline(always)]
    fn decode(&self, (data, check): (u64, u8)) -> Decoded {
        Hsiao72::decode(data, check)
    }
    fn data_of(out: &Decoded) -> Option<u64> {
        out.data()
    }
    fn flip((data, check): (u64, u8), bit: u32) -> (u64, u8) {
        if bit < 64 {
            (data ^ 1 << bit, check)
        } else {
            (data, check ^ 1 << (bit - 64))
        }
    }
}

/// The `secded` crate's `SecDed64` with 57 data bits, through its own API:
/// an 8-byte big-endian buffer, data in the high 57 bits, the 7-bit code in
/// the low bits, encoded and decoded in place.
pub(crate) struct SecdedCrate(secded::SecDed64);

impl Codec for SecdedCrate {
    type Word = [u8; 8];
    type Out = (Result<(), ()>, [u8; 8]);
    const DATA_BITS: u32 = 57;
    const CODE_BITS: u32 = 64;
    fn new() -> Self {
        SecdedCrate(secded::SecDed64::new(57))
    }
    #[inline(always)]
    fn encode(&self, data: u64) -> [u8; 8] {
        let mut buf = ((data & eccmap::codes::mask(57)) << 7).to_be_bytes();
        self.0.encode(&mut buf);
        buf
    }
    #[inline(always)]
    fn decode(&self, word: [u8; 8]) -> Self::Out {
        let mut buf = word;
        let r = self.0.decode(&mut buf);
        (r, buf)
    }
    fn data_of(out: &Self::Out) -> Option<u64> {
        out.0.ok().map(|()| u64::from_be_bytes(out.1) >> 7)
    }
    fn flip(mut word: [u8; 8], bit: u32) -> [u8; 8] {
        word[bit as usize / 8] ^= 1 << (bit % 8);
        word
    }
}

/// Declares the codecs, in report order: `"id" => Type`.
macro_rules! codecs {
    ($($id:literal => $ty:ty),* $(,)?) => {
        $(impl CodecId for $ty {
            const ID: &'static str = $id;
        })*
        /// The codec ids, in report order.
        pub(crate) const CODECS: &[&str] = &[$($id),*];
        /// Calls `v.visit::<C>()` for every codec, in report order.
        pub(crate) fn for_each_codec(v: &mut impl VisitCodec) {
            $(v.visit::<$ty>();)*
        }
    };
}

// One line per codec. `secded_crate` is the outside reference.
codecs! {
    "secded64" => Lane<Secded64>,
    "secded32" => Lane<Secded32>,
    "hamming84" => Lane<Hamming84>,
    "hamming74" => Lane<Hamming74>,
    "hsiao72" => Hsiao,
    "secded_crate" => SecdedCrate,
}

/// The codec groups and what one iteration is.
pub(crate) const CODE_GROUPS: &[(&str, &str)] = &[
    ("codes_decode", "decode of one clean codeword"),
    (
        "codes_decode_error",
        "decode of one codeword with one flipped bit (random position, check bits included)",
    ),
    ("codes_encode", "encode of one data word"),
];

/// The function id codec groups are compared with.
pub(crate) const CODE_REFERENCE: &str = "secded_crate";
