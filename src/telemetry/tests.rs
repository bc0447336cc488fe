use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

use super::span::{check_span, close_check_span, remote};
use super::*;
use crate::metrics::Outcome;
use crate::proto::{Caller, DecisionRecord};
use crate::request::trace::parse_traceparent;

const SAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const UNSAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
const IN_HEADERS: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Spans handed to the exporter, kept in memory.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Opens and closes one Check span as the Check handler does, with spans
/// sampled at `ratio`; returns what was exported and the trace id the
/// record would carry.
fn one_check(
    ratio: f64,
    request: &CheckRequest,
    metadata: Option<&str>,
    record: &DecisionRecord,
    outcome: Outcome,
) -> (Vec<SpanData>, Option<String>) {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .with_sampler(sampler(ratio))
        .build();
    let subscriber = tracing_subscriber::registry().with(span_layer(&provider));

    let trace_id = tracing::subscriber::with_default(subscriber, || {
        let span = check_span(request, metadata);
        let _entered = span.enter();
        close_check_span(&span, record, outcome)
    });
    let spans = kept.0.lock().unwrap().clone();
    (spans, trace_id)
}

fn record(decision: &str, reason: &str) -> DecisionRecord {
    DecisionRecord {
        decision: decision.into(),
        reason: reason.into(),
        decision_id: "01a2421d-c6a3-76c3-be56-510d89109e23".into(),
        policy_set_version: "f5269a1be9fdbc8b".into(),
        caller: Some(Caller {
            spiffe_id: "spiffe://example.org/ns/shop/sa/frontend".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A CheckRequest whose HTTP request carries `traceparent`.
fn with_header(traceparent: &str) -> CheckRequest {
    let http = HttpRequest {
        headers: [("traceparent".to_string(), traceparent.to_string())].into(),
        ..Default::default()
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_else(|| panic!("no `{key}` on {span:?}"))
}

#[test]
fn a_sampled_caller_is_the_parent_even_when_new_traces_are_never_kept() {
    let record = record("allow", "allowed");
    let (spans, trace_id) = one_check(
        0.0,
        &CheckRequest::default(),
        Some(SAMPLED),
        &record,
        Outcome::Ok,
    );

    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, CHECK_SPAN);
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        format!("{:032x}", span.span_context.trace_id()),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(format!("{:016x}", span.parent_span_id), "b7ad6b7169203331");
    assert!(span.parent_span_is_remote);
    assert_eq!(
        trace_id.as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(span.status, Status::Unset);
}

#[test]
fn the_span_carries_the_records_decision_reason_caller_version_and_id() {
    let record = record("deny", "policy_denied");
    let (spans, _) = one_check(
        1.0,
        &CheckRequest::default(),
        Some(SAMPLED),
        &record,
        Outcome::Denied,
    );

    let span = &spans[0];
    assert_eq!(attribute(span, "seam.decision"), "deny");
    assert_eq!(attribute(span, "seam.reason"), "policy_denied");
    assert_eq!(
        attribute(span, "seam.caller"),
        "spiffe://example.org/ns/shop/sa/frontend"
    );
    assert_eq!(
        attribute(span, "seam.policy_set_version"),
        "f5269a1be9fdbc8b"
    );
    assert_eq!(
        attribute(span, "seam.decision_id"),
        "01a2421d-c6a3-76c3-be56-510d89109e23"
    );
    assert_eq!(span.status, Status::Unset, "a denial is not a failure");
}

#[test]
fn a_check_seam_could_not_decide_marks_the_span_as_an_error() {
    let record = record("deny", "no_policy_loaded");
    let (spans, _) = one_check(1.0, &CheckRequest::default(), None, &record, Outcome::Error);

    assert!(matches!(spans[0].status, Status::Error { .. }));
}

#[test]
fn without_metadata_the_http_requests_traceparent_is_the_parent() {
    let record = record("allow", "allowed");
    let (spans, trace_id) = one_check(1.0, &with_header(IN_HEADERS), None, &record, Outcome::Ok);

    let span = &spans[0];
    assert_eq!(
        format!("{:032x}", span.span_context.trace_id()),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(format!("{:016x}", span.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(
        trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

#[test]
fn the_grpc_metadata_wins_over_the_http_request() {
    let record = record("allow", "allowed");
    let request = with_header(IN_HEADERS);
    let (spans, _) = one_check(1.0, &request, Some(SAMPLED), &record, Outcome::Ok);

    assert_eq!(
        format!("{:016x}", spans[0].parent_span_id),
        "b7ad6b7169203331"
    );
}

#[test]
fn without_a_caller_seam_starts_a_trace_and_the_record_gets_its_id() {
    let record = record("allow", "allowed");
    let (spans, trace_id) = one_check(1.0, &CheckRequest::default(), None, &record, Outcome::Ok);

    let span = &spans[0];
    let exported = format!("{:032x}", span.span_context.trace_id());
    assert_eq!(trace_id, Some(exported));
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
}

#[test]
fn traces_not_kept_are_not_exported_and_give_the_record_no_trace_id() {
    let record = record("allow", "allowed");
    let unsampled = one_check(
        1.0,
        &CheckRequest::default(),
        Some(UNSAMPLED),
        &record,
        Outcome::Ok,
    );
    let never = one_check(0.0, &CheckRequest::default(), None, &record, Outcome::Ok);

    assert_eq!((unsampled.0.len(), unsampled.1), (0, None));
    assert_eq!((never.0.len(), never.1), (0, None));
}

#[test]
fn a_traceparent_becomes_a_remote_parent_with_its_sampling_flag() {
    let parent = parse_traceparent(SAMPLED).and_then(|t| remote(&t)).unwrap();
    let ids = parent.span().span_context().clone();
    assert!(ids.is_remote());
    assert!(ids.is_sampled());

    let parent = parse_traceparent(UNSAMPLED)
        .and_then(|t| remote(&t))
        .unwrap();
    assert!(!parent.span().span_context().is_sampled());
}

#[test]
fn with_only_the_diagnostic_log_the_span_is_disabled_and_yields_no_trace_id() {
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(EnvFilter::new("info"));
    let subscriber = tracing_subscriber::registry().with(log);

    let (disabled, trace_id) = tracing::subscriber::with_default(subscriber, || {
        let span = check_span(&with_header(IN_HEADERS), Some(SAMPLED));
        let record = record("allow", "allowed");
        (
            span.is_disabled(),
            close_check_span(&span, &record, Outcome::Ok),
        )
    });

    assert!(disabled);
    assert_eq!(trace_id, None);
}
