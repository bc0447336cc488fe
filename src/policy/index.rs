//! Which policies can apply to a request, settled from their scopes before
//! Cedar runs.
//!
//! Cedar evaluates every policy it is given, and a policy whose principal or
//! action scope does not match costs nearly as much to skip as one that
//! applies. A policy's scope is plain data, though: `action in [..]`,
//! `principal == ..`, `principal is T in ..`. The index reads it once per
//! set and hands Cedar, for each method and caller, only the policies whose
//! scope admits that pair. The result is exactly Cedar's: a policy left out
//! could not have been satisfied, and cannot have raised an error, because
//! Cedar checks the scope before anything in the `when` and `unless` clauses.
//!
//! The action side is computed once per method when the set is built; the
//! principal side is computed on a caller's first request and cached, keyed
//! by the caller's id, for the life of the set.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{ActionConstraint, EntityUid, Policy, PrincipalConstraint, Schema};

/// Distinct callers remembered per method before older slices are evicted.
const CALLERS_PER_METHOD: u64 = 4096;

/// The policies that can apply, per method and caller.
pub(super) struct Index {
    methods: HashMap<String, MethodIndex>,
}

struct MethodIndex {
    /// Policies whose action scope admits this method.
    policies: Vec<Policy>,
    /// Cedar policy sets already cut for a caller id.
    slices: moka::sync::Cache<String, Arc<cedar_policy::PolicySet>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("methods", &self.methods.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Sorts the policies of `set` by the methods their action scope admits.
    /// `methods` maps each method name to its action id.
    pub(super) fn new(
        set: &cedar_policy::PolicySet,
        schema: &Schema,
        methods: impl IntoIterator<Item = (String, EntityUid)>,
    ) -> Result<Index, String> {
        let actions = schema.action_entities().map_err(|e| e.to_string())?;
        let mut index = HashMap::new();
        for (method, action) in methods {
            let groups: HashSet<&EntityUid> = actions
                .ancestors(&action)
                .map(Iterator::collect)
                .unwrap_or_default();
            let policies = set
                .policies()
                .filter(|p| action_admits(&p.action_constraint(), &action, &groups))
                .cloned()
                .collect();
            let slices = moka::sync::Cache::builder()
                .max_capacity(CALLERS_PER_METHOD)
                .build();
            index.insert(method, MethodIndex { policies, slices });
        }
        Ok(Index { methods: index })
    }

    /// The policies that can apply to `principal` calling with `method`.
    /// `parents` must be exactly the principal's ancestors as the request's
    /// entities give them. `None` when the method is not an action.
    pub(super) fn slice(
        &self,
        method: &str,
        principal: &EntityUid,
        parents: &HashSet<EntityUid>,
    ) -> Result<Option<Arc<cedar_policy::PolicySet>>, String> {
        let Some(entry) = self.methods.get(method) else {
            return Ok(None);
        };
        let id = principal.id().unescaped();
        if let Some(slice) = entry.slices.get(id) {
            return Ok(Some(slice));
        }

        let mut slice = cedar_policy::PolicySet::new();
        for policy in &entry.policies {
            if principal_admits(&policy.principal_constraint(), principal, parents) {
                slice.add(policy.clone()).map_err(|e| e.to_string())?;
            }
        }
        let slice = Arc::new(slice);
        entry.slices.insert(id.to_string(), slice.clone());
        Ok(Some(slice))
    }
}

fn action_admits(
    constraint: &ActionConstraint,
    action: &EntityUid,
    groups: &HashSet<&EntityUid>,
) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => uid == action,
        ActionConstraint::In(uids) => uids.iter().any(|u| u == action || groups.contains(u)),
    }
}

/// Cedar's `in` is reflexive: an entity is in itself.
fn principal_admits(
    constraint: &PrincipalConstraint,
    principal: &EntityUid,
    parents: &HashSet<EntityUid>,
) -> bool {
    let within = |uid: &EntityUid| uid == principal || parents.contains(uid);
    match constraint {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Eq(uid) => uid == principal,
        PrincipalConstraint::In(uid) => within(uid),
        PrincipalConstraint::Is(type_name) => type_name == principal.type_name(),
        PrincipalConstraint::IsIn(type_name, uid) => {
            type_name == principal.type_name() && within(uid)
        }
    }
}

#[cfg(test)]
mod tests;
