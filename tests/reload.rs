//! Policy hot reload end to end: a real seam on loopback watching a policy
//! folder in a temporary directory, while clients send checks without a
//! pause. Each test changes the folder the way operators and tools do and
//! asserts that every check was decided, that each decision came from the
//! set in force (the two sets here disagree about the reporter's request),
//! and that a new set was in force within the debounce plus one periodic
//! check, or that a bad candidate was refused and shown on the admin port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "decision_path/support.rs"]
pub mod support;

mod reload {
    pub mod folder;
    pub mod traffic;

    mod field_cases;
    mod refusals;
    mod switches;
}
