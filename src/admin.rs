//! The admin HTTP port, beside the ext_authz listeners: liveness, readiness,
//! the published signing keys, counters, and the state of the policy set
//! and its reloads. Loopback by default; it serves no decision and accepts
//! no change.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::authz::{Authorizer, rfc3339};
use crate::identity::material::{MaterialStore, WorkloadReloader};
use crate::policy::watch::PolicyReloader;

/// What the admin routes read.
#[derive(Debug, Clone)]
struct Admin {
    authorizer: Arc<Authorizer>,
    reloader: Arc<PolicyReloader>,
    identity: Identity,
}

/// The identity material in force and, when it comes from the Workload
/// API, the client's own view of the agent.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The store every verification and handshake reads.
    pub material: Arc<MaterialStore>,
    /// The Workload API feed, when that is the source.
    pub agent: Option<Arc<WorkloadReloader>>,
}

/// Builds the admin routes over `authorizer`, the policy `reloader` and the
/// identity material.
pub fn router(
    authorizer: Arc<Authorizer>,
    reloader: Arc<PolicyReloader>,
    identity: Identity,
) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(Admin {
            authorizer,
            reloader,
            identity,
        })
}

async fn readyz(State(Admin { authorizer, .. }): State<Admin>) -> Response {
    let missing = authorizer.not_ready();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("not ready: {}\n", missing.join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn jwks(State(Admin { authorizer, .. }): State<Admin>) -> Response {
    let body = authorizer.jwks().to_string();
    ([(header::CONTENT_TYPE, "application/jwk-set+json")], body).into_response()
}

/// The policy set in force and the reloader's record. `loaded_at` is shown
/// only while the set in force is the one the reloader last loaded.
async fn status(State(admin): State<Admin>) -> Response {
    let policies = admin.authorizer.policies().snapshot();
    let report = admin.reloader.status().report();
    let loaded_at = |version: &str| {
        report
            .live
            .as_ref()
            .filter(|live| live.version == version)
            .map(|live| live.loaded_at.clone())
    };

    let head = admin.authorizer.recorder().stats().head();
    let body = serde_json::json!({
        "policy_set": policies.as_ref().map(|p| serde_json::json!({
            "version": p.version(),
            "policies": p.len(),
            "loaded_at": loaded_at(p.version()),
        })),
        "reload": {
            "dir": admin.reloader.dir().display().to_string(),
            "watching_events": report.watching_events,
            "last_attempt": report.last_attempt,
            "last_error": report.last_error,
            "reloads_ok": report.reloads_ok,
            "reloads_failed": report.reloads_failed,
        },
        "shadow_set": admin.authorizer.shadow_policies().snapshot().map(|p| serde_json::json!({
            "version": p.version(),
            "policies": p.len(),
        })),
        // The record chain's head: `seam trail verify --head <seq>:<hash>`
        // checks a trail against it, so the newest lines cannot be rewritten
        // unnoticed once this has been seen elsewhere.
        "records": {
            "head": {
                "seq": head.seq,
                "hash": head.hash,
            },
        },
        "identity": identity_status(&admin.identity),
        "ready": admin.authorizer.not_ready().is_empty(),
        "not_ready": admin.authorizer.not_ready(),
    });
    axum::Json(body).into_response()
}

/// The material in force, what reloading it found, and the Workload API
/// client's connection, for `/status`.
fn identity_status(identity: &Identity) -> serde_json::Value {
    let mut value = serde_json::json!(identity.material.status());
    if let (Some(agent), Some(map)) = (&identity.agent, value.as_object_mut()) {
        let client = agent.client_status();
        map.insert(
            "workload_api".into(),
            serde_json::json!({
                "socket": agent.socket(),
                "connected": client.as_ref().map(|c| c.connected),
                "material": client.as_ref().map(|c| format!("{:?}", c.material)),
                "last_update": client.as_ref().and_then(|c| c.last_update).map(rfc3339),
                "last_error": client.as_ref().and_then(|c| c.last_error.as_ref()).map(|f| {
                    serde_json::json!({
                        "kind": format!("{:?}", f.kind),
                        "message": f.message,
                        "at": rfc3339(f.at),
                    })
                }),
                "updates_published": client.as_ref().map(|c| c.updates_published),
                "updates_rejected": client.as_ref().map(|c| c.updates_rejected),
            }),
        );
    }
    value
}

async fn metrics(State(admin): State<Admin>) -> Response {
    let mut body = crate::metrics::render(&admin.authorizer, &admin.reloader);
    identity_metrics(&mut body, &admin.identity);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}

/// Identity material gauges and counters, appended to the metrics page.
fn identity_metrics(out: &mut String, identity: &Identity) {
    use std::fmt::Write;

    let status = identity.material.status();
    let expiry = identity
        .material
        .current()
        .svid
        .as_ref()
        .and_then(|svid| svid.not_after().duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let failing = u64::from(status.last_error.is_some());
    let connected = identity
        .agent
        .as_ref()
        .and_then(|agent| agent.client_status())
        .map(|c| u64::from(c.connected));

    let _ = writeln!(
        out,
        "# HELP seam_identity_reloads_total Identity material replaced or refused after start, by result.\n\
         # TYPE seam_identity_reloads_total counter\n\
         seam_identity_reloads_total{{result=\"ok\"}} {}\n\
         seam_identity_reloads_total{{result=\"failed\"}} {}",
        status.reloads_ok, status.reloads_failed
    );
    let _ = writeln!(
        out,
        "# HELP seam_identity_material_failing 1 while a part of the identity material could not be loaded (the last good stays).\n\
         # TYPE seam_identity_material_failing gauge\n\
         seam_identity_material_failing {failing}"
    );
    let _ = writeln!(
        out,
        "# HELP seam_own_svid_expiry_timestamp_seconds notAfter of seam's own SVID in force (Unix time, 0 without one).\n\
         # TYPE seam_own_svid_expiry_timestamp_seconds gauge\n\
         seam_own_svid_expiry_timestamp_seconds {expiry}"
    );
    if let Some(connected) = connected {
        let _ = writeln!(
            out,
            "# HELP seam_workload_api_connected 1 while the Workload API stream is open.\n\
             # TYPE seam_workload_api_connected gauge\n\
             seam_workload_api_connected {connected}"
        );
    }
}
