//! The one place where randomness enters rdr: nonces, keys and ids.

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system has no random source to give (nothing in rdr
/// can be sealed safely without one).
pub fn fill(buf: &mut [u8]) {
    getrandom::getrandom(buf).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
}

/// Returns `N` random bytes.
#[must_use]
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill(&mut b);
    b
}
