//! What an operator watches seam with, end to end: the admin port's
//! `/metrics` scraped over HTTP from a real seam on loopback while
//! Envoy-shaped checks are answered and policies reload, and the
//! `seam.check` spans the `seam` binary exports over OTLP to a collector
//! the test runs, joined to the decision records they describe.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
pub mod support;

mod observability {
    pub mod collector;
    pub mod scrape;

    mod metrics;
    mod reload;
    mod traces;
}
