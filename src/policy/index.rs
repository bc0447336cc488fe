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
//! by the caller's id, for the life of the set. The cache entry also holds
//! the caller's entity and the action's, already closed under `in`, so a
//! request only adds its resource to them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Entities, Entity, EntityUid, Policy, PrincipalConstraint, Schema,
};

use super::request::RequestError;

/// Distinct callers remembered per method before older slices are evicted.
const CALLERS_PER_METHOD: u64 = 4096;

/// The policies that can apply, per method and caller.
pub(super) struct Index {
    methods: HashMap<String, MethodIndex>,
}

struct MethodIndex {
    /// The method's action entity, with its groups as parents.
    action: Entity,
    /// Policies whose action scope admits this method.
    policies: Vec<Policy>,
    /// Slices already cut, by caller id.
    slices: moka::sync::Cache<String, Arc<Slice>>,
}

/// What one caller calling with one method needs from the set.
pub(super) struct Slice {
    /// The policies whose scope admits the pair.
    pub policies: cedar_policy::PolicySet,
    /// The caller's entity and the action's.
    pub entities: Entities,
}

/// The caller as the request's entities give it.
pub(super) struct Caller {
    /// Its entity, attributes and parents included.
    pub entity: Entity,
    /// Its parents (all of its ancestors: seam flattens them at load).
    pub parents: HashSet<EntityUid>,
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
        methods: impl IntoIterator<Item = (String, Entity)>,
    ) -> Result<Index, String> {
        let actions = schema.action_entities().map_err(|e| e.to_string())?;
        // Each policy's scope is read once, not once per method.
        let scoped: Vec<(&Policy, ActionConstraint)> =
            set.policies().map(|p| (p, p.action_constraint())).collect();

        let mut index = HashMap::new();
        for (method, entity) in methods {
            let action = entity.uid();
            let groups: HashSet<&EntityUid> = actions
                .ancestors(&action)
                .map(Iterator::collect)
                .unwrap_or_default();
            let policies = scoped
                .iter()
                .filter(|(_, scope)| action_admits(scope, &action, &groups))
                .map(|(p, _)| (*p).clone())
                .collect();
            let slices = moka::sync::Cache::builder()
                .max_capacity(CALLERS_PER_METHOD)
                .build();
            index.insert(
                method,
                MethodIndex {
                    action: entity,
                    policies,
                    slices,
                },
            );
        }
        Ok(Index { methods: index })
    }

    /// The slice for the caller with id `principal` calling with `method`;
    /// `caller` describes the caller and is called only on its first
    /// request. `None` when the method is not an action.
    pub(super) fn slice(
        &self,
        method: &str,
        principal: &str,
        caller: impl FnOnce() -> Result<Caller, RequestError>,
    ) -> Result<Option<Arc<Slice>>, RequestError> {
        let Some(entry) = self.methods.get(method) else {
            return Ok(None);
        };
        if let Some(slice) = entry.slices.get(principal) {
            return Ok(Some(slice));
        }

        let caller = caller()?;
        let uid = caller.entity.uid();
        let mut policies = cedar_policy::PolicySet::new();
        for policy in &entry.policies {
            if principal_admits(&policy.principal_constraint(), &uid, &caller.parents) {
                policies
                    .add(policy.clone())
                    .map_err(|e| RequestError::Refused(e.to_string()))?;
            }
        }
        let entities = Entities::from_entities([caller.entity, entry.action.clone()], None)
            .map_err(|e| RequestError::Refused(e.to_string()))?;
        let slice = Arc::new(Slice { policies, entities });
        entry.slices.insert(principal.to_string(), slice.clone());
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
