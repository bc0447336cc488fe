//! Envoy's request attributes read into typed, normalised values.

pub mod credential;
pub mod headers;
pub mod host;
pub mod path;
pub mod trace;
