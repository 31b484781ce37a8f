//! Regression tests of issue 19 §3: hostile repositories, hostile restore
//! targets and the secrets of this process. Each failed on the main of
//! 2026-12-02.

mod common;

use common::{Env, PASSWORD};

/// `RDR_PASSWORD` (and storage secrets) never reach a child: a source
/// command that prints its environment stores no secret in the backup, and
/// a drill's health command does not see it either.
#[test]
fn children_never_see_rdr_secrets() {
    let env = Env::new();
    let o = env
        .cmd(&[
            "backup",
            "--stdin-from-command",
            "--stdin-filename",
            "env.txt",
            "--",
            "sh",
            "-c",
            "env",
        ])
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
        .env("RDR_HARMLESS", "passed-on")
        .output()
        .unwrap();
    common::assert_ok(&o, &["backup --stdin-from-command"]);
    let dumped = env.ok(&["dump", "latest", "/env.txt"]);
    assert!(dumped.contains("RDR_HARMLESS=passed-on"), "{dumped}");
    assert!(
        !dumped.contains(PASSWORD),
        "the password was backed up:\n{dumped}"
    );
    assert!(!dumped.contains("aws-secret-value"), "{dumped}");

    let scratch = env.path("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let rep = env.path("drill.json");
    let o = env.run(&[
        "drill",
        "--scratch-dir",
        scratch.to_str().unwrap(),
        "--report",
        rep.to_str().unwrap(),
        "--health-cmd",
        "env | grep -c '^RDR_PASSWORD=' ; env | grep -q '^RDR_PASSWORD=' && exit 1; exit 0",
    ]);
    common::assert_ok(&o, &["drill"]);
}

/// No core file: the core limit is 0 and the process is not dumpable
/// (a piped core_pattern ignores the limit). A non-dumpable process has its
/// /proc files owned by root, so as root the probe runs as `nobody`.
#[test]
fn the_process_is_not_dumpable() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    // rdr waits for the password command: alive, and already hardened
    let mut cmd = env.cmd(&["--password-command", "sleep 3; echo x", "snapshots"]);
    let me = nix::unistd::geteuid().as_raw();
    let probe_uid = if me == 0 { 65_534 } else { me };
    if me == 0 {
        let open = format!("chmod -R a+rwX {}", env.dir.path().display());
        assert!(
            std::process::Command::new("sh")
                .args(["-c", &open])
                .status()
                .unwrap()
                .success()
        );
        cmd.uid(probe_uid).gid(65_534).current_dir("/");
    }
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let limits = wait_for(|| {
        let l = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
        // wait until rdr itself (not the exec'ing test) is running
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        exe.is_some_and(|e| e.ends_with("rdr")).then_some(l)
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid();
    let limits_now = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or(limits);
    let _ = child.kill();
    let _ = child.wait();
    let core = limits_now
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .to_owned();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
    assert_eq!(owner, 0, "rdr (uid {probe_uid}) is dumpable");
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("timed out");
}

/// Names with escape sequences are quoted by ls, find and diff: nothing
/// from a snapshot can drive the terminal.
#[test]
fn names_with_control_characters_are_quoted() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    let evil = std::ffi::OsStr::from_bytes(b"evil\x1b]0;owned\x07\x1b[2J\nname");
    std::fs::write(src.join(evil), b"x").unwrap();
    std::fs::write(src.join("plain"), b"y").unwrap();
    let s = src.to_str().unwrap();
    env.ok(&["backup", s]);
    for args in [
        vec!["ls", "latest"],
        vec!["ls", "-l", "latest"],
        vec!["find", "*name*"],
    ] {
        let out = env.run(&args);
        common::assert_ok(&out, &args);
        let bytes = &out.stdout;
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
            "{args:?} printed a control byte: {:?}",
            String::from_utf8_lossy(bytes)
        );
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.contains(r#"/src/evil\u{1b}]0;owned\u{7}\u{1b}[2J\nname""#),
            "{args:?}: {text}"
        );
        assert!(args[0] == "find" || text.contains("plain"), "{text}");
    }
}

/// A local user who can write in the restore target swaps a directory for
/// a symlink to somewhere else, again and again, while a restore runs.
/// Nothing outside the target may be created, removed, written or chmod-ed
/// (before, files named like the snapshot's were deleted and rewritten
/// through the symlink). The restore itself may fail: it is under attack.
#[test]
fn a_directory_swapped_for_a_symlink_during_restore_leaves_the_outside_alone() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..1500 {
        std::fs::write(src.join(format!("d/f{i:04}")), format!("snapshot data {i}")).unwrap();
    }
    env.ok(&["backup", src.to_str().unwrap()]);
    let outside = env.path("outside");
    std::fs::create_dir(&outside).unwrap();
    for i in 0..1500 {
        let p = outside.join(format!("f{i:04}"));
        std::fs::write(&p, b"root's file").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let before = listing(&outside);
    let target = env.path("target");
    let dir = target.join(src.strip_prefix("/").unwrap()).join("d");
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let moved = dir.with_extension("moved");
            while !stop.load(Ordering::Relaxed) {
                if std::fs::rename(&dir, &moved).is_ok() {
                    let _ = std::os::unix::fs::symlink(&outside, &dir);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&dir);
                    let _ = std::fs::rename(&moved, &dir);
                }
                std::thread::yield_now();
            }
        });
        for _ in 0..3 {
            let _ = env.run(&["restore", "latest", "--target", target.to_str().unwrap()]);
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        listing(&outside),
        before,
        "restore changed files outside its target"
    );
}

/// Name, content and mode of every file in `dir`.
fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let data = if m.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                data,
                m.permissions().mode(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A FIFO where a file of the snapshot goes: restore neither blocks on it
/// nor reads from it; it is replaced by the file.
#[test]
fn a_fifo_in_place_of_a_file_does_not_hang_restore() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("file"), b"content").unwrap();
    env.ok(&["backup", src.to_str().unwrap()]);
    let target = env.path("target");
    let at = target.join(src.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&at).unwrap();
    nix::unistd::mkfifo(
        &at.join("file"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let mut child = env
        .cmd(&["restore", "latest", "--target", target.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(|| child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read(at.join("file")).unwrap(), b"content");
}

/// The first SIGTERM ends rdr within a second even when a thread is
/// blocked in a system call: here, reading a FIFO nobody writes to as the
/// backup source.
#[test]
fn sigterm_ends_a_blocked_rdr_within_a_second() {
    let env = Env::new();
    let fifo = env.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let mut child = env
        .cmd(&[
            "backup",
            "--stdin-from-command",
            "--stdin-filename",
            "x",
            "--",
            "cat",
            fifo.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "rdr ended before the signal"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let sent = std::time::Instant::now();
    let status = wait_for(|| child.try_wait().unwrap());
    // rdr gives itself 0.9 s; the margin is for a loaded machine (before,
    // it never ended)
    assert!(
        sent.elapsed() < std::time::Duration::from_millis(2500),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    // release the cat that still waits
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo);
}

/// A snapshot nested deeper than rdr walks (1024 levels) gives a clear
/// error from ls, find, stats, restore and dump, never a stack overflow
/// (which aborted with a core file); find still searches the other
/// snapshots.
#[test]
fn a_snapshot_nested_too_deep_gives_an_error_not_a_crash() {
    let env = Env::new();
    let shallow = env.path("shallow");
    std::fs::create_dir_all(&shallow).unwrap();
    std::fs::write(shallow.join("needle"), b"n").unwrap();
    env.ok(&["backup", shallow.to_str().unwrap()]);
    let deep = env.path("deep");
    std::fs::create_dir(&deep).unwrap();
    // built relative to a handle so no path grows past PATH_MAX
    let mut dir = std::fs::File::open(&deep).unwrap();
    for _ in 0..1100 {
        use std::os::fd::AsFd;
        nix::sys::stat::mkdirat(
            dir.as_fd(),
            "d",
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        )
        .unwrap();
        let next = nix::fcntl::openat(
            dir.as_fd(),
            "d",
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        dir = std::fs::File::from(next);
    }
    env.ok(&["backup", deep.to_str().unwrap()]);
    let target = env.path("target");
    for args in [
        vec!["ls", "latest"],
        vec!["stats", "latest"],
        vec!["restore", "latest", "--target", target.to_str().unwrap()],
    ] {
        let o = env.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code().is_some_and(|c| c != 0),
            "{args:?}: {:?} {err}",
            o.status
        );
        assert!(
            err.contains("nested more than 1024 levels"),
            "{args:?}: {err}"
        );
    }
    let o = env.run(&["find", "needle"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(out.contains("needle"), "{out}");
    assert!(err.contains("could not be searched"), "{err}");
}

/// A file whose data is missing from the index is an error of the restore
/// (exit ≠ 0, the file named), and an older file already at its path is
/// left as it is: not given the snapshot's mode and times, which made it
/// look restored.
#[test]
fn restore_of_unindexed_data_fails_and_leaves_the_old_file_as_it_was() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("db.sql"), b"version one").unwrap();
    std::fs::write(src.join("other"), b"unchanged").unwrap();
    let s = src.to_str().unwrap();
    env.ok(&["backup", s]);
    let index_dir = env.repo().join("index");
    let first: Vec<_> = std::fs::read_dir(&index_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let target = env.path("target");
    let t = target.to_str().unwrap();
    env.ok(&["restore", "latest", "--target", t]);
    let restored = target.join(src.strip_prefix("/").unwrap()).join("db.sql");
    let old_mtime = std::fs::metadata(&restored).unwrap().mtime();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(src.join("db.sql"), b"version two, longer").unwrap();
    env.ok(&["backup", s]);
    // the pack with the new version's data goes, and the index is rebuilt
    // from the packs left: the new tree is indexed, its data blob is not
    for e in std::fs::read_dir(&index_dir).unwrap() {
        let p = e.unwrap().path();
        if first.contains(&p) {
            continue;
        }
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let listing = env.ok(&["cat", "index", &name]);
        let mut pack = None;
        for line in listing.lines() {
            if let Some(id) = line.strip_prefix("pack ") {
                pack = Some(id.to_owned());
            } else if line.trim_start().starts_with("data ") {
                let id = pack.clone().unwrap();
                let path = env.repo().join("data").join(&id[..2]).join(&id);
                make_removable(&path);
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    env.ok(&["repair", "index"]);
    let o = env.run(&["restore", "latest", "--target", t]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code().is_some_and(|c| c != 0),
        "{:?} {err}",
        o.status
    );
    assert!(err.contains("db.sql"), "{err}");
    assert_eq!(std::fs::read(&restored).unwrap(), b"version one");
    assert_eq!(
        std::fs::metadata(&restored).unwrap().mtime(),
        old_mtime,
        "the stale file got the snapshot's time"
    );
}

fn make_removable(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = p.parent() {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
}

/// A running backup holds a backup lock: `prune --instant-delete` refuses
/// to run beside it (it deleted the running backup's trees: backup rc 0,
/// check rc 4), while the normal two-phase prune still runs, and the
/// backup completes into a repository that checks clean.
#[test]
fn instant_prune_waits_for_running_backups_and_normal_prune_does_not() {
    use std::io::Write;
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a"), vec![7u8; 300_000]).unwrap();
    env.ok(&["backup", src.to_str().unwrap()]);
    env.ok(&["forget", "--keep-last", "1"]);
    let mut backup = env.spawn_piped(&["backup", "--stdin", "--stdin-filename", "db.sql"]);
    let mut stdin = backup.stdin.take().unwrap();
    stdin.write_all(&vec![1u8; 200_000]).unwrap();
    let locks = env.repo().join("locks");
    wait_for(|| (std::fs::read_dir(&locks).ok()?.count() > 0).then_some(()));
    let o = env.run(&["prune", "--instant-delete"]);
    assert_eq!(
        o.status.code(),
        Some(11),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("backup lock"),
        "{o:?}"
    );
    env.ok(&["prune"]);
    stdin.write_all(&vec![2u8; 200_000]).unwrap();
    drop(stdin);
    let out = backup.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["check", "--read-data"]);
    // with no backup running, the instant prune runs
    env.ok(&["prune", "--instant-delete"]);
    env.ok(&["check"]);
}

/// A pack's size comes from the storage: a 3 GB sparse file among the
/// packs made check --read-data and repair index --read-data allocate it
/// whole (rc 134 with less memory). Under a 1.5 GB address-space limit both
/// now finish, name the pack, and do not crash.
#[test]
fn a_huge_pack_is_read_in_pieces() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), b"content").unwrap();
    env.ok(&["backup", src.to_str().unwrap()]);
    let name = "ab".repeat(32);
    let dir = env.repo().join("data").join(&name[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    let f = std::fs::File::create(dir.join(&name)).unwrap();
    f.set_len(3 << 30).unwrap();
    drop(f);
    for args in ["check --read-data", "repair index --read-data --dry-run"] {
        let script = format!(
            "ulimit -v 1500000; exec {} -r {} {args}",
            env!("CARGO_BIN_EXE_rdr"),
            env.repo().display()
        );
        let o = std::process::Command::new("sh")
            .args(["-c", &script])
            .env("RDR_PASSWORD", common::PASSWORD)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code().is_some(),
            "{args}: killed by a signal: {err}"
        );
        assert_ne!(o.status.code(), Some(134), "{args}: {err}");
        assert!(!err.contains("memory allocation"), "{args}: {err}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            err.contains(&name[..8]) || out.contains(&name[..8]),
            "{args}: the pack is not named: {err} {out}"
        );
    }
}

/// Packs are padded (format version 2): a small backup's pack no longer
/// tells the storage the stream's exact size. Streams of 1000 and 1700
/// random bytes leave packs of one size.
#[test]
fn small_backups_leave_packs_of_one_padded_size() {
    let env = Env::new();
    let mut x: u32 = 12345;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect()
    };
    for n in [1000, 1700] {
        let o = env.run_stdin(&["backup", "--stdin", "--stdin-filename", "s"], &random(n));
        common::assert_ok(&o, &["backup --stdin"]);
    }
    let mut sizes = std::collections::BTreeSet::new();
    for fan in std::fs::read_dir(env.repo().join("data")).unwrap() {
        for p in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            sizes.insert(p.unwrap().metadata().unwrap().len());
        }
    }
    assert_eq!(
        sizes.into_iter().collect::<Vec<_>>(),
        vec![4096],
        "pack sizes"
    );
    env.ok(&["check", "--read-data"]);
}
