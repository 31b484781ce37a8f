//! Snapshot references and filters: full id, unique prefix, `latest`
//! (after filtering by host, path and tag), and `SNAPSHOT:SUBPATH`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::kind::FileType;
use crate::repo::Repository;

pub use super::report_json::{snapshot_groups_json, snapshot_json};

/// Which snapshots to consider. Empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct SnapshotFilter {
    /// Any of these hosts.
    pub hosts: Vec<String>,
    /// Any of these tag sets; a set (comma-separated in the CLI) matches a
    /// snapshot carrying all its tags.
    pub tags: Vec<Vec<String>>,
    /// The snapshot's paths include all of these.
    pub paths: Vec<String>,
}

impl SnapshotFilter {
    /// A filter from options as front ends take them: hosts, tag options
    /// (each a comma-separated set that must all be present; any option
    /// matches) and paths.
    #[must_use]
    pub fn from_options(hosts: &[String], tag_options: &[String], paths: &[String]) -> Self {
        let tags = tag_options
            .iter()
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        Self {
            hosts: hosts.to_vec(),
            tags,
            paths: paths.to_vec(),
        }
    }

    /// Whether a snapshot passes.
    #[must_use]
    pub fn matches(&self, s: &Snapshot) -> bool {
        (self.hosts.is_empty() || self.hosts.contains(&s.hostname))
            && (self.tags.is_empty() || self.tags.iter().any(|set| s.has_tags(set)))
            && self.paths.iter().all(|p| {
                let p = p.trim_end_matches('/');
                s.paths
                    .iter()
                    .any(|sp| sp == p || (p.is_empty() && sp == "/"))
            })
    }
}

/// Which snapshot fields define a group (for `snapshots --group-by` and
/// `forget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupBy {
    /// By host name.
    pub host: bool,
    /// By the backed-up paths.
    pub paths: bool,
    /// By the tag set.
    pub tags: bool,
}

impl GroupBy {
    /// The snapshots in groups keyed by their group's text, each group
    /// oldest first and cut to its newest `latest` when given (as
    /// `snapshots --group-by … --latest N` lists them).
    #[must_use]
    pub fn group_latest(
        &self,
        snaps: Vec<(SnapshotId, Snapshot)>,
        latest: Option<usize>,
    ) -> BTreeMap<String, Vec<(SnapshotId, Snapshot)>> {
        let mut groups: BTreeMap<String, Vec<(SnapshotId, Snapshot)>> = self
            .group(snaps)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if let Some(n) = latest {
            for v in groups.values_mut() {
                let skip = v.len().saturating_sub(n);
                v.drain(..skip);
            }
        }
        groups
    }

    /// Parses a comma-separated list of `host`, `paths`, `tags` (empty: no grouping).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for another word.
    pub fn parse(s: &str) -> Result<Self> {
        let mut g = Self::default();
        for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            match f {
                "host" => g.host = true,
                "paths" => g.paths = true,
                "tags" => g.tags = true,
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "cannot group by {f:?}: use host, paths, tags"
                    )));
                }
            }
        }
        Ok(g)
    }

    /// The group of a snapshot.
    #[must_use]
    pub fn key(&self, s: &Snapshot) -> GroupKey {
        let mut tags = s.tags.clone();
        tags.sort();
        GroupKey {
            host: self.host.then(|| s.hostname.clone()),
            paths: self.paths.then(|| s.paths.clone()),
            tags: self.tags.then_some(tags),
        }
    }

    /// Snapshots by group, each group oldest first (as given).
    #[must_use]
    pub fn group(
        &self,
        snaps: Vec<(SnapshotId, Snapshot)>,
    ) -> BTreeMap<GroupKey, Vec<(SnapshotId, Snapshot)>> {
        let mut out: BTreeMap<GroupKey, Vec<(SnapshotId, Snapshot)>> = BTreeMap::new();
        for (id, s) in snaps {
            out.entry(self.key(&s)).or_default().push((id, s));
        }
        out
    }
}

/// The values of the grouping fields; `None` for a field not grouped by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GroupKey {
    /// Host name.
    pub host: Option<String>,
    /// Paths.
    pub paths: Option<Vec<String>>,
    /// Tags (sorted).
    pub tags: Option<Vec<String>>,
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(h) = &self.host {
            parts.push(format!("host [{h}]"));
        }
        if let Some(p) = &self.paths {
            parts.push(format!("paths [{}]", p.join(", ")));
        }
        if let Some(t) = &self.tags {
            parts.push(format!("tags [{}]", t.join(", ")));
        }
        f.write_str(&parts.join(", "))
    }
}

/// Splits `SNAPSHOT:SUBPATH` (the subpath may be empty).
#[must_use]
pub fn split_reference(reference: &str) -> (&str, &str) {
    match reference.split_once(':') {
        Some((s, p)) => (s, p),
        None => (reference, ""),
    }
}

/// Resolves a reference (id, unique id prefix, or `latest`) among the
/// snapshots passing `filter` (the filter applies to `latest` only).
///
/// # Errors
/// [`Error::NotFound`] or [`Error::InvalidInput`] (ambiguous prefix).
pub fn find_snapshot(
    repo: &Repository,
    reference: &str,
    filter: &SnapshotFilter,
) -> Result<(SnapshotId, Snapshot)> {
    if reference == "latest" {
        // (a damaged snapshot is skipped: `check` names it)
        return repo
            .snapshots_readable()?
            .0
            .into_iter()
            .rev()
            .find(|(_, s)| filter.matches(s))
            .ok_or_else(|| Error::NotFound("no snapshot matches (latest)".into()));
    }
    let id = SnapshotId(repo.find_id(FileType::Snapshot, reference)?);
    let snap = repo.load_snapshot(&id)?;
    Ok((id, snap))
}

/// A snapshot chosen by reference, with the snapshot files that could not
/// be read while choosing. For `latest`, any of those may be the newest
/// backup: a front end must say so (rdr exits 3) rather than restore an
/// older snapshot in silence.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// Its id.
    pub id: SnapshotId,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Snapshot files that did not load, each with the error naming it
    /// (empty unless the reference was `latest`).
    pub unreadable: Vec<(SnapshotId, String)>,
}

impl Chosen {
    /// The warning a front end shows for each unreadable snapshot file.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.unreadable
            .iter()
            .map(|(id, e)| {
                format!(
                    "snapshot file snapshots/{} could not be read ({e}); if it is newer, \
                     `latest` is not the newest backup: {} was used",
                    id.to_hex(),
                    self.id.short()
                )
            })
            .collect()
    }
}

/// [`find_snapshot`], also naming the snapshot files that could not be
/// read when `reference` is `latest`.
///
/// # Errors
/// As [`find_snapshot`].
pub fn choose_snapshot(
    repo: &Repository,
    reference: &str,
    filter: &SnapshotFilter,
) -> Result<Chosen> {
    if reference == "latest" {
        let (all, bad) = repo.snapshots_readable()?;
        let (id, snapshot) = all
            .into_iter()
            .rev()
            .find(|(_, s)| filter.matches(s))
            .ok_or_else(|| Error::NotFound("no snapshot matches (latest)".into()))?;
        let unreadable = bad.into_iter().map(|(i, e)| (i, e.to_string())).collect();
        return Ok(Chosen {
            id,
            snapshot,
            unreadable,
        });
    }
    let (id, snapshot) = find_snapshot(repo, reference, filter)?;
    Ok(Chosen {
        id,
        snapshot,
        unreadable: Vec::new(),
    })
}

/// All snapshots passing `filter`, oldest first; damaged snapshots are
/// left out (`check` names them).
///
/// # Errors
/// Storage errors.
pub fn list_snapshots(
    repo: &Repository,
    filter: &SnapshotFilter,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    Ok(repo
        .snapshots_readable()?
        .0
        .into_iter()
        .filter(|(_, s)| filter.matches(s))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split() {
        assert_eq!(split_reference("latest"), ("latest", ""));
        assert_eq!(split_reference("ab12:/srv/data"), ("ab12", "/srv/data"));
    }
}
