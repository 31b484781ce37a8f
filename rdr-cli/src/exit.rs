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

/// What a person can do about an error (core errors state facts; advice
/// for people lives here).
pub fn advice_for(e: &anyhow::Error) -> Option<String> {
    for cause in e.chain() {
        if let Some(loc) = cause.downcast_ref::<rdr_core::LocationError>() {
            return location_advice(loc);
        }
        if let Some(err) = cause.downcast_ref::<rdr_core::Error>() {
            return match err {
                rdr_core::Error::Location(loc) => location_advice(loc),
                rdr_core::Error::NoRepository { .. } => Some("create one with `rdr init`".into()),
                rdr_core::Error::Locked { .. } => Some(
                    "wait for the holder to finish; `rdr unlock` removes locks whose holder is gone"
                        .into(),
                ),
                rdr_core::Error::Corrupt { .. } => Some(
                    "run `rdr check --read-data` to see what is damaged, then `rdr repair`".into(),
                ),
                rdr_core::Error::PacksMissing { .. } => Some(
                    "nothing was changed: run `rdr check` to see which snapshots are affected"
                        .into(),
                ),
                rdr_core::Error::WouldEmptyGroup { .. } => {
                    Some("use --allow-empty to allow it".into())
                }
                rdr_core::Error::AppendOnly { .. } => Some(
                    "an append-only repository keeps everything; to thin it out, copy the snapshots \
                     to keep into a new repository (`rdr copy`)"
                        .into(),
                ),
                rdr_core::Error::Backend(rdr_core::BackendError::DeleteRefused { .. }) => Some(
                    "nothing was changed; run forget and prune with credentials that may delete, \
                     or leave this copy to expire by the storage's own retention"
                        .into(),
                ),
                rdr_core::Error::KeyInUse { .. } => Some(
                    "open the repository with another key to remove this one, or replace it with `rdr key passwd`"
                        .into(),
                ),
                _ => None,
            };
        }
    }
    None
}

fn location_advice(e: &rdr_core::LocationError) -> Option<String> {
    match e {
        rdr_core::LocationError::UnknownScheme(s) => {
            Some(format!("write ./{s}:... for a local directory of that name"))
        }
        rdr_core::LocationError::Credentials { .. } => Some(
            "give credentials through the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             B2_ACCOUNT_ID, AZURE_ACCOUNT_KEY, ...) or the storage's own configuration"
                .into(),
        ),
        _ => None,
    }
}
