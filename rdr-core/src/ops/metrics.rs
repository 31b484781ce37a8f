//! Prometheus metrics from a [`StatusReport`], in the text exposition format
//! that node_exporter's textfile collector reads, written atomically
//! (temporary file, fsync, rename) so the collector never sees half a file.
//! docs/monitoring.md lists the metrics and gives alert rules.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::record::Record;
use crate::ops::status::StatusReport;

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// Seconds since the epoch, from ns.
#[allow(clippy::cast_precision_loss)]
fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// Writes the samples of metric families into a text.
pub(crate) struct Family<'a> {
    pub(crate) out: &'a mut String,
}

impl Family<'_> {
    pub(crate) fn header(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} gauge");
    }

    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
        }
    }
}

/// The metrics text for `report`; every sample carries the label
/// `repository` (the repository id, so several repositories can report to
/// one node_exporter).
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn prometheus_text(report: &StatusReport, repository: &str) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    let repo = [("repository", repository)];
    let groups: Vec<(String, String, String)> = report
        .groups
        .iter()
        .map(|g| {
            (
                g.key.host.clone().unwrap_or_default(),
                g.key
                    .paths
                    .as_ref()
                    .map(|p| p.join(","))
                    .unwrap_or_default(),
                g.key.tags.as_ref().map(|t| t.join(",")).unwrap_or_default(),
            )
        })
        .collect();
    let per_group = |f: &mut Family<'_>, name: &str, help: &str, value: &dyn Fn(usize) -> f64| {
        f.header(name, help);
        for (i, (h, p, t)) in groups.iter().enumerate() {
            let labels = [
                ("repository", repository),
                ("host", h),
                ("paths", p),
                ("tags", t),
            ];
            f.sample(name, &labels, value(i));
        }
    };
    per_group(
        &mut f,
        "rdr_snapshot_latest_timestamp_seconds",
        "Time of the newest snapshot of the group.",
        &|i| secs(report.groups[i].latest_time),
    );
    per_group(
        &mut f,
        "rdr_snapshot_latest_size_bytes",
        "Logical size (bytes of all files) of the newest snapshot of the group.",
        &|i| report.groups[i].latest_size as f64,
    );
    per_group(&mut f, "rdr_snapshots", "Snapshots in the group.", &|i| {
        report.groups[i].snapshots as f64
    });
    if report.groups.iter().any(|g| g.rpo.is_some()) {
        // only the groups held to an RPO: an alert compares against it
        let name = "rdr_snapshot_rpo_seconds";
        f.header(name, "Recovery point objective the group is held to.");
        for (g, (h, p, t)) in report.groups.iter().zip(&groups) {
            if let Some(rpo) = g.rpo {
                let labels = [
                    ("repository", repository),
                    ("host", h.as_str()),
                    ("paths", p.as_str()),
                    ("tags", t.as_str()),
                ];
                f.sample(name, &labels, rpo.as_secs_f64());
            }
        }
    }
    per_group(
        &mut f,
        "rdr_snapshot_latest_degraded",
        "1 when the group's newest snapshot was made by repair snapshots (data was lost from it).",
        &|i| f64::from(u8::from(report.groups[i].degraded)),
    );
    per_group(
        &mut f,
        "rdr_group_drill_last_success_timestamp_seconds",
        "End of the last passing drill of one of the group's snapshots (0: never).",
        &|i| {
            report.groups[i]
                .drill
                .1
                .as_ref()
                .map_or(0.0, |r| secs(r.end))
        },
    );
    per_group(
        &mut f,
        "rdr_group_drill_last_passed",
        "1 when the last drill of one of the group's snapshots passed, 0 when it failed or none ran.",
        &|i| {
            f64::from(u8::from(
                report.groups[i].drill.0.as_ref().is_some_and(|r| r.ok),
            ))
        },
    );
    f.header(
        "rdr_repository_size_bytes",
        "Bytes of all pack files in the repository.",
    );
    f.sample(
        "rdr_repository_size_bytes",
        &repo,
        report.repository_size as f64,
    );
    let last =
        |f: &mut Family<'_>, kind: &str, (last, passed): &(Option<Record>, Option<Record>)| {
            let name = format!("rdr_{kind}_last_success_timestamp_seconds");
            f.header(
                &name,
                &format!("End of the last {kind} that passed (0: never)."),
            );
            f.sample(&name, &repo, passed.as_ref().map_or(0.0, |r| secs(r.end)));
            let name = format!("rdr_{kind}_last_run_timestamp_seconds");
            f.header(
                &name,
                &format!("End of the last {kind}, passed or not (0: never)."),
            );
            f.sample(&name, &repo, last.as_ref().map_or(0.0, |r| secs(r.end)));
            let name = format!("rdr_{kind}_last_passed");
            f.header(
                &name,
                &format!("1 when the last {kind} passed, 0 when it failed or none ran."),
            );
            f.sample(
                &name,
                &repo,
                f64::from(u8::from(last.as_ref().is_some_and(|r| r.ok))),
            );
        };
    last(&mut f, "check", &report.check);
    last(&mut f, "drill", &report.drill);
    if let Some(d) = report.drill.0.as_ref().and_then(|r| r.drill.as_ref()) {
        f.header(
            "rdr_drill_last_duration_seconds",
            "Total time of the last drill: the recovery time achieved.",
        );
        f.sample("rdr_drill_last_duration_seconds", &repo, d.total);
    }
    f.header(
        "rdr_status_healthy",
        "1 when no group is stale and the last check and drill passed.",
    );
    f.sample(
        "rdr_status_healthy",
        &repo,
        f64::from(u8::from(report.healthy())),
    );
    f.header(
        "rdr_status_timestamp_seconds",
        "When these metrics were written.",
    );
    f.sample("rdr_status_timestamp_seconds", &repo, secs(report.now));
    out
}

/// Writes `text` to `path` atomically: a temporary file beside it, fsync,
/// then rename over `path`.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let io_err = |e: std::io::Error| Error::io(path.display(), e);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // node_exporter reads only *.prom files, so the temporary name is skipped
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn writes_atomically_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rdr.prom");
        write_atomically(&p, "a 1\n").unwrap();
        write_atomically(&p, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a 2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomically(&dir.path().join("no/such/dir.prom"), "").is_err());
    }
}
