//! The decision path end to end: a real seam server on loopback (and a Unix
//! socket), called by a tonic client sending Envoy's own CheckRequest types
//! shaped as Envoy sends them, with certificates made in the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

mod decision_path {
    pub mod support;

    mod field_cases;
    mod identity_cases;
    mod lifecycle;
    mod shipped_examples;
    mod token_chain;
}
