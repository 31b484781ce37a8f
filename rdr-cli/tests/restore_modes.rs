//! `restore --dry-run`, `--delete` and `--overwrite always|if-changed|if-newer|never`
//! through the real binary, into a target that already holds files.

mod common;

use std::fs;
use std::path::Path;

use common::{Env, last_json};

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json", "restore"];
    a.extend_from_slice(args);
    last_json(&env.ok(&a))
}

fn set_old(p: &Path) {
    filetime::set_file_mtime(p, filetime::FileTime::from_unix_time(1_000_000_000, 0)).unwrap();
}

#[test]
fn restore_into_a_target_that_holds_files() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("a.txt"), b"A1").unwrap();
    fs::write(src.join("d/b.txt"), b"B1").unwrap();
    set_old(&src.join("a.txt"));
    let id = env
        .ok(&["-q", "backup", src.to_str().unwrap()])
        .trim()
        .to_owned();
    let spec = format!("{id}:{}", src.display());
    let target = env.path("target");
    let t = target.to_str().unwrap();

    let r = json(&env, &[&spec, "--target", t]);
    assert_eq!(
        (r["files"].as_u64(), r["dry_run"].as_bool()),
        (Some(2), Some(false))
    );
    // local changes: an edited file (newer than the snapshot's), extras
    fs::write(target.join("a.txt"), b"local edit").unwrap();
    fs::write(target.join("extra.txt"), b"x").unwrap();
    fs::create_dir_all(target.join("d/extra-dir/deeper")).unwrap();
    fs::write(target.join("d/extra-dir/deeper/f"), b"y").unwrap();

    // a dry run changes nothing and says what would happen
    let out = env.ok(&["restore", &spec, "--target", t, "--delete", "--dry-run"]);
    assert!(
        out.contains(&format!(
            "would delete {}",
            target.join("extra.txt").display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "would delete {}",
            target.join("d/extra-dir").display()
        )),
        "{out}"
    );
    let r = json(&env, &[&spec, "--target", t, "--delete", "-n"]);
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["bytes_written"], 2, "only a.txt would be written: {r}");
    assert_eq!(r["files_skipped"], 1);
    assert_eq!(r["deleted"].as_array().unwrap().len(), 2);
    assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"local edit");
    assert!(target.join("extra.txt").exists() && target.join("d/extra-dir/deeper/f").exists());
    // a dry run into a folder that does not exist creates nothing
    let none = env.path("none");
    let r = json(
        &env,
        &[&spec, "--target", none.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(
        (r["bytes_written"].as_u64(), none.exists()),
        (Some(4), false)
    );

    // never: the edited file stays
    let r = json(&env, &[&spec, "--target", t, "--overwrite", "never"]);
    assert_eq!(r["files_kept"], 2, "{r}");
    assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"local edit");
    // if-newer: the local edit is newer than the snapshot's copy, so it stays
    let r = json(&env, &[&spec, "--target", t, "--overwrite", "if-newer"]);
    assert_eq!(r["files_kept"], 2, "{r}");
    assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"local edit");
    // …until it is older
    fs::write(target.join("a.txt"), b"old local").unwrap();
    filetime::set_file_mtime(
        target.join("a.txt"),
        filetime::FileTime::from_unix_time(900_000_000, 0),
    )
    .unwrap();
    let r = json(&env, &[&spec, "--target", t, "--overwrite", "if-newer"]);
    assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"A1", "{r}");
    // if-changed (the default) skips identical files; always writes them
    let r = json(&env, &[&spec, "--target", t]);
    assert_eq!(
        (r["files_skipped"].as_u64(), r["bytes_written"].as_u64()),
        (Some(2), Some(0))
    );
    let r = json(&env, &[&spec, "--target", t, "--overwrite", "always"]);
    assert_eq!(
        (r["files_skipped"].as_u64(), r["bytes_written"].as_u64()),
        (Some(0), Some(4))
    );

    // delete: the target mirrors the snapshot
    let r = json(&env, &[&spec, "--target", t, "--delete"]);
    assert_eq!(r["deleted"].as_array().unwrap().len(), 2, "{r}");
    assert!(!target.join("extra.txt").exists() && !target.join("d/extra-dir").exists());
    assert_eq!(fs::read(target.join("d/b.txt")).unwrap(), b"B1");
    // not with include or exclude
    let o = env.run(&[
        "restore",
        &spec,
        "--target",
        t,
        "--delete",
        "--include",
        "*.txt",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("include or exclude"));
    let o = env.run(&["restore", &spec, "--target", t, "--overwrite", "sometimes"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn dump_a_folder_as_zip() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("sub/empty")).unwrap();
    let big = common::random_bytes(3 << 20, 11);
    fs::write(src.join("sub/big.bin"), &big).unwrap();
    fs::write(src.join("é.txt"), b"utf-8 name").unwrap();
    std::os::unix::fs::symlink("é.txt", src.join("link")).unwrap();
    let id = env
        .ok(&["-q", "backup", src.to_str().unwrap()])
        .trim()
        .to_owned();
    let out = env
        .cmd(&["dump", &id, src.to_str().unwrap(), "--archive", "zip"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = env.path("d.zip");
    fs::write(&zip, &out.stdout).unwrap();
    let rel = src.strip_prefix("/").unwrap().display().to_string();
    // Python's zipfile checks every CRC and reads the central directory
    let check = r#"
import zipfile, stat, sys
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
base = sys.argv[2]
assert base + "/sub/empty/" in names, names
assert z.read(base + "/é.txt") == b"utf-8 name"
info = z.getinfo(base + "/link")
assert stat.S_ISLNK(info.external_attr >> 16) and z.read(info) == "é.txt".encode()
sys.stdout.buffer.write(z.read(base + "/sub/big.bin"))
"#;
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg(check)
        .arg(&zip)
        .arg(&rel)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(py.stdout == big, "big.bin differs after the zip round trip");
    // tar stays the default
    let tar = env
        .cmd(&["dump", &id, src.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(&tar.stdout[257..262], b"ustar");
}

/// `--write-method direct` writes large files past the page cache, with
/// blob edges anywhere, duplicate blobs and holes, and every byte lands;
/// `buffered` writes none that way; an unknown method is a usage error.
#[test]
fn restore_past_the_page_cache() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let big = common::random_bytes((5 << 20) + 321, 21);
    fs::write(src.join("big.bin"), &big).unwrap();
    let half = common::random_bytes(2 << 20, 22);
    fs::write(src.join("twice.bin"), [half.as_slice(), &half].concat()).unwrap();
    let sparse = fs::File::create(src.join("sparse.img")).unwrap();
    sparse.set_len(4 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, &half[..1 << 20], (2 << 20) + 17).unwrap();
    fs::write(src.join("small.txt"), b"small").unwrap();
    let id = env
        .ok(&["-q", "backup", src.to_str().unwrap()])
        .trim()
        .to_owned();
    let spec = format!("{id}:{}", src.display());
    let same = |target: &Path| {
        for name in ["big.bin", "twice.bin", "sparse.img", "small.txt"] {
            assert!(
                fs::read(target.join(name)).unwrap() == fs::read(src.join(name)).unwrap(),
                "{name} differs"
            );
        }
    };

    let direct = env.path("direct");
    let d = direct.to_str().unwrap();
    let o = env.run(&[
        "--json",
        "restore",
        &spec,
        "-t",
        d,
        "--write-method",
        "direct",
    ]);
    if o.status.success() {
        let r = last_json(&String::from_utf8_lossy(&o.stdout));
        same(&direct);
        // the whole blocks of the three large files, at least
        assert!(r["bytes_direct"].as_u64().unwrap() > 8 << 20, "{r}");
    } else {
        // a file system without O_DIRECT (tmpfs before Linux 6.6) says so
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("refuses direct writes"), "{err}");
    }

    let buffered = env.path("buffered");
    let r = json(
        &env,
        &[
            &spec,
            "-t",
            buffered.to_str().unwrap(),
            "--write-method",
            "buffered",
        ],
    );
    same(&buffered);
    assert_eq!(r["bytes_direct"].as_u64(), Some(0), "{r}");

    // auto picks by the kernel's dirty-page figures: either way, -v says
    // how much went past the page cache, and every byte lands
    let auto = env.path("auto");
    let o = env.run(&["-v", "restore", &spec, "-t", auto.to_str().unwrap()]);
    assert!(o.status.success());
    same(&auto);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("written past the page cache (--write-method auto)"),
        "{err}"
    );
    let o = env.run(&["restore", &spec, "-t", d, "--write-method", "io_uring"]);
    assert_eq!(o.status.code(), Some(2));
}
