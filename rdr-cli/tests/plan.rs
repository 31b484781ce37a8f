//! `rdr plan check|run|drill` with the real binary against real servers:
//! a local repository in the production site, S3 (`rclone serve s3`) in
//! another, an append-only SFTP vault (OpenSSH refusing removals) in a
//! third, and one S3 server that has died. The vault misses a copy while
//! its server is down, so it holds a stale snapshot.

mod common;

use std::ffi::OsString;
use std::process::{Command, Output, Stdio};

use rdr_tests::servers::{S3Server, SshServer};

struct Env {
    path: OsString,
    dir: tempfile::TempDir,
}

impl Env {
    fn rdr(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
        c.env_clear()
            .env("PATH", &self.path)
            .env("RDR_CACHE_DIR", self.dir.path().join("cache"))
            .env("TMPDIR", self.dir.path())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.rdr(args).output().unwrap()
    }

    /// Runs `rdr args`, expecting exit `code`; stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "rdr {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
        String::from_utf8(o.stdout).unwrap()
    }

    fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        serde_json::from_str(&self.expect(args, code)).unwrap()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

fn service<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {r}"))
}

fn copy<'a>(s: &'a serde_json::Value, repo: &str) -> &'a serde_json::Value {
    s["copies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["repository"] == repo)
        .unwrap_or_else(|| panic!("no copy {repo} in {s}"))
}

fn steps(r: &serde_json::Value, name: &str) -> Vec<(String, String, bool)> {
    service(r, name)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["repository"].as_str().unwrap().to_owned(),
                s["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn write_plan(e: &Env, s3: &S3Server, gone: &S3Server, ssh: &SshServer) -> String {
    let env_file = e.path("s3.env");
    let vars: Vec<String> = s3.env().iter().map(|(k, v)| format!("{k}={v}")).collect();
    std::fs::write(&env_file, vars.join("\n") + "\n").unwrap();
    std::fs::write(e.path("local.pw"), "local pw\n").unwrap();
    std::fs::write(e.path("s3.pw"), "s3 pw\n").unwrap();
    std::fs::write(e.path("vault.pw"), "vault pw\n").unwrap();
    std::fs::write(e.path("dump"), common::random_bytes(2 << 20, 7)).unwrap();
    std::fs::create_dir_all(e.path("www")).unwrap();
    std::fs::write(e.path("www/index.html"), "<h1>hello</h1>\n").unwrap();
    let plan = format!(
        r#"
production_site = "prod"
drill_max_age = "7d"

[repositories.local]
location = "{local}"
site = "prod"
password_file = "{d}/local.pw"

[repositories.offsite]
location = "{s3}"
site = "cloud"
password_command = "cat {d}/s3.pw"
env_file = "{env_file}"

[repositories.vault]
location = "{vault}"
site = "bunker"
immutable = true
password_file = "{d}/vault.pw"

[repositories.gone]
location = "{gone}"
site = "elsewhere"
password_file = "{d}/s3.pw"
env_file = "{env_file}"

[services.appdb]
tier = 1
rpo = "1h"
rto = "10m"
command = ["cat", "{d}/dump"]
filename = "appdb.dump"
copies = ["local", "offsite", "vault"]
retention = {{ keep_last = 5 }}
health_command = "test -s appdb.dump"

[services.www]
tier = 2
rpo = "24h"
rto = "1h"
paths = ["{d}/www"]
copies = ["local", "gone"]
retention = {{ keep_last = 1 }}
"#,
        d = e.dir.path().display(),
        local = e.path("local"),
        s3 = s3.location("offsite"),
        vault = ssh.location("vault"),
        gone = gone.location("gone"),
    );
    let file = e.path("plan.toml");
    std::fs::write(&file, plan).unwrap();
    file
}

#[test]
fn plan_check_run_and_drill_with_a_stale_copy_and_an_unreachable_one() {
    let s3 = S3Server::start("plan");
    let mut gone = S3Server::start("plan-gone");
    let mut ssh = SshServer::append_only();
    let e = Env {
        path: ssh.path(),
        dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap(),
    };
    let plan = write_plan(&e, &s3, &gone, &ssh);
    let init = |loc: &str, pw: &str, extra: &[&str]| {
        let mut a = vec![
            "-r",
            loc,
            "--password-file",
            pw,
            "init",
            "--kdf-log-n",
            "10",
        ];
        a.extend_from_slice(extra);
        let mut c = e.rdr(&a);
        for (k, v) in s3.env() {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "init {loc}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    init(&e.path("local"), &e.path("local.pw"), &[]);
    init(&s3.location("offsite"), &e.path("s3.pw"), &[]);
    init(
        &ssh.location("vault"),
        &e.path("vault.pw"),
        &["--append-only"],
    );
    init(&gone.location("gone"), &e.path("s3.pw"), &[]);
    gone.kill();

    // two hours ago: a dump reached the local copy and the vault
    let old = rdr_core::jiff::Timestamp::now() - rdr_core::jiff::SignedDuration::from_hours(2);
    let old = old.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let local = e.path("local");
    let local_pw = e.path("local.pw");
    let dump = e.path("dump");
    let lp = ["-r", local.as_str(), "--password-file", local_pw.as_str()];
    let mut a = lp.to_vec();
    a.extend([
        "backup",
        "--tag",
        "appdb",
        "--time",
        &old,
        "--stdin-from-command",
    ]);
    a.extend(["--stdin-filename", "appdb.dump", "--", "cat", &dump]);
    e.expect(&a, 0);
    let vault_loc = ssh.location("vault");
    let vault_pw = e.path("vault.pw");
    let from_pw = e.path("local.pw");
    e.expect(
        &[
            "-r",
            &vault_loc,
            "--password-file",
            &vault_pw,
            "copy",
            "--from-repo",
            &local,
            "--from-password-file",
            &from_pw,
        ],
        0,
    );

    // the vault's server is down during the run: its copy fails, the rest
    // goes on; so does the dead server's
    ssh.kill();
    let metrics = e.path("plan.prom");
    let r = e.json(
        &["plan", "run", &plan, "--json", "--prometheus", &metrics],
        1,
    );
    let db = steps(&r, "appdb");
    assert_eq!(db[0], ("backup".into(), "local".into(), true), "{r}");
    assert!(db.contains(&("copy".into(), "offsite".into(), true)), "{r}");
    assert!(db.contains(&("copy".into(), "vault".into(), false)), "{r}");
    let www = steps(&r, "www");
    assert_eq!(www[0], ("backup".into(), "local".into(), true), "{r}");
    assert!(www.contains(&("copy".into(), "gone".into(), false)), "{r}");
    assert!(
        www.contains(&("forget".into(), "local".into(), true)),
        "{r}"
    );
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("rdr_plan_run_ok{service=\"appdb\"} 0"),
        "{prom}"
    );
    assert!(
        prom.contains("rdr_plan_repository_up{repository=\"gone\",site=\"elsewhere\"} 0"),
        "{prom}"
    );

    // back up: the vault is reachable but stale, the dead server is not
    ssh.restart();
    let r = e.json(
        &["plan", "check", &plan, "--json", "--prometheus", &metrics],
        6,
    );
    let db = service(&r, "appdb");
    assert_eq!(copy(db, "local")["fresh"], true, "{db}");
    assert_eq!(copy(db, "offsite")["fresh"], true, "{db}");
    let vault = copy(db, "vault");
    assert_eq!(
        (vault["reachable"].as_bool(), vault["fresh"].as_bool()),
        (Some(true), Some(false)),
        "{db}"
    );
    assert!(vault["age_secs"].as_u64().unwrap() >= 7000, "{vault}");
    assert_eq!(db["rule_321"]["ok"], false, "{db}");
    assert_eq!(db["rule_321"]["immutable"], 0, "{db}");
    let problems = r["problems"].to_string();
    assert!(
        problems.contains("copy vault: the newest snapshot"),
        "{problems}"
    );
    assert!(problems.contains("no fresh immutable copy"), "{problems}");
    assert!(
        problems.contains("no drill of this service yet"),
        "{problems}"
    );
    let www = service(&r, "www");
    assert_eq!(copy(www, "gone")["reachable"], false, "{www}");
    let gone_repo = r["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "gone")
        .unwrap();
    assert_eq!(gone_repo["reachable"], false);
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains(
            "rdr_plan_copy_fresh{service=\"appdb\",repository=\"vault\",site=\"bunker\"} 0"
        ),
        "{prom}"
    );
    assert!(prom.lines().any(|l| l == "rdr_plan_ok 0"), "{prom}");
    let table = e.expect(&["plan", "check", &plan], 6);
    assert!(
        table.contains("STALE") && table.contains("UNREACHABLE"),
        "{table}"
    );

    // the site is lost: tier 1 comes back from the off-site copy
    let r = e.json(
        &[
            "plan", "drill", &plan, "--from", "offsite", "--tier", "1", "--json",
        ],
        0,
    );
    let d = &r["services"].as_array().unwrap()[0];
    assert_eq!(
        (d["name"].as_str(), d["ok"].as_bool()),
        (Some("appdb"), Some(true)),
        "{r}"
    );
    assert!(d["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(r["tiers"].as_array().unwrap().len(), 1, "{r}");
    // from each first copy, every tier, cumulative
    let table = e.expect(&["plan", "drill", &plan], 0);
    assert!(
        table.contains("tier 1 back after") && table.contains("tier 2 back after"),
        "{table}"
    );
    // the web site has no off-site copy to come back from
    let r = e.json(&["plan", "drill", &plan, "--from", "offsite", "--json"], 5);
    let w = &r["services"].as_array().unwrap()[1];
    assert!(
        w["errors"].to_string().contains("no copy of it in offsite"),
        "{r}"
    );

    // the next run catches the vault up: appdb is in policy, www is not
    let r = e.json(&["plan", "run", &plan, "--json", "--service", "appdb"], 0);
    assert!(steps(&r, "appdb").iter().all(|s| s.2), "{r}");
    let db = service(&r["check"], "appdb");
    assert_eq!(db["problems"].as_array().unwrap().len(), 0, "{db}");
    assert_eq!(db["rule_321"]["ok"], true, "{db}");
    let r = e.json(&["plan", "check", &plan, "--json"], 6);
    assert_eq!(service(&r, "www")["rule_321"]["ok"], false);

    // a mistake in the plan names its line, and nothing runs
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("rto = \"10m\"", "rto = \"ten minutes\"");
    let line = text
        .lines()
        .position(|l| l.contains("ten minutes"))
        .unwrap()
        + 1;
    std::fs::write(e.path("bad.toml"), text).unwrap();
    let o = e.run(&["plan", "check", &e.path("bad.toml")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("bad.toml:{line}: service appdb: rto:")),
        "{err}"
    );
    // secrets never show
    for s in [&r.to_string(), &prom, &table] {
        assert!(!s.contains("local pw") && !s.contains("s3 pw") && !s.contains("vault pw"));
        assert!(!s.contains(s3.env()[1].1), "the S3 secret key shows");
    }
}
