//! `seam trail` end to end: records written by a real seam deciding real
//! checks (with the file sink), then read back by the `seam` binary the way
//! an auditor runs it, on intact files and on files the test damages the
//! ways production does (a crash mid-write, a lost rotated file, two
//! instances in one file, a newer writer's fields).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
pub mod support;

mod trail {
    pub mod run;

    mod damaged;
    mod stale;
    mod transaction;
}
