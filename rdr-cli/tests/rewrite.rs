//! `rdr rewrite` through the real binary: drop a file backed up by mistake
//! from existing snapshots, keep or forget the originals, purge its data
//! with prune, and refuse to leave a snapshot empty.

mod common;

use std::fs;

use common::{Env, random_bytes};

fn paths(env: &Env, snap: &str) -> Vec<String> {
    env.ok(&["ls", "--json", snap])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["path"].as_str().map(str::to_owned))
        .collect()
}

fn report(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn by_id<'a>(snaps: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    snaps
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no snapshot {id} in {snaps:?}"))
}

#[test]
fn rewrite_drops_paths_keeps_or_forgets_originals_and_prune_purges_them() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("app/logs")).unwrap();
    fs::write(src.join("app/config.yml"), b"port: 8080\n").unwrap();
    fs::write(src.join("app/logs/a.log"), b"started\n").unwrap();
    // the mistake: a 3 MiB database dump with secrets in it
    let secret = random_bytes(3 << 20, 7);
    fs::write(src.join("app/secrets.sql"), &secret).unwrap();
    let s = src.to_str().unwrap();
    let first = env.backup_json(&["--tag", "nightly", s]);
    fs::write(src.join("app/config.yml"), b"port: 9090\n").unwrap();
    let second = env.backup_json(&["--tag", "nightly", s]);
    let stream = env.run_stdin(
        &["-q", "backup", "--stdin", "--stdin-filename", "db.sql"],
        b"x",
    );
    assert!(stream.status.success());
    let (id1, id2) = (
        first["snapshot_id"].as_str().unwrap().to_owned(),
        second["snapshot_id"].as_str().unwrap().to_owned(),
    );
    let secret_path = format!("{s}/app/secrets.sql");
    assert!(paths(&env, &id1).contains(&secret_path));
    let before = env.repo_data_bytes();

    // nothing to do without a pattern or a new host/time
    let o = env.run(&["rewrite"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to do"));

    // a dry run names what it would drop and changes nothing
    let r = report(&env.ok(&["--json", "rewrite", "-n", "--exclude", "secrets.sql"]));
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["rewritten"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["unchanged"], 1, "the stream snapshot holds no match: {r}");
    assert_eq!(r["rewritten"][0]["dropped"][0], secret_path.as_str());
    assert_eq!(r["rewritten"][0]["bytes_dropped"], 3 << 20);
    assert!(r["rewritten"][0]["new"].is_null());
    assert_eq!(env.snapshots().len(), 3);

    // a rewrite of one snapshot, the original kept; patterns from a file too
    let list = env.path("patterns");
    fs::write(&list, "# logs are not worth keeping\n*.log\n").unwrap();
    let out = env.ok(&[
        "rewrite",
        &id1,
        "--exclude",
        "secrets.sql",
        "--exclude-file",
        list.to_str().unwrap(),
    ]);
    assert!(out.contains(&format!("dropped {secret_path}")), "{out}");
    assert!(
        out.contains(
            "1 snapshot rewritten (2 files of 3.0 MiB dropped), 0 unchanged, 0 originals removed"
        ),
        "{out}"
    );
    let snaps = env.snapshots();
    assert_eq!(snaps.len(), 4);
    let new = snaps
        .iter()
        .find(|s| s["original"] == id1.as_str())
        .expect("the rewritten snapshot points to its original");
    let new_id = new["id"].as_str().unwrap();
    assert!(new["tags"].as_array().unwrap().contains(&"rewrite".into()));
    assert!(new["tags"].as_array().unwrap().contains(&"nightly".into()));
    assert_eq!(new["time"], by_id(&snaps, &id1)["time"]);
    assert_eq!(new["excludes"], serde_json::json!(["secrets.sql", "*.log"]));
    let total = |s: &serde_json::Value| s["summary"]["bytes_total"].as_u64().unwrap();
    assert_eq!(total(new), total(by_id(&snaps, &id1)) - (3 << 20) - 8);
    let listed = paths(&env, new_id);
    assert!(!listed.contains(&secret_path) && !listed.iter().any(|p| p.ends_with(".log")));
    assert!(listed.contains(&format!("{s}/app/config.yml")));
    // the rest restores as it was
    let target = env.path("restored");
    env.ok(&["restore", new_id, "--target", target.to_str().unwrap()]);
    let back = target.join(src.strip_prefix("/").unwrap()).join("app");
    assert_eq!(fs::read(back.join("config.yml")).unwrap(), b"port: 8080\n");
    assert!(!back.join("secrets.sql").exists() && back.join("logs").is_dir());

    // a rewrite that would leave a snapshot empty is refused, before writing
    let o = env.run(&["rewrite", &id2, "--exclude", s]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("empty") && err.contains("rdr forget"), "{err}");
    assert_eq!(env.snapshots().len(), 4);

    // the purge: every snapshot that holds the file, with --forget, then prune
    let r = report(&env.ok(&["--json", "rewrite", "--forget", "--exclude", "secrets.sql"]));
    assert_eq!(r["rewritten"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(
        (r["forgotten"].as_u64(), r["unchanged"].as_u64()),
        (Some(2), Some(2))
    );
    let snaps = env.snapshots();
    assert_eq!(snaps.len(), 4);
    assert!(
        snaps
            .iter()
            .all(|s| s["id"] != id1.as_str() && s["id"] != id2.as_str())
    );
    for s in &snaps {
        let id = s["id"].as_str().unwrap();
        assert!(!paths(&env, id).contains(&secret_path), "{id}");
    }
    env.ok(&["prune"]);
    let after = env.repo_data_bytes();
    assert!(
        after + (3 << 20) <= before + (64 << 10),
        "prune frees the dropped data: {before} -> {after}"
    );
    env.ok(&["check", "--read-data"]);

    // metadata alone: a new host (and the rewrite tag) for the stream snapshot
    let r = report(&env.ok(&[
        "--json",
        "rewrite",
        "--path",
        "/db.sql",
        "--new-host",
        "db2",
        "--new-time",
        "2026-01-02 03:04:05",
        "--forget",
    ]));
    assert_eq!(r["rewritten"].as_array().unwrap().len(), 1, "{r}");
    let snaps = env.snapshots();
    let moved = snaps.iter().find(|s| s["hostname"] == "db2").unwrap();
    assert_eq!(moved["time"], "2026-01-02T03:04:05.000000000Z");
    assert_eq!(moved["paths"], serde_json::json!(["/db.sql"]));
    assert_eq!(
        env.ok(&["dump", moved["id"].as_str().unwrap(), "/db.sql"]),
        "x"
    );

    // counts agree with their nouns
    let o = env.run(&["forget", moved["id"].as_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("removed 1 snapshot\n"),
        "{err}"
    );
    let out = env.ok(&["check"]);
    assert!(
        out.contains(", 3 snapshots, ") && !out.contains(" 1 packs"),
        "{out}"
    );
}
