//! The page's server over a real loopback socket: the JSON API on
//! hand-written record lines shaped like seam's, the security headers,
//! the loopback-only checks, and reading the files again when they change.

mod api;
mod guard;
mod support;
