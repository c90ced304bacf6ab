//! One trial: a map, a concurrent workload checked against a shadow model,
//! one fault event in the middle of it, a final scrub and a full comparison.

use crate::classify::{classify, Evidence, Outcome, Report};
use crate::faults::{Class, Fault};
use crate::rng::Rng;
use crate::schemes::{Layout, Map, Scheme};
use eccmap::StateError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
    let mut rng = Rng::new(seed);
    let map = (scheme.make)(w.pages);
    let map: &dyn Map = &*map;

    // Initial state: each page allocated with probability 1/2.
    let mut model: Vec<bool> = (0..w.pages).map(|_| rng.percent(50)).collect();
    let mut p = 0;
    while p < w.pages {
        let run = model[p..].iter().take_while(|&&a| a == model[p]).count();
        if model[p] {
            map.alloc_range(p, run).expect("initial state");
        }
        p += run;
    }

    let fault = Fault::place(class, map.storage_words(), &mut rng);
    let inject_at = w.ops / 10 + rng.below(w.ops * 8 / 10);
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
        fault,
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
                start.wait();
                for i in 0..w.ops {
                    if t == 0 && i == inject_at {
                        shared.inject();
                    } else {
                        shared.park_if_asked();
                    }
                    worker.step(&shared.injected);
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

    let Injection { ce_before, changed } =
        shared.injection.into_inner().unwrap().expect("injected");
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

    // The final scrub, then every page compared with the model.
    let scrub = map.scrub();
    log.reports.extend(scrub.bad_pages.iter().map(|r| Report {
        first: r.start,
        count: r.len(),
        after_fault: true,
    }));
    for (p, &want) in model.iter().enumerate() {
        let got = map.is_allocated(p);
        log.judge(
            || format!("final is_allocated({p})"),
            got,
            Ok(want),
            &shared.injected,
        );
    }

    let mut evidence = Evidence {
        wrong_answers: log.wrong,
        repairs: map.stats().ce_count - ce_before,
        false_alarms: u64::from(ce_before != 0),
        ..Evidence::default()
    };
    evidence.add_reports(&log.reports, &damaged);
    Trial {
        outcome: classify(&evidence),
        evidence,
        ops,
        busy,
        first_wrong: log.first_wrong,
    }
}
