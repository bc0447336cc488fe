//! seam: an Envoy ext_authz authorizer that verifies the caller's SPIFFE
//! identity from its certificate, decides with Cedar policies over workload,
//! destination, data sensitivity and declared intent, and writes one
//! decision record per request.
//!
//! The modules follow the request path:
//! [`server`] (listeners, health, shutdown) → [`authz`] (the Check handler)
//! → [`identity`] (X.509-SVID verification) → [`request`] (Envoy's
//! attributes read into typed, normalised values) → [`token`] (a presented
//! Txn-Token verified into the transaction's chain) → [`policy`] (Cedar) →
//! [`token`] again (a task-scoped token minted on allow) → [`record`] (the
//! decision trail) → back to [`authz`], which turns every outcome into the
//! `CheckResponse` Envoy expects. [`admin`] serves health, metrics and the
//! published keys beside it. After the fact, [`trail`] reads the records back
//! to follow a transaction's delegated authority from hop to hop.

pub mod admin;
pub mod authoring;
pub mod authz;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dev;
pub mod identity;
pub mod metrics;
pub mod policy;
pub mod probe;
pub mod record;
pub mod request;
pub mod sensitivity;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod token;
pub mod trail;

/// seam's own protobuf messages, compiled from `proto/` by `build.rs`.
pub mod proto {
    #![allow(clippy::all, reason = "generated code")]
    include!(concat!(env!("OUT_DIR"), "/seam.v1.rs"));
}
