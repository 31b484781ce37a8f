//! Check and drill records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::FileType;
use rdr_core::codec::open_file;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::format::record::Record;

fuzz_target!(|data: &[u8]| {
    let _ = Record::decode(data);
    let key = MasterKey::from_secret([0x42; 32]);
    if let Ok(plain) = open_file(&key, FileType::Record, data) {
        let _ = Record::decode(&plain);
    }
});
