//! The scheme and class lists in the docs against the code's own lists:
//! the campaign's `SCHEMES` and `CLASSES`, and the benches' `SCHEMES` and
//! `CODECS` (`benches/common/mod.rs`). Every Markdown table of
//! docs/safety.md and README.md whose first column is `scheme` or `class`
//! must list exactly the campaign's schemes or classes (in order), and every
//! table of docs/benchmarks.md whose first column is `scheme` or `codec`
//! exactly the benches' schemes or codecs. A scheme or class added to the
//! code and not to the docs (or the reverse) fails here.

use crate::bench_common;
use crate::faults::CLASSES;
use crate::schemes::SCHEMES;
use std::path::Path;

/// A Markdown table: its header cells and its rows' cells, and the line
/// where it starts.
struct Table {
    line: usize,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// Every table of `text` (a header line, a `|---|` line, rows).
fn tables(text: &str) -> Vec<Table> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let is_table = lines[i].starts_with('|') && lines[i + 1].starts_with("|---");
        if !is_table || (i > 0 && lines[i - 1].starts_with('|')) {
            i += 1;
            continue;
        }
        let mut t = Table {
            line: i + 1,
            header: cells(lines[i]),
            rows: Vec::new(),
        };
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            t.rows.push(cells(lines[i]));
            i += 1;
        }
        out.push(t);
    }
    out
}

/// The name a cell starts with: its first `code` span, else its first word.
fn name(cell: &str) -> String {
    match cell.split('`').nth(1) {
        Some(code) if cell.trim_start().starts_with('`') => code.to_string(),
        _ => cell.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// Every `code` span of a cell (`burst3_word`, `burst4_word`).
fn codes(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Schemes the docs list that this build does not have: the docs describe
/// an x86-64 (or aarch64) build, where every scheme exists; elsewhere
/// (the i686 test run) `ecc128` is compiled out, and the docs' lists are
/// compared without it.
const ABSENT_HERE: &[&str] = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
    &[]
} else {
    &["ecc128"]
};

/// Whether this build has scheme `name`.
fn here(name: &str) -> bool {
    !ABSENT_HERE.contains(&name)
}

fn read(doc: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks every scheme and class table of `doc` against `schemes` and
/// `classes` (`codecs` for `codec` tables); returns how many tables it
/// checked of each kind (scheme, class, codec).
fn check(doc: &str, schemes: &[&str], classes: &[&str], codecs: &[&str]) -> [usize; 3] {
    let text = read(doc);
    let mut checked = [0; 3];
    for t in tables(&text) {
        let at = format!("{doc}:{}", t.line);
        let first: Vec<String> = t.rows.iter().map(|r| name(&r[0])).collect();
        let schemes_here: Vec<String> = first.iter().filter(|n| here(n)).cloned().collect();
        match (t.header[0].as_str(), t.header.get(1).map(String::as_str)) {
            ("scheme", _) => {
                let first = schemes_here;
                assert_eq!(first, schemes, "{at}: the schemes of this table");
                checked[0] += 1;
            }
            ("codec", _) => {
                assert_eq!(first, codecs, "{at}: the codecs of this table");
                checked[2] += 1;
            }
            // One row per (class, scheme), class-major.
            ("class", Some("scheme")) => {
                let want: Vec<(String, String)> = classes
                    .iter()
                    .flat_map(|c| schemes.iter().map(|s| (c.to_string(), s.to_string())))
                    .collect();
                let got: Vec<(String, String)> = t
                    .rows
                    .iter()
                    .map(|r| (name(&r[0]), name(&r[1])))
                    .filter(|(_, s)| here(s))
                    .collect();
                assert_eq!(got, want, "{at}: one row per class and scheme");
                checked[1] += 1;
            }
            // Classes down, schemes across.
            ("class", Some(s)) if schemes.contains(&s) => {
                let across: Vec<&String> = t.header[1..].iter().filter(|n| here(n)).collect();
                assert_eq!(across, schemes, "{at}: the schemes across");
                assert_eq!(first, classes, "{at}: the classes down");
                checked[1] += 1;
            }
            // The field weights: a row per weighted class, then "every
            // other class".
            ("class", Some("weight")) => {
                for r in t.rows.iter().filter(|r| r[0].starts_with('`')) {
                    for c in codes(&r[0]) {
                        assert!(classes.contains(&c.as_str()), "{at}: unknown class {c}");
                    }
                }
                checked[1] += 1;
            }
            ("class", _) => {
                let all: Vec<String> = t.rows.iter().flat_map(|r| codes(&r[0])).collect();
                assert_eq!(all, classes, "{at}: the classes of this table");
                checked[1] += 1;
            }
            _ => {}
        }
    }
    checked
}

fn campaign_lists() -> (Vec<&'static str>, Vec<&'static str>) {
    (
        SCHEMES.iter().map(|s| s.name).collect(),
        CLASSES.iter().map(|c| c.name()).collect(),
    )
}

#[test]
fn safety_md_lists_the_campaign_schemes_and_classes() {
    let (schemes, classes) = campaign_lists();
    let [s, c, _] = check("docs/safety.md", &schemes, &classes, &[]);
    // The guarantees, the field outcome, the bits per page; the fault
    // model, the weights, the silent shares, every cell.
    assert!(s >= 3 && c >= 4, "tables found: {s} scheme, {c} class");
}

#[test]
fn readme_lists_the_campaign_schemes() {
    let (schemes, classes) = campaign_lists();
    let [s, _, _] = check("README.md", &schemes, &classes, &[]);
    assert!(s >= 1, "the field-weighted table");
    // The prose list of the main command.
    let text = read("README.md");
    let start = text
        .find("For each scheme (")
        .expect("README names the schemes");
    let list = &text[start..start + text[start..].find(')').expect("closed")];
    let named: Vec<String> = codes(list).into_iter().filter(|n| here(n)).collect();
    assert_eq!(named, schemes, "README's list of the campaign's schemes");
}

#[test]
fn benchmarks_md_lists_the_bench_schemes_and_codecs() {
    let [s, _, c] = check(
        "docs/benchmarks.md",
        bench_common::SCHEMES,
        &[],
        bench_common::CODECS,
    );
    // "What is measured" and the generated tables.
    assert!(s >= 2 && c >= 2, "tables found: {s} scheme, {c} codec");
}

#[test]
fn the_table_reader_reads_what_the_docs_write() {
    let text = "x\n| scheme | a |\n|---|---|\n| `ecc64` (`EccBitmap`) | 1 |\n| dual | 2 |\n\n\
                | class | w |\n|---|---|\n| `burst3_word`, `burst4_word` | 1 |\n";
    let t = tables(text);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].line, 2);
    let first: Vec<String> = t[0].rows.iter().map(|r| name(&r[0])).collect();
    assert_eq!(first, ["ecc64", "dual"]);
    assert_eq!(codes(&t[1].rows[0][0]), ["burst3_word", "burst4_word"]);
}
