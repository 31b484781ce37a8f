//! The JSON of operation reports, produced here once so every front end
//! (the CLI's `--json`, the C ABI, Python) shows the same facts in the
//! same shape. Each report implements `serde::Serialize` through it.

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::backup::BackupReport;
use super::check::CheckReport;
use super::diff::DiffReport;
use super::find::FindMatch;
use super::forget::{ForgetEntry, ForgetReport};
use super::prune::{PruneReport, Tally};
use super::repair::{RepairIndexReport, RepairSnapshotsReport};
use super::restore::RestoreReport;
use super::rewrite::RewriteReport;
use crate::format::pack::PackEntry;
use crate::format::snapshot::{Snapshot, StreamInfo};
use crate::format::tree::Node;
use crate::id::SnapshotId;
use crate::time::rfc3339_ns;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stream_json(st: &StreamInfo) -> Value {
    json!({
        "filename": st.filename, "bytes": st.bytes, "blake3": hex(&st.blake3),
        "command": st.command, "exit_status": st.exit_status,
    })
}

/// A snapshot as JSON: `rdr snapshots --json` shows a list of these.
#[must_use]
pub fn snapshot_json(id: &SnapshotId, s: &Snapshot) -> Value {
    json!({
        "id": id.to_hex(), "short_id": id.short(), "time": rfc3339_ns(s.time),
        "tree": s.tree.to_hex(), "paths": s.paths, "hostname": s.hostname,
        "username": s.username, "uid": s.uid, "gid": s.gid, "tags": s.tags,
        "parent": s.parent.map(|p| p.to_hex()), "original": s.original.map(|p| p.to_hex()),
        "degraded": s.is_degraded(),
        "program_version": s.program_version, "excludes": s.excludes,
        "stream": s.stream.as_ref().map(stream_json),
        "incomplete": s.incomplete.as_ref().map(|i| json!({"count": i.count, "errors": i.errors})),
        "summary": s.summary,
    })
}

/// Snapshots removed by id, as JSON.
#[must_use]
pub fn removed_json(removed: &[(SnapshotId, Snapshot)], dry_run: bool) -> Value {
    let list: Vec<String> = removed.iter().map(|(id, _)| id.to_hex()).collect();
    json!({"dry_run": dry_run, "removed": list})
}

impl BackupReport {
    /// The summary as JSON (restic's `message_type: summary` shape).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let s = &self.snapshot.summary;
        json!({
            "message_type": "summary",
            "snapshot_id": self.id.map(|i| i.to_hex()),
            "dry_run": self.id.is_none(),
            "files_new": s.files_new, "files_changed": s.files_changed,
            "files_unchanged": s.files_unchanged,
            "dirs_new": s.dirs_new, "dirs_changed": s.dirs_changed, "dirs_unchanged": s.dirs_unchanged,
            "data_blobs": s.data_blobs, "tree_blobs": s.tree_blobs,
            "total_bytes_processed": s.bytes_total, "bytes_read": s.bytes_read,
            "data_added": s.bytes_added, "data_added_stored": s.bytes_added_stored,
            "total_duration": (s.end - s.start) as f64 / 1e9,
            "incomplete": self.is_incomplete(), "warnings": self.warnings,
            "adopted_packs": self.adopted_packs,
            "stream": self.snapshot.stream.as_ref().map(stream_json),
        })
    }
}

fn entry_json(e: &ForgetEntry) -> Value {
    json!({
        "id": e.id.to_hex(), "short_id": e.id.short(), "time": rfc3339_ns(e.snapshot.time),
        "hostname": e.snapshot.hostname, "paths": e.snapshot.paths, "tags": e.snapshot.tags,
        "reasons": e.reasons,
    })
}

impl ForgetReport {
    /// The verdicts per group as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                json!({
                    "group": {"host": g.key.host, "paths": g.key.paths, "tags": g.key.tags},
                    "keep": g.keep.iter().map(entry_json).collect::<Vec<_>>(),
                    "remove": g.remove.iter().map(entry_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"dry_run": self.dry_run, "groups": groups})
    }
}

fn tally(t: Tally) -> Value {
    json!({"packs": t.packs, "bytes": t.bytes})
}

impl PruneReport {
    /// What was (or would be) deleted, repacked and kept, as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "dry_run": self.dry_run, "snapshots": self.snapshots, "blobs": self.blobs,
            "blobs_used": self.blobs_used, "size_before": tally(self.size_before),
            "deleted": tally(self.deleted), "marked": tally(self.marked),
            "waiting": tally(self.waiting), "revived": tally(self.revived),
            "repacked": tally(self.repacked), "repack_copied_bytes": self.repack_copied_bytes,
            "written": tally(self.written), "used_bytes": self.used_bytes,
            "unused_after": self.unused_after, "size_after": self.size_after,
            "size_final": self.size_final, "index_files_written": self.index_files_written,
            "index_files_removed": self.index_files_removed, "tmp_removed": self.tmp_removed,
        })
    }
}

impl CheckReport {
    /// The findings as JSON, each damaged blob with the paths that need it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.is_ok(), "errors": self.errors, "warnings": self.warnings,
            "index_files": self.index_files, "packs": self.packs,
            "snapshots": self.snapshots, "blobs": self.blobs,
            "blobs_used": self.blobs_used, "packs_read": self.packs_read,
            "bytes_read": self.bytes_read,
            "damaged": self.damaged.iter().map(|d| json!({
                "blob": d.blob.to_string(), "reason": d.reason,
                "used_by": d.used_by.iter().map(|(s, p)| json!({
                    "snapshot": s.to_string(), "path": String::from_utf8_lossy(p),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Snapshots in groups as JSON: a flat list when `grouped` is false (no
/// `--group-by`), else `{group_key, snapshots}` per group.
#[must_use]
pub fn snapshot_groups_json<'a>(
    groups: impl IntoIterator<Item = (&'a String, &'a Vec<(SnapshotId, Snapshot)>)>,
    grouped: bool,
) -> Value {
    let list = |v: &Vec<(SnapshotId, Snapshot)>| -> Vec<Value> {
        v.iter().map(|(i, s)| snapshot_json(i, s)).collect()
    };
    if grouped {
        groups
            .into_iter()
            .map(|(k, v)| json!({"group_key": k, "snapshots": list(v)}))
            .collect()
    } else {
        groups.into_iter().flat_map(|(_, v)| list(v)).collect()
    }
}

/// An entry of a snapshot as JSON (`ls --json`, `find --json`).
#[must_use]
pub fn node_json(path: &[u8], n: &Node) -> Value {
    json!({
        "path": text(path), "type": n.kind, "mode": n.mode,
        "uid": n.uid, "gid": n.gid, "user": n.user, "group": n.group, "size": n.size,
        "mtime": rfc3339_ns(n.mtime), "ctime": rfc3339_ns(n.ctime),
        "inode": n.inode, "links": n.links,
        "target": n.target.as_ref().map(|t| text(t)),
    })
}

impl FindMatch {
    /// The entry as JSON, with the snapshot holding it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut v = node_json(&self.path, &self.node);
        v["snapshot"] = json!(self.snapshot.to_hex());
        v
    }
}

impl DiffReport {
    /// One JSON line per change, then the totals (restic's `diff --json`).
    #[must_use]
    pub fn json_lines(&self, from: &SnapshotId, to: &SnapshotId) -> Vec<Value> {
        let mut lines: Vec<Value> = self
            .changes
            .iter()
            .map(|c| {
                json!({"message_type": "change", "path": text(&c.path),
                       "modifier": c.kind.marker().to_string(), "kind": c.kind})
            })
            .collect();
        lines.push(
            json!({"message_type": "statistics", "source": from.to_hex(),
                          "target": to.to_hex(), "stats": self.stats}),
        );
        lines
    }
}

impl RestoreReport {
    /// The outcome as JSON (restic's `message_type: summary` shape).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "message_type": "summary",
            "files": self.files, "dirs": self.dirs, "others": self.others, "links": self.links,
            "bytes_written": self.bytes_written, "bytes_direct": self.bytes_direct,
            "files_skipped": self.files_skipped,
            "bytes_skipped": self.bytes_skipped, "files_verified": self.files_verified,
            "files_kept": self.files_kept, "deleted": self.deleted, "dry_run": self.dry_run,
            "warnings": self.warnings, "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
        })
    }
}

impl RepairSnapshotsReport {
    /// What was repaired, forgotten or found unreadable, as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "dry_run": self.dry_run, "whole": self.whole, "forgotten": self.forgotten,
            "unreadable": self.unreadable.iter()
                .map(|(id, e)| json!({"snapshot": id.to_string(), "error": e}))
                .collect::<Vec<_>>(),
            "repaired": self.repaired.iter().map(|s| json!({
                "original": s.original.to_string(),
                "new": s.new.map(|n| n.to_string()),
                "truncated": s.truncated.iter()
                    .map(|(p, kept, was)| json!({"path": text(p), "kept": kept, "size": was}))
                    .collect::<Vec<_>>(),
                "emptied": s.emptied.iter().map(|p| text(p)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl RewriteReport {
    /// What was rewritten or forgotten, as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "dry_run": self.dry_run, "unchanged": self.unchanged, "forgotten": self.forgotten,
            "rewritten": self.rewritten.iter().map(|s| json!({
                "original": s.original.to_string(),
                "new": s.new.map(|n| n.to_string()),
                "dropped": s.dropped.iter().map(|p| text(p)).collect::<Vec<_>>(),
                "files_dropped": s.files_dropped, "bytes_dropped": s.bytes_dropped,
            })).collect::<Vec<_>>(),
        })
    }
}

impl RepairIndexReport {
    /// The rebuilt index and what was salvaged or lost, as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "dry_run": self.dry_run, "packs": self.packs, "blobs": self.blobs,
            "salvaged_packs": self.salvaged_packs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "blobs_salvaged": self.blobs_salvaged,
            "blobs_lost": self.blobs_lost.iter()
                .map(|(b, e)| json!({"blob": b.to_string(), "error": e}))
                .collect::<Vec<_>>(),
            "index_files_written": self.index_files_written,
            "index_files_removed": self.index_files_removed,
        })
    }
}

impl PackEntry {
    /// The entry as JSON (`cat pack-header --json`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({"type": self.blob_type.name(), "id": self.id.to_hex(), "offset": self.offset,
               "length": self.length, "raw_length": self.raw_length})
    }
}

macro_rules! serialize_as_json {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.to_json().serialize(s)
            }
        }
    )*};
}

serialize_as_json!(
    BackupReport,
    ForgetReport,
    PruneReport,
    CheckReport,
    RestoreReport,
    RepairSnapshotsReport,
    RepairIndexReport,
    FindMatch,
    PackEntry
);
