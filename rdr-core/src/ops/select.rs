//! Snapshot references and filters: full id, unique prefix, `latest`
//! (after filtering by host, path and tag), and `SNAPSHOT:SUBPATH`.

use crate::backend::FileType;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::Repository;

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
        return repo
            .snapshots()?
            .into_iter()
            .rev()
            .find(|(_, s)| filter.matches(s))
            .ok_or_else(|| Error::NotFound("no snapshot matches (latest)".into()));
    }
    let id = SnapshotId(repo.find_id(FileType::Snapshot, reference)?);
    let snap = repo.load_snapshot(&id)?;
    Ok((id, snap))
}

/// All snapshots passing `filter`, oldest first.
///
/// # Errors
/// Storage and decode errors.
pub fn list_snapshots(
    repo: &Repository,
    filter: &SnapshotFilter,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    Ok(repo
        .snapshots()?
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
