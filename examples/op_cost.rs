//! Instructions per operation, for callgrind: runs `N` operations of one
//! kind on one scheme, so that the difference between a run of `3N` and a
//! run of `N` operations, divided by `2N`, is the cost of one operation
//! (set-up, the map's construction and the input sequence cancel out).
//!
//! ```sh
//! cargo build --release --example op_cost
//! for n in 100000 300000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.ecc64.single.$n \
//!     target/release/examples/op_cost ecc64 single $n
//! done
//! ```
//!
//! then `(Ir(3N) - Ir(N)) / 2N` from the `summary:` lines (docs/perf-notes.md
//! has the figures and a script). Kinds: `single` (`alloc(p)` then
//! `free(p)` of a page `p` from the random sequence of the `alloc_free`
//! bench, 4 Mi-page map: one operation is the pair), `range` (`alloc_range`
//! then `free_range` of 512 pages at a random 512-aligned page, the
//! `range_order9` bench), `is_allocated` (one query of an empty map),
//! `scrub` (one whole `scrub()` of the clean 4 Mi-page map, the `scrub_4mi`
//! bench; divide by the words it reports for a cost per word).
//! Schemes: the ids of the benches (`plain`, `dual`, `ecc64`, ...).
//!
//! The loop is `op_loop`, never inlined, so `callgrind_annotate` (on a
//! release build with `CARGO_PROFILE_RELEASE_DEBUG=true`) shows the path of
//! one operation under it.

use std::hint::black_box;
use std::process::ExitCode;

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;
use common::{for_each_scheme, Scheme, Visit, BLOCK, MAP_PAGES};
use testkit::Rng;

/// Length of the random sequences, as in benches/maps.rs.
const SEQ: usize = 1 << 14;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Single,
    Range,
    IsAllocated,
    Scrub,
}

/// `n` operations of `kind` on `map`, cycling through `seq`; returns how
/// many calls succeeded.
#[inline(never)]
fn op_loop<S: Scheme>(map: &S, kind: Kind, seq: &[usize], n: usize) -> u64 {
    let mut ok = 0u64;
    for i in 0..n {
        let p = black_box(seq[i & (SEQ - 1)]);
        ok += match kind {
            // The results are not passed through `black_box` (that would
            // add the stores of a whole `Result` to every call); the
            // updates are atomic writes, which the compiler keeps, and
            // every answer is counted.
            Kind::Single => u64::from(map.alloc(p).is_ok()) + u64::from(map.free(p).is_ok()),
            Kind::Range => {
                u64::from(map.alloc_range(p, BLOCK).is_ok())
                    + u64::from(map.free_range(p, BLOCK).is_ok())
            }
            Kind::IsAllocated => 2 * u64::from(map.is_allocated(p) == Ok(false)),
            Kind::Scrub => {
                let r = map.scrub();
                2 * u64::from(r.is_clean() && r.words > 0)
            }
        };
    }
    ok
}

struct Run {
    id: String,
    kind: Kind,
    n: usize,
    done: Option<u64>,
}

impl Visit for Run {
    fn visit<S: Scheme>(&mut self) {
        if S::ID != self.id {
            return;
        }
        let mut rng = Rng::new(if self.kind == Kind::Range { 2 } else { 1 });
        let seq: Vec<usize> = match self.kind {
            Kind::Range => (0..SEQ)
                .map(|_| rng.below(MAP_PAGES / BLOCK) * BLOCK)
                .collect(),
            _ => (0..SEQ).map(|_| rng.below(MAP_PAGES)).collect(),
        };
        let map = S::with_pages(MAP_PAGES);
        self.done = Some(op_loop(&map, self.kind, &seq, self.n));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: op_cost SCHEME single|range|is_allocated|scrub N (schemes: {})",
            common::SCHEMES.join(", ")
        );
        ExitCode::FAILURE
    };
    let [id, kind, n] = &args[..] else {
        return usage();
    };
    let kind = match kind.as_str() {
        "single" => Kind::Single,
        "range" => Kind::Range,
        "is_allocated" => Kind::IsAllocated,
        "scrub" => Kind::Scrub,
        _ => return usage(),
    };
    let Ok(n) = n.parse::<usize>() else {
        return usage();
    };
    let mut run = Run {
        id: id.clone(),
        kind,
        n,
        done: None,
    };
    for_each_scheme(&mut run);
    match run.done {
        None => usage(),
        Some(ok) if ok == 2 * n as u64 => {
            println!("{id} {n}: {ok} calls, all succeeded");
            ExitCode::SUCCESS
        }
        Some(ok) => {
            eprintln!("{id} {n}: only {ok} of {} calls succeeded", 2 * n);
            ExitCode::FAILURE
        }
    }
}
