//! The `seam.check` span: opened by the Check handler as a child of the
//! caller's W3C trace, closed with the decision's fields once answered.
//!
//! The parent comes from the `traceparent` of the gRPC call's metadata
//! (the ext_authz call Envoy traces) or, when that is absent, from the
//! `traceparent` header of the HTTP request being decided, the same order
//! the decision record reads them in.

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::Outcome;
use crate::proto::DecisionRecord;
use crate::request::headers::Headers;
use crate::request::trace::{TraceContext, parse_traceparent};

/// The name of the span every Check opens.
pub const CHECK_SPAN: &str = "seam.check";

/// Opens the span for one Check, continuing the caller's trace when it
/// sent one. Disabled (and free) unless spans are exported.
pub fn check_span(request: &CheckRequest, traceparent: Option<&str>) -> Span {
    let span = tracing::debug_span!(
        target: "seam::check",
        "seam.check",
        otel.kind = "server",
        otel.status_code = Empty,
        seam.decision = Empty,
        seam.reason = Empty,
        seam.caller = Empty,
        seam.policy_set_version = Empty,
        seam.decision_id = Empty,
    );
    if span.is_disabled() {
        return span;
    }

    if let Some(parent) = incoming(request, traceparent).and_then(|t| remote(&t)) {
        // Fails only when the exporter is absent, and then nothing is
        // exported to attach the parent to.
        let _ = span.set_parent(parent);
    }
    span
}

/// Puts the decision's fields on `span` and returns its trace id when the
/// span is sampled (and so exported), for the decision record.
pub fn close_check_span(span: &Span, record: &DecisionRecord, outcome: Outcome) -> Option<String> {
    if span.is_disabled() {
        return None;
    }

    let caller = record.caller.as_ref().map_or("", |c| c.spiffe_id.as_str());
    span.record("seam.decision", record.decision.as_str());
    span.record("seam.reason", record.reason.as_str());
    span.record("seam.caller", caller);
    span.record(
        "seam.policy_set_version",
        record.policy_set_version.as_str(),
    );
    span.record("seam.decision_id", record.decision_id.as_str());
    if outcome == Outcome::Error {
        span.record("otel.status_code", "error");
    }

    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    (ids.is_valid() && ids.is_sampled()).then(|| format!("{:032x}", ids.trace_id()))
}

/// The caller's trace context: the gRPC metadata's `traceparent` when
/// present, else the HTTP request's.
fn incoming(request: &CheckRequest, traceparent: Option<&str>) -> Option<TraceContext> {
    if let Some(value) = traceparent {
        return parse_traceparent(value);
    }
    let http = request
        .attributes
        .as_ref()
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())?;
    let value = Headers::of(http).text("traceparent").ok().flatten()?;
    parse_traceparent(&value)
}

/// `parent` as a remote OpenTelemetry parent.
pub(super) fn remote(parent: &TraceContext) -> Option<Context> {
    let trace_id = TraceId::from_hex(&parent.trace_id).ok()?;
    let span_id = SpanId::from_hex(&parent.parent_id).ok()?;
    let flags = if parent.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };

    let ids = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    Some(Context::new().with_remote_span_context(ids))
}
