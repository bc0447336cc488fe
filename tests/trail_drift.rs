//! `seam trail drift` end to end: a real seam over the shipped example
//! policies decides two windows of traffic on loopback and writes its
//! records to a file; drift then reads them back and asks the same policies
//! (or a tightened copy) what each workload is granted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
pub mod support;

mod trail_drift {
    pub mod traffic;

    mod cli;
    mod report;
}
