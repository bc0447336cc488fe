//! The requests drift asks the current policies about for each workload:
//! every method × destination × sensitivity label × intent, kept bounded by
//! standing for a destination with a few representative requests and by
//! dropping the labels the classification rules would override anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::usage::Request;
use crate::policy::PolicySet;
use crate::sensitivity::Classifier;

/// The methods asked about when the schema names none.
pub const STANDARD_METHODS: &[&str] = &[
    "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE",
];

/// A classification rule as written in the configuration, for the
/// destinations it names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuleSpec {
    /// The rule's name.
    pub name: String,
    /// `host`: exact, `*.suffix` or `*`.
    #[serde(default)]
    pub host: Option<String>,
    /// `service`: the destination's SPIFFE ID.
    #[serde(default)]
    pub service: Option<String>,
    /// `path_prefix`, `/` when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RulesFile {
    context: RulesContext,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RulesContext {
    classify: Vec<RuleSpec>,
}

/// The classification rules of a configuration file's text (which
/// [`crate::config::Config`] has already validated); other keys are ignored.
pub fn rules_from_config(text: &str) -> Result<Vec<RuleSpec>, String> {
    let file: RulesFile = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(file.context.classify)
}

/// One request drift sends for a destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The destination host.
    pub host: String,
    /// The path requested.
    pub path: String,
    /// `destination.principal` sent with it (empty: none).
    pub service: String,
    /// Where it came from: `trail` or `rule:<name>`.
    pub from: String,
}

/// Everything asked of the policies for one workload outside a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grid {
    /// Methods, in schema order.
    pub methods: Vec<String>,
    /// Representative requests, by destination.
    pub targets: Vec<Target>,
    /// Route sensitivity labels (the configured levels).
    pub labels: Vec<String>,
    /// Intents; the first, empty, is none declared.
    pub intents: Vec<String>,
    /// For each target, the labels worth sending: one per distinct
    /// sensitivity the classification rules leave.
    #[serde(skip)]
    pub kept_labels: Vec<Vec<usize>>,
}

impl Grid {
    /// The grid for `methods`, the trail's `destinations` and the rules'
    /// ones, every level and every intent (and none).
    pub(crate) fn new(
        methods: Vec<String>,
        destinations: &BTreeMap<String, Vec<Request>>,
        rules: &[RuleSpec],
        classifier: &Classifier,
        intents: &[String],
    ) -> Grid {
        let targets = targets(destinations, rules);
        let labels = classifier.levels().names().to_vec();
        let kept_labels = targets
            .iter()
            .map(|t| kept_labels(classifier, &labels, t))
            .collect();
        let mut all_intents = vec![String::new()];
        all_intents.extend(intents.iter().cloned());

        Grid {
            methods,
            targets,
            labels,
            intents: all_intents,
            kept_labels,
        }
    }

    /// Points of the full grid: methods × targets × labels × intents.
    pub fn size(&self) -> usize {
        self.methods.len() * self.targets.len() * self.labels.len() * self.intents.len()
    }

    /// Points actually sent outside a chain, once overridden labels are
    /// dropped.
    pub fn sent(&self) -> usize {
        let labels: usize = self.kept_labels.iter().map(Vec::len).sum();
        self.methods.len() * labels * self.intents.len()
    }

    /// Points sent under one chain, whose intent is fixed at its origin.
    pub fn sent_per_chain(&self) -> usize {
        let labels: usize = self.kept_labels.iter().map(Vec::len).sum();
        self.methods.len() * labels
    }
}

/// The methods the schema's actions for a `Workload` calling a
/// `Destination` name, in schema order; the standard ones when none.
pub fn schema_methods(set: &PolicySet) -> Vec<String> {
    let (Ok(workload), Ok(destination)) = (
        cedar_policy::EntityTypeName::from_str("Workload"),
        cedar_policy::EntityTypeName::from_str("Destination"),
    ) else {
        return standard_methods();
    };
    let named: BTreeSet<String> = set
        .schema()
        .actions_for_principal_and_resource(&workload, &destination)
        .map(|uid| uid.id().unescaped().to_string())
        .collect();

    let mut methods: Vec<String> = STANDARD_METHODS
        .iter()
        .filter(|m| named.contains(**m))
        .map(|m| m.to_string())
        .collect();
    methods.extend(
        named
            .iter()
            .filter(|m| !STANDARD_METHODS.contains(&m.as_str()))
            .cloned(),
    );
    if methods.is_empty() {
        return standard_methods();
    }
    methods
}

fn standard_methods() -> Vec<String> {
    STANDARD_METHODS.iter().map(|m| m.to_string()).collect()
}

/// The trail's requests for each destination, then one request for each
/// rule whose destination and path prefix no trail request covers.
fn targets(destinations: &BTreeMap<String, Vec<Request>>, rules: &[RuleSpec]) -> Vec<Target> {
    let mut targets: Vec<Target> = destinations
        .values()
        .flatten()
        .map(|r| Target {
            host: r.host.clone(),
            path: r.path.clone(),
            service: r.service.clone(),
            from: "trail".into(),
        })
        .collect();

    for rule in rules {
        let prefix = rule.path_prefix.as_deref().unwrap_or("/");
        let covered = targets.iter().any(|t| {
            let by_host = rule
                .host
                .as_deref()
                .is_some_and(|h| host_matches(h, &t.host));
            let by_service = rule.service.as_deref().is_some_and(|s| s == t.service);
            (by_host || by_service) && under(prefix, &t.path)
        });
        if covered {
            continue;
        }
        let Some(host) = rule_host(rule) else {
            continue;
        };
        targets.push(Target {
            host,
            path: probe_path(prefix),
            service: rule.service.clone().unwrap_or_default(),
            from: format!("rule:{}", rule.name),
        });
    }
    targets
}

/// A host a rule applies to: its exact host, `<rule name>.<suffix>` for a
/// `*.suffix` pattern, the rule's name when it names only a service; none
/// for `*`, which every other target already falls under.
fn rule_host(rule: &RuleSpec) -> Option<String> {
    match rule.host.as_deref().map(str::to_ascii_lowercase) {
        Some(host) if host == "*" => None,
        Some(host) => match host.strip_prefix("*.") {
            Some(suffix) => Some(format!("{}.{suffix}", rule.name.to_ascii_lowercase())),
            None => Some(host),
        },
        None => rule
            .service
            .as_ref()
            .map(|_| rule.name.to_ascii_lowercase()),
    }
}

/// A path inside `prefix`: one segment below it, so patterns written for
/// items (`/v1/customers/*`) apply.
fn probe_path(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return "/".into();
    }
    format!("{prefix}/example")
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        None => pattern == host,
    }
}

fn under(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The labels to send for `target`: the least restrictive label giving
/// each distinct sensitivity once the rules are applied.
fn kept_labels(classifier: &Classifier, labels: &[String], target: &Target) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for (index, label) in labels.iter().enumerate() {
        let Ok(result) =
            classifier.classify(Some(label), &target.host, &target.service, &target.path)
        else {
            continue;
        };
        if seen.insert(result.name) {
            kept.push(index);
        }
    }
    kept
}

#[cfg(test)]
mod tests;
