//! Operations over a repository: backup, restore, dump, and the ways to
//! look into snapshots (ls, diff, find, stats, tag). Each is a function
//! taking an options struct and returning a report; progress flows through
//! [`progress::Progress`].

pub mod affected;
pub mod backup;
pub mod check;
mod content;
pub mod diff;
pub mod drill;
pub mod dump;
pub mod find;
pub mod forget;
pub(crate) mod fsmeta;
pub mod ls;
pub mod metrics;
pub mod nav;
pub mod policy;
pub mod progress;
pub mod prune;
pub mod record;
pub mod repair;
pub mod restore;
pub mod select;
pub mod stats;
pub mod status;
pub mod tag;
pub mod usage;
