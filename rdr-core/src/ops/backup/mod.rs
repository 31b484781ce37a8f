//! `backup`: file trees and byte streams into a snapshot.
//!
//! Order of writes (crash safety): packs, then index files naming them,
//! then the snapshot. A backup that fails or is cancelled writes its index
//! (so the next run reuses the uploaded data) and no snapshot.

pub(crate) mod adopt;
mod ahead;
mod archive;
mod exclude;
pub(crate) mod saver;
mod scan;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use exclude::ExcludeOptions;

use crate::error::{Error, Result};
use crate::format::FORMAT_VERSION;
use crate::format::snapshot::{Incomplete, MAX_RECORDED_WARNINGS, Snapshot, StreamInfo, Summary};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::SnapshotId;
use crate::ops::fsmeta;
use crate::ops::progress::Progress;
use crate::ops::select::SnapshotFilter;
use crate::repo::{LockHolder, LockKind, Repository};
use crate::time::now_ns;
use archive::{Archiver, build_top};
use saver::Saver;
use serde_bytes::ByteBuf;

/// What to back up.
pub enum BackupSource {
    /// Files and directories (made absolute; each is recreated under its
    /// full path in the snapshot, as restic does).
    Paths(Vec<PathBuf>),
    /// A byte stream (stdin), stored as one file.
    Stream {
        /// File name in the snapshot.
        filename: String,
        /// The stream.
        reader: Box<dyn Read + Send>,
    },
    /// A command's standard output, stored as one file. A non-zero exit
    /// fails the backup and writes no snapshot.
    Command {
        /// File name in the snapshot.
        filename: String,
        /// Program and arguments.
        argv: Vec<String>,
    },
}

impl std::fmt::Debug for BackupSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Paths(p) => f.debug_tuple("Paths").field(p).finish(),
            Self::Stream { filename, .. } => f
                .debug_struct("Stream")
                .field("filename", filename)
                .finish(),
            Self::Command { filename, argv } => f
                .debug_struct("Command")
                .field("filename", filename)
                .field("argv", argv)
                .finish(),
        }
    }
}

/// Options of a backup.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Host name recorded (and used to find the parent).
    pub host: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Snapshot time (ns); now when `None`.
    pub time: Option<i64>,
    /// Explicit parent snapshot; otherwise the latest with the same host
    /// and paths.
    pub parent: Option<SnapshotId>,
    /// Read every file even when the parent says it is unchanged.
    pub force: bool,
    /// Exclude rules.
    pub excludes: ExcludeOptions,
    /// Seal but store nothing; report what would be added.
    pub dry_run: bool,
    /// Seal threads (default: available cores).
    pub threads: usize,
    /// Write an index file at least this often while uploading.
    pub index_interval: Duration,
    /// Recorded as the snapshot's program version.
    pub program_version: String,
}

impl Default for BackupOptions {
    fn default() -> Self {
        Self {
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            tags: Vec::new(),
            time: None,
            parent: None,
            force: false,
            excludes: ExcludeOptions::default(),
            dry_run: false,
            threads: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            index_interval: Duration::from_secs(60),
            program_version: format!("rdr-core {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The outcome of a backup.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The snapshot written (`None` for a dry run).
    pub id: Option<SnapshotId>,
    /// The snapshot record (also for a dry run).
    pub snapshot: Snapshot,
    /// Entries that could not be read (the snapshot is then incomplete).
    pub warnings: Vec<String>,
    /// Packs left by a killed backup (listed by no index) that this backup
    /// checked and indexed before uploading anything.
    pub adopted_packs: usize,
}

impl BackupReport {
    /// Whether some entries were skipped.
    #[must_use]
    pub fn is_incomplete(&self) -> bool {
        self.snapshot.incomplete.is_some()
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p.display(), e))?;
    // Drop `.` and resolve `..` lexically, as restic does.
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

fn sorted_tags(tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = tags
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    t.sort();
    t.dedup();
    t
}

/// Backs up `source` into `repo`.
///
/// # Errors
/// Storage and repository errors; [`Error::SourceFailed`] when a command
/// fails or a stream cannot be read; [`Error::Cancelled`] when `progress`
/// asked to stop. Unreadable entries of a file tree are not errors: they
/// are reported in [`BackupReport::warnings`] and mark the snapshot
/// incomplete.
pub fn backup(
    repo: &Repository,
    source: BackupSource,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupReport> {
    let start = now_ns();
    let (user, uid, gid) = fsmeta::current_user();
    let mut snap = Snapshot {
        version: FORMAT_VERSION,
        time: opts.time.unwrap_or(start),
        tree: crate::id::BlobId::default(),
        paths: Vec::new(),
        hostname: opts.host.clone(),
        username: user,
        uid,
        gid,
        tags: sorted_tags(&opts.tags),
        parent: None,
        original: None,
        program_version: opts.program_version.clone(),
        excludes: opts.excludes.describe(),
        stream: None,
        incomplete: None,
        summary: Summary::default(),
    };
    // a backup lock: only what deletes at once (`prune --instant-delete`)
    // waits for it, since it could delete what this backup is about to use
    let holder = LockHolder::current();
    let _lock = if opts.dry_run {
        None
    } else {
        Some(repo.lock(LockKind::Backup, &holder)?)
    };
    // The index is read afresh under the lock: a handle kept open for
    // long (an embedder, `plan run`) must not dedup against packs a prune
    // deleted since it last looked. Then what a killed backup uploaded is
    // indexed before it is uploaded again.
    let adopted = if opts.dry_run {
        adopt::Adopted::default()
    } else {
        repo.reload_index()?;
        adopt::adopt_orphans(repo, &holder)?
    };
    let mut saver = Saver::new(repo, opts.threads, opts.dry_run, opts.index_interval)?;
    let outcome = match source {
        BackupSource::Paths(paths) => {
            backup_paths(repo, &mut saver, &mut snap, paths, opts, progress)
        }
        BackupSource::Stream { filename, reader } => {
            backup_stream(&mut saver, &mut snap, &filename, reader, None, progress)
                .map(|()| Vec::new())
        }
        BackupSource::Command { filename, argv } => {
            backup_command(&mut saver, &mut snap, &filename, argv, progress).map(|()| Vec::new())
        }
    };
    // Index what was uploaded in every case, then report the first error.
    let finished = saver_finish(saver, &mut snap);
    let warnings = outcome?;
    finished?;
    if !warnings.is_empty() {
        snap.incomplete = Some(Incomplete {
            count: warnings.len() as u64,
            errors: warnings
                .iter()
                .take(MAX_RECORDED_WARNINGS)
                .cloned()
                .collect(),
        });
    }
    snap.summary.start = start;
    snap.summary.end = now_ns();
    let id = if opts.dry_run {
        None
    } else {
        Some(repo.save_snapshot(&snap)?)
    };
    Ok(BackupReport {
        id,
        snapshot: snap,
        warnings,
        adopted_packs: adopted.packs,
    })
}

fn saver_finish(saver: Saver, snap: &mut Snapshot) -> Result<()> {
    let c = std::sync::Arc::clone(&saver.counters);
    let res = saver.finish();
    let s = &mut snap.summary;
    s.data_blobs = c.data_blobs.load(Ordering::Relaxed);
    s.tree_blobs = c.tree_blobs.load(Ordering::Relaxed);
    s.bytes_added = c.bytes_added.load(Ordering::Relaxed);
    s.bytes_added_stored = c.bytes_added_stored.load(Ordering::Relaxed);
    res
}

fn backup_paths(
    repo: &Repository,
    saver: &mut Saver,
    snap: &mut Snapshot,
    paths: Vec<PathBuf>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    if paths.is_empty() {
        return Err(Error::InvalidInput(
            "nothing to back up: give at least one path".into(),
        ));
    }
    let mut abs = Vec::new();
    for p in &paths {
        let a = absolute(p)?;
        std::fs::symlink_metadata(&a).map_err(|e| Error::io(a.display(), e))?;
        abs.push(a);
    }
    abs.sort();
    abs.dedup();
    snap.paths = abs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let parent_id = match (opts.parent, opts.force) {
        (Some(p), _) => Some(p),
        (None, true) => None,
        (None, false) => {
            let filter = SnapshotFilter {
                hosts: vec![opts.host.clone()],
                ..SnapshotFilter::default()
            };
            // (a damaged snapshot is no parent, and does not stop a backup)
            repo.snapshots_readable()?
                .0
                .into_iter()
                .rev()
                .find(|(_, s)| filter.matches(s) && s.paths == snap.paths && s.stream.is_none())
                .map(|(id, _)| id)
        }
    };
    let parent_tree = match parent_id {
        Some(id) => match repo
            .load_snapshot(&id)
            .and_then(|s| repo.load_tree(&s.tree))
        {
            Ok(tree) => {
                snap.parent = Some(id);
                Some(tree)
            }
            Err(e) if opts.parent.is_none() => {
                // The latest snapshot was chosen as parent, then forgotten
                // and pruned by a concurrent `forget --prune` (or it is
                // damaged): back up without a parent, reading every file.
                // The snapshot is complete, so this is no entry warning.
                let msg = format!("parent snapshot {} unusable, reading all: {e}", id.short());
                progress.warning(&abs[0], &msg);
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let excluder = exclude::Excluder::new(&opts.excludes)?;
    let top = build_top(&abs);
    let stop = AtomicBool::new(false);
    let res = std::thread::scope(|s| {
        if progress.wants_totals() {
            let ex = excluder.clone();
            let (top_paths, stop) = (&abs, &stop);
            s.spawn(move || scan::scan(top_paths, &ex, progress, stop));
        }
        let mut arch = Archiver::new(repo, saver, excluder, progress, opts.force);
        let res = arch.archive_top(&top, parent_tree.as_ref());
        stop.store(true, Ordering::Relaxed);
        let summary = std::mem::take(&mut arch.summary);
        let warnings = std::mem::take(&mut arch.warnings);
        res.map(|id| (id, summary, warnings))
    });
    let (tree, summary, warnings) = res?;
    snap.tree = tree;
    snap.summary = summary;
    Ok(warnings)
}

fn stream_node(filename: &str, snap: &Snapshot) -> Result<Node> {
    crate::format::tree::check_name(filename.as_bytes())
        .map_err(|_| Error::InvalidInput(format!("invalid stream file name {filename:?}")))?;
    let mut n = Node::new(filename.as_bytes(), NodeKind::File);
    n.mode = 0o600;
    n.uid = snap.uid;
    n.gid = snap.gid;
    n.user = Some(snap.username.clone());
    n.mtime = snap.time;
    n.ctime = snap.time;
    n.links = 1;
    Ok(n)
}

fn backup_stream(
    saver: &mut Saver,
    snap: &mut Snapshot,
    filename: &str,
    reader: Box<dyn Read + Send>,
    command: Option<&[String]>,
    progress: &dyn Progress,
) -> Result<()> {
    let mut node = stream_node(filename, snap)?;
    let mut hasher = blake3::Hasher::new();
    progress.current(Path::new(filename));
    let (ids, n) = saver
        .save_long_stream(reader, Some(&mut hasher), progress)?
        .map_err(|e| {
            Error::SourceFailed(format!("reading the stream for {filename} failed: {e}"))
        })?;
    node.content = ids;
    node.size = n;
    snap.paths = vec![format!("/{filename}")];
    snap.stream = Some(StreamInfo {
        filename: filename.to_owned(),
        bytes: n,
        blake3: ByteBuf::from(hasher.finalize().as_bytes().to_vec()),
        command: command.map(<[String]>::to_vec),
        exit_status: command.map(|_| 0),
    });
    let s = &mut snap.summary;
    s.files_new = 1;
    s.bytes_total = n;
    s.bytes_read = n;
    snap.tree = saver.save_tree(&Tree { nodes: vec![node] })?;
    Ok(())
}

fn backup_command(
    saver: &mut Saver,
    snap: &mut Snapshot,
    filename: &str,
    argv: Vec<String>,
    progress: &dyn Progress,
) -> Result<()> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| Error::InvalidInput("no command given".into()))?;
    let shown = argv.join(" ");
    let mut child = crate::process::command(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error::SourceFailed(format!("cannot start `{shown}`: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::SourceFailed(format!("`{shown}` has no stdout")))?;
    let res = backup_stream(
        saver,
        snap,
        filename,
        Box::new(stdout),
        Some(&argv),
        progress,
    );
    if res.is_err() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| Error::SourceFailed(format!("waiting for `{shown}`: {e}")))?;
    res?;
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exited with status {c}"),
            None => format!("was killed ({status})"),
        };
        return Err(Error::SourceFailed(format!("command `{shown}` {how}")));
    }
    Ok(())
}
