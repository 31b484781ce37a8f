//! Operations over a repository, one module each: [`backup`], [`copy`], [`restore`],
//! [`dump`], the ways to look into snapshots ([`ls`], [`browse`] for
//! `mount`, [`diff`], [`find`],
//! [`stats`], [`tag`], [`rewrite`], [`select`]), retention ([`forget`] with its
//! [`policy`], [`prune`]), integrity ([`check`], [`repair`]) and recovery
//! readiness ([`drill`], [`status`], [`metrics`]).
//!
//! Each is a function taking the repository and an options struct and
//! returning a report; reports are `serde::Serialize`, so their JSON is the
//! same in every front end. Progress flows through [`progress::Progress`].

mod affected;
pub mod backup;
pub mod browse;
pub mod check;
mod check_read;
mod content;
pub mod copy;
pub mod diff;
pub mod drill;
pub mod dump;
mod filter;
pub mod find;
pub mod forget;
mod fsmeta;
pub mod ls;
pub mod metrics;
mod nav;
pub mod policy;
pub mod progress;
pub mod prune;
mod record;
pub mod repair;
mod report_json;
pub mod restore;
pub mod rewrite;
pub mod select;
pub mod stats;
pub mod status;
pub mod tag;
mod usage;
mod zip;
