//! From a request's facts to a Cedar request and its entities.
//!
//! Every id is built through Cedar's API (`EntityUid::from_type_name_and_id`),
//! never by formatting Cedar text, so a hostile host or path can never
//! become policy syntax.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};

use super::PolicySet;
use super::index::{Caller, Slice};
use crate::identity::SpiffeId;

/// What seam established about one request, in the terms of the schema.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The caller's verified SPIFFE ID.
    pub principal: &'a str,
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Normalised host, non-default port kept.
    pub host: &'a str,
    /// Host without port.
    pub hostname: &'a str,
    /// Explicit or default port.
    pub port: u16,
    /// Normalised path.
    pub path: &'a str,
    /// Destination service id.
    pub service: &'a str,
    /// Declared intent, if any.
    pub intent: Option<&'a str>,
    /// Sensitivity name, level and source.
    pub sensitivity: &'a str,
    /// Position of the sensitivity in the configured order.
    pub sensitivity_level: i64,
    /// Where the sensitivity came from.
    pub sensitivity_source: &'a str,
    /// Raw query string.
    pub query: &'a str,
    /// Caller's socket address.
    pub source_address: &'a str,
    /// Request id.
    pub request_id: &'a str,
    /// The transaction this request continues, if it carries a valid token.
    pub chain: Option<ChainFacts<'a>>,
    /// The caller's other credential.
    pub credential: CredentialFacts,
}

/// A verified transaction chain, as policies see it.
#[derive(Debug, Clone)]
pub struct ChainFacts<'a> {
    /// Transaction id.
    pub txn: &'a str,
    /// Hops before this one.
    pub depth: i64,
    /// The workloads the authority passed through, origin first.
    pub workloads: &'a [String],
    /// The purpose fixed at the origin.
    pub scope: &'a str,
    /// Whether the token was bound to the workload presenting it.
    pub bound: bool,
}

/// The caller's other credential, as policies see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialFacts {
    /// Whether one was sent.
    pub present: bool,
    /// Its kind (`none`, `bearer_jwt`, ...).
    pub kind: &'static str,
    /// A JWT without `exp`.
    pub lacks_expiry: bool,
    /// A JWT living longer than the configured limit.
    pub long_lived: bool,
}

impl Default for CredentialFacts {
    fn default() -> Self {
        CredentialFacts {
            present: false,
            kind: "none",
            lacks_expiry: false,
            long_lived: false,
        }
    }
}

/// A request that cannot be put to Cedar.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// The HTTP method is not an action in the schema.
    #[error("method `{0}` is not an action in the schema")]
    UnknownMethod(String),
    /// The caller's id is not a workload SPIFFE ID.
    #[error("principal `{0}` is not a workload SPIFFE ID")]
    BadPrincipal(String),
    /// Cedar refused an entity or the context.
    #[error("cedar refused the request: {0}")]
    Refused(String),
}

impl RequestError {
    /// Whether the fault lies in the request (as opposed to seam or the schema).
    pub fn is_input(&self) -> bool {
        matches!(self, RequestError::UnknownMethod(_))
    }
}

/// The action entities of the schema, by method name, and the entity type
/// names seam builds ids with, parsed once per policy set.
#[derive(Debug)]
pub(super) struct Actions {
    by_method: HashMap<String, Entity>,
    workload: EntityTypeName,
    trust_domain: EntityTypeName,
    destination: EntityTypeName,
    service: EntityTypeName,
}

impl Actions {
    /// The methods are the schema's actions that take a `Workload`
    /// principal and a `Destination` resource; groups such as `read` are
    /// not methods, so a request naming one is an unknown method.
    pub(super) fn from_schema(schema: &Schema) -> Result<Actions, String> {
        let name = |n: &str| EntityTypeName::from_str(n).map_err(|e| e.to_string());
        let workload = name("Workload")?;
        let destination = name("Destination")?;

        let entities = schema.action_entities().map_err(|e| e.to_string())?;
        let by_method: HashMap<String, Entity> = entities
            .iter()
            .filter(|e| is_method(schema, &e.uid(), &workload, &destination))
            .map(|e| (e.uid().id().unescaped().to_string(), e.clone()))
            .collect();
        if by_method.is_empty() {
            return Err(
                "no action in the schema takes a `Workload` principal and a \
                        `Destination` resource, so no request could ever be decided"
                    .into(),
            );
        }
        Ok(Actions {
            by_method,
            workload,
            trust_domain: name("TrustDomain")?,
            destination,
            service: name("Service")?,
        })
    }

    /// Each method with its action entity.
    pub(super) fn methods(&self) -> impl Iterator<Item = (String, Entity)> + '_ {
        self.by_method
            .iter()
            .map(|(method, action)| (method.clone(), action.clone()))
    }
}

fn is_method(
    schema: &Schema,
    action: &EntityUid,
    workload: &EntityTypeName,
    destination: &EntityTypeName,
) -> bool {
    let principal = schema
        .principals_for_action(action)
        .is_some_and(|mut types| types.any(|t| t == workload));
    let resource = schema
        .resources_for_action(action)
        .is_some_and(|mut types| types.any(|t| t == destination));
    principal && resource
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

/// The `attrs` object for a workload in entities JSON.
pub(crate) fn workload_attrs_json(id: &str) -> Option<serde_json::Value> {
    let id = SpiffeId::parse(id).ok()?;
    let mut attrs = serde_json::json!({ "trust_domain": id.trust_domain(), "path": id.path() });
    if let Some((ns, sa)) = id.namespace_and_service_account() {
        attrs["namespace"] = ns.into();
        attrs["service_account"] = sa.into();
    }
    Some(attrs)
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

/// A request ready for Cedar: the request, the entities it refers to, and
/// the policies whose scope admits its caller and method.
pub(super) struct Built {
    /// The Cedar request.
    pub request: Request,
    /// Principal, resource and action entities.
    pub entities: Entities,
    /// The policies that can apply, and the caller's entities.
    pub slice: Arc<Slice>,
}

/// Builds the Cedar request and the entities it refers to.
///
/// The context is not checked against the schema here: it has the same
/// shape on every request, and [`check_schema_fits`] proved at load time
/// that the schema accepts that shape.
pub(super) fn build(facts: &Facts<'_>, set: &PolicySet) -> Result<Built, RequestError> {
    let action = set
        .actions
        .by_method
        .get(facts.method)
        .ok_or_else(|| RequestError::UnknownMethod(facts.method.to_string()))?;

    let slice = set
        .index
        .slice(facts.method, facts.principal, || {
            caller(facts.principal, &set.actions, &set.ancestors)
        })?
        .ok_or_else(|| RequestError::UnknownMethod(facts.method.to_string()))?;

    let resource = resource_entity(facts, &set.actions, &set.ancestors)?;
    let context = context(facts)?;

    let principal = uid(&set.actions.workload, facts.principal);
    let request = Request::new(principal, action.uid(), resource.uid(), context, None)
        .map_err(|e| RequestError::Refused(e.to_string()))?;

    let entities = slice
        .entities
        .clone()
        .add_entities([resource], None)
        .map_err(|e| RequestError::Refused(e.to_string()))?;
    Ok(Built {
        request,
        entities,
        slice,
    })
}

/// Refuses a schema that would not accept the request seam builds: every
/// method action must take a `Workload` principal and a `Destination`
/// resource, and the context type must accept seam's context both with and
/// without its optional attributes.
pub(super) fn check_schema_fits(schema: &Schema, actions: &Actions) -> Result<(), String> {
    let workloads = [String::from("spiffe://example.org/ns/shop/sa/frontend")];
    let chain = ChainFacts {
        txn: "txn",
        depth: 1,
        workloads: &workloads,
        scope: "checkout",
        bound: true,
    };
    let bare = Facts {
        principal: "spiffe://example.org/ns/shop/sa/orders",
        method: "GET",
        host: "orders.shop.svc",
        hostname: "orders.shop.svc",
        port: 443,
        path: "/",
        service: "orders.shop.svc",
        intent: None,
        sensitivity: "internal",
        sensitivity_level: 1,
        sensitivity_source: "default",
        query: "",
        source_address: "127.0.0.1:1",
        request_id: "request",
        chain: None,
        credential: CredentialFacts::default(),
    };
    let full = Facts {
        intent: Some("checkout"),
        chain: Some(chain),
        ..bare.clone()
    };

    let principal = uid(&actions.workload, bare.principal);
    let resource = uid(&actions.destination, "orders.shop.svc/");
    let mut methods: Vec<&String> = actions.by_method.keys().collect();
    methods.sort();
    for method in methods {
        let Some(action) = actions.by_method.get(method) else {
            continue;
        };
        for facts in [&bare, &full] {
            let context = context(facts).map_err(|e| e.to_string())?;
            Request::new(
                principal.clone(),
                action.uid(),
                resource.clone(),
                context,
                Some(schema),
            )
            .map_err(|e| {
                format!("the schema does not accept seam's request for `{method}`: {e}")
            })?;
        }
    }

    // The entities are not checked per request either: a schema that does
    // not declare what seam puts on them would validate policies against
    // attributes other than the ones they are evaluated with.
    let none = Ancestors::new();
    let caller = caller(bare.principal, actions, &none).map_err(|e| e.to_string())?;
    let resource = resource_entity(&bare, actions, &none).map_err(|e| e.to_string())?;
    Entities::from_entities([caller.entity, resource], Some(schema))
        .map_err(|e| format!("the schema does not describe the entities seam builds: {e}"))?;
    Ok(())
}

/// Each workload's and service's groups, flattened, from `entities.json`.
type Ancestors = HashMap<EntityUid, Vec<EntityUid>>;

/// The caller's entity, built on its first request with a method.
fn caller(
    principal: &str,
    actions: &Actions,
    ancestors: &Ancestors,
) -> Result<Caller, RequestError> {
    let id = SpiffeId::parse(principal)
        .map_err(|_| RequestError::BadPrincipal(principal.to_string()))?;
    let workload = uid(&actions.workload, principal);

    let mut parents: HashSet<EntityUid> = HashSet::new();
    parents.insert(uid(&actions.trust_domain, id.trust_domain()));
    if let Some(more) = ancestors.get(&workload) {
        parents.extend(more.iter().cloned());
    }

    let mut attrs = HashMap::from([
        ("trust_domain".to_string(), string(id.trust_domain())),
        ("path".to_string(), string(id.path())),
    ]);
    if let Some((ns, sa)) = id.namespace_and_service_account() {
        attrs.insert("namespace".into(), string(ns));
        attrs.insert("service_account".into(), string(sa));
    }
    let entity = Entity::new(workload, attrs, parents.clone())
        .map_err(|e| RequestError::Refused(e.to_string()))?;
    Ok(Caller { entity, parents })
}

fn resource_entity(
    facts: &Facts<'_>,
    actions: &Actions,
    ancestors: &Ancestors,
) -> Result<Entity, RequestError> {
    let id = format!("{}{}", facts.host, facts.path);
    let destination = uid(&actions.destination, &id);
    let service = uid(&actions.service, facts.service);

    let attrs = HashMap::from([
        ("host".to_string(), string(facts.host)),
        ("hostname".to_string(), string(facts.hostname)),
        (
            "port".to_string(),
            RestrictedExpression::new_long(i64::from(facts.port)),
        ),
        ("path".to_string(), string(facts.path)),
        ("service".to_string(), string(facts.service)),
    ]);

    let mut parents: HashSet<EntityUid> = HashSet::new();
    if let Some(more) = ancestors.get(&service) {
        parents.extend(more.iter().cloned());
    }
    parents.insert(service);
    Entity::new(destination, attrs, parents).map_err(|e| RequestError::Refused(e.to_string()))
}

fn chain_record(chain: &ChainFacts<'_>) -> Result<RestrictedExpression, RequestError> {
    let origin = chain.workloads.first().map(String::as_str).unwrap_or("");
    RestrictedExpression::new_record([
        ("txn".to_string(), string(chain.txn)),
        (
            "depth".to_string(),
            RestrictedExpression::new_long(chain.depth),
        ),
        ("origin".to_string(), string(origin)),
        (
            "workloads".to_string(),
            RestrictedExpression::new_set(chain.workloads.iter().map(|w| string(w))),
        ),
        ("route".to_string(), string(&chain.workloads.join(" > "))),
        ("scope".to_string(), string(chain.scope)),
        (
            "bound".to_string(),
            RestrictedExpression::new_bool(chain.bound),
        ),
    ])
    .map_err(|e| RequestError::Refused(e.to_string()))
}

fn context(facts: &Facts<'_>) -> Result<Context, RequestError> {
    let mut pairs = vec![
        ("sensitivity".to_string(), string(facts.sensitivity)),
        (
            "sensitivity_level".to_string(),
            RestrictedExpression::new_long(facts.sensitivity_level),
        ),
        (
            "sensitivity_source".to_string(),
            string(facts.sensitivity_source),
        ),
        ("query".to_string(), string(facts.query)),
        ("source_address".to_string(), string(facts.source_address)),
        ("request_id".to_string(), string(facts.request_id)),
    ];
    if let Some(intent) = facts.intent {
        pairs.push(("intent".to_string(), string(intent)));
    }
    if let Some(chain) = &facts.chain {
        pairs.push(("chain".to_string(), chain_record(chain)?));
    }
    let credential = &facts.credential;
    let credential = RestrictedExpression::new_record([
        (
            "present".to_string(),
            RestrictedExpression::new_bool(credential.present),
        ),
        ("kind".to_string(), string(credential.kind)),
        (
            "lacks_expiry".to_string(),
            RestrictedExpression::new_bool(credential.lacks_expiry),
        ),
        (
            "long_lived".to_string(),
            RestrictedExpression::new_bool(credential.long_lived),
        ),
    ])
    .map_err(|e| RequestError::Refused(e.to_string()))?;
    pairs.push(("credential".to_string(), credential));
    Context::from_pairs(pairs).map_err(|e| RequestError::Refused(e.to_string()))
}
