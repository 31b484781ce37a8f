//! Check and drill records: stamping a new record with who ran it. The
//! records themselves are stored by [`crate::repo::Repository::save_record`]
//! and read back by `status`.

use crate::format::record::{Record, RecordKind};
use crate::ops::fsmeta;

/// A record of `kind` from `start` to `end` (ns), run by this host, user
/// and program, keeping the first errors.
#[must_use]
pub fn new_record(kind: RecordKind, start: i64, end: i64, errors: &[String]) -> Record {
    let mut r = Record::new(kind, start, end, errors);
    r.hostname = gethostname::gethostname().to_string_lossy().into_owned();
    r.username = fsmeta::current_user().0;
    r.program_version = format!("rdr {}", env!("CARGO_PKG_VERSION"));
    r
}
