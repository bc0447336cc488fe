use std::collections::HashSet;
use std::str::FromStr;

use cedar_policy::{Entity, EntityUid, PolicySet, Schema};

use super::{Caller, Index};
use crate::policy::RequestError;

const SCHEMA: &str = r#"
entity TrustDomain;
entity Group;
entity Workload in [TrustDomain, Group];
entity Other;
entity Destination;
action read;
action write;
action "GET" in [read];
action "HEAD" in [read];
action "POST" in [write];
action "DELETE" in [write];
"#;

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).unwrap()
}

fn index(policies: &str) -> Index {
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    let set = PolicySet::from_str(policies).unwrap();
    let actions = schema.action_entities().unwrap();
    let methods = ["GET", "HEAD", "POST", "DELETE"].into_iter().map(|m| {
        let action = actions.get(&uid(&format!("Action::\"{m}\""))).unwrap();
        (m.to_string(), action.clone())
    });
    Index::new(&set, &schema, methods).unwrap()
}

fn caller(principal: &str, parents: &[&str]) -> Result<Caller, RequestError> {
    let parents: HashSet<EntityUid> = parents.iter().map(|p| uid(p)).collect();
    let entity = Entity::new_no_attrs(uid(principal), parents.clone());
    Ok(Caller { entity, parents })
}

fn ids(index: &Index, method: &str, principal: &str, parents: &[&str]) -> Vec<String> {
    let slice = index
        .slice(method, principal, || caller(principal, parents))
        .unwrap()
        .unwrap();
    let mut ids: Vec<String> = slice
        .policies
        .policies()
        .filter_map(|p| p.annotation("id").map(str::to_string))
        .collect();
    ids.sort();
    ids
}

const ALICE: &str = r#"Workload::"spiffe://td/alice""#;

#[test]
fn the_action_scope_keeps_exactly_the_policies_a_method_can_match() {
    let index = index(
        r#"
        @id("any") permit(principal, action, resource);
        @id("eq-get") permit(principal, action == Action::"GET", resource);
        @id("in-read") permit(principal, action in Action::"read", resource);
        @id("in-list") permit(principal, action in [Action::"POST", Action::"read"], resource);
        @id("eq-group") permit(principal, action == Action::"read", resource);
        @id("in-write") forbid(principal, action in Action::"write", resource);
        "#,
    );
    let cases: [(&str, &[&str]); 4] = [
        ("GET", &["any", "eq-get", "in-list", "in-read"]),
        ("HEAD", &["any", "in-list", "in-read"]),
        ("POST", &["any", "in-list", "in-write"]),
        ("DELETE", &["any", "in-write"]),
    ];
    for (method, expected) in cases {
        assert_eq!(ids(&index, method, ALICE, &[]), expected, "{method}");
    }
}

#[test]
fn the_principal_scope_keeps_exactly_the_policies_a_caller_can_match() {
    let index = index(
        r#"
        @id("any") permit(principal, action, resource);
        @id("eq-alice") permit(principal == Workload::"spiffe://td/alice", action, resource);
        @id("eq-bob") permit(principal == Workload::"spiffe://td/bob", action, resource);
        @id("in-self") permit(principal in Workload::"spiffe://td/alice", action, resource);
        @id("in-group") permit(principal in Group::"payers", action, resource);
        @id("in-other-group") permit(principal in Group::"auditors", action, resource);
        @id("in-td") forbid(principal in TrustDomain::"td", action, resource);
        @id("is") permit(principal is Workload, action, resource);
        @id("is-other") permit(principal is Other, action, resource);
        @id("is-in") permit(principal is Workload in Group::"payers", action, resource);
        @id("is-other-in") permit(principal is Other in Group::"payers", action, resource);
        "#,
    );
    let parents = [r#"TrustDomain::"td""#, r#"Group::"payers""#];
    assert_eq!(
        ids(&index, "GET", ALICE, &parents),
        [
            "any", "eq-alice", "in-group", "in-self", "in-td", "is", "is-in"
        ]
    );
    assert_eq!(
        ids(
            &index,
            "GET",
            r#"Workload::"spiffe://td/bob""#,
            &[r#"TrustDomain::"td""#]
        ),
        ["any", "eq-bob", "in-td", "is"]
    );
}

#[test]
fn a_method_outside_the_schema_has_no_slice() {
    let index = index("permit(principal, action, resource);");
    let none = index.slice("BREW", ALICE, || caller(ALICE, &[])).unwrap();
    assert!(none.is_none());
}

#[test]
fn a_cached_slice_is_the_same_set_on_the_next_request() {
    let index = index(r#"permit(principal == Workload::"spiffe://td/alice", action, resource);"#);
    let first = index
        .slice("GET", ALICE, || caller(ALICE, &[]))
        .unwrap()
        .unwrap();
    let second = index
        .slice("GET", ALICE, || {
            panic!("a cached caller is not described again")
        })
        .unwrap()
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    assert_eq!(first.policies.policies().count(), 1);
    assert_eq!(first.entities.iter().count(), 2, "caller and action");
}
