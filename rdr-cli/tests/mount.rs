//! `rdr mount` through the kernel: the real binary mounts a repository with
//! FUSE; the test lists, follows links, reads whole files and parts of
//! them, and compares with the source; writing is refused; Ctrl-C and an
//! outside `umount` both end it cleanly.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, Stdio};

use std::time::{Duration, Instant};

use common::{Env, random_bytes};

fn mounted(mnt: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(mnt.to_str().unwrap()))
}

fn mount(env: &Env, mnt: &Path) -> Child {
    assert!(
        Path::new("/dev/fuse").exists(),
        "the mount test needs /dev/fuse (and root, or fusermount3 from Debian's fuse3)"
    );
    let child = env
        .cmd(&["mount", mnt.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(mounted(mnt) && mnt.join("ids").exists()) {
        assert!(Instant::now() < deadline, "the mount did not appear");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn wait_exit(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "rdr mount did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mount_lists_reads_and_unmounts() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("db")).unwrap();
    let big = random_bytes(5 << 20, 7);
    std::fs::write(src.join("db/big.dump"), &big).unwrap();
    std::fs::write(src.join("notes.txt"), b"first\n").unwrap();
    std::os::unix::fs::symlink("notes.txt", src.join("link")).unwrap();
    let s = src.to_str().unwrap();
    let first = env.ok(&["-q", "backup", s, "--tag", "nightly", "--host", "db1"]);
    std::fs::write(src.join("notes.txt"), b"second\n").unwrap();
    let second = env.ok(&["-q", "backup", s, "--host", "db1"]);
    let (first, second) = (first.trim()[..8].to_owned(), second.trim()[..8].to_owned());

    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let child = mount(&env, &mnt);
    let names = |p: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&mnt), ["hosts", "ids", "snapshots", "tags"]);
    let mut ids = vec![first.clone(), second.clone()];
    ids.sort();
    assert_eq!(names(&mnt.join("ids")), ids);
    assert_eq!(names(&mnt.join("hosts")), ["db1"]);
    assert_eq!(names(&mnt.join("tags")), ["nightly"]);
    assert_eq!(names(&mnt.join("snapshots")).len(), 3);
    assert_eq!(
        std::fs::read_link(mnt.join("hosts/db1/latest")).unwrap(),
        Path::new(&format!("../../ids/{second}"))
    );
    let rel = src.strip_prefix("/").unwrap();
    // through the links, as a user would
    let old = mnt.join("tags/nightly/latest").join(rel);
    let new = mnt.join("snapshots/latest").join(rel);
    assert_eq!(std::fs::read(old.join("notes.txt")).unwrap(), b"first\n");
    assert_eq!(std::fs::read(new.join("notes.txt")).unwrap(), b"second\n");
    assert_eq!(
        std::fs::read_link(new.join("link")).unwrap(),
        Path::new("notes.txt")
    );
    let meta = std::fs::metadata(new.join("db/big.dump")).unwrap();
    assert_eq!(meta.len(), big.len() as u64);
    assert_eq!(std::fs::read(new.join("db/big.dump")).unwrap(), big);
    let mut f = std::fs::File::open(new.join("db/big.dump")).unwrap();
    f.seek(SeekFrom::Start(3_000_001)).unwrap();
    let mut part = vec![0; 70_000];
    f.read_exact(&mut part).unwrap();
    assert_eq!(part, &big[3_000_001..3_070_001]);
    // read-only
    let err = std::fs::write(new.join("new.txt"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS expected: {err}");
    assert!(std::fs::metadata(new.join("missing")).is_err());

    let interrupt = |c: &Child| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(c.id()).unwrap()),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    };
    // Ctrl-C while a file is open: the mount is busy and stays served
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(mounted(&mnt), "a busy mount was pulled away");
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut head = vec![0; 10];
    f.read_exact(&mut head).unwrap();
    assert_eq!(head, &big[..10]);
    drop(f);
    // once nothing uses it, Ctrl-C unmounts and ends with 0
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("cannot unmount") && err.contains("yet"),
        "{err}"
    );
    assert!(!mounted(&mnt));
    assert!(names(&mnt).is_empty());

    // an outside umount ends it too
    let child = mount(&env, &mnt);
    let o = std::process::Command::new("umount")
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_exit(child).success());
    assert!(!mounted(&mnt));
}
