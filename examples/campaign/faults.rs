//! The fault classes and how one fault event is placed and applied.
//!
//! Every fault goes through [`FaultInjection`], behind the map's encoder:
//! the stored bits change and nothing else does.
//!
//! The DRAM classes (`chip_x4_line` to `address_bit`) place their faults in
//! a model of where the storage sits in memory ([`Memory`]): a 64-bit DDR
//! channel, 64-byte lines of eight 64-bit beats, 8 KiB rows across the
//! rank, each of the map's allocations at its own place. A beat is one
//! 64-bit storage word, so the classes do not depend on the code's word
//! size (a 128-bit codeword is two beats).
//!
//! The word classes (`double_bit_word` to `word_misplaced`) damage one
//! *word of the map*: the unit one compare-and-swap updates, which holds
//! whole codewords ([`Scheme::beats`](crate::schemes::Scheme) 64-bit
//! storage words: one for every map but `ecc128`, two for it). The beat
//! classes (`beat_zero` to `beat_misplaced`) damage one 64-bit storage
//! word whatever the map's word is: for a 64-bit map the same fault as the
//! word class of the same name, for `ecc128` half of one of its words.

use eccmap::FaultInjection;
use testkit::Rng;

/// A kind of fault event. The names are fixed: they appear in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// One stored bit flipped.
    SingleBit,
    /// Two distinct bits of one word of the map flipped.
    DoubleBitWord,
    /// Two distinct bits anywhere in the storage flipped.
    DoubleBitAny,
    /// Three adjacent bits of one word of the map flipped.
    Burst3Word,
    /// Four adjacent bits of one word of the map flipped.
    Burst4Word,
    /// One word of the map overwritten with zeros.
    WordZero,
    /// One word of the map overwritten with ones.
    WordOnes,
    /// One word of the map overwritten with a random value.
    WordRandom,
    /// One word of the map overwritten with a copy of another of its words.
    WordMisplaced,
    /// Eight consecutive storage words (64 bytes) overwritten with random
    /// values.
    LineRandom,
    /// One x4 device fails for one 64-byte line: a random error, nonzero
    /// over the line, in bits `4c..4c+3` of each of the line's 8 beats.
    ChipX4Line,
    /// One x8 device fails for one 64-byte line: bits `8c..8c+7` of each
    /// beat.
    ChipX8Line,
    /// One x8 device's lane garbled in every beat of one 8 KiB DRAM row.
    RowX8,
    /// One bit position flipped in every word of one DRAM column: words
    /// one row (8 KiB) apart, across the allocation.
    Column,
    /// An address-line fault: a 64-byte line written to, or read from, the
    /// line whose address differs in one bit.
    AddressBit,
    /// One 64-bit storage word (a bus beat) overwritten with zeros.
    BeatZero,
    /// One 64-bit storage word overwritten with ones.
    BeatOnes,
    /// One 64-bit storage word overwritten with a random value.
    BeatRandom,
    /// One 64-bit storage word overwritten with a copy of another.
    BeatMisplaced,
}

/// Every class, in report order. The beat classes came last, after the
/// DRAM classes, so that every older class kept its index, which seeds its
/// trials: runs from before them reproduce.
pub(crate) const CLASSES: [Class; 19] = [
    Class::SingleBit,
    Class::DoubleBitWord,
    Class::DoubleBitAny,
    Class::Burst3Word,
    Class::Burst4Word,
    Class::WordZero,
    Class::WordOnes,
    Class::WordRandom,
    Class::WordMisplaced,
    Class::LineRandom,
    Class::ChipX4Line,
    Class::ChipX8Line,
    Class::RowX8,
    Class::Column,
    Class::AddressBit,
    Class::BeatZero,
    Class::BeatOnes,
    Class::BeatRandom,
    Class::BeatMisplaced,
];

/// Words (beats) in a "line" fault: 64 bytes.
pub(crate) const LINE_WORDS: usize = 8;
/// Words in a DRAM row across the rank: 8 KiB (eight x8 devices with 1 KiB
/// pages, or sixteen x4 devices with 512-byte pages).
pub(crate) const ROW_WORDS: usize = 1024;
/// Line-address bits an `address_bit` fault may flip: lines up to 2^40
/// bytes (1 TiB) apart.
const ADDRESS_BITS: u32 = 34;

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::SingleBit => "single_bit",
            Class::DoubleBitWord => "double_bit_word",
            Class::DoubleBitAny => "double_bit_any",
            Class::Burst3Word => "burst3_word",
            Class::Burst4Word => "burst4_word",
            Class::WordZero => "word_zero",
            Class::WordOnes => "word_ones",
            Class::WordRandom => "word_random",
            Class::WordMisplaced => "word_misplaced",
            Class::LineRandom => "line_random",
            Class::ChipX4Line => "chip_x4_line",
            Class::ChipX8Line => "chip_x8_line",
            Class::RowX8 => "row_x8",
            Class::Column => "column",
            Class::AddressBit => "address_bit",
            Class::BeatZero => "beat_zero",
            Class::BeatOnes => "beat_ones",
            Class::BeatRandom => "beat_random",
            Class::BeatMisplaced => "beat_misplaced",
        }
    }

    pub(crate) fn by_name(name: &str) -> Option<Class> {
        CLASSES.into_iter().find(|c| c.name() == name)
    }
}

/// One fault event, placed: what to do to which storage words. Chosen from
/// the trial's generator before the workload starts, applied at the
/// injection moment (see [`Fault::is_atomic`] for when the other threads
/// are paused for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Flip these storage bits.
    Flip(Vec<usize>),
    /// Store these values into these storage words.
    Write(Vec<(usize, u64)>),
    /// Store the value of storage word `from` into storage word `to`.
    Copy { from: usize, to: usize },
    /// XOR these masks into these storage words (each mask nonzero).
    Xor(Vec<(usize, u64)>),
    /// Store the value of each storage word `from` into its `to`, all
    /// values read before any is stored (a line written to, or read from,
    /// the wrong line, or a word of the map copied over another, beat by
    /// beat). `read`: which of the two `address_bit` variants this is
    /// (reads of the `to` line see the `from` line; or a write of the
    /// `from` line landed on the `to` line), false for a word copy; all are
    /// applied the same way, as a copy.
    CopyWords {
        read: bool,
        pairs: Vec<(usize, usize)>,
    },
}

/// One allocation of the map's storage, as placed in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    /// Its first storage word.
    first: usize,
    /// Its storage words.
    len: usize,
    /// The memory address of its first word, in 64-bit words.
    base: u64,
}

impl Region {
    /// The storage word at memory word address `addr`, if in this region.
    fn at(&self, addr: u64) -> Option<usize> {
        (self.base..self.base + self.len as u64)
            .contains(&addr)
            .then(|| self.first + (addr - self.base) as usize)
    }

    /// The region's storage words with addresses in `from..from + n`.
    fn words_in(&self, from: u64, n: u64) -> Vec<usize> {
        (from..from + n).filter_map(|a| self.at(a)).collect()
    }

    /// Memory word address of the first word of each line it touches.
    fn lines(&self) -> impl Iterator<Item = u64> + '_ {
        let first = self.base / LINE_WORDS as u64;
        let last = (self.base + self.len as u64 - 1) / LINE_WORDS as u64;
        (first..=last).map(|l| l * LINE_WORDS as u64)
    }

    /// Memory word address of the first word of each row it touches.
    fn rows(&self) -> impl Iterator<Item = u64> + '_ {
        let first = self.base / ROW_WORDS as u64;
        let last = (self.base + self.len as u64 - 1) / ROW_WORDS as u64;
        (first..=last).map(|r| r * ROW_WORDS as u64)
    }
}

/// Where the map's storage sits in memory, for the DRAM classes. Storage
/// words are laid out in memory in their order, one allocation after
/// another; each allocation starts at a 64-byte line boundary (as kernel
/// allocations of this kind are cache-line aligned), at a line chosen
/// uniformly among the 128 of an 8 KiB row, and allocation `r` lies in its
/// own 32 GiB area: two allocations never share a row, a column or a bank
/// (the dual bitmap's second copy is far from its first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Memory {
    regions: Vec<Region>,
}

impl Memory {
    /// Places allocations of `lens` storage words (in storage order).
    ///
    /// # Panics
    /// If an allocation is empty.
    pub(crate) fn place(lens: &[usize], rng: &mut Rng) -> Memory {
        let mut first = 0;
        let regions = lens
            .iter()
            .enumerate()
            .map(|(r, &len)| {
                assert!(len > 0, "an allocation of no storage words");
                let area = (r as u64 + 1) << 32;
                let row = rng.below(1 << 16) as u64;
                let line = rng.below(ROW_WORDS / LINE_WORDS) as u64;
                let base = area + row * ROW_WORDS as u64 + line * LINE_WORDS as u64;
                let region = Region { first, len, base };
                first += len;
                region
            })
            .collect();
        Memory { regions }
    }

    /// The storage word at memory word address `addr`, if any.
    fn at(&self, addr: u64) -> Option<usize> {
        self.regions.iter().find_map(|r| r.at(addr))
    }
}

/// For each of `words`, a random error confined to bits
/// `shift..shift + width` (a device's lane), nonzero over all of them;
/// words whose error is zero are left out.
fn lane_errors(words: &[usize], shift: usize, width: usize, rng: &mut Rng) -> Vec<(usize, u64)> {
    let lane = ((1u64 << width) - 1) << shift;
    let mut errors: Vec<(usize, u64)> = words
        .iter()
        .map(|&w| (w, rng.next_u64() & lane))
        .filter(|&(_, e)| e != 0)
        .collect();
    if errors.is_empty() {
        let e = (1 + rng.below((1 << width) - 1)) as u64;
        errors.push((words[rng.below(words.len())], e << shift));
    }
    errors
}

/// Places a fault of one of the DRAM classes in `mem`.
fn place_dram(class: Class, mem: &Memory, rng: &mut Rng) -> Fault {
    let regions = &mem.regions;
    match class {
        Class::ChipX4Line | Class::ChipX8Line => {
            let width = if class == Class::ChipX4Line { 4 } else { 8 };
            let lines: Vec<(&Region, u64)> = regions
                .iter()
                .flat_map(|r| r.lines().map(move |l| (r, l)))
                .collect();
            let (r, line) = lines[rng.below(lines.len())];
            let device = rng.below(64 / width);
            let words = r.words_in(line, LINE_WORDS as u64);
            Fault::Xor(lane_errors(&words, device * width, width, rng))
        }
        Class::RowX8 => {
            let rows: Vec<(&Region, u64)> = regions
                .iter()
                .flat_map(|r| r.rows().map(move |row| (r, row)))
                .collect();
            let (r, row) = rows[rng.below(rows.len())];
            let device = rng.below(8);
            let words = r.words_in(row, ROW_WORDS as u64);
            Fault::Xor(lane_errors(&words, device * 8, 8, rng))
        }
        Class::Column => {
            // Every (allocation, column) that holds a word of the map, as
            // likely as each other.
            let columns: Vec<(&Region, u64)> = regions
                .iter()
                .flat_map(|r| {
                    let n = r.len.min(ROW_WORDS) as u64;
                    (r.base..r.base + n).map(move |a| (r, a % ROW_WORDS as u64))
                })
                .collect();
            let (r, column) = columns[rng.below(columns.len())];
            let bit = rng.below(64);
            let first_row = r.base / ROW_WORDS as u64;
            let rows = r.rows().count() as u64;
            Fault::Flip(
                (0..rows)
                    .filter_map(|i| r.at((first_row + i) * ROW_WORDS as u64 + column))
                    .map(|w| w * 64 + bit)
                    .collect(),
            )
        }
        Class::AddressBit => {
            // Every (line, address bit) whose partner line also holds
            // words of the map.
            let line = |a: u64| a / LINE_WORDS as u64;
            let pairs: Vec<(u64, u64)> = regions
                .iter()
                .flat_map(|r| r.lines())
                .flat_map(|a| (0..ADDRESS_BITS).map(move |k| (line(a), line(a) ^ (1 << k))))
                .filter(|&(_, p)| {
                    (0..LINE_WORDS as u64).any(|j| mem.at(p * LINE_WORDS as u64 + j).is_some())
                })
                .collect();
            assert!(
                !pairs.is_empty(),
                "address_bit needs two lines of the map one address bit apart"
            );
            let (a, b) = pairs[rng.below(pairs.len())];
            // Write-misdirected: the write of line `a` lands on `b`.
            // Read-misdirected: reads of line `a` see `b`, modelled as `a`
            // holding `b`'s content.
            let read = rng.percent(50);
            let (from, to) = if read { (b, a) } else { (a, b) };
            let pairs = (0..LINE_WORDS as u64)
                .filter_map(|j| {
                    let f = mem.at(from * LINE_WORDS as u64 + j)?;
                    let t = mem.at(to * LINE_WORDS as u64 + j)?;
                    Some((f, t))
                })
                .collect();
            Fault::CopyWords { read, pairs }
        }
        _ => unreachable!("{} is not a DRAM class", class.name()),
    }
}

impl Fault {
    /// Places a fault of `class` uniformly in a storage made of
    /// allocations of `allocations` 64-bit storage words each, in storage
    /// order (one for most maps; the dual bitmap's two copies, the striped
    /// map's data and parity), for a map whose words are `beats` storage
    /// words each (the word classes damage one of them). The classes up to
    /// `line_random` see the storage as one array and, with `beats` 1, draw
    /// from `rng` exactly as they did before the DRAM classes and the map's
    /// word size were considered; the DRAM classes place it in memory first
    /// ([`Memory::place`]); the beat classes are the word classes with
    /// `beats` 1.
    ///
    /// # Panics
    /// If the storage is too small for the class (fewer than 8 words for
    /// `line_random`, fewer than 2 map words for `word_misplaced`, no two
    /// lines one address bit apart for `address_bit`), or if `beats` is 0
    /// or does not divide the storage.
    pub(crate) fn place(class: Class, allocations: &[usize], beats: usize, rng: &mut Rng) -> Fault {
        let words: usize = allocations.iter().sum();
        assert!(
            beats > 0 && words % beats == 0,
            "{words} storage words are not map words of {beats}"
        );
        match class {
            Class::SingleBit => Fault::Flip(vec![rng.below(words * 64)]),
            Class::DoubleBitWord
            | Class::Burst3Word
            | Class::Burst4Word
            | Class::WordZero
            | Class::WordOnes
            | Class::WordRandom
            | Class::WordMisplaced => Self::in_word(class, words / beats, beats, rng),
            Class::BeatZero => Self::in_word(Class::WordZero, words, 1, rng),
            Class::BeatOnes => Self::in_word(Class::WordOnes, words, 1, rng),
            Class::BeatRandom => Self::in_word(Class::WordRandom, words, 1, rng),
            Class::BeatMisplaced => Self::in_word(Class::WordMisplaced, words, 1, rng),
            Class::DoubleBitAny => {
                let bits = words * 64;
                let a = rng.below(bits);
                let b = (a + 1 + rng.below(bits - 1)) % bits;
                Fault::Flip(vec![a, b])
            }
            Class::LineRandom => {
                assert!(
                    words >= LINE_WORDS,
                    "line_random needs {LINE_WORDS} storage words"
                );
                // Lines are aligned to 8 words from the start of the storage,
                // as cache lines are to an aligned allocation.
                let start = LINE_WORDS * rng.below(words / LINE_WORDS);
                Fault::Write(
                    (start..start + LINE_WORDS)
                        .map(|w| (w, rng.next_u64()))
                        .collect(),
                )
            }
            Class::ChipX4Line
            | Class::ChipX8Line
            | Class::RowX8
            | Class::Column
            | Class::AddressBit => place_dram(class, &Memory::place(allocations, rng), rng),
        }
    }

    /// A fault of word class `class` in one of `units` words of `beats`
    /// storage words each (bits `64 * beats` per word).
    fn in_word(class: Class, units: usize, beats: usize, rng: &mut Rng) -> Fault {
        let bits = 64 * beats;
        // Storage bits `from..from + n` of word `u`.
        let word_bits =
            |u: usize, from: usize, n: usize| (from..from + n).map(move |b| u * bits + b);
        // Its storage words, each with a value.
        let fill = |u: usize, v: &mut dyn FnMut() -> u64| {
            (u * beats..(u + 1) * beats).map(|w| (w, v())).collect()
        };
        match class {
            Class::DoubleBitWord => {
                let u = rng.below(units);
                let a = rng.below(bits);
                let b = (a + 1 + rng.below(bits - 1)) % bits;
                Fault::Flip(vec![u * bits + a, u * bits + b])
            }
            Class::Burst3Word => {
                let u = rng.below(units);
                Fault::Flip(word_bits(u, rng.below(bits - 2), 3).collect())
            }
            Class::Burst4Word => {
                let u = rng.below(units);
                Fault::Flip(word_bits(u, rng.below(bits - 3), 4).collect())
            }
            Class::WordZero => Fault::Write(fill(rng.below(units), &mut || 0)),
            Class::WordOnes => Fault::Write(fill(rng.below(units), &mut || u64::MAX)),
            Class::WordRandom => {
                let u = rng.below(units);
                Fault::Write(fill(u, &mut || rng.next_u64()))
            }
            Class::WordMisplaced => {
                assert!(units >= 2, "word_misplaced needs two words of the map");
                let to = rng.below(units);
                let from = (to + 1 + rng.below(units - 1)) % units;
                if beats == 1 {
                    Fault::Copy { from, to }
                } else {
                    Fault::CopyWords {
                        read: false,
                        pairs: (0..beats)
                            .map(|j| (from * beats + j, to * beats + j))
                            .collect(),
                    }
                }
            }
            _ => unreachable!("{} is not a word class", class.name()),
        }
    }

    /// The storage words this fault may change, in increasing order.
    pub(crate) fn words(&self) -> Vec<usize> {
        let mut w: Vec<usize> = match self {
            Fault::Flip(bits) => bits.iter().map(|b| b / 64).collect(),
            Fault::Write(writes) => writes.iter().map(|&(w, _)| w).collect(),
            Fault::Copy { to, .. } => vec![*to],
            Fault::Xor(masks) => masks.iter().map(|&(w, _)| w).collect(),
            Fault::CopyWords { pairs, .. } => pairs.iter().map(|&(_, t)| t).collect(),
        };
        w.sort_unstable();
        w.dedup();
        w
    }

    /// Whether the fault is one atomic access to the storage (one bit
    /// flip, one word store, or a word copy: a load, then a store of what
    /// was loaded). Such a fault can land while other threads are in the
    /// middle of an operation; any other needs them paused to land at one
    /// instant.
    pub(crate) fn is_atomic(&self) -> bool {
        match self {
            Fault::Flip(bits) => bits.len() == 1,
            Fault::Write(writes) => writes.len() == 1,
            Fault::Copy { .. } => true,
            Fault::Xor(masks) => masks.len() == 1 && masks[0].1.count_ones() == 1,
            Fault::CopyWords { pairs, .. } => pairs.len() == 1,
        }
    }

    /// Applies the fault; returns the storage words whose value it changed
    /// (a flip always changes its word; a store of zero over a zero word
    /// changes nothing).
    pub(crate) fn apply(&self, map: &dyn FaultInjection) -> Vec<usize> {
        match self {
            Fault::Flip(bits) => {
                for &b in bits {
                    map.flip_storage_bit(b).expect("fault bit in range");
                }
                self.words()
            }
            Fault::Write(writes) => {
                let mut changed = Vec::new();
                for &(w, v) in writes {
                    if map.storage_word(w) != v {
                        changed.push(w);
                    }
                    map.write_storage_word(w, v).expect("fault word in range");
                }
                changed
            }
            Fault::Copy { from, to } => {
                let v = map.storage_word(*from);
                let changed = map.storage_word(*to) != v;
                map.write_storage_word(*to, v).expect("fault word in range");
                if changed {
                    vec![*to]
                } else {
                    Vec::new()
                }
            }
            Fault::Xor(masks) => {
                for &(w, m) in masks {
                    for b in (0..64).filter(|b| m >> b & 1 != 0) {
                        map.flip_storage_bit(w * 64 + b)
                            .expect("fault bit in range");
                    }
                }
                self.words()
            }
            Fault::CopyWords { pairs, .. } => {
                let values: Vec<u64> = pairs.iter().map(|&(f, _)| map.storage_word(f)).collect();
                let mut changed = Vec::new();
                for (&(_, t), v) in pairs.iter().zip(values) {
                    if map.storage_word(t) != v {
                        changed.push(t);
                    }
                    map.write_storage_word(t, v).expect("fault word in range");
                }
                changed.sort_unstable();
                changed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in CLASSES {
            assert_eq!(Class::by_name(c.name()), Some(c));
        }
        assert_eq!(Class::by_name("nonsense"), None);
    }

    #[test]
    fn placements_have_the_shape_of_their_class() {
        let mut rng = Rng::new(3);
        for _ in 0..2000 {
            let words = 9 + rng.below(100);
            match Fault::place(Class::DoubleBitWord, &[words], 1, &mut rng) {
                Fault::Flip(b) => {
                    assert_eq!(b.len(), 2);
                    assert_ne!(b[0], b[1]);
                    assert_eq!(b[0] / 64, b[1] / 64);
                    assert!(b[0] < words * 64);
                }
                f => panic!("{f:?}"),
            }
            match Fault::place(Class::DoubleBitAny, &[words], 1, &mut rng) {
                Fault::Flip(b) => assert!(b[0] != b[1] && b.iter().all(|&x| x < words * 64)),
                f => panic!("{f:?}"),
            }
            for (class, n) in [(Class::Burst3Word, 3), (Class::Burst4Word, 4)] {
                match Fault::place(class, &[words], 1, &mut rng) {
                    Fault::Flip(b) => {
                        assert_eq!(b.len(), n);
                        assert!(b.windows(2).all(|p| p[1] == p[0] + 1));
                        assert_eq!(b[0] / 64, b[n - 1] / 64, "a burst stays in its word");
                    }
                    f => panic!("{f:?}"),
                }
            }
            match Fault::place(Class::WordMisplaced, &[words], 1, &mut rng) {
                Fault::Copy { from, to } => assert!(from != to && from < words && to < words),
                f => panic!("{f:?}"),
            }
            match Fault::place(Class::LineRandom, &[words], 1, &mut rng) {
                Fault::Write(w) => {
                    assert_eq!(w.len(), 8);
                    assert_eq!(w[0].0 % 8, 0);
                    assert!(w[7].0 < words);
                }
                f => panic!("{f:?}"),
            }
        }
    }

    /// A fault placed before the map's word size was a parameter, drawn
    /// again: with one storage word per map word, every class draws the
    /// same numbers (so runs of the 64-bit maps reproduce), and each beat
    /// class is its word class.
    #[test]
    fn one_beat_words_place_as_before() {
        let mut rng = Rng::new(9);
        for _ in 0..500 {
            let seed = rng.next_u64();
            let words = 16 + rng.below(200);
            // The placement of the earlier code, for the word classes.
            let before = |class: Class| {
                let mut r = Rng::new(seed);
                let wb = |w: usize, from: usize, n: usize| {
                    (from..from + n).map(|b| w * 64 + b).collect()
                };
                match class {
                    Class::DoubleBitWord => {
                        let w = r.below(words);
                        let a = r.below(64);
                        let b = (a + 1 + r.below(63)) % 64;
                        Fault::Flip(vec![w * 64 + a, w * 64 + b])
                    }
                    Class::Burst3Word => Fault::Flip(wb(r.below(words), r.below(62), 3)),
                    Class::Burst4Word => Fault::Flip(wb(r.below(words), r.below(61), 4)),
                    Class::WordZero => Fault::Write(vec![(r.below(words), 0)]),
                    Class::WordOnes => Fault::Write(vec![(r.below(words), u64::MAX)]),
                    Class::WordRandom => Fault::Write(vec![(r.below(words), r.next_u64())]),
                    Class::WordMisplaced => {
                        let to = r.below(words);
                        let from = (to + 1 + r.below(words - 1)) % words;
                        Fault::Copy { from, to }
                    }
                    _ => unreachable!(),
                }
            };
            for (word, beat) in [
                (Class::DoubleBitWord, None),
                (Class::Burst3Word, None),
                (Class::Burst4Word, None),
                (Class::WordZero, Some(Class::BeatZero)),
                (Class::WordOnes, Some(Class::BeatOnes)),
                (Class::WordRandom, Some(Class::BeatRandom)),
                (Class::WordMisplaced, Some(Class::BeatMisplaced)),
            ] {
                let now = Fault::place(word, &[words], 1, &mut Rng::new(seed));
                assert_eq!(now, before(word), "{}", word.name());
                if let Some(beat) = beat {
                    // A beat class ignores the map's word size.
                    let even = words & !1;
                    assert_eq!(
                        Fault::place(beat, &[even], 2, &mut Rng::new(seed)),
                        Fault::place(word, &[even], 1, &mut Rng::new(seed)),
                        "{}",
                        beat.name()
                    );
                }
            }
        }
    }

    /// With two storage words per map word (`ecc128`), each word class
    /// damages one whole map word: its faults stay inside one aligned pair
    /// of storage words, and the whole-word classes write or copy both.
    #[test]
    fn two_beat_words_are_damaged_whole() {
        let mut rng = Rng::new(21);
        let mut crossed = [false; 3];
        for _ in 0..3000 {
            let words = 2 * (2 + rng.below(100));
            let pair = |w: usize| w / 2;
            let f = |c: Class, rng: &mut Rng| Fault::place(c, &[words], 2, rng);
            match f(Class::DoubleBitWord, &mut rng) {
                Fault::Flip(b) => {
                    assert!(b[0] != b[1] && pair(b[0] / 64) == pair(b[1] / 64));
                    crossed[0] |= b[0] / 64 != b[1] / 64;
                }
                other => panic!("{other:?}"),
            }
            for (i, (c, n)) in [(Class::Burst3Word, 3), (Class::Burst4Word, 4)]
                .into_iter()
                .enumerate()
            {
                match f(c, &mut rng) {
                    Fault::Flip(b) => {
                        assert_eq!(b.len(), n);
                        assert!(b.windows(2).all(|p| p[1] == p[0] + 1));
                        assert_eq!(
                            pair(b[0] / 64),
                            pair(b[n - 1] / 64),
                            "a burst stays in its word"
                        );
                        assert!(b[n - 1] < words * 64);
                        crossed[1 + i] |= b[0] / 64 != b[n - 1] / 64;
                    }
                    other => panic!("{other:?}"),
                }
            }
            for (c, v) in [
                (Class::WordZero, Some(0)),
                (Class::WordOnes, Some(u64::MAX)),
                (Class::WordRandom, None),
            ] {
                match f(c, &mut rng) {
                    Fault::Write(w) => {
                        assert_eq!(w.len(), 2, "{}", c.name());
                        assert!(w[0].0 % 2 == 0 && w[1].0 == w[0].0 + 1 && w[1].0 < words);
                        if let Some(v) = v {
                            assert!(w.iter().all(|&(_, x)| x == v));
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
            match f(Class::WordMisplaced, &mut rng) {
                Fault::CopyWords { read: false, pairs } => {
                    let [(f0, t0), (f1, t1)] = pairs[..] else {
                        panic!("{pairs:?}")
                    };
                    assert!(f0 % 2 == 0 && t0 % 2 == 0 && f0 != t0);
                    assert_eq!((f1, t1), (f0 + 1, t0 + 1));
                    assert!(f1 < words && t1 < words);
                }
                other => panic!("{other:?}"),
            }
        }
        // Bursts and double flips do reach across the two halves.
        assert_eq!(crossed, [true; 3]);
    }

    /// The memory address of storage word `w` under `mem`.
    fn address(mem: &Memory, w: usize) -> u64 {
        let r = mem
            .regions
            .iter()
            .find(|r| (r.first..r.first + r.len).contains(&w))
            .unwrap();
        r.base + (w - r.first) as u64
    }

    /// The allocation (region index) of storage word `w`.
    fn region(mem: &Memory, w: usize) -> usize {
        mem.regions
            .iter()
            .position(|r| (r.first..r.first + r.len).contains(&w))
            .unwrap()
    }

    #[test]
    fn the_old_classes_ignore_how_the_storage_is_allocated() {
        // Same seed, one allocation or three: the same fault, so that runs
        // from before the DRAM classes keep their results.
        for c in CLASSES[..10].iter().chain(&CLASSES[15..]) {
            let (mut a, mut b) = (Rng::new(5), Rng::new(5));
            assert_eq!(
                Fault::place(*c, &[600], 1, &mut a),
                Fault::place(*c, &[300, 290, 10], 1, &mut b),
                "{}",
                c.name()
            );
        }
    }

    #[test]
    fn memory_places_allocations_line_aligned_and_apart() {
        let mut rng = Rng::new(11);
        for _ in 0..200 {
            let mem = Memory::place(&[512, 512], &mut rng);
            let [p, s] = [mem.regions[0], mem.regions[1]];
            assert_eq!((p.first, s.first), (0, 512));
            assert!(p.base % LINE_WORDS as u64 == 0 && s.base % LINE_WORDS as u64 == 0);
            // No row holds words of both.
            let rows = |r: Region| r.base / ROW_WORDS as u64..=(r.base + 511) / ROW_WORDS as u64;
            assert!(rows(p).all(|x| !rows(s).contains(&x)));
            assert_eq!(mem.at(p.base + 3), Some(3));
            assert_eq!(mem.at(s.base + 511), Some(1023));
            assert_eq!(mem.at(s.base + 512), None);
        }
    }

    #[test]
    fn dram_faults_have_the_shape_of_their_class() {
        let mut rng = Rng::new(7);
        for i in 0..3000 {
            // One allocation, or two (the dual bitmap's shape), of sizes
            // below and above a row.
            let allocations: &[usize] = match i % 3 {
                0 => &[575],
                1 => &[512, 512],
                _ => &[2500, 9],
            };
            let words: usize = allocations.iter().sum();
            // Re-derive the memory placement the fault used: the DRAM
            // classes place memory first, from the same generator.
            let seed = rng.next_u64();
            let class = CLASSES[10 + i % 5];
            let mem = Memory::place(allocations, &mut Rng::new(seed));
            let fault = Fault::place(class, allocations, 1, &mut Rng::new(seed));
            let changed = fault.words();
            assert!(!changed.is_empty(), "{fault:?}");
            assert!(changed.iter().all(|&w| w < words));
            let one_region = changed
                .iter()
                .all(|&w| region(&mem, w) == region(&mem, changed[0]));
            match (class, &fault) {
                (Class::ChipX4Line | Class::ChipX8Line, Fault::Xor(masks)) => {
                    let width = if class == Class::ChipX4Line { 4 } else { 8 };
                    let line = address(&mem, masks[0].0) / LINE_WORDS as u64;
                    let lane = |m: u64| m.trailing_zeros() as usize / width;
                    for &(w, m) in masks {
                        assert_ne!(m, 0);
                        assert_eq!(address(&mem, w) / LINE_WORDS as u64, line, "one line");
                        assert_eq!(lane(m), lane(masks[0].1), "one device");
                        assert_eq!(
                            m >> (lane(m) * width) >> width,
                            0,
                            "within the device's {width} bits"
                        );
                    }
                    assert!(masks.len() <= LINE_WORDS && one_region);
                }
                (Class::RowX8, Fault::Xor(masks)) => {
                    let row = address(&mem, masks[0].0) / ROW_WORDS as u64;
                    let lane = masks[0].1.trailing_zeros() / 8;
                    for &(w, m) in masks {
                        assert_eq!(address(&mem, w) / ROW_WORDS as u64, row, "one row");
                        assert_eq!(m & !(0xff << (8 * lane)), 0, "one x8 lane");
                    }
                    assert!(one_region, "a row holds one allocation only");
                }
                (Class::Column, Fault::Flip(bits)) => {
                    let column = address(&mem, bits[0] / 64) % ROW_WORDS as u64;
                    let r = region(&mem, bits[0] / 64);
                    for &b in bits {
                        assert_eq!(b % 64, bits[0] % 64, "one bit position");
                        assert_eq!(address(&mem, b / 64) % ROW_WORDS as u64, column);
                    }
                    // Every word of that column in that allocation.
                    let all = (0..words)
                        .filter(|&w| region(&mem, w) == r)
                        .filter(|&w| address(&mem, w) % ROW_WORDS as u64 == column)
                        .count();
                    assert_eq!(bits.len(), all);
                    assert!(one_region);
                }
                (Class::AddressBit, Fault::CopyWords { pairs, .. }) => {
                    assert!(!pairs.is_empty() && pairs.len() <= LINE_WORDS);
                    let line = |w: usize| address(&mem, w) / LINE_WORDS as u64;
                    let (f, t) = (line(pairs[0].0), line(pairs[0].1));
                    assert_eq!((f ^ t).count_ones(), 1, "one address bit apart");
                    for &(a, b) in pairs {
                        assert_eq!((line(a), line(b)), (f, t));
                        assert_eq!(
                            address(&mem, a) % LINE_WORDS as u64,
                            address(&mem, b) % LINE_WORDS as u64,
                            "same place in the line"
                        );
                    }
                }
                _ => panic!("{}: {fault:?}", class.name()),
            }
        }
    }

    #[test]
    fn a_row_garbles_the_whole_row_and_a_copy_reads_before_it_writes() {
        // 2500 words from a line-aligned place: the row of the fault holds
        // every word of the allocation between its boundaries.
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            let seed = rng.next_u64();
            let mem = Memory::place(&[2500], &mut Rng::new(seed));
            let Fault::Xor(masks) = Fault::place(Class::RowX8, &[2500], 1, &mut Rng::new(seed))
            else {
                panic!()
            };
            let row = address(&mem, masks[0].0) / ROW_WORDS as u64;
            let in_row = (0..2500)
                .filter(|&w| address(&mem, w) / ROW_WORDS as u64 == row)
                .count();
            // A lane's random byte is zero 1 time in 256.
            assert!(
                masks.len() * 10 >= in_row * 9,
                "{} of {in_row}",
                masks.len()
            );
        }
        // Two lines swapped in part: each target gets its source's value
        // from before the copy.
        let map = eccmap::PlainBitmap::with_pages(64 * 16);
        for w in 0..16 {
            map.write_storage_word(w, w as u64 + 100).unwrap();
        }
        let f = Fault::CopyWords {
            read: true,
            pairs: vec![(0, 8), (8, 0), (1, 9)],
        };
        assert_eq!(f.apply(&map), vec![0, 8, 9]);
        let got: Vec<u64> = [0, 1, 8, 9].iter().map(|&w| map.storage_word(w)).collect();
        assert_eq!(got, vec![108, 101, 100, 101]);
    }
}
