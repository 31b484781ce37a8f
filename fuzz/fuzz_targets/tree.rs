//! Tree blobs: the CBOR decoder and its validation (names, order, holes),
//! then the content layout a restore derives from a decoded node.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::format::tree::Tree;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tree::decode(data) {
        // A valid tree re-encodes to something that decodes the same.
        let again = Tree::decode(&t.encode()).expect("re-encoded tree decodes");
        assert_eq!(again, t);
        for n in &t.nodes {
            let _ = n.data_bytes();
        }
    }
});
