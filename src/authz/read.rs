//! Reading a CheckRequest into the values the decision uses, and writing
//! what was seen into the record as it goes, so a denial at any step still
//! leaves a record that says what arrived.

use std::collections::HashSet;

use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};

use super::{Denial, DenyKind};
use crate::identity::VerifiedIdentity;
use crate::proto::{Caller, Context, DecisionRecord, HttpRequest as RecordedHttp};
use crate::request::headers::{Headers, escape_bytes};
use crate::request::{host, path, trace};
use crate::sensitivity::Sensitivity;

/// Longest raw value copied into a record field.
const RECORD_FIELD_MAX: usize = 512;

/// What [`describe`] found and later steps reuse.
pub(super) struct Seen<'a> {
    pub(super) headers: Headers<'a>,
}

/// The request's destination, read and normalised.
pub(super) struct Target {
    pub(super) method: String,
    pub(super) host: host::Host,
    pub(super) path: path::Target,
    pub(super) service: String,
}

fn clip(s: &str) -> String {
    escape_bytes(s.as_bytes(), RECORD_FIELD_MAX)
}

fn address(peer: Option<&Peer>) -> String {
    let Some(address) = peer
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.address.as_ref())
    else {
        return String::new();
    };
    match address {
        Address::SocketAddress(s) => match &s.port_specifier {
            Some(port) => {
                let port = match port {
                    envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::PortValue(p) => p.to_string(),
                    envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::NamedPort(n) => clip(n),
                };
                if s.address.contains(':') {
                    format!("[{}]:{port}", clip(&s.address))
                } else {
                    format!("{}:{port}", clip(&s.address))
                }
            }
            None => clip(&s.address),
        },
        Address::Pipe(p) => format!("unix:{}", clip(&p.path)),
        _ => String::new(),
    }
}

/// Copies the raw request, its ids and trace into `record`; never fails.
pub(super) fn describe<'a>(
    request: &'a CheckRequest,
    traceparent: Option<&str>,
    record: &mut DecisionRecord,
) -> Seen<'a> {
    let attributes = request.attributes.as_ref();
    let http = attributes
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref());
    let empty: &'static HttpRequest = empty_http();
    let headers = Headers::of(http.unwrap_or(empty));

    if let Some(http) = http {
        record.stream_id = clip(&http.id);
        record.request = Some(RecordedHttp {
            method: clip(&http.method),
            raw_host: clip(&http.host),
            raw_path: clip(&http.path),
            scheme: clip(&http.scheme),
            protocol: clip(&http.protocol),
            ..Default::default()
        });
    }

    let source = attributes.and_then(|a| a.source.as_ref());
    record.caller = Some(Caller {
        reported_principal: source.map(|s| clip(&s.principal)).unwrap_or_default(),
        source_address: address(source),
        ..Default::default()
    });

    // An x-request-id that cannot be read is kept escaped in the record; a
    // missing one is generated so logs can still be joined.
    match headers.text("x-request-id") {
        Ok(Some(id)) if !id.is_empty() => record.request_id = clip(&id),
        Ok(_) => {
            record.request_id = uuid::Uuid::new_v4().to_string();
            record.request_id_generated = true;
        }
        Err(_) => record.request_id = headers.escaped("x-request-id").unwrap_or_default(),
    }

    let from_headers = headers.text("traceparent").ok().flatten();
    record.trace_id = traceparent
        .or(from_headers.as_deref())
        .and_then(trace::parse_traceparent)
        .map(|t| t.trace_id)
        .unwrap_or_default();

    Seen { headers }
}

fn empty_http() -> &'static HttpRequest {
    static EMPTY: std::sync::OnceLock<HttpRequest> = std::sync::OnceLock::new();
    EMPTY.get_or_init(HttpRequest::default)
}

/// The attributes and HTTP request, or an input denial when Envoy sent none.
pub(super) fn parts(request: &CheckRequest) -> Result<(&AttributeContext, &HttpRequest), Denial> {
    let missing = |what: &str| {
        Denial::new(
            DenyKind::Input,
            "missing_attributes",
            format!("the check request has no {what}"),
        )
    };
    let attributes = request
        .attributes
        .as_ref()
        .ok_or_else(|| missing("attributes"))?;
    let http = attributes
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .ok_or_else(|| missing("http request"))?;
    Ok((attributes, http))
}

/// Records the verified caller.
pub(super) fn describe_caller(caller: &VerifiedIdentity, record: &mut DecisionRecord) {
    let recorded = record.caller.get_or_insert_with(Caller::default);
    recorded.spiffe_id = caller.id.as_str().to_string();
    recorded.trust_domain = caller.id.trust_domain().to_string();
    recorded.certificate_sha256 = caller.certificate_sha256.clone();
    recorded.certificate_serial = caller.serial.clone();
    recorded.certificate_not_after = super::rfc3339(caller.not_after);
}

/// Method, host, path and destination service, normalised.
pub(super) fn target(
    attributes: &AttributeContext,
    http: &HttpRequest,
    record: &mut DecisionRecord,
    require_normalized: bool,
) -> Result<Target, Denial> {
    let input = |reason: &'static str, detail: String| Denial::new(DenyKind::Input, reason, detail);

    let method = http.method.as_str();
    let token = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
    if !token {
        return Err(input(
            "invalid_method",
            format!("method `{}` is not valid", clip(method)),
        ));
    }

    let host = host::normalize(&http.host, &http.scheme)
        .map_err(|e| input(e.reason_code(), e.to_string()))?;
    let path = path::normalize(&http.path).map_err(|e| input(e.reason_code(), e.to_string()))?;
    let raw_path = http.path.split('?').next().unwrap_or("");
    if let Some(recorded) = record.request.as_mut() {
        recorded.path = path.path.clone();
    }
    // The upstream receives the raw path. Deciding on a normalised form the
    // upstream never sees would let `/a/../b` be judged as `/b` while the
    // upstream resolves it differently, so by default the two must agree.
    if require_normalized && raw_path != path.path {
        return Err(input(
            "path_not_normalized",
            format!(
                "path `{}` is not in normal form `{}`; enable path normalisation in Envoy",
                clip(raw_path),
                clip(&path.path)
            ),
        ));
    }

    let destination = attributes
        .destination
        .as_ref()
        .map(|d| d.principal.as_str())
        .unwrap_or("");
    let service = if destination.is_empty() {
        host.host.clone()
    } else {
        destination.to_string()
    };

    if let Some(recorded) = record.request.as_mut() {
        recorded.host = host.host.clone();
        recorded.path = path.path.clone();
        recorded.query = clip(&path.query);
        recorded.service = clip(&service);
    }
    Ok(Target {
        method: method.to_string(),
        host,
        path,
        service,
    })
}

/// The declared intent: absent, or exactly one configured word.
pub(super) fn intent(
    headers: &Headers<'_>,
    vocabulary: &HashSet<String>,
    record: &mut DecisionRecord,
) -> Result<Option<String>, Denial> {
    let context = record.context.get_or_insert_with(Context::default);
    let intent = match headers.single_token("x-seam-intent") {
        Ok(intent) => intent,
        Err(e) => {
            context.intent = headers.escaped("x-seam-intent").unwrap_or_default();
            return Err(Denial::new(DenyKind::Input, e.reason_code(), e.to_string()));
        }
    };

    let Some(intent) = intent else {
        return Ok(None);
    };
    context.intent = clip(&intent);
    if !vocabulary.contains(&intent) {
        return Err(Denial::new(
            DenyKind::Input,
            "unknown_intent",
            format!("intent `{}` is not a configured intent", clip(&intent)),
        ));
    }
    Ok(Some(intent))
}

/// Records the resolved sensitivity.
pub(super) fn describe_sensitivity(sensitivity: &Sensitivity, record: &mut DecisionRecord) {
    let context = record.context.get_or_insert_with(Context::default);
    context.sensitivity = sensitivity.name.clone();
    context.sensitivity_source = sensitivity.source.clone();
}
