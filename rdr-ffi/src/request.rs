//! The JSON options of each C function, parsed into rdr-core's option
//! structs. Keys are the CLI's long flags in snake case; unknown keys are
//! refused, so a typo never silently changes what runs.

use std::time::Duration;

use rdr_core::ops::backup::{BackupOptions, ExcludeOptions};
use rdr_core::ops::check::ReadData;
use rdr_core::ops::policy::{KeepCount, KeepDuration, Policy};
use rdr_core::ops::prune::{MaxUnused, PruneOptions};
use rdr_core::ops::select::{GroupBy, SnapshotFilter};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{FfiResult, core, invalid};

/// Parses options (NULL or "" is `{}`).
pub(crate) fn parse<T: DeserializeOwned + Default>(json: Option<&str>) -> FfiResult<T> {
    match json.map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| invalid(format!("options: {e}"))),
    }
}

fn duration(v: Option<&str>, what: &str) -> FfiResult<Option<Duration>> {
    v.map(|s| rdr_core::time::parse_duration(s).map_err(|e| invalid(format!("{what}: {e}"))))
        .transpose()
}

fn size(v: Option<&str>) -> FfiResult<Option<u64>> {
    v.map(|s| rdr_core::parse_size(s).map_err(invalid))
        .transpose()
}

/// Options of `rdr_init_with`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct InitRequest {
    pub password: Option<String>,
    pub identity_file: Option<String>,
    pub recipients: Vec<String>,
    pub kdf_log_n: u8,
    pub append_only: bool,
    pub compression: Option<i32>,
    pub pack_size: Option<String>,
    pub chunk_min: Option<String>,
    pub chunk_avg: Option<String>,
    pub chunk_max: Option<String>,
}

/// Requests that select snapshots with `host`, `tags` and `path`.
pub(crate) trait Filtered {
    fn filter(&self) -> SnapshotFilter;
}

macro_rules! filtered {
    ($($t:ty),*) => {$(
        impl Filtered for $t {
            fn filter(&self) -> SnapshotFilter {
                SnapshotFilter::from_options(&self.host, &self.tags, &self.path)
            }
        }
    )*};
}
filtered!(
    SnapshotsRequest,
    ForgetRequest,
    CopyRequest,
    RewriteRequest,
    DrillRequest,
    StatusRequest
);

/// Options of `rdr_backup` (and of the stream backups, which ignore
/// `paths` and `command`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct BackupRequest {
    pub paths: Vec<String>,
    pub command: Vec<String>,
    pub filename: Option<String>,
    pub tags: Vec<String>,
    pub host: Option<String>,
    pub time: Option<String>,
    pub parent: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub exclude: Vec<String>,
    pub iexclude: Vec<String>,
    pub exclude_caches: bool,
    pub exclude_if_present: Vec<String>,
    pub exclude_larger_than: Option<String>,
    pub one_file_system: bool,
}

impl BackupRequest {
    pub(crate) fn options(&self, repo: &rdr_core::Repository) -> FfiResult<BackupOptions> {
        let mut o = BackupOptions {
            program_version: format!("rdr-ffi {}", env!("CARGO_PKG_VERSION")),
            ..BackupOptions::default()
        };
        if let Some(h) = &self.host {
            o.host.clone_from(h);
        }
        o.tags.clone_from(&self.tags);
        if let Some(t) = &self.time {
            o.time = Some(rdr_core::time::parse_utc(t).map_err(invalid)?);
        }
        if let Some(p) = &self.parent {
            let found = rdr_core::ops::select::find_snapshot(repo, p, &SnapshotFilter::default());
            o.parent = Some(core(found)?.0);
        }
        o.force = self.force;
        o.dry_run = self.dry_run;
        o.excludes = ExcludeOptions {
            patterns: self.exclude.clone(),
            ipatterns: self.iexclude.clone(),
            caches: self.exclude_caches,
            if_present: self.exclude_if_present.clone(),
            larger_than: size(self.exclude_larger_than.as_deref())?,
            one_file_system: self.one_file_system,
        };
        Ok(o)
    }

    /// The stream's file name in the snapshot.
    pub(crate) fn filename(&self) -> String {
        self.filename.clone().unwrap_or_else(|| "stdin".into())
    }
}

/// Options of `rdr_snapshots`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SnapshotsRequest {
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
    pub group_by: Option<String>,
    pub latest: Option<usize>,
}

/// Options of `rdr_ls`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LsRequest {
    pub path: String,
    pub recursive: bool,
}

impl Default for LsRequest {
    fn default() -> Self {
        Self {
            path: "/".into(),
            recursive: true,
        }
    }
}

/// Options of `rdr_restore`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RestoreRequest {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub verify: bool,
    pub overwrite: Option<String>,
    pub delete: bool,
    pub dry_run: bool,
    pub write_method: Option<String>,
}

/// A count as a number or a string ("unlimited").
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Count {
    Number(i64),
    Text(String),
}

fn count(c: Option<&Count>) -> FfiResult<KeepCount> {
    match c {
        None => Ok(KeepCount::None),
        Some(Count::Number(n)) => KeepCount::parse(&n.to_string()).map_err(invalid),
        Some(Count::Text(s)) => KeepCount::parse(s).map_err(invalid),
    }
}

fn keep_duration(v: Option<&str>) -> FfiResult<Option<KeepDuration>> {
    v.map(|s| KeepDuration::parse(s).map_err(invalid))
        .transpose()
}

/// The prune settings (`rdr_prune`, and `rdr_forget` with `prune`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PruneRequest {
    pub max_unused: Option<String>,
    pub max_repack_size: Option<String>,
    pub grace: Option<String>,
    pub instant_delete: bool,
    pub dry_run: bool,
}

impl PruneRequest {
    pub(crate) fn options(&self) -> FfiResult<PruneOptions> {
        let d = PruneOptions::default();
        Ok(PruneOptions {
            max_unused: match &self.max_unused {
                Some(s) => MaxUnused::parse(s).map_err(invalid)?,
                None => d.max_unused,
            },
            max_repack_bytes: size(self.max_repack_size.as_deref())?,
            grace: duration(self.grace.as_deref(), "grace")?.unwrap_or(d.grace),
            instant_delete: self.instant_delete,
            dry_run: self.dry_run,
        })
    }
}

/// Options of `rdr_forget`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ForgetRequest {
    pub snapshots: Vec<String>,
    pub keep_last: Option<Count>,
    pub keep_hourly: Option<Count>,
    pub keep_daily: Option<Count>,
    pub keep_weekly: Option<Count>,
    pub keep_monthly: Option<Count>,
    pub keep_yearly: Option<Count>,
    pub keep_within: Option<String>,
    pub keep_within_hourly: Option<String>,
    pub keep_within_daily: Option<String>,
    pub keep_within_weekly: Option<String>,
    pub keep_within_monthly: Option<String>,
    pub keep_within_yearly: Option<String>,
    pub keep_tag: Vec<String>,
    pub group_by: Option<String>,
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
    pub dry_run: bool,
    pub allow_empty: bool,
    pub prune: bool,
    pub max_unused: Option<String>,
    pub max_repack_size: Option<String>,
    pub grace: Option<String>,
    pub instant_delete: bool,
}

impl ForgetRequest {
    pub(crate) fn policy(&self) -> FfiResult<Policy> {
        Ok(Policy {
            last: count(self.keep_last.as_ref())?,
            hourly: count(self.keep_hourly.as_ref())?,
            daily: count(self.keep_daily.as_ref())?,
            weekly: count(self.keep_weekly.as_ref())?,
            monthly: count(self.keep_monthly.as_ref())?,
            yearly: count(self.keep_yearly.as_ref())?,
            within: keep_duration(self.keep_within.as_deref())?,
            within_hourly: keep_duration(self.keep_within_hourly.as_deref())?,
            within_daily: keep_duration(self.keep_within_daily.as_deref())?,
            within_weekly: keep_duration(self.keep_within_weekly.as_deref())?,
            within_monthly: keep_duration(self.keep_within_monthly.as_deref())?,
            within_yearly: keep_duration(self.keep_within_yearly.as_deref())?,
            tags: SnapshotFilter::from_options(&[], &self.keep_tag, &[]).tags,
        })
    }

    pub(crate) fn group_by(&self) -> FfiResult<GroupBy> {
        core(GroupBy::parse(
            self.group_by.as_deref().unwrap_or("host,paths"),
        ))
    }

    /// The prune that follows, when asked for (never in a dry run).
    pub(crate) fn prune_options(&self) -> FfiResult<Option<PruneOptions>> {
        if !self.prune || self.dry_run {
            return Ok(None);
        }
        PruneRequest {
            max_unused: self.max_unused.clone(),
            max_repack_size: self.max_repack_size.clone(),
            grace: self.grace.clone(),
            instant_delete: self.instant_delete,
            dry_run: false,
        }
        .options()
        .map(Some)
    }
}

/// `read_data`: false, true (every pack), or a subset "N/M" or "P%".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ReadDataArg {
    All(bool),
    Subset(String),
}

/// Options of `rdr_check`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CheckRequest {
    pub read_data: Option<ReadDataArg>,
}

impl CheckRequest {
    pub(crate) fn read_data(&self) -> FfiResult<Option<ReadData>> {
        match &self.read_data {
            None | Some(ReadDataArg::All(false)) => Ok(None),
            Some(ReadDataArg::All(true)) => Ok(Some(ReadData::All)),
            Some(ReadDataArg::Subset(s)) => ReadData::parse(s).map(Some).map_err(invalid),
        }
    }
}

/// Options of `rdr_copy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CopyRequest {
    pub snapshots: Vec<String>,
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
    pub dry_run: bool,
}

/// Options of `rdr_rewrite`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RewriteRequest {
    pub snapshots: Vec<String>,
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
    pub exclude: Vec<String>,
    pub iexclude: Vec<String>,
    pub new_host: Option<String>,
    pub new_time: Option<String>,
    pub forget: bool,
    pub dry_run: bool,
}

/// Options of `rdr_drill`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DrillRequest {
    pub snapshot: Option<String>,
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
    pub target: Option<String>,
    pub scratch_dir: Option<String>,
    pub keep: bool,
    pub health_cmd: Option<String>,
    pub health_timeout: Option<String>,
    pub rto: Option<String>,
}

impl DrillRequest {
    pub(crate) fn durations(&self) -> FfiResult<(Option<Duration>, Option<Duration>)> {
        Ok((
            duration(self.health_timeout.as_deref(), "health_timeout")?,
            duration(self.rto.as_deref(), "rto")?,
        ))
    }
}

/// Options of `rdr_status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StatusRequest {
    pub rpo: Option<String>,
    pub check_max_age: Option<String>,
    pub drill_max_age: Option<String>,
    pub group_by: Option<String>,
    pub host: Vec<String>,
    pub tags: Vec<String>,
    pub path: Vec<String>,
}

impl StatusRequest {
    pub(crate) fn options(&self) -> FfiResult<rdr_core::ops::status::StatusOptions> {
        let rule = self
            .rpo
            .as_deref()
            .map(rdr_core::ops::status::RpoRule::parse)
            .transpose()
            .map_err(invalid)?;
        let (rpo, rpo_rules) = match rule {
            Some(r) if r.is_default() => (Some(r.rpo), Vec::new()),
            Some(r) => (None, vec![r]),
            None => (None, Vec::new()),
        };
        Ok(rdr_core::ops::status::StatusOptions {
            rpo,
            rpo_rules,
            check_max_age: duration(self.check_max_age.as_deref(), "check_max_age")?,
            drill_max_age: duration(self.drill_max_age.as_deref(), "drill_max_age")?,
            group_by: core(GroupBy::parse(
                self.group_by.as_deref().unwrap_or("host,paths,tags"),
            ))?,
            filter: Filtered::filter(self),
            now: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let r: FfiResult<BackupRequest> = parse(Some(r#"{"pathz": ["/x"]}"#));
        assert!(r.unwrap_err().1.contains("pathz"));
        let f: ForgetRequest =
            parse(Some(r#"{"keep_last": 3, "keep_daily": "unlimited"}"#)).unwrap();
        let p = f.policy().unwrap();
        assert_eq!(p.last, KeepCount::N(3));
        assert_eq!(p.daily, KeepCount::Unlimited);
        let c: CheckRequest = parse(Some(r#"{"read_data": "2/5"}"#)).unwrap();
        assert_eq!(
            c.read_data().unwrap(),
            Some(ReadData::Subset { n: 2, m: 5 })
        );
        let c: CheckRequest = parse(Some(r#"{"read_data": "6/5"}"#)).unwrap();
        assert!(c.read_data().is_err());
        let s: StatusRequest = parse(Some(r#"{"rpo": "soon"}"#)).unwrap();
        assert!(s.options().is_err());
        let l: LsRequest = parse(None).unwrap();
        assert!(l.recursive);
        let r: FfiResult<LsRequest> = parse(Some("[1,2"));
        assert_eq!(r.unwrap_err().0, crate::RDR_ERR_INVALID_ARGUMENT);
    }
}
