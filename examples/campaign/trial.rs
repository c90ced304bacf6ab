//! One trial: a map, a concurrent workload checked against a shadow model,
//! one fault event in the middle of it, a final scrub and a full comparison.

use crate::classify::{classify, Evidence, Outcome, Report};
use crate::faults::{Class, Fault};
use crate::schemes::{Layout, Map, Scheme};
use eccmap::StateError;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use testkit::Rng;

/// Pages are owned in runs of this many, dealt round-robin to the threads:
/// a storage word (57 or 64 pages) holds pages of every thread, and the
/// runs do not line up with word boundaries, so ranges cross words.
const CHUNK: usize = 24;
/// Longest range of one range operation.
const MAX_RANGE: usize = 8;

/// The shape of every trial's workload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workload {
    /// Pages in the map.
    pub(crate) pages: usize,
    /// Workload threads.
    pub(crate) threads: usize,
    /// Operations per thread.
    pub(crate) ops: usize,
}

/// What one trial produced.
#[derive(Debug, Clone)]
pub(crate) struct Trial {
    pub(crate) outcome: Outcome,
    pub(crate) evidence: Evidence,
    /// Workload operations run (all threads).
    pub(crate) ops: u64,
    /// Wall time of the workload (all threads running).
    pub(crate) busy: Duration,
    /// The first wrong answer, described (for diagnosis).
    pub(crate) first_wrong: Option<String>,
    /// The fault event (for diagnosis).
    pub(crate) fault: Fault,
}

/// What the injector left for the others to read.
struct Injection {
    /// The map's `ce_count` just before the fault.
    ce_before: u64,
    /// Storage words the fault changed.
    changed: Vec<usize>,
}

/// State shared by the workload threads of a trial.
struct Shared<'a> {
    map: &'a dyn Map,
    threads: usize,
    fault: Fault,
    /// Set by the injector: every other thread stops at its next operation
    /// boundary.
    pause: AtomicBool,
    /// Threads stopped at a boundary or finished.
    quiet: AtomicUsize,
    /// The fault is in.
    injected: AtomicBool,
    injection: Mutex<Option<Injection>>,
}

impl Shared<'_> {
    /// Applies the fault. A fault of one atomic access lands while the
    /// other threads run, possibly in the middle of an operation; any other
    /// (several bits or words) lands while they are stopped between two of
    /// their operations, so that it happens at one instant, as a real upset
    /// or stray write does.
    fn inject(&self) {
        let pause = !self.fault.is_atomic() && self.threads > 1;
        if pause {
            self.pause.store(true, SeqCst);
            while self.quiet.load(SeqCst) < self.threads - 1 {
                thread::yield_now();
            }
        }
        // Set before the fault lands: an operation that ends after this may
        // have seen it.
        self.injected.store(true, SeqCst);
        let ce_before = self.map.stats().ce_count;
        let changed = self.fault.apply(self.map);
        *self.injection.lock().unwrap() = Some(Injection { ce_before, changed });
        if pause {
            self.pause.store(false, SeqCst);
        }
    }

    fn park_if_asked(&self) {
        if self.pause.load(SeqCst) {
            self.quiet.fetch_add(1, SeqCst);
            while self.pause.load(SeqCst) {
                thread::yield_now();
            }
            self.quiet.fetch_sub(1, SeqCst);
        }
    }
}

/// What one workload thread saw.
#[derive(Default)]
struct Log {
    ops: u64,
    wrong: u64,
    first_wrong: Option<String>,
    reports: Vec<Report>,
}

impl Log {
    /// Compares an answer with the model's. Returns true when they agree.
    fn judge<T: PartialEq + std::fmt::Debug>(
        &mut self,
        what: impl FnOnce() -> String,
        got: Result<T, StateError>,
        want: Result<T, StateError>,
        injected: &AtomicBool,
    ) -> bool {
        if got == want {
            return true;
        }
        match got {
            // Read after the operation returned: if the fault had started
            // to land by then, the operation may have seen it.
            Err(StateError::Uncorrectable { first, count }) => self.reports.push(Report {
                first,
                count,
                after_fault: injected.load(SeqCst),
            }),
            // A range refused by a word that became unverifiable after the
            // check, whose undo then met unverifiable pages too (workers own
            // their pages, so no other call can have changed them): a report
            // of both places.
            Err(StateError::UndoConflict { refused, page, .. }) => {
                let after_fault = injected.load(SeqCst);
                for first in [refused, page] {
                    self.reports.push(Report {
                        first,
                        count: 1,
                        after_fault,
                    });
                }
            }
            Err(StateError::DoubleAlloc { .. } | StateError::DoubleFree { .. }) | Ok(_) => {
                self.wrong += 1;
                if self.first_wrong.is_none() {
                    self.first_wrong = Some(format!("{}: got {got:?}, want {want:?}", what()));
                }
            }
            Err(e) => panic!("campaign bug: {} failed with {e:?}", what()),
        }
        false
    }
}

/// One workload thread: its own pages, its view of their state.
struct Worker<'a> {
    map: &'a dyn Map,
    pages: usize,
    /// The chunks this thread owns.
    chunks: Vec<usize>,
    /// The model: the state of every page this thread owns (other entries
    /// unused).
    model: Vec<bool>,
    rng: Rng,
    log: Log,
}

impl Worker<'_> {
    /// Brings this thread's pages to their initial state, one run of
    /// allocated pages at a time (each thread its own pages, before the
    /// workload starts, so the threads share the work).
    fn set_up(&mut self) {
        for &c in &self.chunks {
            let end = ((c + 1) * CHUNK).min(self.pages);
            let mut p = c * CHUNK;
            while p < end {
                let run = self.model[p..end]
                    .iter()
                    .take_while(|&&a| a == self.model[p])
                    .count();
                if self.model[p] {
                    self.map.alloc_range(p, run).expect("initial state");
                }
                p += run;
            }
        }
    }

    /// One random operation on this thread's pages, checked against the
    /// model. Most operations are legal; about one in ten is a double
    /// allocation or double free that the map must refuse.
    fn step(&mut self, injected: &AtomicBool) {
        self.log.ops += 1;
        let c = self.chunks[self.rng.below(self.chunks.len())];
        let (lo, hi) = (c * CHUNK, ((c + 1) * CHUNK).min(self.pages));
        let p = lo + self.rng.below(hi - lo);
        let map = self.map;
        match self.rng.below(100) {
            0..40 => {
                let was = self.model[p];
                let alloc = self.rng.percent(if was { 10 } else { 90 });
                let (got, want) = if alloc {
                    let want = if was {
                        Err(StateError::DoubleAlloc { page: p })
                    } else {
                        Ok(())
                    };
                    (map.alloc(p), want)
                } else {
                    let want = if was {
                        Ok(())
                    } else {
                        Err(StateError::DoubleFree { page: p })
                    };
                    (map.free(p), want)
                };
                let ok = want.is_ok();
                let verb = if alloc { "alloc" } else { "free" };
                if self
                    .log
                    .judge(|| format!("{verb}({p})"), got, want, injected)
                    && ok
                {
                    self.model[p] = alloc;
                }
            }
            40..65 => {
                let n = 1 + self.rng.below(MAX_RANGE.min(hi - p));
                let range = p..p + n;
                let all_free = range.clone().all(|q| !self.model[q]);
                let all_alloc = range.clone().all(|q| self.model[q]);
                let alloc = self.rng.percent(match (all_free, all_alloc) {
                    (true, _) => 90,
                    (_, true) => 10,
                    _ => 50,
                });
                let clash = range.clone().find(|&q| self.model[q] == alloc);
                let (got, want) = if alloc {
                    let want = clash.map_or(Ok(()), |page| Err(StateError::DoubleAlloc { page }));
                    (map.alloc_range(p, n), want)
                } else {
                    let want = clash.map_or(Ok(()), |page| Err(StateError::DoubleFree { page }));
                    (map.free_range(p, n), want)
                };
                let ok = want.is_ok();
                let verb = if alloc { "alloc_range" } else { "free_range" };
                if self
                    .log
                    .judge(|| format!("{verb}({p}, {n})"), got, want, injected)
                    && ok
                {
                    self.model[range].fill(alloc);
                }
            }
            // find_free only where its right answer is one of this thread's
            // pages: a free page of the same chunk at or after `p`, with
            // only this thread's pages in between.
            90.. if (p..hi).any(|q| !self.model[q]) => {
                let want = (p..hi).find(|&q| !self.model[q]);
                let got = map.find_free(p);
                self.log
                    .judge(|| format!("find_free({p})"), got, Ok(want), injected);
            }
            _ => {
                let got = map.is_allocated(p);
                self.log.judge(
                    || format!("is_allocated({p})"),
                    got,
                    Ok(self.model[p]),
                    injected,
                );
            }
        }
    }
}

/// The final comparison of every page with the model. A verified snapshot
/// of the whole map reads each storage word once, and is compared with the
/// model 64 pages at a time; only a block that differs is judged page by
/// page. If some page's state is unknown, the snapshot fails as a whole,
/// and every page is then read on its own, so that each report names its
/// pages as an operation's would.
fn compare(map: &dyn Map, model: &[bool], log: &mut Log, injected: &AtomicBool) {
    match map.snapshot() {
        Ok(state) => {
            let got = state.as_raw_slice();
            // The snapshot's store is `usize`.
            const BLOCK: usize = usize::BITS as usize;
            for (i, want) in model.chunks(BLOCK).enumerate() {
                let bits = want
                    .iter()
                    .enumerate()
                    .fold(0usize, |acc, (o, &a)| acc | usize::from(a) << o);
                if got[i] as u64 & low(want.len()) == bits as u64 {
                    continue;
                }
                for (o, &want) in want.iter().enumerate() {
                    let p = i * BLOCK + o;
                    log.judge(
                        || format!("final snapshot, page {p}"),
                        Ok(state[p]),
                        Ok(want),
                        injected,
                    );
                }
            }
        }
        Err(StateError::Uncorrectable { .. }) => {
            for (p, &want) in model.iter().enumerate() {
                let got = map.is_allocated(p);
                log.judge(
                    || format!("final is_allocated({p})"),
                    got,
                    Ok(want),
                    injected,
                );
            }
        }
        Err(e) => panic!("campaign bug: snapshot failed with {e:?}"),
    }
}

/// Mask of the low `n` bits, `n <= 64`.
fn low(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Moves on every 16 workload operations and at the end of every trial:
/// the campaign's watchdog takes a run in which it stops moving for a hang.
pub(crate) static PROGRESS: AtomicU64 = AtomicU64::new(0);

/// What a trial's seed decides before its workload starts.
pub(crate) struct Plan {
    /// The initial state: each page allocated with probability 1/2.
    pub(crate) model: Vec<bool>,
    /// The fault event and where it lands.
    pub(crate) fault: Fault,
    /// The operation of the first thread before which the fault lands.
    pub(crate) inject_at: usize,
    /// The generator, to seed the workload threads from.
    pub(crate) rng: Rng,
}

/// The plan of a trial of `class` with `seed` on a map whose storage is
/// made of allocations of `allocations` words and whose words are `beats`
/// storage words each (see [`Fault::place`]): also how a hung trial is
/// described without running it again.
pub(crate) fn plan(
    class: Class,
    w: &Workload,
    allocations: &[usize],
    beats: usize,
    seed: u64,
) -> Plan {
    let mut rng = Rng::new(seed);
    let model = (0..w.pages).map(|_| rng.percent(50)).collect();
    let fault = Fault::place(class, allocations, beats, &mut rng);
    let inject_at = w.ops / 10 + rng.below(w.ops * 8 / 10);
    Plan {
        model,
        fault,
        inject_at,
        rng,
    }
}

/// Runs one trial of `class` on `scheme`. Everything random (initial state,
/// operations, fault place and moment) comes from `seed`; with one thread
/// the trial is a pure function of its arguments.
pub(crate) fn run(
    scheme: &Scheme,
    layout: &Layout,
    class: Class,
    w: &Workload,
    seed: u64,
) -> Trial {
    let mut owned = (scheme.make)(w.pages);
    let map: &dyn Map = &*owned;
    let Plan {
        mut model,
        fault,
        inject_at,
        mut rng,
    } = plan(class, w, &(scheme.allocations)(map), scheme.beats, seed);

    let mut workers: Vec<Worker> = (0..w.threads)
        .map(|t| Worker {
            map,
            pages: w.pages,
            chunks: (t..w.pages.div_ceil(CHUNK)).step_by(w.threads).collect(),
            model: model.clone(),
            rng: Rng::new(rng.next_u64()),
            log: Log::default(),
        })
        .collect();

    let shared = Shared {
        map,
        threads: w.threads,
        fault: fault.clone(),
        pause: AtomicBool::new(false),
        quiet: AtomicUsize::new(0),
        injected: AtomicBool::new(false),
        injection: Mutex::new(None),
    };
    let start = Barrier::new(w.threads + 1);
    let busy = thread::scope(|s| {
        for (t, worker) in workers.iter_mut().enumerate() {
            let (shared, start) = (&shared, &start);
            s.spawn(move || {
                worker.set_up();
                start.wait();
                for i in 0..w.ops {
                    if t == 0 && i == inject_at {
                        shared.inject();
                    } else {
                        shared.park_if_asked();
                    }
                    worker.step(&shared.injected);
                    if i % 16 == 15 {
                        PROGRESS.fetch_add(1, Relaxed);
                    }
                }
                shared.quiet.fetch_add(1, SeqCst);
            });
        }
        start.wait();
        let t0 = Instant::now();
        // The scope joins the workers before returning; time it from here.
        t0
    })
    .elapsed();

    // Release the workload's hold on the map: from here the trial owns it.
    let Shared {
        injection,
        injected,
        ..
    } = shared;
    let Injection { ce_before, changed } = injection.into_inner().unwrap().expect("injected");
    let damaged = layout.pages_of(&changed, w.pages);

    // Merge the threads' models and logs.
    let mut log = Log::default();
    for (t, worker) in workers.into_iter().enumerate() {
        for c in (t..w.pages.div_ceil(CHUNK)).step_by(w.threads) {
            let r = c * CHUNK..((c + 1) * CHUNK).min(w.pages);
            model[r.clone()].copy_from_slice(&worker.model[r]);
        }
        log.ops += worker.log.ops;
        log.wrong += worker.log.wrong;
        log.first_wrong = log.first_wrong.or(worker.log.first_wrong);
        log.reports.extend(worker.log.reports);
    }
    let ops = log.ops;

    // The final scrub, with the map to itself now that the workload threads
    // have joined (a map may then also repair what a concurrent scrub must
    // leave alone), then every page compared with the model.
    let scrub = owned.scrub_exclusive();
    let map: &dyn Map = &*owned;
    log.reports.extend(scrub.bad_pages.iter().map(|r| Report {
        first: r.start,
        count: r.len(),
        after_fault: true,
    }));
    compare(map, &model, &mut log, &injected);

    let mut evidence = Evidence {
        wrong_answers: log.wrong,
        repairs: map.stats().ce_count - ce_before,
        false_alarms: u64::from(ce_before != 0),
        ..Evidence::default()
    };
    evidence.add_reports(&log.reports, &damaged);
    PROGRESS.fetch_add(1, Relaxed);
    Trial {
        outcome: classify(&evidence),
        evidence,
        ops,
        busy,
        first_wrong: log.first_wrong,
        fault,
    }
}
