//! Policy-authoring tools end to end: `seam validate`, `seam test` and
//! `seam check --explain` through the built binary on real folders, and
//! shadow policies and deny messages over a real socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

mod authoring {
    mod commands;
    mod live;
}
