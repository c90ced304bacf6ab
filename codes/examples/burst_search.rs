//! Randomized search for 64-bit parity-check matrices with 8 check bits that
//! keep SEC-DED and also handle adjacent bursts: the program that produced
//! the columns of `Secded64Burst`, and the experiments docs/codes.md quotes.
//!
//! ```text
//! cargo run --release -p eccmap-codes --example burst_search            # reproduce Secded64Burst
//! cargo run --release -p eccmap-codes --example burst_search -- daec    # question (a)
//! cargo run --release -p eccmap-codes --example burst_search -- length  # question (b), solid bursts
//! cargo run --release -p eccmap-codes --example burst_search -- window  # question (b), any pattern
//! ```
//! Options: `--seed N` (default 7, the committed matrix's seed), `--iters N`
//! (annealing steps per run), `--restarts N`, `--from L` (first burst
//! length tried by `length` and `window`); for `find`, `--solid L` or
//! `--window L` asks for more than the committed code (solid bursts up to
//! `L`, or every pattern inside `L` bits) to see what that costs in ones.
//!
//! Layout searched: codeword bits 0..56 are data with free columns, bits
//! 56..64 are the check bits with the fixed unit columns `1 << j`, in storage
//! order, so a burst over bits 55..58 mixes both kinds.
//!
//! Method: simulated annealing on the number of violated constraints. A
//! state is 56 distinct data columns drawn from the candidate set (odd-weight
//! 8-bit values that are not units, or for the wider DAEC question any
//! nonzero non-unit value); a move replaces one column by an unused
//! candidate or swaps two positions. Once no constraint is violated, a
//! second anneal minimises the number of ones (violations weigh more than
//! any saving), then row imbalance. Every random number comes from a
//! SplitMix64 generator (`testkit::Rng`) seeded by `--seed`, the step
//! counts are fixed, and the acceptance test uses only IEEE basic operations
//! (its own `exp`), so a seed gives the same matrix on every platform.

use eccmap_codes::{LaneCode, Matrix, Secded64Burst};
use std::time::Instant;
use testkit::Rng;

/// Codeword bits.
const N: usize = 64;
/// Data bits (free columns).
const K: usize = 56;
/// Check bits.
const R: u32 = 8;

/// A value in `0..n` by remainder (not `Rng::below`'s multiply-high): the
/// committed matrix was found with this draw, and the search must keep
/// reproducing it.
fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// `e^-x` for `x >= 0` from additions, multiplications and divisions only
/// (correctly rounded in IEEE 754 everywhere, unlike a libm `exp`), so the
/// annealer's decisions, and hence its matrix, do not depend on the platform.
fn exp_neg(x: f64) -> f64 {
    if x > 64.0 {
        return 0.0;
    }
    let (mut y, mut halvings) = (x, 0);
    while y > 0.25 {
        y /= 2.0;
        halvings += 1;
    }
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..12 {
        term *= -y / i as f64;
        sum += term;
    }
    for _ in 0..halvings {
        sum *= sum;
    }
    sum
}

/// What a matrix must guarantee beyond single-error correction (distinct,
/// nonzero columns, which every state has by construction).
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Data columns of odd weight only (then every double error has an even
    /// syndrome and is detected for free); otherwise any nonzero value, and
    /// double-error detection is a counted constraint.
    odd_only: bool,
    /// Every solid burst (all bits of a run flipped) of length `3..=solid`
    /// is detected: its syndrome is nonzero and is not a column (nor, with
    /// `daec`, the syndrome of a double-adjacent error).
    solid: usize,
    /// Every error pattern of weight >= 2 confined to `window` consecutive
    /// bits is detected (0: no such requirement).
    window: usize,
    /// Every double-adjacent error is corrected: its syndrome is not a
    /// column and no other double error has the same syndrome.
    daec: bool,
}

/// The requirements of `Secded64Burst` (issue 7).
const BURST: Spec = Spec {
    odd_only: true,
    solid: 4,
    window: 0,
    daec: false,
};

/// The full column list: data columns, then the check units.
fn full(data: &[u8; K]) -> [u8; N] {
    let mut c = [0u8; N];
    c[..K].copy_from_slice(data);
    for j in 0..R as usize {
        c[K + j] = 1 << j;
    }
    c
}

/// Number of violated constraints of `spec` for the columns `c`.
fn violations(spec: &Spec, c: &[u8; N]) -> u32 {
    let mut is_col = [false; 256];
    for &x in c {
        is_col[x as usize] = true;
    }
    let mut v = 0;
    // Syndromes of all double errors, when they matter.
    let mut pairs = [0u16; 256];
    if !spec.odd_only || spec.daec {
        for a in 0..N {
            for b in a + 1..N {
                let s = (c[a] ^ c[b]) as usize;
                pairs[s] += 1;
                if !spec.odd_only && is_col[s] {
                    v += 1; // a double error miscorrected as a single
                }
            }
        }
    }
    let mut adjacent = [false; 256];
    if spec.daec {
        for p in 0..N - 1 {
            let s = (c[p] ^ c[p + 1]) as usize;
            if is_col[s] || pairs[s] > 1 {
                v += 1; // not uniquely a double-adjacent syndrome
            }
            adjacent[s] = true;
        }
    }
    let bad = |s: u8| s == 0 || is_col[s as usize] || adjacent[s as usize];
    if spec.solid >= 3 {
        let mut prefix = [0u8; N + 1];
        for p in 0..N {
            prefix[p + 1] = prefix[p] ^ c[p];
        }
        for len in 3..=spec.solid {
            for p in 0..=N - len {
                if bad(prefix[p] ^ prefix[p + len]) {
                    v += 1;
                }
            }
        }
    }
    if spec.window >= 3 {
        // Patterns whose first flipped bit is p and whose others lie in
        // p+1..p+window; weight-2 patterns only matter without odd_only.
        for p in 0..N {
            let span = spec.window.min(N - p) - 1;
            for m in 1u32..1 << span {
                let weight = 1 + m.count_ones();
                if weight == 2 && (spec.odd_only || (spec.daec && m == 1)) {
                    continue; // detected for free, or corrected (DAEC)
                }
                let mut s = c[p];
                for i in 0..span {
                    if m >> i & 1 == 1 {
                        s ^= c[p + 1 + i];
                    }
                }
                if bad(s) {
                    v += 1;
                }
            }
        }
    }
    v
}

/// Ones in the data columns (the check units add 8).
fn weight(data: &[u8; K]) -> u32 {
    data.iter().map(|c| c.count_ones()).sum()
}

/// Largest minus smallest row weight of the data part.
fn imbalance(data: &[u8; K]) -> u32 {
    let rows: Vec<u32> = (0..R)
        .map(|j| data.iter().filter(|&&c| c >> j & 1 == 1).count() as u32)
        .collect();
    rows.iter().max().unwrap() - rows.iter().min().unwrap()
}

/// The candidate data columns: never a check unit (that would repeat a
/// column), odd weight when the spec asks for it.
fn candidates(spec: &Spec) -> Vec<u8> {
    (1..=255u8)
        .filter(|c| c.count_ones() > 1 && (!spec.odd_only || c.count_ones() % 2 == 1))
        .collect()
}

/// One annealing state: the data columns and which candidates are in use.
struct State {
    data: [u8; K],
    used: [bool; 256],
}

impl State {
    fn random(cands: &[u8], rng: &mut Rng) -> State {
        let mut pool = cands.to_vec();
        let mut data = [0u8; K];
        let mut used = [false; 256];
        for d in data.iter_mut() {
            let i = below(rng, pool.len());
            *d = pool.swap_remove(i);
            used[*d as usize] = true;
        }
        State { data, used }
    }
}

/// What an anneal minimises: violations first, then (if `shape`) ones,
/// then row imbalance.
fn cost(spec: &Spec, data: &[u8; K], shape: bool) -> f64 {
    let v = violations(spec, &full(data)) as f64;
    if shape {
        // A violation outweighs any achievable saving of ones (at most 7 per
        // column) so the anneal stays on valid matrices at low temperature.
        64.0 * v + weight(data) as f64 + imbalance(data) as f64 / 16.0
    } else {
        v
    }
}

/// A temperature schedule: `t0`, decaying exponentially by `e_folds`
/// factors of e over the run.
#[derive(Clone, Copy)]
struct Schedule {
    t0: f64,
    e_folds: f64,
}

/// Simulated annealing over `iters` steps. Returns the best state's cost and
/// leaves that state in `st`.
fn anneal(
    spec: &Spec,
    cands: &[u8],
    st: &mut State,
    rng: &mut Rng,
    iters: u64,
    sched: Schedule,
    shape: bool,
) -> f64 {
    let mut cur = cost(spec, &st.data, shape);
    let mut best = (cur, st.data);
    let mut t = sched.t0;
    for step in 0..iters {
        if step % 1024 == 0 {
            t = sched.t0 * exp_neg(sched.e_folds * step as f64 / iters as f64);
        }
        let p = below(rng, K);
        let undo;
        if rng.next_u64() & 1 == 0 {
            let c = cands[below(rng, cands.len())];
            if st.used[c as usize] {
                continue;
            }
            undo = (p, st.data[p], None);
            st.used[st.data[p] as usize] = false;
            st.used[c as usize] = true;
            st.data[p] = c;
        } else {
            let q = below(rng, K);
            st.data.swap(p, q);
            undo = (p, 0, Some(q));
        }
        let new = cost(spec, &st.data, shape);
        if new <= cur || rng.unit() < exp_neg((new - cur) / t) {
            cur = new;
            if cur < best.0 {
                best = (cur, st.data);
                if !shape && cur == 0.0 {
                    break;
                }
            }
        } else {
            match undo {
                (p, old, None) => {
                    st.used[st.data[p] as usize] = false;
                    st.used[old as usize] = true;
                    st.data[p] = old;
                }
                (p, _, Some(q)) => st.data.swap(p, q),
            }
        }
    }
    st.data = best.1;
    st.used = [false; 256];
    for &c in &st.data {
        st.used[c as usize] = true;
    }
    best.0
}

/// Runs up to `restarts` anneals on the violation count alone, each from a
/// fresh random state; returns the fewest violations reached, the state
/// that reached them and the number of runs made.
fn feasibility(
    spec: &Spec,
    rng: &mut Rng,
    iters: u64,
    restarts: u32,
    sched: Schedule,
) -> (u32, State, u32) {
    let cands = candidates(spec);
    let mut best: Option<(u32, State)> = None;
    let mut runs = 0;
    for _ in 0..restarts {
        runs += 1;
        let mut st = State::random(&cands, rng);
        let v = anneal(spec, &cands, &mut st, rng, iters, sched, false) as u32;
        if best.as_ref().is_none_or(|b| v < b.0) {
            best = Some((v, st));
        }
        if v == 0 {
            break;
        }
    }
    let (v, st) = best.unwrap();
    (v, st, runs)
}

/// Lowest even-weight nonzero coset constant for which the stray words
/// (all-zero, all-ones, alternating, nibbles, half-ones) have nonzero
/// syndromes, hence even nonzero ones: never a column, never clean. The
/// rule docs/codes.md gives for the other codes.
fn coset_for(data: &[u8; K]) -> u8 {
    let m = Matrix::systematic(data, R, 0);
    let stray = [
        0u64,
        u64::MAX,
        0x5555_5555_5555_5555,
        0xAAAA_AAAA_AAAA_AAAA,
        0x0F0F_0F0F_0F0F_0F0F,
        0xF0F0_F0F0_F0F0_F0F0,
        0x0000_0000_FFFF_FFFF,
        0xFFFF_FFFF_0000_0000,
    ];
    (1..=255u8)
        .filter(|c| c.count_ones() % 2 == 0)
        .find(|&c| stray.iter().all(|&w| m.linear_syndrome(w) != c))
        .unwrap()
}

struct Opts {
    mode: String,
    seed: u64,
    iters: Option<u64>,
    restarts: Option<u32>,
    from: usize,
    spec: Spec,
}

fn parse() -> Opts {
    let usage = "usage: burst_search [find|daec|length|window] [--seed N] [--iters N] \
                 [--restarts N] [--from L] [--solid L] [--window L]";
    let mut o = Opts {
        mode: "find".into(),
        seed: 7,
        iters: None,
        restarts: None,
        from: 3,
        spec: BURST,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> u64 {
            let v = args.next().expect(usage);
            v.parse().expect(usage)
        };
        match a.as_str() {
            "--seed" => o.seed = value(),
            "--iters" => o.iters = Some(value()),
            "--restarts" => o.restarts = Some(value() as u32),
            "--from" => o.from = value() as usize,
            "--solid" => o.spec.solid = value() as usize,
            "--window" => o.spec.window = value() as usize,
            "find" | "daec" | "length" | "window" => o.mode = a,
            _ => panic!("{usage}"),
        }
    }
    o
}

/// Reproduces the committed matrix: feasibility, then fewest ones and
/// balanced rows. Fails if the result differs from `Secded64Burst`.
fn find(o: &Opts) -> bool {
    let t = Instant::now();
    let mut rng = Rng::new(o.seed);
    let iters = o.iters.unwrap_or(200_000);
    let hot = Schedule {
        t0: 2.0,
        e_folds: 3.7,
    };
    let (v, mut st, runs) = feasibility(&o.spec, &mut rng, iters, o.restarts.unwrap_or(50), hot);
    assert_eq!(
        v, 0,
        "no valid matrix found; try more --iters or --restarts"
    );
    println!(
        "seed {}: valid matrix after {runs} run(s), {} ones, {:.2} s",
        o.seed,
        weight(&st.data) + R,
        t.elapsed().as_secs_f64()
    );
    let cands = candidates(&o.spec);
    let cool = Schedule {
        t0: 1.0,
        e_folds: 3.9,
    };
    anneal(&o.spec, &cands, &mut st, &mut rng, 4 * iters, cool, true);
    let data = st.data;
    assert_eq!(violations(&o.spec, &full(&data)), 0);
    // Lower bound on the ones: the check units, 50 columns of weight 3 and
    // 6 of weight 5. 56 of the 120 candidates have weight 3, but the six
    // values 111 << j are the syndromes of 3-bit bursts inside the check
    // bits, so they cannot be columns.
    let bound = R + 50 * 3 + 6 * 5;
    if o.spec.solid != BURST.solid || o.spec.window != BURST.window {
        println!("(more than Secded64Burst was asked for: {:?})", o.spec);
    }
    println!(
        "minimised: {} ones (lower bound {bound}), row imbalance {}, {:.2} s",
        weight(&data) + R,
        imbalance(&data),
        t.elapsed().as_secs_f64()
    );
    let coset = coset_for(&data);
    let m = Matrix::systematic(&data, R, coset);
    println!("data columns (bit 0 first):");
    for row in data.chunks(8) {
        let hex: Vec<String> = row.iter().map(|c| format!("0x{c:02X}")).collect();
        println!("    {},", hex.join(", "));
    }
    println!("{m}");
    let committed: Vec<u8> = (0..K as u32)
        .map(|p| Secded64Burst::MATRIX.column(p))
        .collect();
    let same = committed == data && Secded64Burst::MATRIX.coset() == coset;
    println!(
        "identical to the committed Secded64Burst: {}",
        if same { "yes" } else { "no" }
    );
    same
}

/// Question (a): can double-adjacent errors be corrected as well, in 64
/// bits with 8 check bits? Prints the fewest violated constraints reached.
fn daec(o: &Opts) {
    let iters = o.iters.unwrap_or(2_000_000);
    let restarts = o.restarts.unwrap_or(4);
    let sched = Schedule {
        t0: 2.0,
        e_folds: 3.7,
    };
    let no = |odd_only, solid| Spec {
        odd_only,
        solid,
        window: 0,
        daec: true,
    };
    let specs = [
        ("odd-weight columns: SEC-DED-DAEC", no(true, 0)),
        ("any columns: SEC-DED-DAEC", no(false, 0)),
        (
            "any columns: SEC-DED-DAEC, 3-/4-bit bursts detected",
            no(false, 4),
        ),
    ];
    for (name, spec) in specs {
        let t = Instant::now();
        let mut rng = Rng::new(o.seed);
        let (v, st, runs) = feasibility(&spec, &mut rng, iters, restarts, sched);
        println!(
            "{name}: fewest violated constraints {v} ({runs} run(s) of {iters} steps, {:.1} s)",
            t.elapsed().as_secs_f64()
        );
        if v == 0 {
            println!("  data columns: {:#04x?}", st.data);
        }
    }
}

/// Question (b): the longest burst length `L` for which every burst of
/// length `3..=L` can be detected, with SEC-DED kept. `solid`: bursts that
/// flip every bit of a run; otherwise every pattern of weight >= 2 inside a
/// window of `L` bits. Each length gets fresh anneals from the seed unless
/// the previous length's matrix already satisfies it. Stops at the first
/// length the search cannot reach.
fn length(o: &Opts, solid: bool) {
    let iters = o
        .iters
        .unwrap_or(if solid { 200_000_000 } else { 20_000_000 });
    let restarts = o.restarts.unwrap_or(1);
    let sched = Schedule {
        t0: 0.4,
        e_folds: 1.0,
    };
    let kind = if solid {
        "solid bursts (every bit of a run flipped)"
    } else {
        "any error pattern inside a window"
    };
    println!(
        "{kind}, seed {}, {restarts} run(s) of {iters} steps per length:",
        o.seed
    );
    let mut found: Option<[u8; K]> = None;
    for len in o.from.max(3)..=N {
        let spec = Spec {
            odd_only: true,
            solid: if solid { len } else { 0 },
            window: if solid { 0 } else { len },
            daec: false,
        };
        // The matrix found for the previous length may already do.
        if let Some(prev) = found.filter(|d| violations(&spec, &full(d)) == 0) {
            println!(
                "  length <= {len}: the matrix for length {} already does",
                len - 1
            );
            found = Some(prev);
            continue;
        }
        let t = Instant::now();
        let mut rng = Rng::new(o.seed);
        let (v, st, runs) = feasibility(&spec, &mut rng, iters, restarts, sched);
        print!(
            "  length <= {len}: fewest violations {v} after {runs} run(s), {:.1} s",
            t.elapsed().as_secs_f64()
        );
        if v > 0 {
            println!("\n  not reached: the largest length reached is {}", len - 1);
            return;
        }
        println!(", {} ones", weight(&st.data) + R);
        println!("    data columns: {:?}", st.data);
        found = Some(st.data);
    }
}

fn main() -> std::process::ExitCode {
    let o = parse();
    match o.mode.as_str() {
        "find" => {
            if !find(&o) {
                return std::process::ExitCode::FAILURE;
            }
        }
        "daec" => daec(&o),
        "length" => length(&o, true),
        "window" => length(&o, false),
        _ => unreachable!(),
    }
    std::process::ExitCode::SUCCESS
}
