//! `rdr ls`, `rdr diff`, `rdr find`, `rdr stats`.

use std::io::Write;

use anyhow::Result;
use rdr_core::Node;
use rdr_core::ops::diff::diff;
use rdr_core::ops::find::{ObjectKind, find, find_objects};
use rdr_core::ops::ls::{ls, node_json};
use rdr_core::ops::select::{SnapshotFilter, choose_snapshot, find_snapshot, split_reference};
use rdr_core::ops::stats::stats;
use rdr_core::time::format_ns;

use super::snapshots::select;
use super::{filter, human_bytes, open, plural};
use crate::cli::{Args, DiffArgs, FindArgs, LsArgs, StatsArgs};
use crate::quote::quote;

fn mode_string(n: &Node) -> String {
    let mut s = String::new();
    s.push(n.kind.letter());
    for (i, c) in ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x']
        .iter()
        .enumerate()
    {
        let bit = 0o400 >> i;
        s.push(if n.mode & bit != 0 { *c } else { '-' });
    }
    s
}

fn long_line(path: &[u8], n: &Node) -> String {
    let owner = n.user.clone().unwrap_or_else(|| n.uid.to_string());
    let group = n.group.clone().unwrap_or_else(|| n.gid.to_string());
    let mut line = format!(
        "{} {owner:>8} {group:>8} {:>12} {} {}",
        mode_string(n),
        n.size,
        format_ns(n.mtime),
        quote(path)
    );
    if let Some(t) = &n.target {
        line.push_str(&format!(" -> {}", quote(t)));
    }
    line
}

pub fn ls_cmd(args: &Args, a: &LsArgs) -> Result<i32> {
    let repo = open(args)?;
    let (reference, sub) = split_reference(&a.snapshot);
    let chosen = choose_snapshot(&repo, reference, &filter(&a.filter))?;
    super::warn_unreadable(&chosen);
    let (id, snap) = (chosen.id, &chosen.snapshot);
    let path = if sub.is_empty() {
        a.path.clone()
    } else {
        format!("{sub}/{}", a.path)
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.output.json {
        eprintln!(
            "snapshot {} of {:?} at {}:",
            id.short(),
            snap.paths,
            format_ns(snap.time)
        );
    }
    let mut err = None;
    ls(&repo, snap, &path, !a.no_recursive, &mut |p, n| {
        let line = if args.output.json {
            node_json(p, n).to_string()
        } else if a.long {
            long_line(p, n)
        } else {
            quote(p).into_owned()
        };
        if let Err(e) = writeln!(out, "{line}") {
            err.get_or_insert(e);
        }
    })?;
    out.flush()?;
    if let Some(e) = err {
        return Err(e.into());
    }
    Ok(if chosen.unreadable.is_empty() {
        0
    } else {
        crate::exit::INCOMPLETE
    })
}

pub fn diff_cmd(args: &Args, a: &DiffArgs) -> Result<i32> {
    let repo = open(args)?;
    let none = SnapshotFilter::default();
    let (ra, pa) = split_reference(&a.first);
    let (rb, pb) = split_reference(&a.second);
    let (ia, sa) = find_snapshot(&repo, ra, &none)?;
    let (ib, sb) = find_snapshot(&repo, rb, &none)?;
    let r = diff(&repo, &sa, pa, &sb, pb)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.output.json {
        for line in r.json_lines(&ia, &ib) {
            writeln!(out, "{line}")?;
        }
    } else {
        writeln!(out, "comparing snapshot {} to {}:", ia.short(), ib.short())?;
        for c in &r.changes {
            let slash = if c.is_dir { "/" } else { "" };
            writeln!(out, "{}    {}{slash}", c.kind.marker(), quote(&c.path))?;
        }
        let s = &r.stats;
        writeln!(
            out,
            "\nadded: {} ({}), removed: {} ({}), modified: {}, metadata only: {}",
            s.added,
            human_bytes(s.bytes_added),
            s.removed,
            human_bytes(s.bytes_removed),
            s.modified,
            s.metadata
        )?;
    }
    out.flush()?;
    Ok(0)
}

pub fn find_cmd(args: &Args, a: &FindArgs) -> Result<i32> {
    let repo = open(args)?;
    let (snaps, unreadable) = select(&repo, &a.snapshots, &a.filter)?;
    let object = if a.blob {
        Some(ObjectKind::Blob)
    } else if a.tree {
        Some(ObjectKind::Tree)
    } else if a.pack {
        Some(ObjectKind::Pack)
    } else {
        None
    };
    let report = match object {
        Some(kind) => find_objects(&repo, &snaps, kind, &a.patterns)?,
        None => find(&repo, &snaps, &a.patterns, a.ignore_case)?,
    };
    let matches = &report.matches;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut last = None;
    for m in matches {
        if args.output.json {
            writeln!(out, "{}", m.to_json())?;
            continue;
        }
        if last != Some(m.snapshot) {
            let time = snaps
                .iter()
                .find(|(i, _)| *i == m.snapshot)
                .map(|(_, s)| format_ns(s.time))
                .unwrap_or_default();
            writeln!(out, "found in snapshot {} from {time}:", m.snapshot.short())?;
            last = Some(m.snapshot);
        }
        writeln!(out, "  {}", long_line(&m.path, &m.node))?;
    }
    out.flush()?;
    if !args.output.json {
        eprintln!(
            "{} in {} searched",
            plural(matches.len(), "match", "matches"),
            plural(snaps.len(), "snapshot", "snapshots")
        );
    }
    for (id, e) in &report.errors {
        eprintln!(
            "rdr: warning: snapshot {} could not be searched: {e}",
            id.short()
        );
    }
    Ok(if report.errors.is_empty() && unreadable == 0 {
        0
    } else {
        crate::exit::INCOMPLETE
    })
}

pub fn stats_cmd(args: &Args, a: &StatsArgs) -> Result<i32> {
    let repo = open(args)?;
    let (snaps, unreadable) = select(&repo, &a.snapshots, &a.filter)?;
    let code = if unreadable == 0 {
        0
    } else {
        crate::exit::INCOMPLETE
    };
    let r = stats(&repo, &snaps)?;
    if args.output.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(code);
    }
    let mode = a.mode.as_deref();
    println!("snapshots:             {}", r.snapshots);
    if matches!(mode, None | Some("restore-size")) {
        println!("files (all snapshots): {}", r.files);
        println!("restore size:          {}", human_bytes(r.restore_size));
    }
    if matches!(mode, None | Some("files-by-contents")) {
        println!("file contents:         {} distinct", r.unique_files);
        println!(
            "their size:            {}",
            human_bytes(r.unique_files_size)
        );
    }
    if matches!(mode, None | Some("raw-data")) {
        println!("unique blobs:          {}", r.unique_blobs);
        println!("unique raw size:       {}", human_bytes(r.unique_raw));
        println!("stored size:           {}", human_bytes(r.unique_stored));
        println!("dedup ratio:           {:.2}x", r.dedup_ratio);
        println!("compression ratio:     {:.2}x", r.compression_ratio);
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdr_core::NodeKind;

    #[test]
    fn modes() {
        let mut n = Node::new(b"x", NodeKind::File);
        n.mode = 0o754;
        assert_eq!(mode_string(&n), "-rwxr-xr--");
    }
}
