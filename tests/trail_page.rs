//! The trail page in a real browser: a trail written by a real seam (the
//! shipped checkout through three hops, refusals, a hop whose parent record
//! is gone, a record carrying markup), served by the page's server on a
//! loopback port, loaded by headless Chromium. The rendered DOM and a
//! screenshot's pixels are checked.
//!
//! Chromium comes from Debian's `chromium` package (`/usr/bin/chromium`, or
//! the path in `SEAM_CHROMIUM`). Without it these tests fail and say so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
#[allow(
    dead_code,
    reason = "shared with other test crates; this one uses part of it"
)]
pub mod support;

mod trail_page {
    pub mod browser;
    pub mod example;
    pub mod pixels;

    mod dom;
    mod screenshot;
}
