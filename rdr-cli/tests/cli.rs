//! End-to-end tests of the `rdr` binary on a local repository.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use age::secrecy::ExposeSecret;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    /// Runs rdr with a clean environment plus `env`.
    fn rdr(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("-r")
            .arg(self.repo());
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.rdr(args, env);
        assert!(
            o.status.success(),
            "rdr {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

const PW: &[(&str, &str)] = &[("RDR_PASSWORD", "first password")];

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes an identity file in age-keygen's format; returns (path, recipient).
fn keygen(env: &Env, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# created: 2026-11-22T00:00:00Z\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    (env.file(name, &text), public)
}

fn key_ids(env: &Env, creds: &[(&str, &str)]) -> Vec<(String, bool, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["key", "list", "--json"], creds)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["current"].as_bool().unwrap(),
                k["meta"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn keys_passwords_and_identities() {
    let env = Env::new();
    env.ok(&["init", "--kdf-log-n", "10"], PW);

    // a second passphrase
    let pw2 = env.file("pw2", "second password\n");
    env.ok(
        &[
            "key",
            "add",
            "--new-password-file",
            pw2.to_str().unwrap(),
            "--kdf-log-n",
            "10",
        ],
        PW,
    );
    let second: &[(&str, &str)] = &[("RDR_PASSWORD_FILE", pw2.to_str().unwrap())];
    env.ok(&["cat", "config"], second);

    // an X25519 key for an age recipient, opened with the identity file
    let (identity, recipient) = keygen(&env, "id.txt");
    env.ok(&["key", "add", "--recipient", &recipient], PW);
    let by_identity: &[(&str, &str)] = &[("RDR_IDENTITY_FILE", identity.to_str().unwrap())];
    env.ok(&["cat", "config"], by_identity);
    // a recipients file works too
    let (identity2, recipient2) = keygen(&env, "id2.txt");
    let rfile = env.file(
        "recipients.txt",
        &format!("# off-site break-glass key\n{recipient2}\n"),
    );
    env.ok(
        &["key", "add", "--recipients-file", rfile.to_str().unwrap()],
        PW,
    );
    env.ok(
        &["cat", "config", "--json"],
        &[("RDR_IDENTITY_FILE", identity2.to_str().unwrap())],
    );

    // rdr can generate the break-glass identity itself
    let generated = env.dir.path().join("breakglass.txt");
    env.ok(
        &[
            "key",
            "add",
            "--generate-identity",
            generated.to_str().unwrap(),
        ],
        PW,
    );
    assert_eq!(
        std::fs::metadata(&generated).unwrap().permissions().mode() & 0o777,
        0o600
    );
    env.ok(
        &["cat", "config"],
        &[("RDR_IDENTITY_FILE", generated.to_str().unwrap())],
    );
    let o = env.rdr(
        &[
            "key",
            "add",
            "--generate-identity",
            generated.to_str().unwrap(),
        ],
        PW,
    );
    assert_eq!(
        code(&o),
        1,
        "an existing identity file must never be overwritten"
    );

    let keys = key_ids(&env, PW);
    assert_eq!(keys.len(), 5);
    assert_eq!(keys.iter().filter(|k| k.2 == "x25519").count(), 3);

    // key files are 0600
    for e in std::fs::read_dir(env.repo().join("keys")).unwrap() {
        let mode = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // remove the second passphrase (while opened with the first): it no longer opens
    let second_id = key_ids(&env, second).into_iter().find(|k| k.1).unwrap().0;
    env.ok(&["key", "remove", &second_id[..12]], PW);
    let o = env.rdr(&["cat", "config"], second);
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong password"));

    // remove the X25519 key: the identity no longer opens
    let x_id = key_ids(&env, by_identity)
        .into_iter()
        .find(|k| k.1)
        .unwrap()
        .0;
    env.ok(&["key", "remove", &x_id], PW);
    assert_eq!(code(&env.rdr(&["cat", "config"], by_identity)), 12);

    // the key in use cannot remove itself
    let own = key_ids(&env, PW).into_iter().find(|k| k.1).unwrap().0;
    let o = env.rdr(&["key", "remove", &own], PW);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cannot remove itself"));
}

#[test]
fn wrong_password_missing_repo_and_no_password() {
    let env = Env::new();
    let o = env.rdr(&["cat", "config"], PW);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(stderr(&o).contains("no repository"));

    env.ok(&["init", "--kdf-log-n", "10"], PW);
    let o = env.rdr(&["cat", "config"], &[("RDR_PASSWORD", "nope")]);
    assert_eq!(code(&o), 12);
    assert!(stderr(&o).contains("wrong password"));
    assert!(
        !stderr(&o).contains("nope"),
        "password leaked into the message"
    );

    // no password source and no terminal
    let o = env.rdr(&["cat", "config"], &[]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no password given"));

    // init twice
    let o = env.rdr(&["init", "--kdf-log-n", "10"], PW);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("already exists"));
}

#[test]
fn password_sources_and_passwd() {
    let env = Env::new();
    let f = env.file("pw", "from a file\nsecond line ignored\n");
    env.ok(
        &[
            "init",
            "--kdf-log-n",
            "10",
            "--password-file",
            f.to_str().unwrap(),
        ],
        &[],
    );
    env.ok(
        &["cat", "config"],
        &[("RDR_PASSWORD_COMMAND", "echo 'from a file'")],
    );
    let o = env.rdr(&["cat", "config"], &[("RDR_PASSWORD_COMMAND", "false")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("password command failed"));

    let new = env.file("new", "changed\n");
    let old: &[(&str, &str)] = &[("RDR_PASSWORD_FILE", f.to_str().unwrap())];
    env.ok(
        &[
            "key",
            "passwd",
            "--new-password-file",
            new.to_str().unwrap(),
            "--kdf-log-n",
            "10",
        ],
        old,
    );
    assert_eq!(code(&env.rdr(&["cat", "config"], old)), 12);
    env.ok(&["cat", "config"], &[("RDR_PASSWORD", "changed")]);
    assert_eq!(key_ids(&env, &[("RDR_PASSWORD", "changed")]).len(), 1);
}

#[test]
fn init_with_recipient_only_and_custom_params() {
    let env = Env::new();
    let (identity, recipient) = keygen(&env, "id.txt");
    env.ok(
        &[
            "init",
            "--recipient",
            &recipient,
            "--chunk-min",
            "64KiB",
            "--chunk-avg",
            "256KiB",
            "--chunk-max",
            "1MiB",
            "--pack-size",
            "4MiB",
        ],
        &[],
    );
    let by_identity: &[(&str, &str)] = &[("RDR_IDENTITY_FILE", identity.to_str().unwrap())];
    let cfg: serde_json::Value =
        serde_json::from_str(&env.ok(&["cat", "config", "--json"], by_identity)).unwrap();
    assert_eq!(cfg["chunker"]["avg"], 256 << 10);
    assert_eq!(cfg["data_pack_size"], 4 << 20);
    let other = Env::new();
    let o = other.rdr(&["init", "--chunk-max", "32MiB", "--kdf-log-n", "10"], PW);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("maximum chunk size"), "{}", stderr(&o));
}

#[test]
fn unlock_keeps_live_locks() {
    use rdr_core::{Credential, Location, LockHolder, LockKind, Repository, Storage};
    let env = Env::new();
    env.ok(&["init", "--kdf-log-n", "10"], PW);
    let repo = Repository::open(
        &Storage::connect(&Location::local(env.repo())).unwrap(),
        &Credential::Passphrase("first password"),
    )
    .unwrap();
    let guard = repo
        .lock(LockKind::Exclusive, &LockHolder::current())
        .unwrap();
    let out = env.ok(&["unlock"], PW);
    assert!(out.trim().is_empty(), "a live lock was removed: {out}");
    assert_eq!(
        std::fs::read_dir(env.repo().join("locks")).unwrap().count(),
        1
    );
    drop(guard);
    assert_eq!(
        std::fs::read_dir(env.repo().join("locks")).unwrap().count(),
        0
    );
}

#[test]
fn help_is_complete() {
    let env = Env::new();
    let help = env.ok(&["--help"], &[]);
    for cmd in ["init", "key", "cat", "unlock", "plan", "version"] {
        assert!(help.contains(cmd), "{cmd} missing from --help");
    }
    let v = env.ok(&["version"], &[]);
    assert!(
        v.starts_with(&format!("rdr {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(
        v.contains("formats 1 to 4") && v.contains("s3, sftp, webdav"),
        "{v}"
    );
    assert!(
        env.ok(&["key", "add", "--help"], &[])
            .contains("--new-password-file")
    );
}

/// Runs rdr in `dir` with `RDR_REPOSITORY=location` and a password.
fn rdr_at(dir: &std::path::Path, location: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdr"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RDR_REPOSITORY", location)
        .env("RDR_PASSWORD", "pw")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn remote_locations_are_never_taken_for_local_folders() {
    let env = Env::new();
    let dir = env.dir.path();
    // every backend is compiled in: each fails for its own reason (no such
    // host, no credentials), says so, and creates nothing locally
    for (location, says) in [
        ("sftp:user@host:/srv/repo", "failed to connect"),
        (
            "sftp://user@[::1]:2222//srv/repo",
            "sftp://user@[::1]:2222//srv/repo",
        ),
        (
            "webdav:https://dav.example.com/repo",
            "webdav:https://dav.example.com/repo",
        ),
        ("b2:bucket:repo", "B2_BUCKET_ID"),
        ("azure:container:/repo", "AZURE_ACCOUNT_NAME"),
        ("gs:bucket:/repo", "credential"),
    ] {
        let o = rdr_at(dir, location, &["init", "--kdf-log-n", "10"]);
        assert_eq!(code(&o), 1, "{location}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{location}: {}", stderr(&o));
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
        assert!(left.is_empty(), "{location} created {left:?}");
    }
    // S3 is compiled in: without credentials (or a server) it fails with
    // a storage error naming the object, and creates nothing locally
    let o = rdr_at(
        dir,
        "s3:http://127.0.0.1:1/bucket/repo",
        &["init", "--kdf-log-n", "10"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("config"), "{}", stderr(&o));
    assert!(std::fs::read_dir(dir).unwrap().next().is_none());
    // an unknown scheme is refused too, and a location with a password in
    // it is refused without repeating the password
    let o = rdr_at(dir, "rclone:remote:path", &["init"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = rdr_at(
        dir,
        "s3:https://AKIAX:S3cretPassw0rd@host/bucket",
        &["init"],
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("credentials"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("S3cretPassw0rd"), "{}", stderr(&o));
    assert!(std::fs::read_dir(dir).unwrap().next().is_none());
    // who really wants such a folder says so
    let o = rdr_at(dir, "./s3:bucket", &["init", "--kdf-log-n", "10"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(dir.join("s3:bucket").join("config").is_file());
    let o = rdr_at(dir, "local:s3:bucket", &["snapshots"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // no repository: the fact, then the advice
    let o = rdr_at(dir, "elsewhere", &["snapshots"]);
    assert_eq!(code(&o), 10);
    assert!(stderr(&o).contains("no repository at"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hint: create one with `rdr init`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn opening_creates_nothing_and_each_cause_is_said_once() {
    let env = Env::new();
    // an unmounted backup disk: exit 10, and no directory appears
    let missing = env.dir.path().join("usb-disk/rdr");
    let o = rdr_at(env.dir.path(), missing.to_str().unwrap(), &["snapshots"]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(
        !missing.parent().unwrap().exists(),
        "opening created a directory"
    );
    env.ok(&["init", "--kdf-log-n", "10"], PW);
    let o = env.rdr(&["backup", "/nonexistent/file"], PW);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    // help shows which variables count, never their values
    let help = env.ok(&["--help"], &[("RDR_REPOSITORY", "/srv/secret-place")]);
    assert!(help.contains("[env: RDR_REPOSITORY]"), "{help}");
    assert!(
        !help.contains("=]") && !help.contains("secret-place"),
        "{help}"
    );
}

#[test]
fn a_reader_that_closes_the_pipe_ends_rdr_quietly() {
    use std::io::Read;
    let env = Env::new();
    env.ok(&["init", "--kdf-log-n", "10"], PW);
    let src = env.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(src.join("big"), &big).unwrap();
    for i in 0..3000 {
        std::fs::write(src.join(format!("file-with-a-longish-name-{i:05}")), "x").unwrap();
    }
    env.ok(&["backup", src.to_str().unwrap()], PW);
    let big_path = src.join("big");
    for args in [
        vec!["dump", "latest", big_path.to_str().unwrap()],
        vec!["ls", "latest"],
        vec!["find", "*longish*"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rdr"))
            .env_clear()
            .env("RDR_PASSWORD", "first password")
            .arg("-r")
            .arg(env.repo())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 10];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // (the pipe is closed here, as `head -c 10` closes it)
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "rdr {args:?}: {err}");
        assert!(
            !err.contains("error") && !err.contains("Broken pipe"),
            "rdr {args:?}: {err}"
        );
    }
}
