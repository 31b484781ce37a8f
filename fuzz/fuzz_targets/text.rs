//! The text parsers of user input: durations (`--rpo`, `--grace`), UTC
//! times, retention counts and calendar durations, grouping, ids, age
//! recipients and identities. Any text parses or errs, never panics; a
//! parsed duration prints back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdr_core::ops::policy::{KeepCount, KeepDuration};
use rdr_core::ops::select::GroupBy;
use rdr_core::{Id, Identities, parse_recipient, time};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = time::parse_duration(text) {
        let again = time::parse_duration(&format!("{}s", d.as_secs()));
        assert_eq!(again, Ok(d));
    }
    let _ = time::parse_utc(text);
    let _ = KeepCount::parse(text);
    if let Ok(d) = KeepDuration::parse(text) {
        assert!(d.years >= 0 && d.months >= 0 && d.days >= 0 && d.hours >= 0);
    }
    let _ = GroupBy::parse(text);
    let _ = text.parse::<Id>();
    let _ = parse_recipient(text);
    let _ = Identities::parse(text);
});
