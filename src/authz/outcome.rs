//! Every way a Check can end, and the one place each is turned into what
//! Envoy reads.
//!
//! A denial is never an RPC error: Envoy treats RPC errors as authorizer
//! failures and, with `failure_mode_allow`, lets the request through. Every
//! outcome here is a successful RPC carrying an explicit status.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::r#type::v3::{HttpStatus, StatusCode as HttpCode};
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc::Status;

use crate::metrics::Outcome;

/// The header carrying the decision id upstream (on allow) and back to the
/// caller (on deny).
pub const DECISION_HEADER: &str = "x-seam-decision-id";

/// Which side is at fault for a denial; chooses the status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyKind {
    /// The policy set said no (gRPC 7, HTTP 403).
    Policy,
    /// The caller's identity could not be established (gRPC 16, HTTP 401).
    Identity,
    /// The request could not be read (gRPC 3, HTTP 400).
    Input,
    /// seam itself could not decide (gRPC 14, HTTP 503).
    Fault,
}

/// A refused request: who is at fault, a stable reason code and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Which side is at fault.
    pub kind: DenyKind,
    /// Stable snake_case reason code.
    pub reason: &'static str,
    /// Human-readable detail for the record and logs.
    pub detail: String,
    /// The determining forbid's `@reason`, shown to the caller.
    pub message: Option<String>,
}

/// What an allowed request carries upstream.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Upstream {
    /// Headers set on the upstream request, each overwriting any client copy.
    pub set: Vec<(&'static str, String)>,
    /// Headers removed from the upstream request (never one that is also set).
    pub remove: Vec<String>,
}

impl std::fmt::Debug for Upstream {
    // Header values include the minted token: show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.set.iter().map(|(k, _)| *k).collect();
        f.debug_struct("Upstream")
            .field("set", &names)
            .field("remove", &self.remove)
            .finish()
    }
}

/// How a Check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the request through, with these changes to it.
    Allow(Upstream),
    /// Refuse it.
    Deny(Denial),
}

impl Denial {
    /// A denial of `kind` with `reason` and `detail`.
    pub fn new(kind: DenyKind, reason: &'static str, detail: impl Into<String>) -> Denial {
        Denial {
            kind,
            reason,
            detail: detail.into(),
            message: None,
        }
    }
}

impl DenyKind {
    /// The gRPC status code and HTTP status Envoy will use.
    pub fn codes(self) -> (tonic::Code, HttpCode) {
        match self {
            DenyKind::Policy => (tonic::Code::PermissionDenied, HttpCode::Forbidden),
            DenyKind::Identity => (tonic::Code::Unauthenticated, HttpCode::Unauthorized),
            DenyKind::Input => (tonic::Code::InvalidArgument, HttpCode::BadRequest),
            DenyKind::Fault => (tonic::Code::Unavailable, HttpCode::ServiceUnavailable),
        }
    }

    /// The outcome Envoy's stats would count: `denied`, or `error` when
    /// seam itself could not decide.
    pub fn outcome(self) -> Outcome {
        match self {
            DenyKind::Policy | DenyKind::Identity | DenyKind::Input => Outcome::Denied,
            DenyKind::Fault => Outcome::Error,
        }
    }
}

fn header(key: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_string(),
            value: value.to_string(),
            ..Default::default()
        }),
        // Envoy's default appends, which would let a client-sent copy of the
        // header survive next to ours. Always overwrite.
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

fn metadata(fields: &[(&str, &str)]) -> Struct {
    let fields: BTreeMap<String, Value> = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let value = Value {
                kind: Some(Kind::StringValue((*v).to_string())),
            };
            ((*k).to_string(), value)
        })
        .collect();
    Struct {
        fields: fields.into_iter().collect(),
    }
}

/// Identifiers returned to Envoy with every answer, for its access logs.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    /// This decision.
    pub decision_id: &'a str,
    /// The request id used in the record.
    pub request_id: &'a str,
    /// The reason code.
    pub reason: &'a str,
    /// The policy set version decided with ("" when none).
    pub policy_set_version: &'a str,
    /// The minted token's transaction and id ("" when none).
    pub txn: &'a str,
    /// The minted token's id.
    pub jti: &'a str,
}

/// The CheckResponse for `verdict`.
pub fn response(verdict: &Verdict, ids: Ids<'_>) -> CheckResponse {
    let dynamic_metadata = Some(metadata(&[
        ("decision_id", ids.decision_id),
        ("request_id", ids.request_id),
        ("reason", ids.reason),
        ("policy_set_version", ids.policy_set_version),
        ("txn", ids.txn),
        ("token_id", ids.jti),
    ]));

    match verdict {
        Verdict::Allow(upstream) => {
            let mut headers = vec![header(DECISION_HEADER, ids.decision_id)];
            headers.extend(upstream.set.iter().map(|(k, v)| header(k, v)));
            CheckResponse {
                status: Some(Status {
                    code: tonic::Code::Ok as i32,
                    ..Default::default()
                }),
                dynamic_metadata,
                http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                    headers,
                    headers_to_remove: upstream.remove.clone(),
                    ..Default::default()
                })),
            }
        }
        Verdict::Deny(denial) => {
            let (grpc, http) = denial.kind.codes();
            let mut body = serde_json::json!({
                "decision_id": ids.decision_id,
                "reason": denial.reason,
            });
            if let Some(message) = &denial.message {
                body["message"] = message.as_str().into();
            }
            CheckResponse {
                status: Some(Status {
                    code: grpc as i32,
                    message: denial.reason.to_string(),
                    ..Default::default()
                }),
                dynamic_metadata,
                http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                    status: Some(HttpStatus { code: http as i32 }),
                    headers: vec![
                        header("content-type", "application/json"),
                        header(DECISION_HEADER, ids.decision_id),
                    ],
                    body: body.to_string(),
                })),
            }
        }
    }
}
