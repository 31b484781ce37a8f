//! `--limit-upload` and `--limit-download` (KiB/s) through the real binary.
//! A rate limit is a lower bound on time, so these tests assert that the
//! paced runs take at least what the limit implies (never an upper bound:
//! that would be a benchmark, and flaky).

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{Env, random_bytes};

const DATA: usize = 1 << 20;

fn timed(env: &Env, args: &[&str]) -> (Duration, String) {
    let t = Instant::now();
    let out = env.ok(args);
    (t.elapsed(), out)
}

#[test]
fn uploads_and_downloads_keep_to_their_limits() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let data = random_bytes(DATA, 11);
    fs::write(src.join("f.bin"), &data).unwrap();
    let s = src.to_str().unwrap();

    // 1 MiB (and the index and snapshot) at 512 KiB/s: at least 2 s
    let (took, _) = timed(&env, &["-q", "--limit-upload", "512", "backup", s]);
    assert!(took >= Duration::from_millis(1900), "backup took {took:?}");
    env.ok(&["check", "--read-data"]);

    let target = env.path("t");
    let t = target.to_str().unwrap();
    let (took, _) = timed(
        &env,
        &[
            "-q",
            "--limit-download",
            "512",
            "restore",
            "latest",
            "--target",
            t,
        ],
    );
    assert!(took >= Duration::from_millis(1900), "restore took {took:?}");
    let back = target.join(src.strip_prefix("/").unwrap()).join("f.bin");
    assert_eq!(fs::read(back).unwrap(), data);

    // the environment variables are the same options; 0 is refused
    let mut c = env.cmd(&["-q", "snapshots"]);
    c.env("RDR_LIMIT_DOWNLOAD", "64")
        .env("RDR_CONNECTIONS", "1");
    assert!(c.output().unwrap().status.success());
    let o = env.run(&["--limit-upload", "0", "snapshots"]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    let help = env.ok(&["help", "backup"]);
    assert!(help.contains("--limit-upload <KiB/s>") && help.contains("--limit-download <KiB/s>"));
}
