//! restic's conventions, through the real binary: --json, -q and -v are
//! global flags; --repository-file; --retry-lock; backup --files-from*;
//! shell completions and man pages.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Env, PASSWORD, assert_ok, last_json};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(src.join("d/b.txt"), b"beta\n").unwrap();
    src
}

#[test]
fn json_quiet_and_verbose_are_global() {
    let env = Env::new();
    let src = source(&env);
    let s = src.to_str().unwrap();

    // -q: the snapshot id on stdout, nothing else
    let o = env.run(&["-q", "backup", s]);
    assert_ok(&o, &["-q", "backup"]);
    let id = text(&o.stdout).trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(text(&o.stderr), "", "-q backup printed a summary");
    // the flag after the command works as before
    let o = env.run(&["backup", s, "--quiet"]);
    assert_ok(&o, &["backup", "--quiet"]);
    assert_eq!(text(&o.stderr), "");

    // --json before the command
    let before = env.ok(&["--json", "snapshots"]);
    let after = env.ok(&["snapshots", "--json"]);
    assert_eq!(before, after);
    let list: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let summary = last_json(&env.ok(&["--json", "backup", s]));
    assert_eq!(summary["message_type"], "summary");
    let ls = env.ok(&["--json", "ls", &id]);
    assert!(
        ls.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );

    // -q silences summaries of restore, check, forget and prune; results stay
    let target = env.path("restored");
    let o = env.run(&["-q", "restore", &id, "--target", target.to_str().unwrap()]);
    assert_ok(&o, &["-q", "restore"]);
    assert_eq!(text(&o.stderr), "");
    assert!(
        target
            .join(src.strip_prefix("/").unwrap())
            .join("d/b.txt")
            .exists()
    );
    let o = env.run(&["-q", "check", "--read-data"]);
    assert_ok(&o, &["-q", "check"]);
    assert_eq!(
        (text(&o.stdout), text(&o.stderr)),
        (String::new(), String::new())
    );
    let o = env.run(&[
        "-q",
        "forget",
        "--keep-last",
        "1",
        "--prune",
        "--instant-delete",
    ]);
    assert_ok(&o, &["-q", "forget"]);
    assert_eq!(text(&o.stderr), "");
    assert!(
        !text(&o.stdout).contains("size after"),
        "{}",
        text(&o.stdout)
    );
    let o = env.run(&["-q", "-v", "snapshots"]);
    assert_ne!(o.status.code(), Some(0), "-q and -v conflict");

    // -v before the command: progress lines on stderr even without a terminal
    let o = env.run(&["-v", "check"]);
    assert_ok(&o, &["-v", "check"]);
    assert!(text(&o.stdout).contains("no errors found"));
}

#[test]
fn help_shows_a_commands_own_flags_apart_from_the_global_ones() {
    let env = Env::new();
    let help = env.ok(&["backup", "--help"]);
    let global = help.find("Global options:").expect(&help);
    for own in ["--tag", "--exclude", "--files-from", "--stdin"] {
        let at = help.find(own).expect(own);
        assert!(
            at < global,
            "{own} is listed among the global options:\n{help}"
        );
    }
    for g in [
        "--repo",
        "--json",
        "--quiet",
        "--retry-lock",
        "--repository-file",
    ] {
        let at = help.rfind(g).expect(g);
        assert!(at > global, "{g} is not under Global options:\n{help}");
    }
}

#[test]
fn repository_file() {
    let env = Env::new();
    let file = env.path("repo-location");
    std::fs::write(&file, format!("{}\n# rest ignored\n", env.repo().display())).unwrap();
    let rdr = |args: &[&str], envs: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_rdr"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RDR_PASSWORD", PASSWORD)
            .envs(envs.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let f = file.to_str().unwrap();
    let o = rdr(&["--repository-file", f, "snapshots", "--json"], &[]);
    assert_ok(&o, &["--repository-file", "snapshots"]);
    assert_eq!(text(&o.stdout).trim(), "[]");
    let o = rdr(&["snapshots"], &[("RDR_REPOSITORY_FILE", f)]);
    assert_ok(&o, &["snapshots (RDR_REPOSITORY_FILE)"]);
    // -r and --repository-file together are refused
    let o = rdr(&["-r", "/x", "--repository-file", f, "snapshots"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    // an empty or missing file names itself
    let empty = env.path("empty");
    std::fs::write(&empty, "\n").unwrap();
    let o = rdr(
        &["--repository-file", empty.to_str().unwrap(), "snapshots"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is empty"), "{}", text(&o.stderr));
    let o = rdr(&["--repository-file", "/nonexistent/loc", "snapshots"], &[]);
    assert!(
        text(&o.stderr).contains("/nonexistent/loc"),
        "{}",
        text(&o.stderr)
    );
    // the help names the variable, never its value
    let o = rdr(&["--help"], &[("RDR_REPOSITORY_FILE", f)]);
    let help = text(&o.stdout);
    assert!(
        help.contains("RDR_REPOSITORY_FILE") && !help.contains(f),
        "{help}"
    );
}

#[test]
fn retry_lock_waits_for_a_lock_to_go() {
    let env = Env::new();
    // a stream backup holds its lock until its input ends
    let mut backup = env.spawn_piped(&["backup", "--stdin", "--stdin-filename", "s"]);
    let mut input = backup.stdin.take().unwrap();
    input.write_all(b"first part").unwrap();
    input.flush().unwrap();
    // wait until the backup's lock is there
    let locks = env.repo().join("locks");
    for _ in 0..200 {
        if std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0) > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // prune that deletes at once excludes backups: without waiting it fails
    let o = env.run(&["prune", "--instant-delete"]);
    assert_eq!(o.status.code(), Some(11), "{}", text(&o.stderr));
    // with --retry-lock it waits for the backup to finish, then runs
    let mut prune = env
        .cmd(&["--retry-lock", "2m", "prune", "--instant-delete"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(prune.try_wait().unwrap().is_none(), "prune did not wait");
    drop(input);
    assert!(backup.wait().unwrap().success());
    let out = prune.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // a lock that outlasts the retry time still fails, with exit 11
    let mut holder = env.spawn_piped(&["backup", "--stdin"]);
    let keep = holder.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let o = env.run(&["--retry-lock", "1s", "prune", "--instant-delete"]);
    assert_eq!(o.status.code(), Some(11), "{}", text(&o.stderr));
    drop(keep);
    assert!(holder.wait().unwrap().success());
}

#[test]
fn files_from_lists() {
    let env = Env::new();
    let dir = env.path("data");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["a", "b", " c d", "e\nf"] {
        std::fs::write(dir.join(name), name.as_bytes()).unwrap();
    }
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let commented = env.path("list.txt");
    std::fs::write(
        &commented,
        format!("# the database\n  {}  \n\n{}\n", p("a"), p("b")),
    )
    .unwrap();
    let verbatim = env.path("verbatim.txt");
    std::fs::write(&verbatim, format!("{}\n", p(" c d"))).unwrap();
    let raw = env.path("raw.bin");
    std::fs::write(&raw, format!("{}\0", p("e\nf"))).unwrap();

    let s = last_json(&env.ok(&[
        "backup",
        "--json",
        "--files-from",
        commented.to_str().unwrap(),
        "--files-from-verbatim",
        verbatim.to_str().unwrap(),
        "--files-from-raw",
        raw.to_str().unwrap(),
    ]));
    assert_eq!(s["files_new"], 4, "{s}");
    let snaps = env.snapshots();
    let mut paths: Vec<String> = snaps[0]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    let mut want = vec![p("a"), p("b"), p(" c d"), p("e\nf")];
    want.sort();
    assert_eq!(paths, want);

    // "-" reads the list from standard input
    let o = env.run_stdin(&["backup", "--files-from", "-"], p("a").as_bytes());
    assert_ok(&o, &["backup", "--files-from", "-"]);
    // a list naming nothing backs up nothing
    let empty = env.path("empty.txt");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let o = env.run(&["backup", "--files-from", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("nothing to back up"));
}

#[test]
fn completions_and_man_pages() {
    let env = Env::new();
    let dir = env.path("gen");
    std::fs::create_dir(&dir).unwrap();
    let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    env.ok(&[
        "generate",
        "--bash-completion",
        &f("rdr.bash"),
        "--zsh-completion",
        &f("_rdr"),
        "--fish-completion",
        &f("rdr.fish"),
        "--man",
        &f("man"),
    ]);
    // bash completes commands and a command's flags
    let script = format!(
        "source {}; COMP_WORDS=(rdr ba); COMP_CWORD=1; _rdr rdr ba rdr; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(rdr backup --files); COMP_CWORD=2; _rdr rdr --files backup; echo \"${{COMPREPLY[@]}}\"",
        f("rdr.bash")
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(
        out.lines().next() == Some("backup"),
        "{out}{}",
        text(&o.stderr)
    );
    assert!(out.contains("--files-from-raw"), "{out}");
    assert!(
        std::fs::read_to_string(f("_rdr"))
            .unwrap()
            .starts_with("#compdef rdr")
    );
    assert!(
        std::fs::read_to_string(f("rdr.fish"))
            .unwrap()
            .contains("complete -c rdr")
    );
    // a page per command, rendered by man(1) when it is there
    let page = std::fs::read_to_string(dir.join("man/rdr-backup.1")).unwrap();
    assert!(
        page.contains(".TH rdr-backup 1") && page.contains("files\\-from"),
        "{page}"
    );
    for name in [
        "rdr.1",
        "rdr-restore.1",
        "rdr-plan-drill.1",
        "rdr-key-add.1",
    ] {
        assert!(dir.join("man").join(name).exists(), "{name}");
    }
    if let Ok(o) = Command::new("man")
        .arg("-l")
        .arg(dir.join("man/rdr-backup.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        && o.status.success()
    {
        assert!(
            text(&o.stdout).contains("--files-from"),
            "{}",
            text(&o.stdout)
        );
    }
    // the same script on standard output
    let o = env.run(&["generate", "--bash-completion", "-"]);
    assert_eq!(
        text(&o.stdout),
        std::fs::read_to_string(f("rdr.bash")).unwrap()
    );
    let o = env.run(&["generate"]);
    assert_eq!(o.status.code(), Some(1));
}

/// Every pack file of the local repository, with the lines of its header
/// ("data|tree ID offset … length … raw …").
fn packs(env: &Env) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(env.repo().join("data")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            let lines = env
                .ok(&["cat", "pack-header", &name])
                .lines()
                .map(str::to_owned)
                .collect();
            out.push((name, lines));
        }
    }
    out
}

#[test]
fn find_objects_stats_modes_and_compact_snapshots() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("a.txt"), b"the same bytes").unwrap();
    std::fs::write(src.join("d/b.txt"), b"the same bytes").unwrap();
    std::fs::write(src.join("c.txt"), b"other bytes").unwrap();
    let s = src.to_str().unwrap();
    env.ok(&["-q", "backup", s, "--tag", "t1"]);

    let all = packs(&env);
    let header = |kind: &str| -> Vec<String> {
        all.iter()
            .flat_map(|(_, l)| l.iter())
            .filter(|l| l.starts_with(kind))
            .map(|l| l.split(' ').nth(1).unwrap().to_owned())
            .collect()
    };
    // the data blob of "the same bytes": used by a.txt and d/b.txt
    let data = header("data ");
    let mut found = Vec::new();
    for blob in &data {
        let out = env.ok(&["find", "--blob", &blob[..12]]);
        found.push(out);
    }
    let both = found
        .iter()
        .find(|o| o.contains("a.txt"))
        .expect("a.txt's blob");
    assert!(both.contains("b.txt") && !both.contains("c.txt"), "{both}");
    // a tree: the folder it describes
    let trees = header("tree ");
    let mut dirs = String::new();
    for t in &trees {
        dirs += &env.ok(&["find", "--tree", t]);
    }
    assert!(dirs.contains(&format!("{s}/d")), "{dirs}");
    // a pack: everything using what it holds (small blobs may be spread
    // over several packs: each finds some, together all three files)
    let mut paths: Vec<String> = Vec::new();
    for (pack, lines) in &all {
        if !lines.iter().any(|x| x.starts_with("data ")) {
            continue;
        }
        let out = env.ok(&["--json", "find", "--pack", &pack[..10]]);
        let found: Vec<String> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["path"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(!found.is_empty(), "pack {pack} is used by nothing");
        paths.extend(found);
    }
    for f in ["/a.txt", "/d/b.txt", "/c.txt"] {
        assert!(paths.iter().any(|p| p.ends_with(f)), "{f}: {paths:?}");
    }
    let o = env.run(&["find", "--pack", "zz"]);
    assert_eq!(o.status.code(), Some(1));
    let o = env.run(&["find", "--blob", "--tree", "ab"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--blob and --tree exclude each other"
    );

    // stats modes: two files with the same bytes are one content
    let j: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "stats"])).unwrap();
    assert_eq!(
        (j["files"].as_u64(), j["unique_files"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(j["unique_files_size"], 25);
    let by_contents = env.ok(&["stats", "--mode", "files-by-contents"]);
    assert!(
        by_contents.contains("2 distinct") && !by_contents.contains("restore size"),
        "{by_contents}"
    );
    let raw = env.ok(&["stats", "--mode", "raw-data"]);
    assert!(
        raw.contains("stored size") && !raw.contains("distinct"),
        "{raw}"
    );

    // snapshots --compact, and a count that agrees with its noun
    let c = env.ok(&["snapshots", "--compact"]);
    let lines: Vec<&str> = c.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].ends_with("Tags") && !c.contains("Paths"),
        "{c}"
    );
    assert!(lines[1].ends_with("t1"), "{c}");
    assert_eq!(lines.last(), Some(&"1 snapshot"));
}

#[test]
fn drills_and_rpos_are_per_group() {
    let env = Env::new();
    let src = source(&env);
    env.ok(&["-q", "backup", src.to_str().unwrap(), "--host", "db1"]);
    let o = env.run_stdin(
        &[
            "-q",
            "backup",
            "--stdin",
            "--stdin-filename",
            "tiny",
            "--host",
            "web",
        ],
        b"abc",
    );
    assert_ok(&o, &["backup tiny"]);
    // drilling the 3-byte stream must not make db1 look drilled
    env.ok(&[
        "drill",
        "--host",
        "web",
        "--scratch-dir",
        env.dir.path().to_str().unwrap(),
    ]);
    let prom = env.path("rdr.prom");
    let o = env.run(&[
        "--json",
        "status",
        "--drill-max-age",
        "1d",
        "--prometheus",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = j["problems"].to_string();
    assert!(
        problems.contains("db1") && problems.contains("no drill of this group"),
        "{problems}"
    );
    assert!(!problems.contains("web"), "{problems}");
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups[0]["last_drill"], serde_json::Value::Null);
    assert_eq!(groups[1]["last_drill"]["passed"], true);
    let metrics = std::fs::read_to_string(&prom).unwrap();
    let line = |host: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("rdr_group_drill_last_passed{")
                    && l.contains(&format!("host=\"{host}\""))
            })
            .unwrap_or_else(|| panic!("{metrics}"))
            .to_owned()
    };
    assert!(
        line("db1").ends_with(" 0") && line("web").ends_with(" 1"),
        "{metrics}"
    );
    // an RPO per group: db1 held to 1s goes stale, web to the default
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = env.run(&["status", "--rpo", "host=db1:1s", "--rpo", "24h"]);
    assert_eq!(o.status.code(), Some(6));
    let err = text(&o.stderr);
    assert!(
        err.contains("db1") && err.contains("RPO of 1s") && !err.contains("web"),
        "{err}"
    );
    let out = text(&o.stdout);
    assert!(
        out.contains("1 snapshot,") && out.contains("last drill of this group: never"),
        "{out}"
    );
    let o = env.run(&["status", "--rpo", "disk=x:1h"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn prune_frees_space_at_once_unless_a_backup_runs() {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let src = env.path("src");
    std::fs::create_dir(&src).unwrap();
    let s = src.to_str().unwrap();
    let prune = |env: &Env| -> serde_json::Value {
        let out = env.ok(&["--json", "prune"]);
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    };
    std::fs::write(src.join("f"), common::random_bytes(3 << 20, 1)).unwrap();
    env.ok(&["-q", "backup", s]);
    std::fs::write(src.join("f"), common::random_bytes(3 << 20, 2)).unwrap();
    env.ok(&["-q", "backup", s]);
    env.ok(&["-q", "forget", "--keep-last", "1"]);
    // no backup runs: the space is freed in this run, no grace period
    let p = prune(&env);
    assert!(p["deleted"]["bytes"].as_u64().unwrap() >= 3 << 20, "{p}");
    assert_eq!(p["marked"]["packs"], 0, "{p}");
    assert!(p["size_after"].as_u64().unwrap() < p["size_before"]["bytes"].as_u64().unwrap());

    // a backup runs: packs are only marked, and the backup is not held up
    std::fs::write(src.join("f"), common::random_bytes(3 << 20, 3)).unwrap();
    env.ok(&["-q", "backup", s]);
    env.ok(&["-q", "forget", "--keep-last", "1"]);
    let mut backup = env.spawn_piped(&["backup", "--stdin", "--stdin-filename", "s"]);
    let mut input = backup.stdin.take().unwrap();
    input.write_all(b"running").unwrap();
    let locks = env.repo().join("locks");
    while std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let p = prune(&env);
    assert!(p["marked"]["bytes"].as_u64().unwrap() >= 3 << 20, "{p}");
    assert_eq!(p["deleted"]["packs"], 0, "{p}");
    drop(input);
    assert!(backup.wait().unwrap().success());
    // the next prune with no backup running deletes what was marked
    let p = prune(&env);
    assert!(p["deleted"]["bytes"].as_u64().unwrap() >= 3 << 20, "{p}");
    env.ok(&["check", "--read-data"]);
}
