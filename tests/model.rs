//! quickcheck: random operation sequences against a bitvec model, with
//! random single-bit faults injected between operations. The ECC maps'
//! answers (values and errors) always equal the model's: `EccBitmap` for
//! every code, `KeyedEccBitmap<Secded64>` and `StripedBitmap`.
//!
//! Fault rule: at most one outstanding fault per codeword. Before a second
//! flip lands in a codeword that may still hold an unrepaired one, the
//! sequence scrubs (a single-bit fault is what the code promises to correct;
//! two in one codeword are the fault tests' subject). The striped map's
//! parity words count as codewords of their own (one outstanding flipped
//! bit each, sum or control field, repaired by the next scrub). A flipped control bit of a
//! parity word stops its group's checks until `scrub_exclusive` resets it,
//! so while one is outstanding the sequence scrubs with `scrub_exclusive`,
//! and a flip never meets a damaged control field in its group: the
//! sequence scrubs first. At the end, after a last scrub, `ce_count` equals
//! the number of flips that hit a codeword or a parity word, and every
//! stored word is the encoding of the model (padding bits as flipped).
//!
//! The same sequences without faults run on `PlainBitmap` and `DualBitmap`.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::{FaultStats, StateError};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use std::collections::HashSet;

/// The faults a sequence may still hold, by what repairs them.
#[derive(Default)]
struct Outstanding {
    /// Codewords with a flipped bit.
    codewords: HashSet<usize>,
    /// Parity groups (striped) with a flipped bit in a member's codeword.
    data_groups: HashSet<usize>,
    /// Parity groups (striped) with a flipped parity bit.
    parity: HashSet<usize>,
    /// Parity groups (striped) with a flipped control bit.
    control: HashSet<usize>,
}

/// Scrubs `map`, with exclusive access when a control field may be damaged
/// (the only repair for it); asserts nothing was beyond repair and forgets
/// every outstanding fault.
fn scrub_all<M: TestMap>(map: &mut M, out: &mut Outstanding, at: &str) {
    let rep = if out.control.is_empty() {
        map.scrub()
    } else {
        map.scrub_exclusive()
    };
    assert_eq!(rep.uncorrectable, 0, "{at}: {rep:?}");
    *out = Outstanding::default();
}

/// One step of a sequence. Page numbers are reduced modulo a little more
/// than the map's size when run, so that some are out of range.
#[derive(Debug, Clone)]
enum Op {
    Alloc(usize),
    Free(usize),
    AllocRange(usize, usize),
    FreeRange(usize, usize),
    IsAllocated(usize),
    FindFree(usize),
    Count,
    Snapshot,
    Scrub,
    /// Flip storage bit (modulo the storage size).
    Flip(usize),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let p = usize::arbitrary(g);
        // Mostly short ranges, sometimes long ones, sometimes empty or huge.
        let c = match u8::arbitrary(g) % 8 {
            0 => 0,
            1 => usize::arbitrary(g),
            2 | 3 => usize::arbitrary(g) % 200,
            _ => usize::arbitrary(g) % 12,
        };
        match u8::arbitrary(g) % 16 {
            0..=2 => Op::Alloc(p),
            3..=4 => Op::Free(p),
            5..=6 => Op::AllocRange(p, c),
            7..=8 => Op::FreeRange(p, c),
            9 => Op::IsAllocated(p),
            10 => Op::FindFree(p),
            11 => Op::Count,
            12 => Op::Snapshot,
            13 => Op::Scrub,
            _ => Op::Flip(p),
        }
    }
}

/// A map size and a sequence of operations.
#[derive(Debug, Clone)]
struct Scenario {
    pages: usize,
    ops: Vec<Op>,
}

impl Arbitrary for Scenario {
    fn arbitrary(g: &mut Gen) -> Scenario {
        Scenario {
            pages: 1 + usize::arbitrary(g) % 300,
            ops: Vec::arbitrary(g),
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Scenario>> {
        let pages = self.pages;
        Box::new(self.ops.shrink().map(move |ops| Scenario { pages, ops }))
    }
}

/// The model's answer to each operation, and its counters.
struct Reference {
    model: Model,
    double_alloc: u64,
    double_free: u64,
}

impl Reference {
    fn pages(&self) -> usize {
        self.model.len()
    }
    fn page(&self, page: usize) -> Result<(), StateError> {
        if page >= self.pages() {
            return Err(StateError::OutOfRange {
                page,
                pages: self.pages(),
            });
        }
        Ok(())
    }
    fn range(&self, first: usize, count: usize) -> Result<std::ops::Range<usize>, StateError> {
        let pages = self.pages();
        if count == 0 {
            return Err(StateError::EmptyRange { first });
        }
        match first.checked_add(count) {
            Some(end) if end <= pages => Ok(first..end),
            _ => Err(StateError::RangeOutOfBounds {
                first,
                count,
                pages,
            }),
        }
    }
    fn set_range(&mut self, first: usize, count: usize, alloc: bool) -> Result<(), StateError> {
        let r = self.range(first, count)?;
        // The first page already in the target state, if any, is reported.
        if let Some(i) = self.model[r.clone()].iter().position(|b| *b == alloc) {
            let page = first + i;
            return Err(if alloc {
                self.double_alloc += 1;
                StateError::DoubleAlloc { page }
            } else {
                self.double_free += 1;
                StateError::DoubleFree { page }
            });
        }
        self.model[r].fill(alloc);
        Ok(())
    }
    fn set(&mut self, page: usize, alloc: bool) -> Result<(), StateError> {
        self.page(page)?;
        self.set_range(page, 1, alloc)
    }
}

/// Runs `s` on a fresh `M`, comparing every answer with the model; with
/// `inject`, `Flip` steps flip storage bits under the fault rule.
fn run<M: TestMap>(s: &Scenario, inject: bool) -> bool {
    let mut map = M::with_pages(s.pages);
    let mut r = Reference {
        model: Model::repeat(false, s.pages),
        double_alloc: 0,
        double_free: 0,
    };
    let mut out = Outstanding::default();
    // Padding bits flipped (never repaired, never counted).
    let mut padding = Vec::new();
    let mut flips = 0u64;
    // Some page numbers out of range, most in.
    let page = |p: usize| p % (s.pages + 3);
    for (i, op) in s.ops.iter().enumerate() {
        let at = format!("{} step {i} {op:?}", M::NAME);
        match *op {
            Op::Alloc(p) => assert_eq!(map.alloc(page(p)), r.set(page(p), true), "{at}"),
            Op::Free(p) => assert_eq!(map.free(page(p)), r.set(page(p), false), "{at}"),
            Op::AllocRange(p, c) => assert_eq!(
                map.alloc_range(page(p), c),
                r.set_range(page(p), c, true),
                "{at}"
            ),
            Op::FreeRange(p, c) => assert_eq!(
                map.free_range(page(p), c),
                r.set_range(page(p), c, false),
                "{at}"
            ),
            Op::IsAllocated(p) => {
                let p = page(p);
                let want = r.page(p).map(|()| r.model[p]);
                assert_eq!(map.is_allocated(p), want, "{at}");
            }
            Op::FindFree(p) => {
                let from = page(p);
                let want = if from > s.pages {
                    Err(StateError::OutOfRange {
                        page: from,
                        pages: s.pages,
                    })
                } else {
                    Ok(model_find_free(&r.model, from))
                };
                assert_eq!(map.find_free(from), want, "{at}");
            }
            Op::Count => assert_eq!(map.count_allocated(), Ok(r.model.count_ones()), "{at}"),
            Op::Snapshot => assert_eq!(map.snapshot().as_ref(), Ok(&r.model), "{at}"),
            Op::Scrub => scrub_all(&mut map, &mut out, &at),
            Op::Flip(b) => {
                if !inject || map.storage_bits() == 0 {
                    continue;
                }
                let bit = b % map.storage_bits();
                match map.bit_role(bit) {
                    BitRole::Padding => {
                        // Hamming (7,4)'s bit 63: flipping it changes no
                        // answer and is never counted.
                        map.flip_storage_bit(bit).unwrap();
                        padding.push(bit);
                        continue;
                    }
                    BitRole::Bitmap => panic!("{at}: faults injected into a bitmap"),
                    BitRole::Codeword { codeword, group } => {
                        // A flip in a data word and one in its group's
                        // parity word are two faults in one group: the
                        // striped map may take them for one miscorrected
                        // burst (docs/design.md, "Resolve"), so the model
                        // keeps them apart, as it keeps two flips out of one
                        // codeword.
                        let in_control = group
                            .is_some_and(|g| out.control.contains(&g) || out.parity.contains(&g));
                        if out.codewords.contains(&codeword) || in_control {
                            scrub_all(&mut map, &mut out, &at);
                        }
                        out.codewords.insert(codeword);
                        out.data_groups.extend(group);
                    }
                    // A parity word is one unit: a stale flag recomputes
                    // the sum, which takes a flipped sum bit with it.
                    BitRole::Parity(g) => {
                        if out.parity.contains(&g)
                            || out.control.contains(&g)
                            || out.data_groups.contains(&g)
                        {
                            scrub_all(&mut map, &mut out, &at);
                        }
                        out.parity.insert(g);
                    }
                    BitRole::Control(g) => {
                        if out.control.contains(&g)
                            || out.parity.contains(&g)
                            || out.data_groups.contains(&g)
                        {
                            scrub_all(&mut map, &mut out, &at);
                        }
                        out.control.insert(g);
                    }
                }
                map.flip_storage_bit(bit).unwrap();
                flips += 1;
            }
        }
    }
    scrub_all(&mut map, &mut out, &format!("{} final scrub", M::NAME));
    assert_matches(&map, &r.model, M::NAME);
    let mut want = M::expected_storage(&r.model);
    for b in padding {
        want[b / 64] ^= 1 << (b % 64);
    }
    assert_eq!(raw(&map), want, "{} storage", M::NAME);
    assert_eq!(
        map.stats(),
        FaultStats {
            ce_count: flips,
            ue_count: 0,
            double_alloc: r.double_alloc,
            double_free: r.double_free,
            restored: 0,
        },
        "{} counters",
        M::NAME
    );
    true
}

fn check<M: TestMap>(inject: bool) {
    let prop: fn(Scenario) -> bool = if inject {
        |s| run::<M>(&s, true)
    } else {
        |s| run::<M>(&s, false)
    };
    QuickCheck::new()
        .tests(300)
        .rng(Gen::new(200))
        .quickcheck(prop);
}

fn with_faults_equals_model<M: TestMap>() {
    check::<M>(true);
}

for_each_ecc_map!(with_faults_equals_model);

#[test]
fn plain_without_faults_equals_model() {
    check::<eccmap::PlainBitmap>(false);
}

#[test]
fn dual_without_faults_equals_model() {
    check::<eccmap::DualBitmap>(false);
}

/// The fault rule at work: a scenario that flips a bit, then flips another
/// bit of the same codeword, stays correct because the sequence scrubs in
/// between; and the flips are all counted.
#[test]
fn two_flips_in_one_codeword_are_separated_by_a_scrub() {
    let s = Scenario {
        pages: 100,
        ops: vec![
            Op::AllocRange(3, 40),
            Op::Flip(5),
            Op::Flip(6),
            Op::IsAllocated(5),
            Op::Flip(5),
            Op::FreeRange(3, 2),
        ],
    };
    assert!(run::<Ecc64>(&s, true));
}

/// The striped map's fault rule at work on fixed steps (random sequences
/// seldom hit its parity word's few control bits): a parity bit and a
/// control bit flipped, operations on the group in between, a data flip in
/// a group whose control field is damaged (scrubbed exclusively first), a
/// second control flip; every flip counted once.
#[test]
fn striped_parity_and_control_flips_follow_the_fault_rule() {
    // 100 pages: data words 0 and 1 (bits 0..128), one group whose parity
    // word is storage word 2: control bits 128..135 (count 128..132, stale
    // 132, check 133, dirty 134), sum bits 135..192.
    let map = eccmap::StripedBitmap::with_pages(100);
    assert_eq!(map.bit_role(137), BitRole::Parity(0));
    assert_eq!(map.bit_role(129), BitRole::Control(0));
    let s = Scenario {
        pages: 100,
        ops: vec![
            Op::AllocRange(3, 70),
            Op::Flip(137),
            Op::Alloc(80),
            Op::Flip(129),
            Op::Free(3),
            Op::FreeRange(60, 5),
            Op::Count,
            Op::Flip(5),
            Op::IsAllocated(5),
            Op::Flip(132),
            Op::Alloc(20),
            Op::Free(80),
            Op::Flip(138),
            Op::Flip(70),
            Op::Snapshot,
            Op::Flip(133),
            Op::Alloc(99),
            Op::Scrub,
            Op::Flip(134),
            Op::Flip(128),
        ],
    };
    assert!(run::<eccmap::StripedBitmap>(&s, true));
}
