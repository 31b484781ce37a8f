//! Shared helpers for rdr's criterion benches (`cargo bench -p rdr-benches`).
//! Under `cargo test` each bench runs once with small inputs, so the benches
//! cannot rot.

/// Whether criterion was started by `cargo bench` (full sizes) rather than
/// `cargo test` (one quick iteration on small inputs).
#[must_use]
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `n` pseudo-random bytes (incompressible), reproducible from `seed`.
#[must_use]
pub fn random_bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; n];
    blake3::Hasher::new_derive_key("rdr bench data")
        .update(&[seed])
        .finalize_xof()
        .fill(&mut v);
    v
}

/// `n` bytes of SQL-dump-like text (compressible).
#[must_use]
pub fn text_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 100);
    let mut i: u64 = 0;
    while v.len() < n {
        v.extend_from_slice(
            format!(
                "{i}\t{}\t{}\t                                        \n",
                i % 97,
                (i * 7919) % 100_003
            )
            .as_bytes(),
        );
        i += 1;
    }
    v.truncate(n);
    v
}

pub mod synth;
