//! quickcheck: random operation sequences against a bitvec model, with
//! random single-bit faults injected between operations. `EccBitmap`'s
//! answers (values and errors) always equal the model's, for every code.
//!
//! Fault rule: at most one outstanding fault per codeword. Before a second
//! flip lands in a codeword that may still hold an unrepaired one, the
//! sequence scrubs (a single-bit fault is what the code promises to correct;
//! two in one codeword are the fault tests' subject). At the end, after a
//! last scrub, `ce_count` equals the number of flips that hit a codeword.
//!
//! The same sequences without faults run on `PlainBitmap` and `DualBitmap`.
#![cfg(not(feature = "panic-on-fault"))]

#[macro_use]
mod common;

use common::*;
use eccmap::{FaultStats, StateError};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use std::collections::HashSet;

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
/// `inject`, `Flip` steps flip storage bits (one outstanding per codeword).
fn run<M: TestMap>(s: &Scenario, inject: bool) -> bool {
    let map = M::with_pages(s.pages);
    let mut r = Reference {
        model: Model::repeat(false, s.pages),
        double_alloc: 0,
        double_free: 0,
    };
    // Codewords that may hold an unrepaired fault.
    let mut outstanding = HashSet::new();
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
            Op::Scrub => {
                let rep = map.scrub();
                assert_eq!(rep.uncorrectable, 0, "{at}: {rep:?}");
                outstanding.clear();
            }
            Op::Flip(b) => {
                if !inject || map.storage_bits() == 0 {
                    continue;
                }
                let bit = b % map.storage_bits();
                let Some(cw) = M::codeword_of_bit(bit) else {
                    // Padding (Hamming (7,4)'s bit 63): flipping it changes
                    // no answer and is never counted.
                    map.flip_storage_bit(bit).unwrap();
                    continue;
                };
                if outstanding.contains(&cw) {
                    let rep = map.scrub();
                    assert_eq!(rep.uncorrectable, 0, "{at}: {rep:?}");
                    outstanding.clear();
                }
                map.flip_storage_bit(bit).unwrap();
                outstanding.insert(cw);
                flips += 1;
            }
        }
    }
    let rep = map.scrub();
    assert_eq!(rep.uncorrectable, 0, "{} final scrub: {rep:?}", M::NAME);
    assert_matches(&map, &r.model, M::NAME);
    assert_eq!(
        map.stats(),
        FaultStats {
            ce_count: flips,
            ue_count: 0,
            double_alloc: r.double_alloc,
            double_free: r.double_free,
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

#[test]
fn ecc_secded64_with_faults_equals_model() {
    check::<Ecc64>(true);
}

#[test]
fn ecc_secded32_with_faults_equals_model() {
    check::<Ecc32>(true);
}

#[test]
fn ecc_hamming84_with_faults_equals_model() {
    check::<Ecc84>(true);
}

#[test]
fn ecc_hamming74_with_faults_equals_model() {
    check::<Ecc74>(true);
}

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
