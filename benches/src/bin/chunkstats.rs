//! Measures chunk-size parameters on real data, for choosing defaults
//! (docs/chunking.md).
//!
//! `chunkstats BASE NEW [TREE_DIR]`: for each parameter set, chunks BASE,
//! then reports how many bytes of NEW are in chunks BASE does not have (raw
//! and zstd-3 compressed: what a backup of NEW after BASE adds), the number
//! of chunks (index entries) and the master-index memory they need; with
//! TREE_DIR, also chunk count and dedup over a directory tree.

use std::collections::HashSet;
use std::path::Path;

use rdr_core::chunk::{ChunkerConfig, ChunkerParams};
use rdr_core::crypto::keys::SecretKey;

/// Bytes per blob in the master index (docs/performance.md), pack table included.
const INDEX_BYTES_PER_BLOB: f64 = 39.0;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            files(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: chunkstats BASE NEW [TREE_DIR]");
        std::process::exit(2);
    }
    let base = std::fs::read(&args[0]).expect("reading BASE");
    let new = std::fs::read(&args[1]).expect("reading NEW");
    let tree: Vec<Vec<u8>> = args.get(2).map_or_else(Vec::new, |d| {
        let mut v = Vec::new();
        files(Path::new(d), &mut v);
        v.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    });
    let key = SecretKey::from_bytes([9; 32]);
    let sets: [(u32, u32, u32); 7] = [
        (16 << 10, 64 << 10, 256 << 10),
        (32 << 10, 128 << 10, 512 << 10),
        (64 << 10, 256 << 10, 1 << 20),
        (128 << 10, 512 << 10, 2 << 20),
        (256 << 10, 1 << 20, 4 << 20),
        (512 << 10, 1 << 20, 8 << 20),
        (1 << 20, 2 << 20, 8 << 20),
    ];
    println!(
        "| min / avg / max | chunks of NEW | added raw MB | added zstd-3 MB | index MiB at 10 TB of such data | tree chunks | tree unique MB |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (min, avg, max) in sets {
        let cfg = ChunkerConfig::new(ChunkerParams { min, avg, max }, &key).expect("params");
        let have: HashSet<[u8; 32]> = cfg
            .split_slice(&base)
            .into_iter()
            .map(|(o, l)| *blake3::hash(&base[o..o + l]).as_bytes())
            .collect();
        let mut added_raw = 0usize;
        let mut added_z = 0usize;
        let mut seen = HashSet::new();
        let cuts = cfg.split_slice(&new);
        for &(o, l) in &cuts {
            let c = &new[o..o + l];
            let h = *blake3::hash(c).as_bytes();
            if !have.contains(&h) && seen.insert(h) {
                added_raw += l;
                added_z += zstd::bulk::compress(c, 3).map_or(l, |z| z.len().min(l));
            }
        }
        let (mut tree_chunks, mut tree_unique) = (0usize, 0usize);
        let mut tree_seen = HashSet::new();
        for f in &tree {
            for (o, l) in cfg.split_slice(f) {
                tree_chunks += 1;
                if tree_seen.insert(*blake3::hash(&f[o..o + l]).as_bytes()) {
                    tree_unique += l;
                }
            }
        }
        let blobs_per_10tb = 10e12 * cuts.len() as f64 / new.len() as f64;
        println!(
            "| {} / {} / {} KiB | {} | {:.2} | {:.3} | {:.0} | {} | {:.1} |",
            min >> 10,
            avg >> 10,
            max >> 10,
            cuts.len(),
            added_raw as f64 / 1e6,
            added_z as f64 / 1e6,
            blobs_per_10tb * INDEX_BYTES_PER_BLOB / (1 << 20) as f64,
            tree_chunks,
            tree_unique as f64 / 1e6
        );
    }
}
