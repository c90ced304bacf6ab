//! The fault classes and how one fault event is placed and applied.
//!
//! Every fault goes through [`FaultInjection`], behind the map's encoder:
//! the stored bits change and nothing else does.

use crate::rng::Rng;
use eccmap::FaultInjection;

/// A kind of fault event. The names are fixed: they appear in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// One stored bit flipped.
    SingleBit,
    /// Two distinct bits of one storage word flipped.
    DoubleBitWord,
    /// Two distinct bits anywhere in the storage flipped.
    DoubleBitAny,
    /// Three adjacent bits of one storage word flipped.
    Burst3Word,
    /// Four adjacent bits of one storage word flipped.
    Burst4Word,
    /// One storage word overwritten with zeros.
    WordZero,
    /// One storage word overwritten with ones.
    WordOnes,
    /// One storage word overwritten with a random value.
    WordRandom,
    /// One storage word overwritten with a copy of another word of the map.
    WordMisplaced,
    /// Eight consecutive storage words (64 bytes) overwritten with random
    /// values.
    LineRandom,
}

/// Every class, in report order.
pub(crate) const CLASSES: [Class; 10] = [
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
];

/// Words in a "line" fault: 64 bytes.
const LINE_WORDS: usize = 8;

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
}

impl Fault {
    /// Places a fault of `class` uniformly in a storage of `words` words.
    ///
    /// # Panics
    /// If the storage is too small for the class (fewer than 8 words for
    /// `line_random`, fewer than 2 for `word_misplaced`).
    pub(crate) fn place(class: Class, words: usize, rng: &mut Rng) -> Fault {
        let bits = words * 64;
        let word_bits =
            |w: usize, from: usize, n: usize| (from..from + n).map(|b| w * 64 + b).collect();
        match class {
            Class::SingleBit => Fault::Flip(vec![rng.below(bits)]),
            Class::DoubleBitWord => {
                let w = rng.below(words);
                let a = rng.below(64);
                let b = (a + 1 + rng.below(63)) % 64;
                Fault::Flip(vec![w * 64 + a, w * 64 + b])
            }
            Class::DoubleBitAny => {
                let a = rng.below(bits);
                let b = (a + 1 + rng.below(bits - 1)) % bits;
                Fault::Flip(vec![a, b])
            }
            Class::Burst3Word => Fault::Flip(word_bits(rng.below(words), rng.below(62), 3)),
            Class::Burst4Word => Fault::Flip(word_bits(rng.below(words), rng.below(61), 4)),
            Class::WordZero => Fault::Write(vec![(rng.below(words), 0)]),
            Class::WordOnes => Fault::Write(vec![(rng.below(words), u64::MAX)]),
            Class::WordRandom => Fault::Write(vec![(rng.below(words), rng.next_u64())]),
            Class::WordMisplaced => {
                assert!(words >= 2, "word_misplaced needs two storage words");
                let to = rng.below(words);
                let from = (to + 1 + rng.below(words - 1)) % words;
                Fault::Copy { from, to }
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
        }
    }

    /// The storage words this fault may change, in increasing order.
    pub(crate) fn words(&self) -> Vec<usize> {
        let mut w: Vec<usize> = match self {
            Fault::Flip(bits) => bits.iter().map(|b| b / 64).collect(),
            Fault::Write(writes) => writes.iter().map(|&(w, _)| w).collect(),
            Fault::Copy { to, .. } => vec![*to],
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
            match Fault::place(Class::DoubleBitWord, words, &mut rng) {
                Fault::Flip(b) => {
                    assert_eq!(b.len(), 2);
                    assert_ne!(b[0], b[1]);
                    assert_eq!(b[0] / 64, b[1] / 64);
                    assert!(b[0] < words * 64);
                }
                f => panic!("{f:?}"),
            }
            match Fault::place(Class::DoubleBitAny, words, &mut rng) {
                Fault::Flip(b) => assert!(b[0] != b[1] && b.iter().all(|&x| x < words * 64)),
                f => panic!("{f:?}"),
            }
            for (class, n) in [(Class::Burst3Word, 3), (Class::Burst4Word, 4)] {
                match Fault::place(class, words, &mut rng) {
                    Fault::Flip(b) => {
                        assert_eq!(b.len(), n);
                        assert!(b.windows(2).all(|p| p[1] == p[0] + 1));
                        assert_eq!(b[0] / 64, b[n - 1] / 64, "a burst stays in its word");
                    }
                    f => panic!("{f:?}"),
                }
            }
            match Fault::place(Class::WordMisplaced, words, &mut rng) {
                Fault::Copy { from, to } => assert!(from != to && from < words && to < words),
                f => panic!("{f:?}"),
            }
            match Fault::place(Class::LineRandom, words, &mut rng) {
                Fault::Write(w) => {
                    assert_eq!(w.len(), 8);
                    assert_eq!(w[0].0 % 8, 0);
                    assert!(w[7].0 < words);
                }
                f => panic!("{f:?}"),
            }
        }
    }
}
