//! The Cedar policy set and the decision it gives for one request.
//!
//! [`load`] turns a folder into a validated [`PolicySet`]; [`PolicyStore`]
//! holds the live one; [`PolicySet::evaluate`] builds the Cedar request from
//! the request's [`Facts`] (see [`request`]) and returns Cedar's answer
//! together with its reasons and errors, unchanged, so records can carry
//! what the engine said rather than something re-derived.

pub mod explain;
mod index;
pub mod lint;
pub mod load;
pub mod request;
pub mod watch;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cedar_policy::{Authorizer, Decision, Effect, EntityUid, PolicyId, Schema};

pub use load::{LoadError, Problem, load_dir};
pub use request::{ChainFacts, CredentialFacts, Facts, RequestError};

/// What seam knows about one policy beyond Cedar's own view of it.
#[derive(Debug, Clone)]
pub struct PolicyMeta {
    /// File the policy came from, relative to the policy folder.
    pub file: String,
    /// 1-based line the policy starts on, when known.
    pub line: Option<usize>,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// `@reason("...")`: shown to the caller when this forbid decides.
    pub reason: Option<String>,
    /// `@advice("...")`: carried into the record.
    pub advice: Option<String>,
}

impl PolicyMeta {
    fn of(file: &str, line: Option<usize>, policy: &cedar_policy::Policy) -> PolicyMeta {
        PolicyMeta {
            file: file.to_string(),
            line,
            effect: policy.effect(),
            reason: annotation(policy, "reason").map(str::to_string),
            advice: annotation(policy, "advice").map(str::to_string),
        }
    }
}

/// The value of annotation `key` on `policy`. Cedar's own lookup parses the
/// key as an identifier on every call, which dominated loading large sets;
/// scanning the few annotations a policy has does not.
pub(crate) fn annotation<'a>(policy: &'a cedar_policy::Policy, key: &str) -> Option<&'a str> {
    policy
        .annotations()
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// One loaded, validated, immutable policy set. Each request is decided
/// against exactly one of these.
#[derive(Debug)]
pub struct PolicySet {
    policies: cedar_policy::PolicySet,
    schema: Schema,
    meta: HashMap<PolicyId, PolicyMeta>,
    ancestors: HashMap<EntityUid, Vec<EntityUid>>,
    actions: request::Actions,
    index: index::Index,
    version: String,
    authorizer: Authorizer,
}

/// Cedar's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Cedar allowed the request and no policy reported an error.
    pub allowed: bool,
    /// Determining policy ids, as Cedar reported them.
    pub determining: Vec<String>,
    /// Evaluation errors, as Cedar reported them.
    pub errors: Vec<String>,
    /// The `@reason` of the first determining forbid that has one.
    pub reason: Option<String>,
    /// The `@advice` of every determining policy that has one.
    pub advice: Vec<String>,
}

impl PolicySet {
    fn assemble(
        policies: cedar_policy::PolicySet,
        schema: Schema,
        meta: HashMap<PolicyId, PolicyMeta>,
        ancestors: HashMap<EntityUid, Vec<EntityUid>>,
        version: String,
    ) -> Result<PolicySet, String> {
        let actions = request::Actions::from_schema(&schema)?;
        request::check_schema_fits(&schema, &actions)?;
        let index = index::Index::new(&policies, &schema, actions.methods())?;
        Ok(PolicySet {
            policies,
            schema,
            meta,
            ancestors,
            actions,
            index,
            version,
            authorizer: Authorizer::new(),
        })
    }

    /// Short hash of everything loaded (policies, schema, entities).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of policies in the set.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether the set holds no policy (never true for a loaded set).
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Every policy in the set, as Cedar holds it.
    pub fn cedar_policies(&self) -> &cedar_policy::PolicySet {
        &self.policies
    }

    /// The schema the set was validated against.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// What seam knows about policy `id`.
    pub fn meta(&self, id: &str) -> Option<&PolicyMeta> {
        self.meta.get(&PolicyId::new(id))
    }

    /// Decides `facts`. An error means the request could not even be put to
    /// Cedar (an unknown method, a context the schema refuses).
    pub fn evaluate(&self, facts: &Facts<'_>) -> Result<Evaluation, RequestError> {
        let built = request::build(facts, self)?;
        let response =
            self.authorizer
                .is_authorized(&built.request, &built.slice.policies, &built.entities);

        let mut determining: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        determining.sort();
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();

        // In id order, so the same request always gets the same message.
        let metas: Vec<&PolicyMeta> = determining
            .iter()
            .filter_map(|id| self.meta.get(&PolicyId::new(id)))
            .collect();
        let reason = metas
            .iter()
            .filter(|m| m.effect == Effect::Forbid)
            .find_map(|m| m.reason.clone());
        let advice = metas.iter().filter_map(|m| m.advice.clone()).collect();

        // A policy that errors is skipped by Cedar; if it was a forbid, the
        // request could be allowed only because a guard failed to run. Any
        // error therefore denies.
        let allowed = response.decision() == Decision::Allow && errors.is_empty();
        Ok(Evaluation {
            allowed,
            determining,
            errors,
            reason,
            advice,
        })
    }
}

/// The live policy set, replaced whole and read as one snapshot.
#[derive(Debug, Default)]
pub struct PolicyStore {
    current: RwLock<Option<Arc<PolicySet>>>,
}

impl PolicyStore {
    /// A store with nothing loaded.
    pub fn empty() -> PolicyStore {
        PolicyStore::default()
    }

    /// The set in force right now, if any.
    pub fn snapshot(&self) -> Option<Arc<PolicySet>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `set` in force for every request that starts after this returns.
    pub fn replace(&self, set: PolicySet) {
        let set = Some(Arc::new(set));
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }
}

#[cfg(test)]
mod tests;
