//! Exit codes (documented in the README; restic's where they overlap).

use rdr_core::ErrorKind;

/// Fatal error.
pub const FATAL: i32 = 1;
/// Backup saved but incomplete, or restore done with metadata warnings.
pub const INCOMPLETE: i32 = 3;
/// `check` found damage.
pub const DAMAGED: i32 = 4;
/// A restore drill failed.
pub const DRILL_FAILED: i32 = 5;
/// `status` found a stale backup or a failed check or drill.
pub const UNHEALTHY: i32 = 6;
/// Interrupted (SIGINT/SIGTERM).
pub const INTERRUPTED: i32 = 130;
/// No repository at the location.
pub const NO_REPOSITORY: i32 = 10;
/// Lock could not be taken.
pub const LOCKED: i32 = 11;
/// Wrong password or identity.
pub const WRONG_PASSWORD: i32 = 12;

/// The exit code for an error chain: the first rdr-core error decides.
pub fn code_for(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<rdr_core::Error>() {
            return match err.kind() {
                ErrorKind::NoRepository => NO_REPOSITORY,
                ErrorKind::Locked => LOCKED,
                ErrorKind::WrongPassword => WRONG_PASSWORD,
                ErrorKind::Cancelled => INTERRUPTED,
                _ => FATAL,
            };
        }
    }
    FATAL
}
