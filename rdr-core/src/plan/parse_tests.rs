use super::*;

/// The example of docs/plan.md (kept in step by `docs_example_parses`).
const EXAMPLE: &str = r#"
production_site = "fra1"
check_max_age = "8d"
drill_max_age = "31d"

[repositories.local]
location = "/srv/backup/rdr"
site = "fra1"
password_file = "/etc/rdr/local.pw"

[repositories.offsite]
location = "s3:https://s3.eu-central-1.amazonaws.com/acme-backup/rdr"
site = "aws-eu-central-1"
password_command = "systemd-creds cat rdr-offsite"
env_file = "/etc/rdr/offsite.env"

[repositories.vault]
location = "sftp:vault:/srv/rdr"
site = "ams2"
immutable = true
identity_file = "/etc/rdr/vault.age"

[services.appdb]
tier = 1
rpo = "1h"
rto = "30m"
command = ["pg_dump", "--format=custom", "appdb"]
filename = "appdb.dump"
copies = ["local", "offsite", "vault"]
retention = { keep_hourly = 24, keep_daily = 7, keep_weekly = 4 }
health_command = "pg_restore --list appdb.dump > /dev/null"

[services.www]
tier = 2
rpo = "24h"
rto = "4h"
paths = ["/srv/www", "/etc/nginx"]
excludes = ["*.tmp"]
copies = ["local", "offsite"]
retention = { keep_daily = 14 }
"#;

#[test]
fn the_example_parses() {
    let p = Plan::parse(EXAMPLE, "plan.toml").unwrap();
    assert_eq!(p.production_site, "fra1");
    assert_eq!(p.repositories.len(), 3);
    assert!(p.repository("vault").unwrap().immutable);
    assert!(matches!(
        p.repository("offsite").unwrap().credentials,
        Credentials::PasswordCommand(_)
    ));
    let db = &p.services[0];
    assert_eq!((db.name.as_str(), db.tier), ("appdb", 1));
    assert_eq!(db.rpo, Duration::from_secs(3600));
    assert_eq!(db.interval, Duration::from_secs(1800));
    assert_eq!(db.copies, ["local", "offsite", "vault"]);
    assert!(matches!(&db.source, Source::Command { filename, .. } if filename == "appdb.dump"));
    assert_eq!(db.retention.as_ref().unwrap().daily, KeepCount::N(7));
    assert_eq!(p.services[1].name, "www");
    assert_eq!(p.check_max_age, Some(Duration::from_secs(8 * 86400)));
}

#[test]
fn docs_example_parses() {
    let doc = include_str!("../../../docs/plan.md");
    let start = doc.find("```toml\n").expect("a toml block in docs/plan.md") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let p = Plan::parse(&doc[start..end], "docs/plan.md").unwrap();
    assert!(p.services.iter().any(|s| s.tier == 1));
}

fn error_of(text: &str) -> PlanError {
    Plan::parse(text, "p.toml").unwrap_err()
}

/// The first line of the example that contains `needle`, replaced.
fn edited(needle: &str, replacement: &str) -> (String, usize) {
    let line = EXAMPLE
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the example"))
        + 1;
    (EXAMPLE.replacen(needle, replacement, 1), line)
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("rpo = \"1h\"", "rpp = \"1h\"", "unknown field `rpp`"),
        (
            "rto = \"30m\"",
            "rto = \"half an hour\"",
            "rto: \"half an hour\" is not a duration",
        ),
        ("tier = 1", "tier = 12", "tier 12 is not 1..9"),
        ("tier = 1", "tier = \"one\"", "invalid type"),
        (
            "copies = [\"local\", \"offsite\", \"vault\"]",
            "copies = [\"local\", \"ofsite\"]",
            "copy \"ofsite\" is not a repository of the plan",
        ),
        (
            "site = \"ams2\"",
            "sight = \"ams2\"",
            "unknown field `sight`",
        ),
        (
            "identity_file = \"/etc/rdr/vault.age\"",
            "identity_file = \"/x\"\npassword_file = \"/y\"",
            "give one of password_file, password_command and identity_file",
        ),
        (
            "keep_daily = 14",
            "keep_dayly = 14",
            "unknown field `keep_dayly`",
        ),
        ("rpo = \"24h\"", "rpo = \"0s\"", "rpo must be longer than 0"),
    ];
    for (needle, replacement, says) in cases {
        let (text, line) = edited(needle, replacement);
        let e = error_of(&text);
        assert!(e.message.contains(says), "{replacement}: {e}");
        assert!(
            e.line == line || (says.contains("password_file") && e.line == line + 1),
            "{replacement}: line {} not {line}: {e}",
            e.line
        );
        assert!(e.to_string().starts_with(&format!("p.toml:{}: ", e.line)));
    }
}

#[test]
fn sources_and_copies_must_make_sense() {
    let both = EXAMPLE.replace(
        "filename = \"appdb.dump\"",
        "filename = \"appdb.dump\"\npaths = [\"/x\"]",
    );
    assert!(error_of(&both).message.contains("not both"));
    let (none, _) = edited(
        "command = [\"pg_dump\", \"--format=custom\", \"appdb\"]",
        "",
    );
    assert!(error_of(&none).message.contains("give paths"));
    let (dup, _) = edited(
        "copies = [\"local\", \"offsite\", \"vault\"]",
        "copies = [\"local\", \"local\"]",
    );
    assert!(error_of(&dup).message.contains("twice"));
    let (bad_name, line) = edited("[services.www]", "[services.\"w w\"]");
    let e = error_of(&bad_name);
    assert!(e.message.contains("service name"), "{e}");
    assert_eq!(e.line, line);
    let e = error_of("production_site = \"x\"\n");
    assert!(e.message.contains("no [services.NAME]"), "{e}");
    let e = error_of("production_site = \"x\"\n[services.a\n");
    assert_eq!(e.line, 2, "{e}");
    let e = error_of("# nothing\n");
    assert!(e.message.contains("production_site"), "{e}");
    // a missing key is reported at its table
    let (no_tier, line) = edited("tier = 2", "");
    let e = error_of(&no_tier);
    assert!(e.message.contains("missing field `tier`"), "{e}");
    assert!(
        e.line <= line && e.line + 2 >= line,
        "{e} (tier was on {line})"
    );
}
