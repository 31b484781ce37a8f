//! Config: the plaintext decoder and the sealed-file path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::FileType;
use rdr_core::codec::open_file;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::format::config::Config;

fuzz_target!(|data: &[u8]| {
    let _ = Config::decode(data);
    let key = MasterKey::from_secret([0x42; 32]);
    if let Ok(plain) = open_file(&key, FileType::Config, data) {
        let _ = Config::decode(&plain);
    }
});
