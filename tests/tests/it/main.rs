//! One integration binary (one link) for the cross-crate tests.

mod append_only;
mod no_plaintext;
mod policy;
mod properties;
mod prune_crash;
mod public_api;
mod s3;
mod sftp;
mod vectors;
mod webdav;
