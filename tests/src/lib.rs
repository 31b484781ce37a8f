//! Cross-crate tests live in tests/it/; this library holds what they share:
//! the public-API lister of rdr-core.

pub mod public_api;
