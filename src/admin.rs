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

use crate::authz::Authorizer;
use crate::policy::watch::PolicyReloader;

/// What the admin routes read.
#[derive(Debug, Clone)]
struct Admin {
    authorizer: Arc<Authorizer>,
    reloader: Arc<PolicyReloader>,
}

/// Builds the admin routes over `authorizer` and the policy `reloader`.
pub fn router(authorizer: Arc<Authorizer>, reloader: Arc<PolicyReloader>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(Admin {
            authorizer,
            reloader,
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
        "ready": admin.authorizer.not_ready().is_empty(),
        "not_ready": admin.authorizer.not_ready(),
    });
    axum::Json(body).into_response()
}

async fn metrics(State(admin): State<Admin>) -> Response {
    let body = crate::metrics::render(&admin.authorizer, &admin.reloader);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}
