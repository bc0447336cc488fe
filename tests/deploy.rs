//! Probe.
#[test]
fn probe() {}
