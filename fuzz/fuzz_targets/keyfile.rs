//! Key files: the container, the age layer (cheap scrypt bound) and metadata.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::crypto::wrap::{Unlocker, unwrap};
use rdr_core::format::keyfile::{KeyFile, KeyMeta};

fuzz_target!(|data: &[u8]| {
    let _ = KeyMeta::decode(data);
    if let Ok(kf) = KeyFile::decode(data) {
        let _ = unwrap(&kf.age, &Unlocker::Passphrase("fuzz"));
    }
});
