//! What the schema and `entities.json` say about the entities a policy
//! names: which can never take part in a request, and which attributes
//! hold entities (whose data seam does not pass to Cedar).

use std::collections::HashSet;

use cedar_policy::{EntityUid, SchemaFragment};
use serde_json::Value;

use super::super::PolicySet;

/// Every entity named literally in a policy (scope and conditions).
pub(super) fn entity_literals(json: &Value) -> Vec<EntityUid> {
    let mut found = Vec::new();
    collect_literals(json, &mut found);
    found.sort_by_key(ToString::to_string);
    found.dedup();
    found
}

fn collect_literals(v: &Value, found: &mut Vec<EntityUid>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                let uid = match key.as_str() {
                    "__entity" | "entity" => EntityUid::from_json(value.clone()).ok(),
                    _ => None,
                };
                match uid {
                    Some(uid) => found.push(uid),
                    None => collect_literals(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_literals(i, found)),
        _ => {}
    }
}

/// Every entity `entities.json` declares or names as a parent.
pub(super) fn known_entities(set: &PolicySet) -> HashSet<EntityUid> {
    let mut known = HashSet::new();
    for (uid, ancestors) in &set.ancestors {
        known.insert(uid.clone());
        known.extend(ancestors.iter().cloned());
    }
    known
}

/// Why a request can never involve `uid`, if it cannot.
pub(super) fn unmatchable(uid: &EntityUid, known: &HashSet<EntityUid>) -> Option<&'static str> {
    match uid.type_name().to_string().as_str() {
        "Group" if !known.contains(uid) => {
            Some("which entities.json does not declare: no workload or service is in it")
        }
        "Workload" if crate::identity::SpiffeId::parse(uid.id().unescaped()).is_err() => {
            Some("which is not a SPIFFE ID: no verified caller has it")
        }
        _ => None,
    }
}

/// Names of attributes the schema types as entities, anywhere.
pub(super) fn entity_typed_attributes(schema_text: &str) -> HashSet<String> {
    let json = SchemaFragment::from_cedarschema_str(schema_text)
        .ok()
        .and_then(|(fragment, _)| fragment.to_json_value().ok())
        .unwrap_or(Value::Null);
    let mut entity_types = HashSet::new();
    for namespace in json.as_object().into_iter().flat_map(|o| o.values()) {
        for name in namespace["entityTypes"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
        {
            entity_types.insert(name.clone());
        }
    }
    let mut names = HashSet::new();
    collect_entity_attrs(&json, &entity_types, &mut names);
    names
}

fn collect_entity_attrs(v: &Value, entity_types: &HashSet<String>, names: &mut HashSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(attributes) = map.get("attributes").and_then(Value::as_object) {
                for (name, ty) in attributes {
                    let kind = ty["type"].as_str().unwrap_or("");
                    let target = ty["name"].as_str().unwrap_or("");
                    let entity = kind == "Entity"
                        || (kind == "EntityOrCommon" && entity_types.contains(target));
                    if entity {
                        names.insert(name.clone());
                    }
                }
            }
            map.values()
                .for_each(|x| collect_entity_attrs(x, entity_types, names));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|x| collect_entity_attrs(x, entity_types, names)),
        _ => {}
    }
}
