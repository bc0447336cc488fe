//! The Cedar request seam builds for one request, shown as JSON for policy
//! authors (`seam check --explain`).
//!
//! It sits beside [`PolicySet::evaluate`](super::PolicySet::evaluate): the
//! same [`request::build`](super::request) makes the request and entities,
//! so what is shown is what Cedar is asked.

use cedar_policy::EntityUid;
use serde_json::{Value, json};

use super::request::{self, Facts, RequestError};
use super::{PolicyMeta, PolicySet};

/// The Cedar request built from `facts` for `set`: `principal` and
/// `resource` as entities (uid, attributes, parents), `action` as a uid,
/// and `context`.
pub fn cedar_request(facts: &Facts<'_>, set: &PolicySet) -> Result<Value, RequestError> {
    let request::Built {
        request, entities, ..
    } = request::build(facts, set)?;
    let refused = |e: &dyn std::fmt::Display| RequestError::Refused(e.to_string());

    let listed = entities.to_json_value().map_err(|e| refused(&e))?;
    let listed = listed.as_array().cloned().unwrap_or_default();
    let entity = |uid: Option<&EntityUid>| -> Value {
        let Some(uid) = uid else {
            return Value::Null;
        };
        let wanted = uid_json(uid);
        let mut found = listed
            .iter()
            .find(|e| e["uid"] == wanted)
            .cloned()
            .unwrap_or(json!({ "uid": wanted }));

        // Parents come from a set: sort them so the same request always
        // reads the same.
        if let Some(parents) = found["parents"].as_array_mut() {
            parents.sort_by_key(|p| (p["type"].to_string(), p["id"].to_string()));
        }
        found
    };

    let context = match request.context() {
        Some(context) => context.to_json_value().map_err(|e| refused(&e))?,
        None => Value::Null,
    };
    Ok(json!({
        "principal": entity(request.principal()),
        "action": request.action().map(uid_json).unwrap_or(Value::Null),
        "resource": entity(request.resource()),
        "context": context,
    }))
}

/// `{"type": ..., "id": ...}`, the shape Cedar's entity JSON uses.
fn uid_json(uid: &EntityUid) -> Value {
    json!({ "type": uid.type_name().to_string(), "id": uid.id().unescaped() })
}

impl PolicySet {
    /// What seam knows about every policy, by id, in id order.
    pub fn metas(&self) -> Vec<(String, &PolicyMeta)> {
        let mut all: Vec<(String, &PolicyMeta)> = self
            .meta
            .iter()
            .map(|(id, meta)| (id.to_string(), meta))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
