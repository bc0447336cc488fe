//! The admin HTTP port, beside the ext_authz listeners: liveness, readiness,
//! the published signing keys, counters, and the state of the policy set
//! and its reloads. Loopback by default; it serves no decision and accepts
//! no change.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    let authorizer = &admin.authorizer;
    let reloads = admin.reloader.status();
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
    counter(
        "seam_policy_reloads_total",
        "Policy reloads after start, by result (a failed one leaves the live set in force).",
        &[
            ("result=\"ok\"", reloads.reloads_ok()),
            ("result=\"failed\"", reloads.reloads_failed()),
        ],
    );

    let live = authorizer.policies().snapshot();
    let failing = u64::from(reloads.report().last_error.is_some());
    let _ = writeln!(
        out,
        "# HELP seam_policy_set_policies Policies in the set in force.\n\
         # TYPE seam_policy_set_policies gauge\n\
         seam_policy_set_policies {}",
        live.as_ref().map_or(0, |set| set.len())
    );
    let _ = writeln!(
        out,
        "# HELP seam_policy_reload_failing 1 while the last policy load was refused.\n\
         # TYPE seam_policy_reload_failing gauge\n\
         seam_policy_reload_failing {failing}"
    );

    let _ = writeln!(
        out,
        "# HELP seam_records_head_seq seq of the last record line written (its hash is on /status).\n\
         # TYPE seam_records_head_seq gauge\n\
         seam_records_head_seq {}",
        records.head().seq
    );

    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
