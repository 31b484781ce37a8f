//! Repository locations: any text parses or errs, never panics, and what
//! parses prints back to the same location.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::Location;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loc) = Location::parse(text) {
        assert_eq!(Location::parse(&loc.to_string()), Ok(loc));
    }
});
