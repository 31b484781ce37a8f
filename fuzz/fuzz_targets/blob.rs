//! Sealed blobs and the compression codec.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::{BlobId, BlobType, Id};

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_secret([0x42; 32]);
    let _ = rdr_core::codec::open_blob(&key, BlobType::Data, &BlobId(Id([0; 32])), data, 1 << 20);
    let _ = rdr_core::compress::decode(data, 1 << 20);
});
