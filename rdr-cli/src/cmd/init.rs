//! `rdr init`

use anyhow::{Context, Result};
use rdr_core::{InitOptions, LockHolder, NewKey, Repository};
use zeroize::Zeroizing;

use super::{parse_size, storage};

use crate::cli::{Args, InitArgs};
use crate::credentials;

pub fn run(args: &Args, a: &InitArgs) -> Result<()> {
    let size32 = |s: &str, what: &str| -> Result<u32> {
        u32::try_from(parse_size(s)?).with_context(|| format!("{what} {s} is too large"))
    };
    let storage = storage(args)?;
    let defaults = InitOptions::for_storage(&storage);
    let opts = InitOptions {
        chunker: rdr_core::ChunkerParams {
            min: size32(&a.chunk_min, "minimum chunk size")?,
            avg: size32(&a.chunk_avg, "average chunk size")?,
            max: size32(&a.chunk_max, "maximum chunk size")?,
        },
        compression: a.compression,
        pack_size: match &a.pack_size {
            Some(s) => size32(s, "pack size")?,
            None => defaults.pack_size,
        },
        blob_identity: None,
        append_only: a.append_only,
    };
    let opts = match (a.copy_chunker_params, &a.from.from_repo) {
        (true, _) => InitOptions {
            blob_identity: Some(super::open_source(args, &a.from)?.blob_identity()),
            ..opts
        },
        // (RDR_FROM_REPOSITORY alone, set for `copy`, changes nothing here)
        (false, _) => opts,
    };
    let recipients = credentials::recipients(&a.recipients, a.recipients_file.as_deref())?;
    let key = if recipients.is_empty() {
        let pw = credentials::password(args, true)?;
        NewKey::Passphrase {
            passphrase: Zeroizing::new(pw.to_string()),
            log_n: a.kdf.kdf_log_n,
        }
    } else {
        NewKey::Recipients(recipients)
    };
    let repo = Repository::init(&storage, &opts, &key, &LockHolder::current())?;
    if super::quiet() {
        println!("{}", repo.config().id);
        return Ok(());
    }
    eprintln!(
        "created repository {} at {}",
        repo.config().id.short(),
        repo.location()
    );
    if repo.append_only() {
        eprintln!(
            "it is append-only: rdr will never delete from it (forget and prune are refused)"
        );
    }
    eprintln!("keep the password (or identity) safe: without it the data cannot be recovered");
    println!("{}", repo.config().id);
    Ok(())
}
