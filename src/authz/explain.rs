//! Deciding a Check the way [`Authorizer::check`] does, but handing back
//! what the decision was made of instead of queueing a record: the record
//! itself, the Cedar request seam built, and the policy set it was put to.
//!
//! This is what `seam check --explain` and `seam test` run, so an author
//! sees the decision path itself, not a re-implementation of it that could
//! drift.

use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};

use super::Authorizer;
use crate::policy::{Facts, PolicySet};
use crate::proto::DecisionRecord;

/// One decision and what it was made of.
#[derive(Debug)]
pub struct Explanation {
    /// The answer Envoy would have received.
    pub response: CheckResponse,
    /// The record seam would have written.
    pub record: DecisionRecord,
    /// The Cedar request (principal, action, resource with its attributes
    /// and parents, context) as JSON, when the request got as far as policy;
    /// an error message when Cedar refused to build it.
    pub cedar_request: Option<Result<serde_json::Value, String>>,
    /// The policy set the request was put to, when it got that far.
    pub policies: Option<Arc<PolicySet>>,
}

/// What the decision path hands over once it knows the request's facts.
#[derive(Debug, Default)]
pub(super) struct Capture {
    cedar_request: Option<Result<serde_json::Value, String>>,
    policies: Option<Arc<PolicySet>>,
}

impl Capture {
    /// Keeps the Cedar request built from `facts` for `policies`.
    pub(super) fn see(&mut self, facts: &Facts<'_>, policies: &Arc<PolicySet>) {
        let built = crate::policy::explain::cedar_request(facts, policies);
        self.cedar_request = Some(built.map_err(|e| e.to_string()));
        self.policies = Some(policies.clone());
    }
}

impl Authorizer {
    /// Decides `request` exactly as [`Authorizer::check`] does (identity,
    /// request reading, chain token, policy, token minting, counters), but
    /// returns the record instead of writing it, with the Cedar request that
    /// was built. Meant for authoring tools running a private authorizer.
    pub fn explain(&self, request: &CheckRequest) -> Explanation {
        let started = Instant::now();
        let mut record = self.new_record();
        let mut capture = Capture::default();

        let verdict = self.decide(request, None, &mut record, Some(&mut capture));
        let response = self.finish(&verdict, &mut record, started);
        Explanation {
            response,
            record,
            cedar_request: capture.cedar_request,
            policies: capture.policies,
        }
    }
}
