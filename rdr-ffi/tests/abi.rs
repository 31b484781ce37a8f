//! Drives the built shared library from C (gcc) and Python (ctypes), and
//! checks that the header declares every exported function.

use std::path::{Path, PathBuf};
use std::process::Command;

fn lib_path() -> PathBuf {
    // The test binary and the freshly built cdylib both sit in target/<profile>/deps.
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().join("librdr.so");
    assert!(p.exists(), "{} missing: build rdr-ffi first", p.display());
    p
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn c_program_uses_the_abi() {
    let lib = lib_path();
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("smoke");
    let status = Command::new("cc")
        .arg(crate_dir().join("tests/c/smoke.c"))
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.parent().unwrap().display()))
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling the C smoke test failed");
    let run = Command::new(&exe)
        .arg(out.path().join("repo"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "C smoke test failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("wrong password"));
}

#[test]
fn python_package_uses_the_abi() {
    let run = Command::new("python3")
        .arg(crate_dir().join("python/tests/test_rdr.py"))
        .env("RDR_LIB", lib_path())
        .output()
        .expect("running python3");
    assert!(
        run.status.success(),
        "python tests failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn header_matches_source() {
    let src = std::fs::read_to_string(crate_dir().join("src/lib.rs")).unwrap();
    let header = std::fs::read_to_string(crate_dir().join("include/rdr.h")).unwrap();
    let mut n = 0;
    for line in src.lines() {
        let Some(rest) = line.split("extern \"C\" fn ").nth(1) else {
            continue;
        };
        let name = rest.split('(').next().unwrap();
        assert!(
            header.contains(&format!("{name}(")),
            "{name} is exported but not declared in rdr.h"
        );
        n += 1;
    }
    assert!(n >= 8, "found only {n} exported functions");
    for line in src.lines().filter(|l| l.starts_with("pub const RDR_")) {
        let name = line
            .trim_start_matches("pub const ")
            .split(':')
            .next()
            .unwrap();
        let value = line
            .rsplit('=')
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(';');
        assert!(
            header.contains(&format!("#define {name} {value}")),
            "{name} = {value} missing from rdr.h"
        );
    }
}
