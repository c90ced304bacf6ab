//! Counting outcomes and presenting them: terminal table, Markdown, JSON,
//! SVG chart.

use crate::classify::Outcome;
use crate::faults::Class;
use crate::field::{self, Shares, Weights};
use crate::provenance::Cpu;
use crate::trial::Trial;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Outcome counts of one (scheme, class) cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) trials: u64,
    pub(crate) corrected: u64,
    pub(crate) detected: u64,
    pub(crate) masked: u64,
    pub(crate) silent: u64,
    /// Silent trials in which the map counted a repair.
    pub(crate) miscorrected: u64,
    /// Trials with at least one false alarm.
    pub(crate) false_alarms: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, t: &Trial) {
        self.trials += 1;
        match t.outcome {
            Outcome::Corrected => self.corrected += 1,
            Outcome::Detected => self.detected += 1,
            Outcome::Masked => self.masked += 1,
            Outcome::Silent { miscorrected } => {
                self.silent += 1;
                self.miscorrected += u64::from(miscorrected);
            }
        }
        self.false_alarms += u64::from(t.evidence.false_alarms > 0);
    }
}

/// Everything measured for one scheme.
#[derive(Debug, Clone)]
pub(crate) struct SchemeResult {
    pub(crate) name: &'static str,
    pub(crate) bits_per_page: f64,
    pub(crate) ops: u64,
    pub(crate) busy: Duration,
    pub(crate) classes: Vec<(Class, Tally)>,
}

impl SchemeResult {
    pub(crate) fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.busy.as_secs_f64().max(1e-9)
    }
}

/// The whole run.
pub(crate) struct Run {
    pub(crate) seed: u64,
    pub(crate) trials: usize,
    pub(crate) threads: usize,
    pub(crate) pages: usize,
    pub(crate) ops_per_thread: usize,
    pub(crate) command: String,
    /// `git rev-parse --short HEAD`, `-dirty` if a tracked file differs.
    pub(crate) commit: String,
    pub(crate) cpu: Cpu,
    pub(crate) schemes: Vec<SchemeResult>,
    /// The field weights and where they were read from.
    pub(crate) weights: Weights,
    pub(crate) weights_file: String,
}

impl Run {
    /// Each scheme's field-weighted outcome; empty if a class with a
    /// positive weight was not run.
    pub(crate) fn field(&self) -> Vec<(&'static str, Shares)> {
        self.schemes
            .iter()
            .map_while(|s| Some((s.name, field::shares(&self.weights, &s.classes)?)))
            .collect()
    }

    /// The weighted classes this run lacks.
    fn field_missing(&self) -> Vec<&'static str> {
        let run = classes(self);
        self.weights
            .classes()
            .into_iter()
            .filter(|c| !run.contains(c))
            .map(Class::name)
            .collect()
    }
}

/// A fraction of 1 as a percentage: one decimal, or two where one would
/// round a share that is not 0 or 1 to "0.0" or "100.0".
fn pct_f(x: f64) -> String {
    let p = 100.0 * x;
    let one = format!("{p:.1}");
    if (0.0 < x && x < 1.0) && (one == "0.0" || one == "100.0") {
        format!("{p:.2}%")
    } else {
        format!("{one}%")
    }
}

/// The field-weighted block of the terminal and Markdown reports: one row
/// per scheme (Markdown table rows when `md`).
fn field_rows(run: &Run, md: bool) -> String {
    let mut out = String::new();
    let field = run.field();
    if field.is_empty() {
        let _ = writeln!(
            out,
            "No field-weighted outcome: classes with a positive weight not run: {}.",
            run.field_missing().join(", ")
        );
        return out;
    }
    let head = [
        "scheme",
        "corrected",
        "detected",
        "masked",
        "silent",
        "silent per million faults",
        "at most (95% per class)",
    ];
    let rows: Vec<[String; 7]> = field
        .iter()
        .map(|(name, f)| {
            [
                name.to_string(),
                pct_f(f.corrected),
                pct_f(f.detected),
                pct_f(f.masked),
                pct_f(f.silent),
                format!("{:.0}", f.silent * 1e6),
                format!("{:.0}", f.silent_upper * 1e6),
            ]
        })
        .collect();
    if md {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(head.len() - 1));
        for r in &rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    } else {
        let w = [8, 11, 10, 9, 9, 27, 0];
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut l = String::new();
            for (c, w) in cells.zip(w) {
                let _ = write!(l, "{c:<w$}");
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&mut head.iter().copied()));
        for r in &rows {
            let _ = writeln!(out, "{}", line(&mut r.iter().map(String::as_str)));
        }
    }
    out
}

/// The weights, as `class w, ...` (positive weights only).
fn weights_line(run: &Run) -> String {
    run.weights
        .all()
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(c, w)| format!("{} {}", c.name(), pct_f(*w)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Wilson score interval (95%) of `k` successes in `n` trials.
pub(crate) fn wilson(k: u64, n: u64) -> (f64, f64) {
    const Z: f64 = 1.959_963_984_540_054;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// `k` of `n` as a percentage with one decimal, or two where one would
/// round a share that is not 0 or 100% to "0.0" or "100.0".
fn pct(k: u64, n: u64) -> String {
    let p = 100.0 * k as f64 / n.max(1) as f64;
    let one = format!("{p:.1}");
    if (0 < k && k < n) && (one == "0.0" || one == "100.0") {
        format!("{p:.2}%")
    } else {
        format!("{one}%")
    }
}

/// `99.4% 497/500 [98.3-99.8]`: the interval only where the rate is
/// neither 0 nor 100%.
fn cell(k: u64, n: u64) -> String {
    if k == 0 || k == n {
        format!("{} {k}/{n}", pct(k, n))
    } else {
        let (lo, hi) = wilson(k, n);
        format!(
            "{} {k}/{n} [{:.1}-{:.1}]",
            pct(k, n),
            100.0 * lo,
            100.0 * hi
        )
    }
}

const OUTCOMES: [&str; 6] = [
    "corrected",
    "detected",
    "masked",
    "silent",
    "miscorrected",
    "false alarms",
];

fn counts(t: &Tally) -> [u64; 6] {
    [
        t.corrected,
        t.detected,
        t.masked,
        t.silent,
        t.miscorrected,
        t.false_alarms,
    ]
}

/// The classes in run order, as in every scheme.
fn classes(run: &Run) -> Vec<Class> {
    run.schemes
        .first()
        .map(|s| s.classes.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default()
}

/// The terminal table: one block per class, one row per scheme.
pub(crate) fn terminal(run: &Run) -> String {
    let classes = classes(run);
    let mut rows: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for (ci, class) in classes.iter().enumerate() {
        for (si, s) in run.schemes.iter().enumerate() {
            let t = &s.classes[ci].1;
            let label = if si == 0 { class.name() } else { "" };
            rows.push((
                label,
                s.name,
                counts(t).iter().map(|&k| cell(k, t.trials)).collect(),
            ));
        }
    }
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.2[i].len())
            .chain([OUTCOMES[i].len()])
            .max()
            .unwrap_or(0)
            + 2
    };
    let widths: Vec<usize> = (0..OUTCOMES.len()).map(width).collect();
    let line = |a: &str, b: &str, cells: &mut dyn Iterator<Item = &str>| {
        let mut l = format!("{a:<16}{b:<8}");
        for (c, w) in cells.zip(&widths) {
            let _ = write!(l, "{c:<w$}");
        }
        l.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        line("class", "scheme", &mut OUTCOMES.iter().copied())
    );
    for (a, b, cells) in &rows {
        let _ = writeln!(out, "{}", line(a, b, &mut cells.iter().map(String::as_str)));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<8}{:>14}{:>16}",
        "scheme", "bits/page", "workload ops/s"
    );
    for s in &run.schemes {
        let _ = writeln!(
            out,
            "{:<8}{:>14.3}{:>16}",
            s.name,
            s.bits_per_page,
            format!("{:.2e}", s.ops_per_sec())
        );
    }
    let _ = writeln!(
        out,
        "\nField-weighted outcome (weights from {}: {}):",
        run.weights_file,
        weights_line(run)
    );
    out.push_str(&field_rows(run, false));
    let _ = writeln!(out, "\n{}", source_line(run));
    let _ = writeln!(out, "Command: {}", run.command);
    out
}

/// Where the figures come from: the commit and the CPU.
fn source_line(run: &Run) -> String {
    format!(
        "Commit `{}`, CPU (`lscpu` model name, family, model): {}.",
        run.commit,
        run.cpu.describe()
    )
}

/// The same figures as Markdown (for docs/safety.md): a silent-rate
/// overview, then every cell.
pub(crate) fn markdown(run: &Run) -> String {
    let mut out = String::new();
    let classes = classes(run);
    let _ = writeln!(out, "Command: `{}`\n", run.command);
    let _ = writeln!(out, "{}\n", source_line(run));
    let _ = writeln!(
        out,
        "Seed {}, {} trials per scheme and class, {} workload threads, {} pages, \
         {} operations per thread.\n",
        run.seed, run.trials, run.threads, run.pages, run.ops_per_thread
    );
    let _ = writeln!(
        out,
        "Field-weighted outcome per scheme (weights from `{}`: {}):\n",
        run.weights_file,
        weights_line(run)
    );
    out.push_str(&field_rows(run, true));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Silent share (of which miscorrected), per class and scheme:\n"
    );
    let names: Vec<&str> = run.schemes.iter().map(|s| s.name).collect();
    let _ = writeln!(out, "| class | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(names.len()));
    for (ci, class) in classes.iter().enumerate() {
        let cells: Vec<String> = run
            .schemes
            .iter()
            .map(|s| {
                let t = &s.classes[ci].1;
                if t.miscorrected > 0 {
                    format!(
                        "{} ({})",
                        pct(t.silent, t.trials),
                        pct(t.miscorrected, t.trials)
                    )
                } else {
                    pct(t.silent, t.trials)
                }
            })
            .collect();
        let _ = writeln!(out, "| `{}` | {} |", class.name(), cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nEvery cell: share, count/trials, Wilson 95% interval where the share is \
         neither 0 nor 100%.\n"
    );
    let _ = writeln!(out, "| class | scheme | {} |", OUTCOMES.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(OUTCOMES.len()));
    for (ci, class) in classes.iter().enumerate() {
        for s in &run.schemes {
            let t = &s.classes[ci].1;
            let cells: Vec<String> = counts(t).iter().map(|&k| cell(k, t.trials)).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                class.name(),
                s.name,
                cells.join(" | ")
            );
        }
    }
    let _ = writeln!(out, "\n| scheme | bits per page | workload ops/s |");
    let _ = writeln!(out, "|---|---|---|");
    for s in &run.schemes {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.2e} |",
            s.name,
            s.bits_per_page,
            s.ops_per_sec()
        );
    }
    out
}

/// The JSON report. The keys the issue fixes come first; `threads`,
/// `pages`, `ops_per_thread` and each class's `false_alarms` are additions,
/// and so are (issue 16) each scheme's `field` (its field-weighted outcome,
/// fractions of 1; absent when a weighted class was not run) and the
/// top-level `field_weights` (every class's weight, summing to 1), and
/// (issue 18) the top-level `command`, `commit` and `cpu` (`model_name`,
/// `family`, `model`: strings, `null` where unknown).
pub(crate) fn json(run: &Run) -> serde_json::Value {
    let field = run.field();
    let mut v = json!({
        "seed": run.seed,
        "trials": run.trials,
        "schemes": run.schemes.iter().map(|s| json!({
            "scheme": s.name,
            "bits_per_page": s.bits_per_page,
            "ops_per_sec": s.ops_per_sec(),
            "classes": s.classes.iter().map(|(c, t)| json!({
                "class": c.name(),
                "trials": t.trials,
                "corrected": t.corrected,
                "detected": t.detected,
                "masked": t.masked,
                "silent": t.silent,
                "miscorrected": t.miscorrected,
                "false_alarms": t.false_alarms,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "threads": run.threads,
        "pages": run.pages,
        "ops_per_thread": run.ops_per_thread,
        "command": run.command,
        "commit": run.commit,
        "cpu": json!({
            "model_name": run.cpu.model_name,
            "family": run.cpu.family,
            "model": run.cpu.model,
        }),
    });
    for (scheme, (_, f)) in v["schemes"]
        .as_array_mut()
        .expect("schemes array")
        .iter_mut()
        .zip(&field)
    {
        scheme["field"] = json!({
            "corrected": f.corrected,
            "detected": f.detected,
            "masked": f.masked,
            "silent": f.silent,
        });
    }
    v["field_weights"] = run
        .weights
        .all()
        .iter()
        .map(|(c, w)| (c.name().to_string(), json!(w)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    v
}

/// Colours of corrected, detected, masked, silent; miscorrected is drawn
/// darker over the start of the silent bar.
const COLOURS: [RGBColor; 4] = [
    RGBColor(46, 139, 87),
    RGBColor(65, 105, 225),
    RGBColor(170, 170, 170),
    RGBColor(220, 50, 47),
];
const MISCORRECTED: RGBColor = RGBColor(128, 0, 0);

/// The SVG chart: one panel per class, a stacked bar of outcome shares per
/// scheme; then, if the run has every weighted class, a panel of the
/// field-weighted outcome.
pub(crate) fn svg(run: &Run, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // Per panel: its caption, and per scheme the shares (in %) of
    // corrected, detected, masked, silent, and miscorrected.
    let mut panels: Vec<(String, Vec<[f64; 5]>)> = classes(run)
        .iter()
        .enumerate()
        .map(|(ci, class)| {
            let bars = run
                .schemes
                .iter()
                .map(|s| {
                    let t = &s.classes[ci].1;
                    let share = |k: u64| 100.0 * k as f64 / t.trials.max(1) as f64;
                    [t.corrected, t.detected, t.masked, t.silent, t.miscorrected].map(share)
                })
                .collect();
            (class.name().to_string(), bars)
        })
        .collect();
    let field = run.field();
    if !field.is_empty() {
        panels.push((
            "field-weighted (all classes, weighted as in the field)".to_string(),
            field
                .iter()
                .map(|(_, f)| {
                    [f.corrected, f.detected, f.masked, f.silent, f.miscorrected].map(|x| 100.0 * x)
                })
                .collect(),
        ));
    }
    let cols = 2;
    let rows = panels.len().div_ceil(cols).max(1);
    let n = run.schemes.len();
    let panel_h = 40 + 22 * n as u32;
    let (width, head) = (1100u32, 70u32);
    let root = SVGBackend::new(path, (width, head + panel_h * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(head);
    top.draw(&Text::new(
        format!(
            "eccmap fault campaign: outcome share per scheme and fault class \
             (seed {}, {} trials each, {} threads)",
            run.seed, run.trials, run.threads
        ),
        (10, 8),
        ("sans-serif", 18).into_font(),
    ))?;
    let legend = [
        ("corrected", COLOURS[0]),
        ("detected", COLOURS[1]),
        ("masked", COLOURS[2]),
        ("silent", COLOURS[3]),
        ("silent, miscorrected", MISCORRECTED),
    ];
    for (i, (label, colour)) in legend.iter().enumerate() {
        let x = 10 + 190 * i as i32;
        top.draw(&Rectangle::new([(x, 40), (x + 14, 54)], colour.filled()))?;
        top.draw(&Text::new(
            *label,
            (x + 20, 40),
            ("sans-serif", 14).into_font(),
        ))?;
    }
    let names: Vec<&str> = run.schemes.iter().map(|s| s.name).collect();
    for (pi, area) in body.split_evenly((rows, cols)).iter().enumerate() {
        let Some((caption, bars)) = panels.get(pi) else {
            break;
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 15))
            .margin(6)
            .margin_right(24)
            .x_label_area_size(18)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..100f64, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}%"))
            .y_label_formatter(&|v| match v {
                // Row 0 at the bottom: list the schemes top-down in run order.
                SegmentValue::CenterOf(i) => names
                    .get(n.wrapping_sub(i + 1))
                    .copied()
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            })
            .draw()?;
        for (si, shares) in bars.iter().enumerate() {
            let mut x = 0.0;
            let row = n - 1 - si;
            let (y0, y1) = (SegmentValue::Exact(row), SegmentValue::Exact(row + 1));
            let bar = |x0: f64, x1: f64, c: RGBColor| {
                let mut r = Rectangle::new([(x0, y0.clone()), (x1, y1.clone())], c.filled());
                r.set_margin(3, 3, 0, 0);
                std::iter::once(r)
            };
            for (&w, colour) in shares[..4].iter().zip(COLOURS) {
                if w > 0.0 {
                    chart.draw_series(bar(x, x + w, colour))?;
                }
                x += w;
            }
            if shares[4] > 0.0 {
                let x0 = shares[0] + shares[1] + shares[2];
                chart.draw_series(bar(x0, x0 + shares[4], MISCORRECTED))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_known_values() {
        // 0 of 10: [0, 0.2775]; 5 of 10: [0.2366, 0.7634] (Wilson 1927, z = 1.96).
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{hi}");
        let (lo, hi) = wilson(5, 10);
        assert!(
            (lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4,
            "{lo} {hi}"
        );
    }

    #[test]
    fn cells_show_an_interval_only_inside_0_and_100() {
        assert_eq!(cell(0, 50), "0.0% 0/50");
        assert_eq!(cell(50, 50), "100.0% 50/50");
        assert_eq!(cell(5, 10), "50.0% 5/10 [23.7-76.3]");
        assert_eq!(cell(1999, 2000), "99.95% 1999/2000 [99.7-100.0]");
        assert_eq!(cell(1, 3000), "0.03% 1/3000 [0.0-0.2]");
    }

    #[test]
    fn json_adds_the_field_outcome_and_weights_and_keeps_the_rest() {
        use crate::faults::CLASSES;
        let t = |corrected, silent| Tally {
            trials: 4,
            corrected,
            silent,
            detected: 4 - corrected - silent,
            ..Tally::default()
        };
        let scheme = |name, classes: &[Class]| SchemeResult {
            name,
            bits_per_page: 1.0,
            ops: 1,
            busy: Duration::from_secs(1),
            classes: classes.iter().map(|&c| (c, t(3, 1))).collect(),
        };
        let mut run = Run {
            seed: 1,
            trials: 4,
            threads: 1,
            pages: 64,
            ops_per_thread: 1,
            command: "cargo run --release --example campaign -- --quick".to_string(),
            commit: "abc1234-dirty".to_string(),
            cpu: Cpu::parse(
                "model name: X\ncpu family: 6\nmodel: 207\n",
                ["model name", "cpu family", "model"],
            ),
            schemes: vec![scheme("a", &CLASSES), scheme("b", &CLASSES)],
            weights: Weights::parse(r#"{"single_bit": 1, "row_x8": 3}"#).unwrap(),
            weights_file: String::new(),
        };
        let v = json(&run);
        // Where the figures come from, in every output.
        assert_eq!(v["commit"], "abc1234-dirty");
        assert_eq!(v["command"], run.command);
        assert_eq!(v["cpu"]["model_name"], "X");
        assert_eq!(v["cpu"]["family"], "6");
        assert_eq!(v["cpu"]["model"], "207");
        for text in [markdown(&run), terminal(&run)] {
            assert!(text.contains("abc1234-dirty"), "{text}");
            assert!(text.contains("X (family 6, model 207)"), "{text}");
            assert!(text.contains(&run.command), "{text}");
        }
        let w = v["field_weights"].as_object().unwrap();
        assert_eq!(w.len(), CLASSES.len());
        assert_eq!(w["row_x8"], 0.75);
        assert_eq!(w.values().map(|x| x.as_f64().unwrap()).sum::<f64>(), 1.0);
        for s in v["schemes"].as_array().unwrap() {
            assert_eq!(s["field"]["corrected"], 0.75);
            assert_eq!(s["field"]["silent"], 0.25);
            assert_eq!(s["classes"].as_array().unwrap().len(), CLASSES.len());
            assert_eq!(s["classes"][0]["silent"], 1);
        }
        // Without a weighted class, no field outcome (and the rest as is).
        run.schemes = vec![scheme("a", &[Class::SingleBit])];
        let v = json(&run);
        assert!(v["schemes"][0].get("field").is_none());
        assert_eq!(v["schemes"][0]["classes"][0]["corrected"], 3);
        assert!(field_rows(&run, false).contains("row_x8"));
    }
}
