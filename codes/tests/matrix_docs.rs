//! The matrix an assessor reads is the matrix the code runs: the text in
//! `codes/doc/*.txt` (shown in rustdoc and docs/codes.md) must equal what
//! each compiled matrix prints. Run with `BLESS=1` to rewrite the files
//! after a deliberate change of a matrix.

use eccmap_codes::{Hamming74, Hamming84, Hsiao72, LaneCode, Secded128, Secded32, Secded64};
use std::fmt::Display;

fn check(file: &str, m: &dyn Display) {
    let path = format!("{}/doc/{file}.txt", env!("CARGO_MANIFEST_DIR"));
    let printed = m.to_string();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &printed).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        committed.trim_end(),
        printed,
        "{path} differs from the compiled matrix"
    );
    let book = std::fs::read_to_string(format!("{}/../docs/codes.md", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    assert!(
        book.contains(&printed),
        "docs/codes.md does not show the {file} matrix"
    );
}

#[test]
fn documented_matrices_are_the_compiled_ones() {
    check("hamming74", Hamming74::MATRIX);
    check("hamming84", Hamming84::MATRIX);
    check("secded32", Secded32::MATRIX);
    check("secded64", Secded64::MATRIX);
    check("hsiao72", Hsiao72::MATRIX);
    check("secded64burst", eccmap_codes::Secded64Burst::MATRIX);
    check("secded128", Secded128::MATRIX);
}
