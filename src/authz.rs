//! The Check handler: one CheckRequest in, one CheckResponse and one
//! decision record out.
//!
//! The steps, in order: reserve room for the record; verify the caller's
//! certificate ([`crate::identity`]); read and normalise the request
//! ([`crate::request`]); classify its sensitivity; put it to Cedar
//! ([`crate::policy`]); answer ([`outcome`]) and record. Any step may end
//! the Check with a [`Denial`]; nothing on this path panics or returns an
//! RPC error.

mod explain;
pub mod outcome;
mod read;
mod shadow;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime};

use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::{IdentityVerifier, Presented};
use crate::metrics::{Metrics, Outcome};
use crate::policy::{ChainFacts, CredentialFacts, Facts, PolicyStore};
use crate::proto::DecisionRecord;
use crate::record::Recorder;
use crate::request::credential;
use crate::request::headers::HeaderError;
use crate::sensitivity::Classifier;
use crate::token::{Grant, Inbound, NO_SCOPE, TXN_TOKEN_HEADER, TokenError, Tokens};
use explain::Capture;

pub use explain::Explanation;
pub use outcome::{Denial, DenyKind, Upstream, Verdict};

/// Counts of shadow evaluations (decisions themselves are counted in
/// [`Metrics`]).
#[derive(Debug, Default)]
pub struct DecisionStats {
    /// Requests the shadow policy set was evaluated for.
    pub shadow_evaluations: AtomicU64,
    /// Of those, how many the shadow set decided differently.
    pub shadow_disagreements: AtomicU64,
}

/// Everything a Check needs, shared by all requests.
#[derive(Debug)]
pub struct Authorizer {
    identity: IdentityVerifier,
    policies: Arc<PolicyStore>,
    intents: HashSet<String>,
    classifier: Classifier,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    instance: String,
    trust_forwarded_chain: bool,
    api_key_headers: Vec<String>,
    max_credential_lifetime: i64,
    strip_credentials: bool,
    require_normalized_paths: bool,
    tokens: Tokens,
    stats: DecisionStats,
    metrics: Metrics,
    shadow: PolicyStore,
    shadow_dir: Option<std::path::PathBuf>,
}

impl Authorizer {
    /// An authorizer configured by `config`, deciding with `policies`,
    /// writing to `recorder`.
    pub fn new(
        config: &Config,
        identity: IdentityVerifier,
        tokens: Tokens,
        policies: Arc<PolicyStore>,
        recorder: Recorder,
        clock: Arc<dyn Clock>,
    ) -> Authorizer {
        let max_credential_lifetime =
            i64::try_from(config.tokens.max_credential_lifetime.as_secs()).unwrap_or(i64::MAX);
        let authorizer = Authorizer {
            identity,
            policies,
            intents: config.context.intents.iter().cloned().collect(),
            classifier: config.context.classifier.clone(),
            recorder,
            clock,
            instance: config.records.instance.clone(),
            trust_forwarded_chain: config.identity.trust_forwarded_chain,
            api_key_headers: config.tokens.api_key_headers.clone(),
            max_credential_lifetime,
            strip_credentials: config.tokens.strip_credentials,
            require_normalized_paths: config.context.require_normalized_paths,
            tokens,
            stats: DecisionStats::default(),
            metrics: Metrics::default(),
            shadow: PolicyStore::empty(),
            shadow_dir: config.policy.shadow_dir.clone(),
        };
        authorizer.reload_shadow();
        authorizer
    }

    /// What keeps this authorizer from answering allows, if anything:
    /// empty when ready.
    pub fn not_ready(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.policies.snapshot().is_none() {
            missing.push("no policy set loaded");
        }
        if self.recorder.refusing() {
            missing.push("the record sink is failing");
        }
        if self.identity.own_svid_expired() {
            missing.push("seam's own svid has expired");
        }
        missing
    }

    /// The public keys of minted tokens, as a JWK set.
    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.jwks()
    }

    /// The token issuer, e.g. to rotate its keys.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Identity cache (hits, misses).
    pub fn identity_cache_stats(&self) -> (u64, u64) {
        self.identity.cache_stats()
    }

    /// Shadow evaluation counters.
    pub fn stats(&self) -> &DecisionStats {
        &self.stats
    }

    /// Decision, latency and token counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The record stream this authorizer writes to.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The policy store it decides with.
    pub fn policies(&self) -> &Arc<PolicyStore> {
        &self.policies
    }

    /// Decides one Check. `traceparent` is the W3C trace header from the
    /// gRPC call's metadata, when Envoy sent one.
    pub fn check(&self, request: &CheckRequest, traceparent: Option<&str>) -> CheckResponse {
        let started = Instant::now();
        let reserved = self.recorder.reserve();
        self.check_reserved(request, traceparent, reserved, started)
    }

    /// As [`Authorizer::check`], for the gRPC handler: under the record
    /// policy `wait`, a full record queue holds this request (without
    /// holding a thread) until the writer makes room or the wait runs out.
    pub async fn check_waiting(
        &self,
        request: &CheckRequest,
        traceparent: Option<&str>,
    ) -> CheckResponse {
        let started = Instant::now();
        let reserved = self.recorder.reserve_waiting().await;
        self.check_reserved(request, traceparent, reserved, started)
    }

    fn check_reserved(
        &self,
        request: &CheckRequest,
        traceparent: Option<&str>,
        reserved: Result<Option<crate::record::Slot>, crate::record::Unavailable>,
        started: Instant,
    ) -> CheckResponse {
        let span = crate::telemetry::span::check_span(request, traceparent);
        let _entered = span.enter();
        let mut record = self.new_record();

        let (slot, verdict) = match reserved {
            Ok(slot) => (slot, self.decide(request, traceparent, &mut record, None)),
            Err(why) => {
                read::describe(request, traceparent, &mut record);
                let denial = Denial::new(DenyKind::Fault, why.reason_code(), why.to_string());
                (None, Verdict::Deny(denial))
            }
        };

        let response = self.finish(&verdict, &mut record, started);
        // An exported span's trace id is the one the record carries, also
        // when seam started the trace itself.
        let traced = crate::telemetry::span::close_check_span(&span, &record, outcome(&verdict));
        if let Some(trace_id) = traced {
            record.trace_id = trace_id;
        }
        if let Some(slot) = slot {
            slot.fill(record);
        }

        self.metrics.observe_latency(started.elapsed());
        response
    }

    /// An empty record for a decision starting now.
    fn new_record(&self) -> DecisionRecord {
        DecisionRecord {
            version: 1,
            kind: "decision".into(),
            time: rfc3339(self.clock.now()),
            decision_id: uuid::Uuid::now_v7().to_string(),
            instance: self.instance.clone(),
            ..Default::default()
        }
    }

    /// Decides `request`; `capture`, when given, keeps what Cedar was asked
    /// (for [`Authorizer::explain`]).
    fn decide(
        &self,
        request: &CheckRequest,
        traceparent: Option<&str>,
        record: &mut DecisionRecord,
        capture: Option<&mut Capture>,
    ) -> Verdict {
        match self.try_decide(request, traceparent, record, capture) {
            Ok(verdict) => verdict,
            Err(denial) => Verdict::Deny(denial),
        }
    }

    fn try_decide(
        &self,
        request: &CheckRequest,
        traceparent: Option<&str>,
        record: &mut DecisionRecord,
        capture: Option<&mut Capture>,
    ) -> Result<Verdict, Denial> {
        let seen = read::describe(request, traceparent, record);
        let (attributes, http) = read::parts(request)?;

        let source = attributes.source.as_ref();
        let forwarded = if self.trust_forwarded_chain {
            seen.headers.text("x-forwarded-client-cert").ok().flatten()
        } else {
            None
        };
        let presented = Presented {
            certificate: source.map(|s| s.certificate.as_str()).unwrap_or(""),
            principal: source.map(|s| s.principal.as_str()).unwrap_or(""),
            forwarded_client_cert: forwarded.as_deref(),
        };
        let caller = self
            .identity
            .verify(&presented)
            .map_err(|e| Denial::new(DenyKind::Identity, e.reason_code(), e.to_string()))?;
        read::describe_caller(&caller, record);

        let target = read::target(attributes, http, record, self.require_normalized_paths)?;
        let declared = read::intent(&seen.headers, &self.intents, record)?;
        let inbound = self.inbound_token(&seen.headers, &caller.id, record)?;
        let declared_any = declared.is_some();
        let intent = effective_intent(declared, inbound.as_ref())?;
        if let (Some(intent), Some(context)) = (&intent, record.context.as_mut()) {
            context.intent = intent.clone();
            context.intent_source = if declared_any {
                "declared"
            } else {
                "inherited"
            }
            .into();
        }
        let route_label = attributes.context_extensions.get("sensitivity");
        let sensitivity = self
            .classifier
            .classify(
                route_label.map(String::as_str),
                &target.host.host,
                &target.service,
                &target.path.path,
            )
            .map_err(|e| Denial::new(DenyKind::Input, "invalid_sensitivity", e.to_string()))?;
        read::describe_sensitivity(&sensitivity, record);

        let Some(policies) = self.policies.snapshot() else {
            return Err(Denial::new(
                DenyKind::Fault,
                "no_policy_loaded",
                "no valid policy set is loaded",
            ));
        };
        record.policy_set_version = policies.version().to_string();

        let now = crate::clock::unix_seconds(self.clock.now());
        let found = credential::examine(
            &seen.headers,
            &self.api_key_headers,
            now,
            self.max_credential_lifetime,
        );
        record.credential = found.kind.as_str().to_string();
        let facts = Facts {
            principal: caller.id.as_str(),
            method: &target.method,
            host: &target.host.host,
            hostname: &target.host.name,
            port: target.host.port,
            path: &target.path.path,
            service: &target.service,
            intent: intent.as_deref(),
            sensitivity: &sensitivity.name,
            sensitivity_level: sensitivity.level,
            sensitivity_source: &sensitivity.source,
            query: &target.path.query,
            source_address: &record
                .caller
                .as_ref()
                .map(|c| c.source_address.clone())
                .unwrap_or_default(),
            request_id: &record.request_id.clone(),
            chain: inbound.as_ref().map(|t| ChainFacts {
                txn: &t.txn,
                depth: i64::try_from(t.depth).unwrap_or(i64::MAX),
                workloads: &t.chain,
                scope: &t.scope,
                bound: t.holder.is_some(),
            }),
            credential: CredentialFacts {
                present: found.present(),
                kind: found.kind.as_str(),
                lacks_expiry: found.lacks_expiry,
                long_lived: found.long_lived,
            },
        };
        if let Some(capture) = capture {
            capture.see(&facts, &policies);
        }
        let evaluation = policies.evaluate(&facts).map_err(|e| {
            if e.is_input() {
                Denial::new(DenyKind::Input, "unknown_method", e.to_string())
            } else {
                Denial::new(DenyKind::Fault, "policy_request_refused", e.to_string())
            }
        })?;

        record.policy_evaluated = true;
        record.determining_policies = evaluation.determining.clone();
        record.errors = evaluation.errors.clone();
        record.advice = evaluation.advice.clone();
        self.compare_with_shadow(&facts, &evaluation, record);

        if !evaluation.errors.is_empty() {
            let mut denial = Denial::new(
                DenyKind::Policy,
                "policy_error",
                format!(
                    "a policy failed to evaluate: {}",
                    evaluation.errors.join("; ")
                ),
            );
            denial.message = evaluation.reason;
            return Err(denial);
        }
        if !evaluation.allowed {
            let detail = if evaluation.determining.is_empty() {
                "no policy permits this request".to_string()
            } else {
                format!("forbidden by {}", evaluation.determining.join(", "))
            };
            let mut denial = Denial::new(DenyKind::Policy, "policy_denied", detail);
            denial.message = evaluation.reason;
            return Err(denial);
        }

        let holder = attributes
            .destination
            .as_ref()
            .map(|d| d.principal.as_str())
            .and_then(|p| crate::identity::SpiffeId::parse(p).ok());
        let audience = holder
            .as_ref()
            .map(|h| h.trust_domain().to_string())
            .unwrap_or_else(|| caller.id.trust_domain().to_string());
        let grant = Grant {
            audience: inbound
                .as_ref()
                .map(|t| t.audience.as_str())
                .unwrap_or(&audience),
            caller: caller.id.as_str(),
            holder: holder.as_ref().map(|h| h.as_str()),
            service: &target.service,
            method: &target.method,
            path: &target.path.path,
            sensitivity: &sensitivity.name,
            intent: intent.as_deref(),
            decision_id: &record.decision_id,
            source_address: facts.source_address,
            parent: inbound.as_ref(),
        };
        let minted = self.tokens.mint(&grant).map_err(mint_denial)?;
        self.metrics.count_minted(self.tokens.settings().algorithm);
        record.token = Some(crate::proto::MintedToken {
            txn: minted.txn.clone(),
            jti: minted.jti.clone(),
            expires: rfc3339(
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(minted.exp).unwrap_or(0)),
            ),
            holder: minted.holder.clone().unwrap_or_default(),
            depth: u32::try_from(minted.depth).unwrap_or(u32::MAX),
            kid: minted.kid.clone(),
        });

        let mut upstream = Upstream {
            set: vec![(TXN_TOKEN_HEADER, minted.token)],
            remove: Vec::new(),
        };
        if self.strip_credentials {
            let names = std::iter::once("authorization")
                .chain(self.api_key_headers.iter().map(String::as_str));
            upstream.remove = names
                .filter(|n| seen.headers.contains(n))
                .map(str::to_string)
                .collect();
        }
        Ok(Verdict::Allow(upstream))
    }

    /// Verifies the caller's `txn-token`, if it sent one. An invalid token is
    /// an identity failure, never "no token".
    fn inbound_token(
        &self,
        headers: &crate::request::headers::Headers<'_>,
        caller: &crate::identity::SpiffeId,
        record: &mut DecisionRecord,
    ) -> Result<Option<Inbound>, Denial> {
        // Two tokens (repeated, or joined with `,` as Envoy joins repeats)
        // are ambiguous: neither is picked.
        let token = match headers.single_token(TXN_TOKEN_HEADER) {
            Ok(Some(token)) => token,
            Ok(None) => return Ok(None),
            Err(e @ (HeaderError::Repeated { .. } | HeaderError::List { .. })) => {
                return Err(Denial::new(DenyKind::Input, e.reason_code(), e.to_string()));
            }
            Err(e) => {
                self.metrics.count_verified(Err("token_malformed"));
                return Err(Denial::new(
                    DenyKind::Identity,
                    "token_malformed",
                    e.to_string(),
                ));
            }
        };
        let verified = self
            .tokens
            .verify(&token, caller.trust_domain(), caller.as_str());
        self.metrics
            .count_verified(verified.as_ref().map(|_| ()).map_err(|e| e.reason_code()));
        let inbound = verified
            .map_err(|e| Denial::new(DenyKind::Identity, e.reason_code(), e.to_string()))?;

        record.inbound_token = Some(crate::proto::InboundToken {
            txn: inbound.txn.clone(),
            jti: inbound.jti.clone(),
            parent_decision_id: inbound.parent_decision_id.clone(),
            depth: u32::try_from(inbound.depth).unwrap_or(u32::MAX),
            chain: inbound.chain.clone(),
            scope: inbound.scope.clone(),
        });
        Ok(Some(inbound))
    }

    /// Counts, logs and answers `verdict`, completing `record`.
    fn finish(
        &self,
        verdict: &Verdict,
        record: &mut DecisionRecord,
        started: Instant,
    ) -> CheckResponse {
        let (reason, status, http, detail) = match verdict {
            Verdict::Allow(_) => ("allowed", tonic::Code::Ok, 0u32, String::new()),
            Verdict::Deny(denial) => {
                let (grpc, http) = denial.kind.codes();
                (denial.reason, grpc, http as u32, denial.detail.clone())
            }
        };
        self.metrics.count_decision(outcome(verdict), reason);

        record.decision = match verdict {
            Verdict::Allow(_) => "allow",
            Verdict::Deny(_) => "deny",
        }
        .into();
        record.reason = reason.into();
        record.status_code = status as i32;
        record.http_status = http;
        // Details quote request data; keep them short.
        record.detail = crate::request::headers::escape_bytes(detail.as_bytes(), 512);
        record.latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);

        let ids = outcome::Ids {
            decision_id: &record.decision_id,
            request_id: &record.request_id,
            reason,
            policy_set_version: &record.policy_set_version,
            txn: record.token.as_ref().map(|t| t.txn.as_str()).unwrap_or(""),
            jti: record.token.as_ref().map(|t| t.jti.as_str()).unwrap_or(""),
        };
        let response = outcome::response(verdict, ids);
        log(verdict, record);
        response
    }
}

/// How `verdict` counts in Envoy's words.
fn outcome(verdict: &Verdict) -> Outcome {
    match verdict {
        Verdict::Allow(_) => Outcome::Ok,
        Verdict::Deny(denial) => denial.kind.outcome(),
    }
}

/// The purpose the request is decided under: the one fixed by its
/// transaction when it continues one, else the one it declares. A declared
/// purpose may repeat the transaction's, never change or add one.
fn effective_intent(
    declared: Option<String>,
    inbound: Option<&Inbound>,
) -> Result<Option<String>, Denial> {
    let Some(inbound) = inbound else {
        return Ok(declared);
    };
    let inherited = (inbound.scope != NO_SCOPE).then(|| inbound.scope.clone());
    match (&declared, &inherited) {
        (Some(d), Some(i)) if d != i => Err(Denial::new(
            DenyKind::Policy,
            "intent_conflicts_with_chain",
            format!("declared intent `{d}` differs from the transaction's `{i}`"),
        )),
        (Some(d), None) => Err(Denial::new(
            DenyKind::Policy,
            "intent_conflicts_with_chain",
            format!("declared intent `{d}` where the transaction has none"),
        )),
        _ => Ok(inherited),
    }
}

/// Sorts a minting failure: chain limits are policy denials, anything else
/// is seam unable to issue the credential the allow depends on.
fn mint_denial(e: TokenError) -> Denial {
    let kind = match e {
        TokenError::ChainTooDeep { .. } | TokenError::ScopeWidened { .. } => DenyKind::Policy,
        _ => DenyKind::Fault,
    };
    Denial::new(kind, e.reason_code(), e.to_string())
}

/// The diagnostic line for a decision. Every decision already has its
/// record, so routine outcomes (allows, policy denials) log at debug; what
/// an operator should look at (a caller that cannot prove who it is,
/// unreadable input) logs at info, and seam's own faults at warn.
fn log(verdict: &Verdict, record: &DecisionRecord) {
    let caller = record
        .caller
        .as_ref()
        .map(|c| c.spiffe_id.as_str())
        .unwrap_or("");
    let Verdict::Deny(denial) = verdict else {
        tracing::debug!(
            decision_id = %record.decision_id,
            caller,
            policies = ?record.determining_policies,
            "allowed"
        );
        return;
    };
    macro_rules! denied {
        ($level:ident) => {
            tracing::$level!(
                decision_id = %record.decision_id,
                caller,
                reason = denial.reason,
                detail = %record.detail,
                "denied"
            )
        };
    }
    match denial.kind {
        DenyKind::Policy => denied!(debug),
        DenyKind::Identity | DenyKind::Input => denied!(info),
        DenyKind::Fault => denied!(warn),
    }
}

/// `t` as an RFC 3339 UTC timestamp with microseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The current wall-clock time as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}
