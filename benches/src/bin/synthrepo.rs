//! Fills an empty repository (made by `rdr init`) with a synthetic data set
//! of many tiny blobs, for the prune and check scale benches
//! (`benches/prune-scale.sh`; layout in `rdr_benches::synth`).
//!
//! `synthrepo REPO_DIR [--blobs N] [--blobs-per-pack N] [--blobs-per-file N]
//! [--files-per-dir N]`, password in `RDR_PASSWORD`.
//!
//! Packs are written without fsync (hundreds of thousands of small files;
//! a crash of the bench only loses the bench); everything else goes through
//! the normal local backend.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rdr_benches::synth::{SynthSpec, build};
use rdr_core::backend::{Backend, BackendError, FileType, Hooked, LocalBackend};
use rdr_core::{Credential, Repository, Storage};

/// The local backend at `dir`, with pack writes that skip fsync.
fn fast_packs(dir: &str) -> rdr_core::Result<Hooked> {
    let root = PathBuf::from(dir);
    let inner: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir)?);
    Ok(Hooked::new(
        inner,
        Box::new(move |inner, ft, name, data| {
            if ft != FileType::Pack {
                return inner.write_new(ft, name, data);
            }
            let path = root.join(ft.path(name));
            let io = |e: std::io::Error| BackendError::Io {
                op: "write",
                path: path.display().to_string(),
                message: e.to_string(),
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            std::fs::write(&path, data).map_err(io)
        }),
    ))
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("synthrepo: {name} needs a number, got {v:?}");
                std::process::exit(2)
            })
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().filter(|a| !a.starts_with('-')) else {
        eprintln!(
            "usage: synthrepo REPO_DIR [--blobs N] [--blobs-per-pack N] [--blobs-per-file N] [--files-per-dir N]"
        );
        std::process::exit(2)
    };
    let d = SynthSpec::default();
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let spec = SynthSpec {
        blobs: arg(&args, "--blobs", d.blobs),
        blobs_per_pack: narrow(arg(&args, "--blobs-per-pack", d.blobs_per_pack.into())),
        blobs_per_file: narrow(arg(&args, "--blobs-per-file", d.blobs_per_file.into())),
        files_per_dir: narrow(arg(&args, "--files-per-dir", d.files_per_dir.into())),
    };
    let password = std::env::var("RDR_PASSWORD").unwrap_or_else(|_| {
        eprintln!("synthrepo: set RDR_PASSWORD");
        std::process::exit(2)
    });
    let run = || -> rdr_core::Result<()> {
        let backend = Arc::new(fast_packs(dir)?);
        let repo = Repository::open(
            &Storage::from_backend(backend),
            &Credential::Passphrase(&password),
        )?;
        let t = Instant::now();
        let tty = std::io::stderr().is_terminal();
        let r = build(&repo, &spec, &|n| {
            if tty {
                eprint!("\rsynthrepo: {n} of {} data blobs", spec.blobs);
            }
        })?;
        if tty {
            eprintln!();
        }
        println!(
            "synthrepo: {} data blobs + {} tree blobs in {} packs ({:.1} MiB), {} index files, snapshots {} (old) and {} (new), {:.1} s",
            r.data_blobs,
            r.tree_blobs,
            r.packs,
            r.pack_bytes as f64 / f64::from(1 << 20),
            r.index_files,
            r.old,
            r.new,
            t.elapsed().as_secs_f64()
        );
        println!(
            "synthrepo: forgetting the old snapshot leaves {} data blobs used",
            spec.blobs_kept()
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("synthrepo: {e}");
        std::process::exit(1);
    }
}
