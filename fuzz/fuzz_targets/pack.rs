//! Packs: trailer, header plaintext decoder, and a whole pack.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::format::pack;

fuzz_target!(|data: &[u8]| {
    let _ = pack::decode_header(data, data.len() as u64);
    let _ = pack::decode_header(data, 0);
    if data.len() >= 4 {
        let _ = pack::parse_trailer(&data[data.len() - 4..], data.len() as u64);
    }
    let key = MasterKey::from_secret([0x42; 32]);
    let _ = rdr_core::codec::parse_pack(&key, data);
});
