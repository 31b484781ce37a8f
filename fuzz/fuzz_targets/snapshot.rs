//! Snapshot files: the CBOR decoder and the sealed-file path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::FileType;
use rdr_core::codec::open_file;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::format::snapshot::Snapshot;

fuzz_target!(|data: &[u8]| {
    let _ = Snapshot::decode(data);
    let key = MasterKey::from_secret([0x42; 32]);
    if let Ok(plain) = open_file(&key, FileType::Snapshot, data) {
        let _ = Snapshot::decode(&plain);
    }
});
