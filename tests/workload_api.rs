//! seam's Workload API source against a stand-in SPIRE agent on a Unix
//! socket in a temporary folder: first material, rotation, federation, a
//! refused update, the agent going away and coming back, and the agent's
//! own refusal of calls without the security header; and `seam serve`
//! running its mTLS listener on that agent's material.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

mod workload_api {
    pub mod agent;
    pub mod pki;

    mod cases;
    mod serve;
}
