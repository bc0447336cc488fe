//! The admin HTTP port, beside the ext_authz listeners: liveness, readiness,
//! the published signing keys, counters, and the state of the policy set.
//! Loopback by default; it serves no decision and accepts no change.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::authz::Authorizer;

/// Builds the admin routes over `authorizer`.
pub fn router(authorizer: Arc<Authorizer>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(authorizer)
}

async fn readyz(State(authorizer): State<Arc<Authorizer>>) -> Response {
    let missing = authorizer.not_ready();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("not ready: {}\n", missing.join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn jwks(State(authorizer): State<Arc<Authorizer>>) -> Response {
    let body = authorizer.jwks().to_string();
    ([(header::CONTENT_TYPE, "application/jwk-set+json")], body).into_response()
}

async fn status(State(authorizer): State<Arc<Authorizer>>) -> Response {
    let policies = authorizer.policies().snapshot();
    let body = serde_json::json!({
        "policy_set": policies.as_ref().map(|p| serde_json::json!({
            "version": p.version(),
            "policies": p.len(),
        })),
        "ready": authorizer.not_ready().is_empty(),
    });
    axum::Json(body).into_response()
}

async fn metrics(State(authorizer): State<Arc<Authorizer>>) -> Response {
    let stats = authorizer.stats();
    let records = authorizer.recorder().stats();
    let (hits, misses) = authorizer.identity_cache_stats();
    let mut out = String::new();

    let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    };
    counter(
        "seam_decisions_total",
        "Checks answered, by outcome in Envoy's words.",
        &[
            ("outcome=\"ok\"", stats.ok.load(Ordering::Relaxed)),
            ("outcome=\"denied\"", stats.denied.load(Ordering::Relaxed)),
            ("outcome=\"error\"", stats.error.load(Ordering::Relaxed)),
        ],
    );
    counter(
        "seam_identity_cache_total",
        "Identity cache lookups.",
        &[("result=\"hit\"", hits), ("result=\"miss\"", misses)],
    );
    counter(
        "seam_records_total",
        "Decision records, by fate.",
        &[
            (
                "result=\"written\"",
                records.written.load(Ordering::Relaxed),
            ),
            ("result=\"lost\"", records.lost.load(Ordering::Relaxed)),
        ],
    );
    counter(
        "seam_shadow_evaluations_total",
        "Requests the shadow policy set also decided.",
        &[("", stats.shadow_evaluations.load(Ordering::Relaxed))],
    );
    counter(
        "seam_shadow_disagreements_total",
        "Requests the shadow policy set decided differently from the live one.",
        &[("", stats.shadow_disagreements.load(Ordering::Relaxed))],
    );
    counter(
        "seam_record_sink_errors_total",
        "Writes the record sink refused.",
        &[("", records.sink_errors.load(Ordering::Relaxed))],
    );

    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
