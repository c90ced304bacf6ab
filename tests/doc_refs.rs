//! Every test a doc comment or a doc page names exists. A guarantee in a
//! doc comment names the test that checks it, as `` `tests/faults.rs::name` ``
//! (or `` `codes/tests/…` ``), or `` `::name` `` for another test of the file
//! named last; `name` may be a generic test instantiated per map
//! (`name::striped`) or a pattern with `*` (`*_promise_at_every_index`).
//! This test reads `src/`, `codes/src/`, `docs/` and `README.md` and fails
//! on any such reference whose file or test function does not exist, so a
//! renamed or deleted test cannot leave a guarantee pointing at nothing.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files whose references are checked.
fn sources() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    for dir in ["src", "codes/src", "codes/src/secded128", "docs"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("rs" | "md")))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Every `code` span of `text`, in order.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The test files named in `text`, with each reference to one of their tests:
/// (file, test) pairs, `::name` resolved against the file named last.
fn references(text: &str) -> Vec<(String, String)> {
    let mut last: Option<String> = None;
    let mut out = Vec::new();
    for span in spans(text) {
        let (file, test) = match span.split_once(".rs") {
            Some((f, rest)) if f.starts_with("tests/") || f.starts_with("codes/tests/") => {
                let file = format!("{f}.rs");
                last = Some(file.clone());
                match rest.strip_prefix("::") {
                    Some(t) => (file, t),
                    None => continue,
                }
            }
            _ => match (span.strip_prefix("::"), &last) {
                (Some(t), Some(f)) if !t.is_empty() => (f.clone(), t),
                _ => continue,
            },
        };
        out.push((file, test.to_string()));
    }
    out
}

/// Whether `src` defines a function matching `name` (its first path
/// segment; `*` matches any run of characters).
fn defines(src: &str, name: &str) -> bool {
    let name = name.split("::").next().unwrap_or(name);
    src.split("fn ").skip(1).any(|rest| {
        let f: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        matches(name, &f)
    })
}

/// `pattern` with `*` as a wildcard, against all of `s`.
fn matches(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            s.len() >= head.len() + tail.len() && s.starts_with(head) && {
                let rest = &s[head.len()..];
                (0..=rest.len()).any(|i| rest.is_char_boundary(i) && matches(tail, &rest[i..]))
            }
        }
    }
}

#[test]
fn every_named_test_exists() {
    let mut checked = 0;
    let mut missing = Vec::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (file, test) in references(&text) {
            let at = path.strip_prefix(root()).unwrap().display().to_string();
            match std::fs::read_to_string(root().join(&file)) {
                Ok(src) if defines(&src, &test) => checked += 1,
                Ok(_) => missing.push(format!("{at}: {file}::{test}: no such test")),
                Err(_) => missing.push(format!("{at}: {file}: no such file")),
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // The doc comments name dozens; far fewer means the reader broke.
    assert!(checked >= 40, "only {checked} references found");
}

#[test]
fn the_reader_resolves_paths_shorthands_and_patterns() {
    let text = "`tests/faults.rs::a` then `::b`, `x::c` and `codes/tests/burst.rs` \
                `::d` `tests/keyed_codes.rs::*_promise`";
    let got = references(text);
    let want = [
        ("tests/faults.rs", "a"),
        ("tests/faults.rs", "b"),
        ("codes/tests/burst.rs", "d"),
        ("tests/keyed_codes.rs", "*_promise"),
    ];
    assert_eq!(
        got,
        want.map(|(f, t)| (f.to_string(), t.to_string())).to_vec()
    );
    let src = "fn helper() {}\n#[test]\nfn secded64_promise() {}\nfn generic<M>() {}";
    assert!(defines(src, "*_promise"));
    assert!(defines(src, "generic::striped"));
    assert!(!defines(src, "secded64"));
    assert!(!defines(src, "missing"));
}
