//! Drives the built shared library from C (the example, compiled with cc,
//! natively and under valgrind) and checks that the header is what
//! cbindgen generates. The Python package is tested by pytest from
//! scripts/test.sh, through a wheel installed into a fresh venv.

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

/// Compiles examples/backup_restore.c against the header and the library.
fn build_example(out: &Path) -> PathBuf {
    let lib = lib_path();
    let exe = out.join("backup_restore");
    let status = Command::new("cc")
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
        ])
        .arg(crate_dir().join("examples/backup_restore.c"))
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.parent().unwrap().display()))
        .arg("-lrdr")
        .arg(format!("-Wl,-rpath,{}", lib.parent().unwrap().display()))
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling the C example failed");
    exe
}

fn source_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 200_000]).unwrap();
    src
}

/// The C example backs up, restores, dumps, checks, copies, drills,
/// forgets and prunes, and sees cancellation and errors reported.
#[test]
fn c_example_backs_up_and_restores() {
    let out = tempfile::tempdir().unwrap();
    let exe = build_example(out.path());
    let src = source_tree(out.path());
    let work = out.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let repo = work.join("repo");
    let run = Command::new(&exe)
        .arg(&src)
        .arg(&repo)
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "C example failed:\n{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for what in [
        "backup:",
        "restore:",
        "dump:",
        "check:",
        "copy:",
        "drill:",
        "forget:",
        "cancelled:",
        "wrong password:",
    ] {
        assert!(stdout.contains(what), "{what} missing from:\n{stdout}");
    }
    let restored = work.join("restored").join(src.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(restored.join("sub/b.bin")).unwrap(),
        vec![7u8; 200_000]
    );
}

/// The same program against S3 (rclone serve s3 on 127.0.0.1): every
/// operation on a remote repository, the copy going to a local one.
#[test]
fn c_example_on_s3() {
    let s3 = rdr_tests::servers::S3Server::start("cabi");
    let out = tempfile::tempdir().unwrap();
    let exe = build_example(out.path());
    let src = source_tree(out.path());
    let work = out.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let run = Command::new(&exe)
        .arg(&src)
        .arg(s3.location("c-example"))
        .arg(&work)
        .envs(s3.env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "C example on S3 failed:\n{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("copy:") && stdout.ends_with("ok\n"),
        "{stdout}"
    );
    // the repository is on the server, none of it in the work folder
    assert!(s3.data_dir().join("cabi/c-example/config").exists());
    assert!(!work.join("c-example").exists());
}

/// The same example under valgrind's memcheck: no invalid access, no
/// uninitialised read, nothing definitely leaked (threads of rdr's pools
/// still alive at exit hold "possibly lost" blocks, which are not leaks).
#[test]
fn c_example_is_clean_under_valgrind() {
    let out = tempfile::tempdir().unwrap();
    let exe = build_example(out.path());
    let src = source_tree(out.path());
    let work = out.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let run = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(&exe)
        .arg(&src)
        .arg(work.join("repo"))
        .arg(&work)
        .output()
        .expect(
            "valgrind is needed (Debian package valgrind; scripts/system-packages.sh installs it)",
        );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "valgrind found problems (exit {:?}):\n{stderr}",
        run.status.code()
    );
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("\nok\n"));
}

/// The header is what cbindgen makes of the crate today; with
/// RDR_UPDATE_HEADER=1 it is rewritten.
#[test]
fn header_is_generated() {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    let path = dir.join("include/rdr.h");
    if std::env::var_os("RDR_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == fresh,
        "include/rdr.h is stale: run RDR_UPDATE_HEADER=1 cargo test -p rdr-ffi --test abi header"
    );
    for name in [
        "rdr_backup",
        "rdr_restore",
        "rdr_cancel_request",
        "RDR_ERR_INTERRUPTED",
    ] {
        assert!(fresh.contains(name), "{name} missing from the header");
    }
}
