//! One integration binary (one link) for the cross-crate tests.

mod no_plaintext;
mod properties;
mod vectors;
