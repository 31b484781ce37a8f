//! Cross-crate tests live in tests/it/; this library holds what they share:
//! the public-API lister of rdr-core, and the storage servers the tests
//! start on 127.0.0.1.

pub mod public_api;
pub mod servers;
