//! Keyed BLAKE3: blob ids never equal a plain content hash.

use super::keys::SecretKey;
use crate::id::{BlobId, Id};

/// The id of a blob: BLAKE3 keyed with the repository's id key.
#[must_use]
pub fn blob_id(key: &SecretKey, plaintext: &[u8]) -> BlobId {
    BlobId(Id(*blake3::keyed_hash(key.expose(), plaintext).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_differs_from_plain() {
        let k = SecretKey::from_bytes([3; 32]);
        let data = b"hello";
        assert_ne!(blob_id(&k, data).0, Id::hash_of(data));
        assert_ne!(
            blob_id(&k, data),
            blob_id(&SecretKey::from_bytes([4; 32]), data)
        );
    }
}
