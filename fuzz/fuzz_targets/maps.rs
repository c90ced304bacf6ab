//! Drives one map (every map type: the input's first byte picks it) with an
//! arbitrary sequence of operations, pages, ranges and injected faults,
//! against a model (`Vec<bool>`), and checks after every step:
//!
//! - no panic;
//! - bad input gets its exact error, whatever the faults;
//! - every answer about a page the scheme guarantees is the model's;
//! - every reported fault is real: an `Uncorrectable` error, a scrub's
//!   `uncorrectable`/`bad_pages` and a rise of `ue_count` only where a
//!   fault beyond the scheme's guarantee is outstanding; a correction only
//!   where some stored bit differs from the encoding of the model;
//! - `double_alloc`/`double_free` count exactly the refused calls.
//!
//! **What the scheme guarantees.** Before each operation the raw storage is
//! compared with the encoding of the model (tests/common's independent
//! encoder, `expected_storage`), and each page gets a level:
//! `Exact` (the answer must be the model's), `Detect` (the model's answer
//! or `Uncorrectable`, never a wrong answer) or `Any` (the scheme may
//! legitimately answer wrong: silent or miscorrected damage).
//!
//! | map | Exact | Detect | Any |
//! |---|---|---|---|
//! | `PlainBitmap` | always: a flip changes the state it stores, so the model takes the flip too | | |
//! | `DualBitmap` | both copies right | one copy flipped | both flipped |
//! | in-word codes | ≤ 1 bit of the codeword off | 2 bits off, code of distance ≥ 4 | otherwise |
//! | `StripedBitmap` | per group: every member ≤ 1 bit off and the sum intact; or one member 2 bits off (rebuilt), the rest intact; or only the sum off (rewritten from the members) | every member ≤ 2 bits off, the sum intact | otherwise |
//!
//! The striped map's `Any` includes a damaged sum together with a damaged
//! member: `StripedBitmap::resolve` then takes the one-fault explanation
//! (a burst or garbage in the member, rebuilt from the sum), which is wrong
//! when the truth is two faults (docs/design.md).
//!
//! A page of `Detect`/`Any` level that the map then updates takes the
//! map's word for it (the model follows a call the map accepted). A `Heal`
//! step writes the encoding of the model over the whole storage, so that a
//! long input returns to the fully checked state. Faults never touch the
//! striped map's control fields (bits `0..7` of a parity word): a damaged
//! control field makes each group check retry 65,536 times before it gives
//! up, too slow for a fuzzer; tests/striped.rs covers it.
#![no_main]

#[allow(unused_macros, unreachable_pub, dead_code)]
#[path = "../../tests/common/mod.rs"]
mod common;

use arbitrary::{Result, Unstructured};
use common::{BitRole, EccMap, Layout, Model, Protection, TestMap, TwoFlips};
use eccmap::codes::{Hamming74, Hamming84, Secded32, Secded64, Secded64Burst};
use eccmap::{
    Claim, DualBitmap, EccBitmap, KeyedEccBitmap, PlainBitmap, StateError, StripedBitmap,
};
use libfuzzer_sys::fuzz_target;

/// Set `FUZZ_TRACE=1` to print each step of a replayed input.
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($t:tt)*) => {
        if tracing() {
            eprintln!($($t)*);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = pick(&mut u);
});

fn pick(u: &mut Unstructured) -> Result<()> {
    match u.int_in_range(0u8..=8)? {
        0 => run::<PlainBitmap>(u, Scheme::Plain),
        1 => run::<DualBitmap>(u, Scheme::Dual),
        2 => ecc::<EccBitmap<Secded64>>(u),
        3 => ecc::<EccBitmap<Secded32>>(u),
        4 => ecc::<EccBitmap<Hamming84>>(u),
        5 => ecc::<EccBitmap<Hamming74>>(u),
        6 => ecc::<EccBitmap<Secded64Burst>>(u),
        7 => ecc::<KeyedEccBitmap<Secded64>>(u),
        _ => run::<StripedBitmap>(u, Scheme::Striped),
    }
}

fn ecc<M: EccMap>(u: &mut Unstructured) -> Result<()> {
    run::<M>(u, Scheme::Ecc(M::layout(), M::TWO_FLIPS))
}

/// How a map's storage guards its pages (see the module docs).
enum Scheme {
    Plain,
    Dual,
    Ecc(Layout, TwoFlips),
    Striped,
}

/// What the scheme guarantees about a page (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Exact,
    Detect,
    Any,
}

/// The levels before one operation.
struct Trust {
    /// Per page.
    page: Vec<Level>,
    /// Some stored bit differs from the encoding of the model: a
    /// correction may be reported.
    damaged: bool,
    /// Some page is not `Exact`, or a codeword without pages (past the
    /// last page) is damaged beyond correction: an uncorrectable error may
    /// be reported.
    beyond: bool,
}

fn run<M: TestMap>(u: &mut Unstructured, scheme: Scheme) -> Result<()> {
    let pages = if u.ratio(1u8, 8)? {
        // Two parity groups or more for the striped map.
        57 * 64 + u.int_in_range(1..=120)?
    } else {
        u.int_in_range(1..=200)?
    };
    trace!("{} with {pages} pages", M::NAME);
    let mut map = M::with_pages(pages);
    let mut model = vec![false; pages];
    let mut ops = 0;
    while !u.is_empty() && ops < 400 {
        ops += 1;
        let trust = trust_of(&map, &scheme, &model);
        let before = map.stats();
        let (mut da, mut df) = (0, 0);
        let op = u.int_in_range(0u8..=15)?;
        match op {
            0 | 1 => {
                let p = page(u, pages)?;
                let alloc = u.arbitrary()?;
                let r = if alloc { map.alloc(p) } else { map.free(p) };
                trace!("{}({p}) = {r:?}", if alloc { "alloc" } else { "free" });
                one(&trust, &mut model, p, alloc, r, &mut da, &mut df);
            }
            2 | 3 => {
                let (first, count) = range(u, pages)?;
                let alloc = u.arbitrary()?;
                let r = if alloc {
                    map.alloc_range(first, count)
                } else {
                    map.free_range(first, count)
                };
                trace!(
                    "{}_range({first}, {count}) = {r:?}",
                    if alloc { "alloc" } else { "free" }
                );
                let r = r.map(|()| None).map_err(|e| match (alloc, e) {
                    (true, StateError::DoubleAlloc { page }) => {
                        da += 1;
                        Refused::Conflict(page)
                    }
                    (false, StateError::DoubleFree { page }) => {
                        df += 1;
                        Refused::Conflict(page)
                    }
                    (_, e) => Refused::Error(e),
                });
                ranged(&trust, &mut model, first, count, alloc, r);
            }
            4 => {
                let (first, count) = range(u, pages)?;
                let r = map.try_alloc_range(first, count);
                trace!("try_alloc_range({first}, {count}) = {r:?}");
                let r = match r {
                    Ok(Claim::Claimed) => Ok(None),
                    Ok(Claim::Busy { page }) => Ok(Some(page)),
                    // `Claim` is `#[non_exhaustive]`: an outcome this
                    // target does not know is a failure.
                    Ok(c) => panic!("try_alloc_range: unknown outcome {c:?}"),
                    Err(e) => Err(Refused::Error(e)),
                };
                ranged(&trust, &mut model, first, count, true, r);
            }
            5 | 6 => {
                let p = page(u, pages)?;
                let r = map.is_allocated(p);
                trace!("is_allocated({p}) = {r:?}");
                if p >= pages {
                    assert_eq!(r, Err(StateError::OutOfRange { page: p, pages }));
                } else {
                    read(&trust, p, r.map(|a| a == model[p]), p..p + 1);
                }
            }
            7 => {
                let from = u.int_in_range(0..=pages + 1)?;
                let r = map.find_free(from);
                trace!("find_free({from}) = {r:?}");
                find_free(&trust, &model, from, r);
            }
            8 => {
                let r = map.count_allocated();
                trace!("count_allocated() = {r:?}");
                let known = (0..pages).filter(|&p| trust.page[p] != Level::Any);
                let (lo, any) = (
                    known.filter(|&p| model[p]).count(),
                    trust.page.iter().filter(|&&l| l == Level::Any).count(),
                );
                match r {
                    Ok(n) => assert!(lo <= n && n <= lo + any, "count {n}, {lo} + {any}"),
                    Err(e) => uncorrectable(&trust, e, 0..pages),
                }
            }
            9 => match map.snapshot().inspect(|_| trace!("snapshot")) {
                Ok(v) => {
                    assert_eq!(v.len(), pages);
                    for p in 0..pages {
                        if trust.page[p] != Level::Any {
                            assert_eq!(v[p], model[p], "snapshot page {p}");
                        }
                    }
                }
                Err(e) => uncorrectable(&trust, e, 0..pages),
            },
            10 | 11 => {
                let r = if u.arbitrary()? {
                    map.scrub()
                } else {
                    map.scrub_exclusive()
                };
                trace!("scrub = {r:?}");
                if r.uncorrectable > 0 {
                    assert!(trust.beyond, "a false alarm: {r:?}");
                }
                if r.corrected > 0 {
                    assert!(trust.damaged, "a correction of nothing: {r:?}");
                }
                for b in &r.bad_pages {
                    assert!(b.start < b.end && b.end <= pages, "{r:?}");
                    for p in b.clone() {
                        assert_ne!(trust.page[p], Level::Exact, "page {p} reported: {r:?}");
                    }
                }
            }
            12 | 13 => {
                let bit = u.int_in_range(0..=map.storage_bits() - 1)?;
                if !matches!(map.bit_role(bit), BitRole::Control(_)) {
                    map.flip_storage_bit(bit).unwrap();
                    trace!("flip_storage_bit({bit}) {:?}", map.bit_role(bit));
                    if let Scheme::Plain = scheme {
                        if bit < pages {
                            model[bit] = !model[bit];
                        }
                    }
                }
            }
            14 => {
                let i = u.int_in_range(0..=map.storage_words() - 1)?;
                let mut v = match u.int_in_range(0u8..=3)? {
                    0 => 0,
                    1 => u64::MAX,
                    2 => map.storage_word(u.int_in_range(0..=map.storage_words() - 1)?),
                    _ => u.arbitrary()?,
                };
                if matches!(map.bit_role(i * 64), BitRole::Control(_)) {
                    v = v & !0x7F | map.storage_word(i) & 0x7F;
                }
                map.write_storage_word(i, v).unwrap();
                trace!("write_storage_word({i}, {v:#x})");
                if let Scheme::Plain = scheme {
                    for (o, a) in model.iter_mut().enumerate().skip(i * 64).take(64) {
                        *a = v >> (o % 64) & 1 == 1;
                    }
                }
            }
            _ => {
                trace!("heal");
                let want = M::expected_storage(&to_model(&model));
                for (i, &v) in want.iter().enumerate() {
                    map.write_storage_word(i, v).unwrap();
                }
            }
        }
        // A step that injects no fault leaves every intact page intact: a
        // call that changed a page it reported as refused (or lost an
        // update) leaves a valid encoding that differs from the model,
        // which `trust` grades Any, and every later answer about it would
        // pass.
        if !matches!(op, 12..=14) {
            let now = trust_of(&map, &scheme, &model);
            for p in 0..pages {
                assert!(
                    trust.page[p] != Level::Exact || now.page[p] == Level::Exact,
                    "page {p}: intact before, {:?} after a step without a fault",
                    now.page[p]
                );
            }
        }
        let after = map.stats();
        assert_eq!(after.double_alloc - before.double_alloc, da, "{after:?}");
        assert_eq!(after.double_free - before.double_free, df, "{after:?}");
        if after.ce_count > before.ce_count {
            assert!(trust.damaged, "a correction of nothing: {after:?}");
        }
        if after.ue_count > before.ue_count {
            assert!(trust.beyond, "a false alarm: {after:?}");
        }
        if M::PROTECTION == Protection::Silent {
            assert_eq!((after.ce_count, after.ue_count), (0, 0));
        }
    }
    Ok(())
}

/// A page, now and then past the end.
fn page(u: &mut Unstructured, pages: usize) -> Result<usize> {
    u.int_in_range(0..=pages)
}

/// A range, now and then empty or past the end; mostly short.
fn range(u: &mut Unstructured, pages: usize) -> Result<(usize, usize)> {
    let first = u.int_in_range(0..=pages)?;
    let count = if u.ratio(1u8, 4)? {
        u.int_in_range(0..=pages + 1)?
    } else {
        u.int_in_range(0..=130)?
    };
    Ok((first, count))
}

fn to_model(model: &[bool]) -> Model {
    model.iter().copied().collect()
}

/// Each page's level (see the module docs).
fn trust_of<M: TestMap>(map: &M, scheme: &Scheme, model: &[bool]) -> Trust {
    let pages = model.len();
    let want = M::expected_storage(&to_model(model));
    let diff: Vec<u64> = (0..map.storage_words())
        .map(|i| map.storage_word(i) ^ want[i])
        .collect();
    let off = |w: usize, lo: usize, n: usize| (diff[w] >> lo & common_mask(n)).count_ones();
    let mut t = Trust {
        page: vec![Level::Exact; pages],
        damaged: false,
        beyond: false,
    };
    match scheme {
        Scheme::Plain => {
            // The model took every flip; bits past the last page are read
            // by nothing.
        }
        Scheme::Dual => {
            let n = diff.len() / 2;
            t.damaged = diff.iter().any(|&d| d != 0);
            for w in 0..n {
                for o in 0..64 {
                    let e = (diff[w] >> o & 1) + (diff[n + w] >> o & 1);
                    let level = [Level::Exact, Level::Detect, Level::Any][e as usize];
                    match t.page.get_mut(w * 64 + o) {
                        Some(l) => *l = level,
                        None => t.beyond |= e > 0,
                    }
                }
            }
        }
        Scheme::Ecc(l, two) => {
            t.damaged = diff.iter().any(|&d| d != 0);
            for w in 0..diff.len() {
                for lane in 0..l.lanes {
                    let e = off(w, lane * l.n, l.n);
                    let level = match e {
                        0 | 1 => Level::Exact,
                        2 if *two == TwoFlips::Detected => Level::Detect,
                        _ => Level::Any,
                    };
                    let lp = l.lane_pages(pages, w, lane);
                    if lp.is_empty() {
                        t.beyond |= level != Level::Exact;
                    }
                    t.page[lp].fill(level);
                }
            }
        }
        Scheme::Striped => {
            let data = M::words_for(pages);
            let groups = diff.len() - data;
            let l = Layout::of::<Secded64>();
            t.damaged = diff.iter().any(|&d| d != 0);
            for g in 0..groups {
                assert_eq!(
                    map.storage_word(data + g) & 0x7F,
                    0,
                    "group {g}'s control field left set"
                );
                let sum_off = diff[data + g] != 0;
                let e: Vec<u32> = (g..data)
                    .step_by(groups)
                    .map(|w| diff[w].count_ones())
                    .collect();
                let hurt = e.iter().filter(|&&x| x > 0).count();
                let worst = e.iter().copied().max().unwrap_or(0);
                let level = if (!sum_off && worst <= 1)
                    || (!sum_off && hurt == 1 && worst <= 2)
                    || (sum_off && worst == 0)
                {
                    Level::Exact
                } else if !sum_off && worst <= 2 {
                    Level::Detect
                } else {
                    Level::Any
                };
                t.beyond |= level != Level::Exact;
                for w in (g..data).step_by(groups) {
                    t.page[l.word_pages(pages, w)].fill(level);
                }
            }
        }
    }
    t.beyond |= t.page.iter().any(|&l| l != Level::Exact);
    t
}

fn common_mask(n: usize) -> u64 {
    eccmap::codes::mask(n as u32)
}

/// Checks an `Uncorrectable` error (any other error is wrong here): it must
/// name pages, among them one of `within` the scheme does not guarantee.
fn uncorrectable(t: &Trust, e: StateError, within: std::ops::Range<usize>) {
    let StateError::Uncorrectable { first, count } = e else {
        panic!("unexpected error {e:?}");
    };
    assert!(count >= 1 && first + count <= t.page.len(), "{e:?}");
    assert!(
        (first..first + count)
            .filter(|p| within.contains(p))
            .any(|p| t.page[p] != Level::Exact),
        "a false alarm: {e:?}"
    );
}

/// Checks a read of page `p`: `Ok(true)` if it matched the model.
fn read(t: &Trust, p: usize, r: Result<bool, StateError>, within: std::ops::Range<usize>) {
    match (t.page[p], r) {
        (Level::Any, Ok(_)) | (_, Ok(true)) => {}
        (_, Ok(false)) => panic!("page {p} ({:?}) answered wrong", t.page[p]),
        (_, Err(e)) => uncorrectable(t, e, within),
    }
}

/// Checks `alloc(p)`/`free(p)` and updates the model.
fn one(
    t: &Trust,
    model: &mut [bool],
    p: usize,
    alloc: bool,
    r: Result<(), StateError>,
    da: &mut u64,
    df: &mut u64,
) {
    let pages = model.len();
    if p >= pages {
        assert_eq!(r, Err(StateError::OutOfRange { page: p, pages }));
        return;
    }
    let clash = model[p] == alloc;
    let refused = if alloc {
        StateError::DoubleAlloc { page: p }
    } else {
        StateError::DoubleFree { page: p }
    };
    match r {
        Ok(()) => {
            assert!(
                !clash || t.page[p] == Level::Any,
                "page {p}: Ok over a clash"
            );
            model[p] = alloc;
        }
        Err(e) if e == refused => {
            assert!(
                clash || t.page[p] == Level::Any,
                "page {p}: {e:?} without a clash"
            );
            if alloc {
                *da += 1
            } else {
                *df += 1
            }
        }
        Err(e) => uncorrectable(t, e, p..p + 1),
    }
}

/// Why a range call changed nothing.
enum Refused {
    /// A page of the range already in the target state (the error, for a
    /// refused `alloc_range`/`free_range`).
    Conflict(usize),
    Error(StateError),
}

/// Checks a range call (`Ok(Some(page))` is a busy claim) and updates the
/// model.
fn ranged(
    t: &Trust,
    model: &mut [bool],
    first: usize,
    count: usize,
    alloc: bool,
    r: std::result::Result<Option<usize>, Refused>,
) {
    let pages = model.len();
    if count == 0 {
        assert!(
            matches!(r, Err(Refused::Error(StateError::EmptyRange { first: f })) if f == first)
        );
        return;
    }
    if first + count > pages {
        assert!(matches!(
            r,
            Err(Refused::Error(StateError::RangeOutOfBounds { first: f, count: c, pages: n }))
                if (f, c, n) == (first, count, pages)
        ));
        return;
    }
    let span = first..first + count;
    let clash = span.clone().find(|&p| model[p] == alloc);
    let exact = t.page[span.clone()].iter().all(|&l| l == Level::Exact);
    let conflict = |q: usize| {
        assert!(span.contains(&q), "conflict at {q} outside {span:?}");
        assert!(
            model[q] == alloc || t.page[q] == Level::Any,
            "page {q}: a conflict without a clash"
        );
        if exact {
            assert_eq!(Some(q), clash, "not the first clash");
        }
    };
    match r {
        Ok(None) => {
            assert!(
                span.clone()
                    .all(|p| model[p] != alloc || t.page[p] == Level::Any),
                "{span:?}: done over a clash at {clash:?}"
            );
            model[span].fill(alloc);
        }
        Ok(Some(q)) => conflict(q),
        Err(Refused::Conflict(q)) => conflict(q),
        Err(Refused::Error(e)) => {
            assert!(!exact, "{span:?}: {e:?}");
            uncorrectable(t, e, span);
        }
    }
}

/// Checks `find_free(from)`.
fn find_free(t: &Trust, model: &[bool], from: usize, r: Result<Option<usize>, StateError>) {
    let pages = model.len();
    if from > pages {
        assert_eq!(r, Err(StateError::OutOfRange { page: from, pages }));
        return;
    }
    let first_free = (from..pages).find(|&p| !model[p]);
    let upto = first_free.map_or(pages, |f| f + 1);
    let exact = t.page[from..upto].iter().all(|&l| l == Level::Exact);
    match r {
        Ok(found) => {
            let end = found.unwrap_or(pages);
            assert!(end >= from && end <= pages, "find_free({from}) = {found:?}");
            for p in from..end {
                assert!(
                    model[p] || t.page[p] == Level::Any,
                    "find_free({from}) = {found:?} skipped free page {p}"
                );
            }
            if let Some(q) = found {
                assert!(
                    !model[q] || t.page[q] == Level::Any,
                    "find_free({from}) = {q}, allocated"
                );
            }
            if exact {
                assert_eq!(found, first_free, "find_free({from})");
            }
        }
        Err(e) => {
            assert!(!exact, "find_free({from}): {e:?}");
            uncorrectable(t, e, from..pages);
        }
    }
}
