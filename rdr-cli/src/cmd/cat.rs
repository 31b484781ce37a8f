//! `rdr cat config|index|pack-header|blob`

use std::io::Write;

use anyhow::{Context, Result};
use rdr_core::FileType;
use rdr_core::{BlobId, IndexId, PackId};

use super::{human_bytes, open};
use crate::cli::{Args, CatCommand};

pub fn run(args: &Args, cmd: &CatCommand) -> Result<()> {
    let repo = open(args)?;
    match cmd {
        CatCommand::Config { json } => {
            let c = repo.config();
            if *json {
                println!("{}", serde_json::to_string_pretty(c)?);
            } else {
                println!("repository      {}", c.id);
                println!("location        {}", repo.location());
                println!("format version  {}", c.version);
                if c.append_only {
                    println!("append-only     yes: rdr deletes nothing from it");
                }
                println!(
                    "chunker         min {} / avg {} / max {}",
                    human_bytes(c.chunker.min.into()),
                    human_bytes(c.chunker.avg.into()),
                    human_bytes(c.chunker.max.into())
                );
                println!("compression     zstd level {}", c.compression);
                println!(
                    "pack size       data {} / tree {}",
                    human_bytes(c.data_pack_size.into()),
                    human_bytes(c.tree_pack_size.into())
                );
            }
        }
        CatCommand::Index { id, json } => {
            let id = IndexId(repo.find_id(FileType::Index, id)?);
            let f = repo.load_index_file(&id)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&f)?);
            } else {
                println!(
                    "index {id}: {} packs, {} blobs, supersedes {}",
                    f.packs.len(),
                    f.blob_count(),
                    f.supersedes.len()
                );
                for p in &f.packs {
                    println!("pack {}", p.id);
                    for b in &p.blobs {
                        println!(
                            "  {} {} offset {} length {} raw {}",
                            b.blob_type.name(),
                            b.id,
                            b.offset,
                            b.length,
                            b.raw_length
                        );
                    }
                }
            }
        }
        CatCommand::PackHeader { id, json } => {
            let id = PackId(repo.find_id(FileType::Pack, id)?);
            let entries = repo.load_pack_header(&id)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in entries {
                    println!(
                        "{} {} offset {} length {} raw {}",
                        e.blob_type.name(),
                        e.id,
                        e.offset,
                        e.length,
                        e.raw_length
                    );
                }
            }
        }
        CatCommand::Blob { id } => {
            let id: BlobId = id.parse().context("blob id")?;
            let data = repo.read_blob(&id)?;
            std::io::stdout()
                .lock()
                .write_all(&data)
                .context("writing to stdout")?;
        }
    }
    Ok(())
}
