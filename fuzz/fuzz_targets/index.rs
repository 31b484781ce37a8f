//! Index files: the CBOR decoder, the zstd layer and the sealed-file path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::FileType;
use rdr_core::codec::open_file;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::format::index::IndexFile;

fuzz_target!(|data: &[u8]| {
    let _ = IndexFile::decode(data);
    let _ = rdr_core::compress::decode(data, 1 << 24);
    let key = MasterKey::from_secret([0x42; 32]);
    if let Ok(plain) = open_file(&key, FileType::Index, data) {
        let _ = IndexFile::decode(&plain);
    }
});
