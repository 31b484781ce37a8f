//! A real PostgreSQL server (Debian's packages), started on a unix socket
//! in a temp dir (never a network port): a pgbench database is backed up
//! with `rdr backup --stdin-from-command -- pg_dump ...`, restored with
//! `rdr dump ... | psql` into a fresh database, and compared table by table.
//! Set RDR_SKIP_POSTGRES=1 to skip on a machine without PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Env, is_root};

struct Pg {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    data: PathBuf,
    sock: PathBuf,
}

fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_dump").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Runs a server program, as the postgres user when we are root.
fn server_cmd(bin: &Path, prog: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(prog));
        c
    } else {
        Command::new(bin.join(prog))
    }
}

fn check(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Pg {
    fn start() -> Option<Self> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var_os("RDR_SKIP_POSTGRES").is_some(),
                "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql, or set RDR_SKIP_POSTGRES=1)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("rdr-pg-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path()),
            );
        }
        check(
            server_cmd(&bin, "initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data),
        );
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync=off",
            sock.display()
        );
        check(
            server_cmd(&bin, "pg_ctl")
                .args(["-w", "-D"])
                .arg(&data)
                .args(["-o", &opts, "-l"])
                .arg(dir.path().join("log"))
                .arg("start"),
        );
        Some(Self {
            _dir: dir,
            bin,
            data,
            sock,
        })
    }

    fn client(&self, prog: &str) -> Command {
        let mut c = Command::new(self.bin.join(prog));
        c.arg("-h").arg(&self.sock).args(["-U", "postgres"]);
        c
    }

    fn sql(&self, db: &str, q: &str) -> String {
        check(
            self.client("psql")
                .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", q]),
        )
        .trim()
        .to_owned()
    }

    /// Row count and an md5 of every row, per pgbench table.
    fn fingerprint(&self, db: &str) -> Vec<String> {
        ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
            .iter()
            .map(|t| {
                self.sql(
                    db,
                    &format!("SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"),
                )
            })
            .collect()
    }

    /// `rdr dump latest NAME | psql DB` into a fresh database.
    fn restore_into(&self, env: &Env, name: &str, db: &str) {
        self.sql("postgres", &format!("CREATE DATABASE {db}"));
        let mut dump = env
            .cmd(&["dump", "latest", name])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let psql = self
            .client("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db])
            .stdin(Stdio::from(dump.stdout.take().unwrap()))
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(dump.wait().unwrap().success(), "rdr dump failed");
        assert!(
            psql.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&psql.stderr)
        );
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = server_cmd(&self.bin, "pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn pg_dump_backup_restores_into_a_fresh_database() {
    let Some(pg) = Pg::start() else { return };
    let env = Env::new();
    pg.sql("postgres", "CREATE DATABASE bench");
    check(pg.client("pgbench").args(["-i", "-q", "-s", "2", "bench"]));
    let sock = pg.sock.to_str().unwrap().to_owned();
    let pg_dump = pg.bin.join("pg_dump");
    let pg_dump = pg_dump.to_str().unwrap();
    let backup = |db: &str| {
        env.run(&[
            "backup",
            "--json",
            "--stdin-from-command",
            "--stdin-filename",
            "bench.sql",
            "--",
            pg_dump,
            "-h",
            &sock,
            "-U",
            "postgres",
            db,
        ])
    };

    let o = backup("bench");
    common::assert_ok(&o, &["backup pg_dump"]);
    let s = common::last_json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(s["stream"]["exit_status"], 0);
    assert!(s["stream"]["bytes"].as_u64().unwrap() > 10 << 20, "{s}");
    pg.restore_into(&env, "bench.sql", "restored1");
    let original = pg.fingerprint("bench");
    assert_eq!(pg.fingerprint("restored1"), original);

    // A failing pg_dump (no such database) leaves no snapshot.
    let o = backup("no_such_database");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exited with status"));
    assert_eq!(env.snapshots().len(), 1);

    // Change the database and back it up again: `latest` is the new dump.
    check(pg.client("pgbench").args([
        "-n",
        "-c",
        "1",
        "-t",
        "300",
        "--random-seed",
        "42",
        "bench",
    ]));
    let changed = pg.fingerprint("bench");
    assert_ne!(changed, original);
    common::assert_ok(&backup("bench"), &["second backup"]);
    pg.restore_into(&env, "bench.sql", "restored2");
    assert_eq!(pg.fingerprint("restored2"), changed);
    assert_eq!(env.snapshots().len(), 2);
}

/// The health command of the drill test: a scratch PostgreSQL on a unix
/// socket in a fresh temp dir loads the restored dump and counts rows.
fn health_script(bin: &Path, rows: u64) -> String {
    let run_as = if is_root() {
        "runuser -u postgres --"
    } else {
        ""
    };
    let chown = if is_root() {
        "chown -R postgres:postgres \"$D\""
    } else {
        ""
    };
    format!(
        r#"set -eu
BIN='{bin}'
D=$(mktemp -d "${{TMPDIR:-/tmp}}/rdr-drill-pg-XXXXXX")
mkdir "$D/sock"
{chown}
trap '{run_as} "$BIN/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
{run_as} "$BIN/initdb" -A trust -U postgres --no-sync -D "$D/data" >/dev/null
{run_as} "$BIN/pg_ctl" -w -D "$D/data" -l "$D/log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$D/sock' -c fsync=off" start >/dev/null
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/sock" -U postgres -d postgres \
  -f "$RDR_DRILL_TARGET/bench.sql" >/dev/null
n=$("$BIN/psql" -X -At -h "$D/sock" -U postgres -d postgres -c 'SELECT count(*) FROM pgbench_accounts')
echo "pgbench_accounts: $n rows"
test "$n" -eq {rows}
"#,
        bin = bin.display()
    )
}

/// The acceptance drill: a pgbench dump is restored into scratch space,
/// verified, loaded into a scratch PostgreSQL by the health command, and
/// timed; then a byte of a data pack is flipped and the same drill fails,
/// naming the file and the damaged pack, and `status` reports the failure.
#[test]
fn drill_of_a_pgbench_dump_loads_it_into_a_scratch_postgres() {
    let Some(pg) = Pg::start() else { return };
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    pg.sql("postgres", "CREATE DATABASE bench");
    check(pg.client("pgbench").args(["-i", "-q", "-s", "2", "bench"]));
    let pg_dump = pg.bin.join("pg_dump");
    let sock = pg.sock.to_str().unwrap().to_owned();
    common::assert_ok(
        &env.run(&[
            "backup",
            "--stdin-from-command",
            "--stdin-filename",
            "bench.sql",
            "--",
            pg_dump.to_str().unwrap(),
            "-h",
            &sock,
            "-U",
            "postgres",
            "bench",
        ]),
        &["backup"],
    );
    let script = env.path("health.sh");
    std::fs::write(&script, health_script(&pg.bin, 200_000)).unwrap();
    let scratch = env.path("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let report = env.path("drill.json");
    let health = format!("sh {}", script.display());
    let drill = |args: &[&str]| {
        let mut all = vec![
            "drill",
            "latest",
            "--scratch-dir",
            scratch.to_str().unwrap(),
            "--health-cmd",
            &health,
            "--rto",
            "1h",
            "--report",
            report.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let o = env.run(&all);
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        (o, r)
    };

    let (o, r) = drill(&[]);
    common::assert_ok(&o, &["drill"]);
    assert_eq!(r["schema"], "rdr-drill-report/1");
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(r["files"], 1);
    assert_eq!(r["files_verified"], 1);
    assert!(r["bytes"].as_u64().unwrap() > 10 << 20, "{r}");
    assert_eq!(r["health"]["exit_code"], 0);
    assert!(
        r["health"]["output"]
            .as_str()
            .unwrap()
            .contains("pgbench_accounts: 200000 rows"),
        "{r:#}"
    );
    let phases = r["phases_seconds"].as_object().unwrap();
    for p in ["load", "fetch", "decrypt", "write", "verify", "health"] {
        assert!(phases[p].as_f64().unwrap() >= 0.0, "{p} in {r}");
    }
    let sum: f64 = phases.values().map(|v| v.as_f64().unwrap()).sum();
    let total = r["total_seconds"].as_f64().unwrap();
    assert!(phases["health"].as_f64().unwrap() > 0.0);
    assert!(
        sum <= total + 0.01 && sum >= total * 0.5,
        "{sum} vs {total}"
    );
    assert_eq!(r["rto_met"], true);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("PASSED"), "{stdout}");
    assert!(
        stdout.contains("fetch") && stdout.contains("health"),
        "{stdout}"
    );
    // the scratch data is gone
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    let st = env.run(&["status", "--json", "--rpo", "1h"]);
    common::assert_ok(&st, &["status"]);

    // Damage the largest data pack: the drill fails and says why.
    let mut packs: Vec<(u64, PathBuf)> = Vec::new();
    for fan in std::fs::read_dir(env.repo().join("data")).unwrap() {
        for p in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            let p = p.unwrap().path();
            packs.push((std::fs::metadata(&p).unwrap().len(), p));
        }
    }
    packs.sort();
    let (_, victim) = packs.pop().unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let (o, r) = drill(&[]);
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert_eq!(r["passed"], false);
    let errors = r["errors"].to_string();
    assert!(errors.contains("bench.sql"), "{errors}");
    assert!(
        errors.contains("authentication") || errors.contains("does not match"),
        "{errors}"
    );
    assert!(
        r["health"].is_null(),
        "the health command must not run: {r}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("bench.sql"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAILED"));
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    let st = env.run(&["status"]);
    assert_eq!(st.status.code(), Some(6), "{st:?}");
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("the last drill") && err.contains("failed"),
        "{err}"
    );
}

/// Dumps on stdin without a database: streams, commands, failing commands.
#[test]
fn stdin_and_command_backups() {
    let env = Env::new();
    let first = b"-- dump one\nCREATE TABLE t (id int);\n".repeat(1000);
    let second = b"-- dump two\nCREATE TABLE u (id int);\n".repeat(1000);
    for data in [&first, &second] {
        let o = env.run_stdin(
            &["backup", "--stdin", "--stdin-filename", "appdb.sql"],
            data,
        );
        common::assert_ok(&o, &["backup", "--stdin"]);
    }
    // The second stream is what `latest` holds (never a "parent" copy of the first).
    let o = env.run(&["dump", "latest", "appdb.sql"]);
    assert_eq!(o.stdout, second);
    let snaps = env.snapshots();
    let st = &snaps[1]["stream"];
    assert_eq!(st["bytes"], second.len());
    assert_eq!(st["blake3"], blake3::hash(&second).to_hex().to_string());
    assert_eq!(snaps[1]["paths"], serde_json::json!(["/appdb.sql"]));

    // A command: its output, exit status and argv are recorded.
    let s = env.backup_json(&[
        "--stdin-from-command",
        "--stdin-filename",
        "gen.txt",
        "--",
        "printf",
        "abc",
    ]);
    assert_eq!(s["stream"]["bytes"], 3);
    assert_eq!(s["stream"]["exit_status"], 0);
    assert_eq!(env.ok(&["dump", "latest", "gen.txt"]), "abc");
    // A failing command writes no snapshot and says why.
    let o = env.run(&[
        "backup",
        "--stdin-from-command",
        "--stdin-filename",
        "bad.sql",
        "--",
        "sh",
        "-c",
        "echo partial; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exited with status 7") && err.contains("no snapshot"),
        "{err}"
    );
    assert_eq!(env.snapshots().len(), 3);
    let o = env.run(&["backup", "--stdin-from-command", "--", "/no/such/program"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(env.snapshots().len(), 3);
}

/// The recovery plan of docs/plan.md on a real database: `plan run` dumps
/// it with `pg_dump --format=custom` into the local copy and copies it to
/// an append-only off-site one, `plan check` finds the plan in policy,
/// `plan drill --from offsite` restores the dump and checks it with
/// `pg_restore --list`, and the off-site dump restores into a database
/// equal to the original.
#[test]
fn a_plan_dumps_postgres_copies_it_off_site_and_drills_it() {
    let Some(pg) = Pg::start() else { return };
    let env = Env::new();
    pg.sql("postgres", "CREATE DATABASE appdb");
    check(pg.client("pgbench").args(["-i", "-q", "-s", "1", "appdb"]));
    let offsite = env.path("offsite");
    let offsite = offsite.to_str().unwrap();
    let rdr = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RDR_PASSWORD", common::PASSWORD)
            .env("TMPDIR", env.dir.path())
            .args(args)
            .stdin(Stdio::null());
        c
    };
    check(&mut rdr(&[
        "-r",
        offsite,
        "init",
        "--append-only",
        "--kdf-log-n",
        "10",
    ]));
    let plan = format!(
        r#"
production_site = "db-site"

[repositories.local]
location = "{local}"
site = "db-site"

[repositories.offsite]
location = "{offsite}"
site = "dr-site"
immutable = true

[services.appdb]
tier = 1
rpo = "1h"
rto = "10m"
command = ["{bin}/pg_dump", "-h", "{sock}", "-U", "postgres", "--format=custom", "appdb"]
filename = "appdb.dump"
copies = ["local", "offsite"]
retention = {{ keep_hourly = 24, keep_daily = 7 }}
health_command = "{bin}/pg_restore --list appdb.dump > /dev/null"
"#,
        local = env.repo().display(),
        bin = pg.bin.display(),
        sock = pg.sock.display(),
    );
    let file = env.path("plan.toml");
    std::fs::write(&file, plan).unwrap();
    let file = file.to_str().unwrap();
    let json = |args: &[&str], code: i32| -> serde_json::Value {
        let o = rdr(args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(code),
            "rdr {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let r = json(&["plan", "run", file, "--json"], 0);
    let steps = r["services"][0]["steps"].to_string();
    assert!(steps.contains("\"copy\""), "{r}");
    assert!(r["check"]["ok"].as_bool().unwrap(), "{r}");
    let r = json(&["plan", "check", file, "--json"], 0);
    assert_eq!(r["services"][0]["rule_321"]["ok"], true, "{r}");
    let r = json(&["plan", "drill", file, "--from", "offsite", "--json"], 0);
    let d = &r["services"][0];
    assert_eq!(
        (d["repository"].as_str(), d["ok"].as_bool()),
        (Some("offsite"), Some(true)),
        "{r}"
    );
    assert_eq!(d["report"]["health"]["exit_code"], 0, "{r}");
    // the drill is recorded where it restored from
    let r = json(&["plan", "check", file, "--json"], 0);
    assert_eq!(
        r["services"][0]["last_drill"]["repository"], "offsite",
        "{r}"
    );

    pg.sql("postgres", "CREATE DATABASE restored");
    let mut dump = rdr(&["-r", offsite, "dump", "latest", "appdb.dump"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let restore = pg
        .client("pg_restore")
        .args(["--no-owner", "-d", "restored"])
        .stdin(Stdio::from(dump.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(dump.wait().unwrap().success(), "rdr dump failed");
    assert!(
        restore.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(pg.fingerprint("restored"), pg.fingerprint("appdb"));
}
