//! XChaCha20-Poly1305 sealing: `nonce (24) ‖ ciphertext ‖ tag (16)`.
//!
//! `chacha20poly1305` picks its ChaCha20 backend at run time; the AVX-512
//! one (1.7× the AVX2 one on this project's machines) is compiled in only
//! with `--cfg chacha20_avx512`, which the workspace's `.cargo/config.toml`
//! sets (docs/performance.md).

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};

use super::CryptoError;
use super::keys::SecretKey;

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length in bytes.
pub const TAG_LEN: usize = 16;
/// Bytes a seal adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.expose().into())
}

#[cfg(any(test, feature = "internals"))]
/// Seals `plaintext` under a fresh random nonce.
#[must_use]
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal_with_nonce(key, &super::rng::bytes::<NONCE_LEN>(), aad, plaintext)
}

/// Seals `plaintext` under the given nonce. Only test vectors pass a fixed
/// nonce; everything else goes through [`seal`].
#[must_use]
pub fn seal_with_nonce(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    seal_in_place(key, aad, &mut out);
    out
}

/// Seals in place: `buf` holds `nonce ‖ plaintext` on entry and
/// `nonce ‖ ciphertext ‖ tag` on return (the same bytes [`seal_with_nonce`]
/// gives), so a caller that built the plaintext behind the nonce needs no
/// second buffer.
///
/// # Panics
/// If `buf` is shorter than a nonce.
pub fn seal_in_place(key: &SecretKey, aad: &[u8], buf: &mut Vec<u8>) {
    let (nonce, text) = buf.split_at_mut(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap_or_else(|_| short_buffer());
    let tag = cipher(key)
        .encrypt_inout_detached(&nonce.into(), aad, text.into())
        // The only failure is a plaintext longer than 2^38 bytes; callers
        // never seal more than a pack header or a 16 MiB blob.
        .unwrap_or_else(|_| unreachable_len(text.len()));
    buf.extend_from_slice(&tag);
}

#[cold]
fn unreachable_len(len: usize) -> chacha20poly1305::Tag {
    // XChaCha20 accepts up to 256 GiB per message; rdr seals at most a few MiB.
    panic!("plaintext of {len} bytes exceeds the XChaCha20-Poly1305 limit")
}

#[cold]
fn short_buffer() -> [u8; NONCE_LEN] {
    panic!("seal_in_place needs the nonce at the front of the buffer")
}

/// Opens sealed bytes, returning the plaintext.
///
/// # Errors
/// [`CryptoError::TooShort`] when shorter than nonce plus tag,
/// [`CryptoError::Unauthenticated`] when the tag does not verify.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut buf = sealed.to_vec();
    let len = open_in_place(key, aad, &mut buf)?.len();
    buf.truncate(NONCE_LEN + len);
    buf.drain(..NONCE_LEN);
    Ok(buf)
}

/// Opens sealed bytes where they lie: the ciphertext inside `sealed` is
/// decrypted in place and returned, with no copy.
///
/// # Errors
/// As [`open`].
pub fn open_in_place<'a>(
    key: &SecretKey,
    aad: &[u8],
    sealed: &'a mut [u8],
) -> Result<&'a mut [u8], CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::TooShort {
            len: sealed.len(),
            min: OVERHEAD,
        });
    }
    let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
    let (ct, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
    let (Ok(nonce), Ok(tag)) = (
        <[u8; NONCE_LEN]>::try_from(&*nonce),
        <[u8; TAG_LEN]>::try_from(&*tag),
    ) else {
        return Err(CryptoError::Unauthenticated);
    };
    cipher(key)
        .decrypt_inout_detached(&nonce.into(), aad, ct.into(), &tag.into())
        .map_err(|_| CryptoError::Unauthenticated)?;
    Ok(ct)
}

#[cfg(test)]
mod tests {
    /// The cipher holds a copy of the key: it must be wiped when dropped
    /// (`chacha20poly1305`'s `zeroize` feature; without it this does not
    /// compile).
    #[test]
    fn the_cipher_wipes_its_key() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<XChaCha20Poly1305>();
    }

    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = SecretKey::from_bytes([9; 32]);
        let s = seal(&k, b"aad", b"secret");
        assert_eq!(s.len(), 6 + OVERHEAD);
        assert_eq!(open(&k, b"aad", &s).unwrap(), b"secret");
        let mut inplace = s.clone();
        assert_eq!(open_in_place(&k, b"aad", &mut inplace).unwrap(), b"secret");
        let mut bad = s.clone();
        bad[NONCE_LEN] ^= 1;
        assert!(open_in_place(&k, b"aad", &mut bad).is_err());
        assert!(open_in_place(&k, b"other", &mut s.clone()).is_err());
        assert!(open_in_place(&k, b"aad", &mut s[..OVERHEAD - 1].to_vec()).is_err());
        assert!(matches!(
            open(&k, b"other", &s),
            Err(CryptoError::Unauthenticated)
        ));
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 1;
            assert!(open(&k, b"aad", &t).is_err());
        }
        assert!(matches!(
            open(&k, b"aad", &s[..10]),
            Err(CryptoError::TooShort { .. })
        ));
    }

    #[test]
    fn fresh_nonces() {
        let k = SecretKey::from_bytes([9; 32]);
        assert_ne!(seal(&k, b"", b"x"), seal(&k, b"", b"x"));
    }

    /// draft-irtf-cfrg-xchacha-03, appendix A.3.1 (AEAD_XChaCha20_Poly1305).
    #[test]
    fn published_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; 24] = core::array::from_fn(|i| 0x40 + i as u8);
        let aad = [
            0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
        ];
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let sealed = seal_with_nonce(&SecretKey::from_bytes(key), &nonce, &aad, pt);
        let tag = &sealed[sealed.len() - TAG_LEN..];
        assert_eq!(hex(tag), "c0875924c1c7987947deafd8780acf49");
        assert_eq!(hex(&sealed[NONCE_LEN..NONCE_LEN + 8]), "bd6d179d3e83d43b");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
