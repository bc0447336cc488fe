//! Decision records as an audit trail: real files rotated, pruned,
//! continued after a restart and cut by a crash; `seam serve` stopped by
//! SIGTERM with records still queued; and the trail verifier catching every
//! kind of tampering with the file and line where it shows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
pub mod support;

mod records {
    pub mod files;

    mod chain;
    mod server;
    mod tampering;
}
