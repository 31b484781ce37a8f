//! The public API of rdr-core, compared with the listing checked in as
//! rdr-core/public-api.txt, so every change to the surface shows in review.
//! After a deliberate change: `RDR_UPDATE_API=1 cargo test -p rdr-tests public_api`.
//! Also: the CLI and the FFI use only that API.

use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

#[test]
fn public_api_matches_the_checked_in_listing() {
    let root = workspace().join("rdr-core");
    let lines = rdr_tests::public_api::listing("rdr_core", &root.join("src"));
    let text = lines.join("\n") + "\n";
    let file = root.join("public-api.txt");
    if std::env::var_os("RDR_UPDATE_API").is_some() {
        std::fs::write(&file, &text).expect("write listing");
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_default();
    let want_lines: Vec<&str> = want.lines().collect();
    let added: Vec<&String> = lines
        .iter()
        .filter(|l| !want_lines.contains(&l.as_str()))
        .collect();
    let removed: Vec<&&str> = want_lines
        .iter()
        .filter(|l| !lines.iter().any(|g| g == **l))
        .collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the public API changed (RDR_UPDATE_API=1 updates rdr-core/public-api.txt):\n\
         added:\n  {}\nremoved:\n  {}",
        added
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        removed.iter().map(|s| **s).collect::<Vec<_>>().join("\n  "),
    );
    assert!(
        !text.contains("unnameable type"),
        "the API uses types it does not export:\n{}",
        lines
            .iter()
            .filter(|l| l.starts_with("unnameable"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_listing_leaves_out_internals() {
    let root = workspace().join("rdr-core").join("src");
    let lines = rdr_tests::public_api::listing("rdr_core", &root);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("pub struct rdr_core::Repository"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("pub fn rdr_core::Location::parse("))
    );
    for internal in [
        "seal_blob",
        "MasterIndex",
        "Packer",
        "LocalBackend",
        "codec",
        "DedupSet",
    ] {
        assert!(
            !lines.iter().any(|l| l.contains(internal)),
            "{internal} is listed"
        );
    }
}

/// The shells name no internal module of rdr-core (the build of `rdr-cli`
/// and `rdr-ffi` alone, in scripts/test.sh, proves they compile without the
/// `internals` feature; this names the rule).
#[test]
fn cli_and_ffi_use_only_the_public_api() {
    let forbidden = [
        "rdr_core::backend",
        "rdr_core::codec",
        "rdr_core::crypto",
        "rdr_core::format",
        "rdr_core::repo::",
        "rdr_core::chunk",
        "rdr_core::compress",
        "LocalBackend",
        "MemoryBackend",
    ];
    let mut stack = vec![
        workspace().join("rdr-cli/src"),
        workspace().join("rdr-ffi/src"),
    ];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                for f in forbidden {
                    assert!(!text.contains(f), "{} names {f}", path.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} files checked");
}
