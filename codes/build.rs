//! Enables the AVX-512 syndrome path (`cfg(eccmap_avx512)`, src/wide.rs)
//! where the compiler has stable AVX-512 intrinsics and target features
//! (Rust 1.89 on). An older compiler (the crate's MSRV is 1.85) builds the
//! portable path only.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(eccmap_avx512)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    // "rustc 1.95.0 (59807616e 2026-04-14)": the minor version.
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            let version = v.split_whitespace().nth(1)?.to_owned();
            let mut parts = version.split('.');
            let major: u32 = parts.next()?.parse().ok()?;
            let minor: u32 = parts.next()?.parse().ok()?;
            (major == 1).then_some(minor)
        });
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=eccmap_avx512");
    }
}
