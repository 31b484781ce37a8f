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
