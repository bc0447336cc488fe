//! Verification tests: each builds its certificates with rcgen, changes one
//! thing, and expects the reason code the X.509-SVID rules give for it.

mod bundles;
mod cache;
mod chain;
mod encoding;
mod forwarded;
mod leaf;
mod pki;
