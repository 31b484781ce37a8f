//! `rdr drill` and `rdr status` through the real binary: a drill restores,
//! verifies, runs its health command and removes its scratch data; each way
//! a drill fails (health command, timeout, RTO, damage) fails it with the
//! reason; `status` judges freshness against the RPO and the last check
//! and drill, and its Prometheus file parses with the reference Python
//! parser (Debian's python3-prometheus-client).

mod common;

use std::path::Path;
use std::process::Command;

use common::Env;

fn tree(env: &Env) -> String {
    use std::os::unix::fs::PermissionsExt;
    let src = env.path("src");
    std::fs::create_dir_all(src.join("etc/ro")).unwrap();
    std::fs::write(src.join("etc/app.conf"), "port = 5432\n").unwrap();
    std::fs::write(src.join("etc/ro/secret"), common::random_bytes(300_000, 1)).unwrap();
    std::fs::write(src.join("data.bin"), common::random_bytes(2_000_000, 2)).unwrap();
    std::os::unix::fs::symlink("etc/app.conf", src.join("conf")).unwrap();
    std::fs::hard_link(src.join("data.bin"), src.join("data.link")).unwrap();
    // a read-only directory: the drill must still remove what it restored
    std::fs::set_permissions(src.join("etc/ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    src.to_str().unwrap().to_owned()
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn drill_passes_fails_for_each_reason_and_cleans_up() {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let src = tree(&env);
    env.ok(&["backup", &src, "--tag", "daily"]);
    let scratch = env.path("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let rep = env.path("r.json");
    let (s, r) = (scratch.to_str().unwrap(), rep.to_str().unwrap());

    // passes; the health command sees the restored data
    let health = format!("cmp \"$RDR_DRILL_TARGET{src}/data.bin\" {src}/data.bin && echo same");
    let o = env.run(&[
        "drill",
        "--scratch-dir",
        s,
        "--report",
        r,
        "--health-cmd",
        &health,
    ]);
    common::assert_ok(&o, &["drill"]);
    let j = report(&rep);
    assert_eq!(j["passed"], true, "{j:#}");
    assert_eq!(
        (j["files"].as_u64(), j["files_verified"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (j["links"].as_u64(), j["others"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(j["health"]["output"], "same\n");
    assert_eq!(j["kept"], false);
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "scratch left behind"
    );

    // --target must be empty; --keep leaves the data
    let target = env.path("drill-target");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("precious"), "x").unwrap();
    let t = target.to_str().unwrap();
    let o = env.run(&["drill", "--target", t]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    assert!(target.join("precious").exists());
    std::fs::remove_file(target.join("precious")).unwrap();
    common::assert_ok(
        &env.run(&["drill", "--target", t, "--keep"]),
        &["drill --keep"],
    );
    assert_eq!(
        std::fs::read(target.join(&src[1..]).join("data.link"))
            .unwrap()
            .len(),
        2_000_000
    );

    // each way of failing: exit 5 and the reason in the report
    let cases: [(&[&str], &str); 3] = [
        (
            &["--health-cmd", "echo 'rows: 0' >&2; exit 3"],
            "exited with status 3: rows: 0",
        ),
        (
            &["--health-cmd", "sleep 20", "--health-timeout", "1s"],
            "ran past its time limit",
        ),
        (
            &["--health-cmd", "sleep 2", "--rto", "1s"],
            "longer than the RTO of 1s",
        ),
    ];
    for (args, why) in cases {
        let mut all = vec!["drill", "--scratch-dir", s, "--report", r];
        all.extend_from_slice(args);
        let o = env.run(&all);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {o:?}");
        let j = report(&rep);
        assert_eq!(j["passed"], false);
        assert!(j["errors"].to_string().contains(why), "{args:?}: {j:#}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(why));
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    }

    // --json prints the same report
    let o = env.run(&["drill", "--scratch-dir", s, "--json"]);
    let line = String::from_utf8_lossy(&o.stdout);
    let j: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(j["schema"], "rdr-drill-report/1");
    assert_eq!(j["passed"], true);
}

fn python_parse(prom: &Path) -> serde_json::Value {
    // Debian's python3 (its dist-packages hold prometheus_client)
    let py = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import prometheus_client.parser"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "python3 with prometheus_client is needed (apt-get install python3-prometheus-client)",
        );
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        out.setdefault(s.name, []).append({"labels": s.labels, "value": s.value, "type": fam.type})
print(json.dumps(out))
"#;
    let o = Command::new(py)
        .args(["-c", script])
        .arg(prom)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "parser: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn status_judges_the_rpo_and_the_last_check_and_drill() {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let src = tree(&env);
    let old = "2020-01-01 00:00:00";
    env.ok(&["backup", &src, "--host", "web\"1", "--time", old]);
    env.ok(&["backup", &src, "--host", "db1", "--tag", "daily,pg"]);

    // web"1's newest snapshot is years old: stale
    let o = env.run(&["status", "--rpo", "24h"]);
    assert_eq!(o.status.code(), Some(6), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("web\"1") && err.contains("older than the RPO of 1d"),
        "{err}"
    );
    assert!(!err.contains("db1"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("last check: never") && out.contains("last drill: never"),
        "{out}"
    );

    // only db1, a passing check and drill: healthy
    env.ok(&["check", "--read-data"]);
    env.ok(&[
        "drill",
        "--host",
        "db1",
        "--scratch-dir",
        env.dir.path().to_str().unwrap(),
    ]);
    let prom = env.path("rdr.prom");
    let p = prom.to_str().unwrap();
    let o = env.run(&[
        "status",
        "--rpo",
        "24h",
        "--host",
        "db1",
        "--drill-max-age",
        "1d",
        "--prometheus",
        p,
        "--json",
    ]);
    common::assert_ok(&o, &["status db1"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["healthy"], true, "{j:#}");
    assert_eq!(j["groups"].as_array().unwrap().len(), 1);
    assert_eq!(j["last_check"]["passed"], true);
    assert_eq!(j["last_check"]["read_data"], "all");
    assert_eq!(j["last_drill"]["passed"], true);

    let m = python_parse(&prom);
    let latest = &m["rdr_snapshot_latest_timestamp_seconds"][0];
    assert_eq!(latest["labels"]["host"], "db1");
    assert_eq!(latest["labels"]["paths"], src.as_str());
    assert_eq!(latest["labels"]["tags"], "daily,pg");
    assert_eq!(latest["type"], "gauge");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let t = latest["value"].as_f64().unwrap();
    assert!(t > now - 3600.0 && t <= now, "{t} vs {now}");
    let one = |name: &str| {
        m[name][0]["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {m}"))
    };
    assert!(one("rdr_snapshot_latest_size_bytes") >= 4_300_000.0);
    assert!(one("rdr_repository_size_bytes") > 2_000_000.0);
    assert!(one("rdr_check_last_success_timestamp_seconds") > now - 3600.0);
    assert!(one("rdr_drill_last_success_timestamp_seconds") > now - 3600.0);
    assert!(one("rdr_drill_last_duration_seconds") > 0.0);
    assert_eq!(one("rdr_snapshot_rpo_seconds"), 86_400.0);
    assert_eq!(one("rdr_status_healthy"), 1.0);

    // every group, escaped label values included, parses too
    let o = env.run(&["status", "--prometheus", p]);
    common::assert_ok(&o, &["status all"]);
    let m = python_parse(&prom);
    let hosts: Vec<&str> = m["rdr_snapshot_latest_timestamp_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["labels"]["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["db1", "web\"1"]);

    // a failed drill turns the status unhealthy; so does an old last pass
    let o = env.run(&["drill", "--host", "db1", "--health-cmd", "false"]);
    assert_eq!(o.status.code(), Some(5));
    let o = env.run(&["status", "--host", "db1", "--prometheus", p]);
    assert_eq!(o.status.code(), Some(6));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the last drill") && err.contains("health command exited with status 1"),
        "{err}"
    );
    let m = python_parse(&prom);
    assert_eq!(m["rdr_drill_last_passed"][0]["value"], 0.0);
    assert_eq!(m["rdr_status_healthy"][0]["value"], 0.0);
    assert!(
        m["rdr_drill_last_success_timestamp_seconds"][0]["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}
