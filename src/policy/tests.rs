use std::collections::BTreeMap;
use std::path::Path;

use super::*;

fn shipped() -> PolicySet {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
}

fn facts<'a>(principal: &'a str, method: &'a str, host: &'a str, path: &'a str) -> Facts<'a> {
    Facts {
        principal,
        method,
        host,
        hostname: host,
        port: 443,
        path,
        service: host,
        intent: None,
        sensitivity: "internal",
        sensitivity_level: 1,
        sensitivity_source: "route",
        query: "",
        source_address: "10.0.0.7:51234",
        request_id: "req-1",
        chain: None,
        credential: CredentialFacts::default(),
    }
}

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const AGENT: &str = "spiffe://example.org/ns/agents/sa/support-agent";

#[test]
fn the_shipped_policies_load_and_validate() {
    let set = shipped();
    assert!(set.len() >= 8);
    assert_eq!(set.version().len(), 16);
    let meta = set.meta("agents-never-touch-restricted").unwrap();
    assert_eq!(meta.file, "agents.cedar");
    assert_eq!(meta.effect, cedar_policy::Effect::Forbid);
    assert_eq!(
        meta.reason.as_deref(),
        Some("AI agents may not access restricted data")
    );
}

#[test]
fn a_permit_allows_and_names_itself() {
    let set = shipped();
    let eval = set
        .evaluate(&facts(FRONTEND, "GET", "orders.shop.svc", "/v1/orders/42"))
        .unwrap();
    assert!(eval.allowed);
    assert_eq!(
        eval.determining,
        vec!["frontend-manages-orders".to_string()]
    );
}

#[test]
fn nothing_permitting_is_a_default_deny_with_no_determining_policy() {
    let set = shipped();
    let eval = set
        .evaluate(&facts(FRONTEND, "GET", "ledger.finance.svc", "/v1/entries"))
        .unwrap();
    assert!(!eval.allowed);
    assert!(eval.determining.is_empty());
}

#[test]
fn a_forbid_wins_and_carries_its_reason_and_advice() {
    let set = shipped();
    let mut f = facts(AGENT, "GET", "orders.shop.svc", "/v1/orders/42/status");
    f.intent = Some("support");
    assert!(set.evaluate(&f).unwrap().allowed);

    f.sensitivity = "restricted";
    f.sensitivity_level = 3;
    let eval = set.evaluate(&f).unwrap();
    assert!(!eval.allowed);
    assert_eq!(
        eval.determining,
        vec!["agents-never-touch-restricted".to_string()]
    );
    assert_eq!(
        eval.reason.as_deref(),
        Some("AI agents may not access restricted data")
    );
    assert_eq!(
        eval.advice,
        vec!["route the request to a human operator".to_string()]
    );
}

#[test]
fn an_unknown_method_is_an_input_error() {
    let set = shipped();
    let err = set
        .evaluate(&facts(FRONTEND, "BREW", "orders.shop.svc", "/"))
        .unwrap_err();
    assert_eq!(err, RequestError::UnknownMethod("BREW".into()));
    assert!(err.is_input());
}

const SCHEMA: &str = include_str!("../../policies/schema.cedarschema");

fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

#[test]
fn unannotated_policies_get_file_qualified_ids() {
    let set = load::build(
        &files(&[
            ("a.cedar", "permit(principal, action, resource);\nforbid(principal, action, resource) when { context.sensitivity_level > 2 };"),
            ("b.cedar", "permit(principal, action in Action::\"read\", resource);"),
        ]),
        SCHEMA,
        None,
    )
    .unwrap();
    let eval = set.evaluate(&facts(FRONTEND, "GET", "h", "/")).unwrap();
    assert_eq!(
        eval.determining,
        vec!["a.cedar#1".to_string(), "b.cedar#1".to_string()]
    );

    let mut f = facts(FRONTEND, "GET", "h", "/");
    f.sensitivity_level = 3;
    assert_eq!(
        set.evaluate(&f).unwrap().determining,
        vec!["a.cedar#2".to_string()]
    );
}

#[test]
fn a_duplicate_id_across_files_names_both_files() {
    let err = load::build(
        &files(&[
            ("a.cedar", "@id(\"x\") permit(principal, action, resource);"),
            ("b.cedar", "@id(\"x\") forbid(principal, action, resource);"),
        ]),
        SCHEMA,
        None,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("b.cedar") && text.contains("a.cedar") && text.contains("`x`"),
        "{text}"
    );
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let err = load::build(
        &files(&[(
            "a.cedar",
            "permit(principal, action, resource)\nwhn { true };",
        )]),
        SCHEMA,
        None,
    )
    .unwrap_err();
    let LoadError::Invalid(problems) = err else {
        panic!("expected a parse problem")
    };
    assert_eq!(problems[0].file, "a.cedar");
    assert_eq!(problems[0].line, Some(2), "{:?}", problems[0]);
    assert!(problems[0].column.is_some());
}

#[test]
fn an_empty_file_is_refused_rather_than_read_as_deny_all() {
    let err = load::build(&files(&[("a.cedar", "  \n")]), SCHEMA, None).unwrap_err();
    assert!(err.to_string().contains("a.cedar: file is empty"), "{err}");
}

#[test]
fn a_policy_that_does_not_match_the_schema_is_refused() {
    let err = load::build(
        &files(&[(
            "a.cedar",
            "permit(principal, action, resource) when { context.colour == \"red\" };",
        )]),
        SCHEMA,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("a.cedar:1:"), "{err}");
}

#[test]
fn an_entities_file_that_does_not_match_the_schema_is_refused() {
    let entities = r#"[{"uid":{"type":"Group","id":"g"},"attrs":{"colour":"red"},"parents":[]}]"#;
    let err = load::build(
        &files(&[("a.cedar", "permit(principal, action, resource);")]),
        SCHEMA,
        Some(entities),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("entities.json"), "{err}");
}

#[test]
fn the_version_changes_with_any_file() {
    let a = load::build(
        &files(&[("a.cedar", "permit(principal, action, resource);")]),
        SCHEMA,
        None,
    )
    .unwrap();
    let b = load::build(
        &files(&[("a.cedar", "permit(principal, action, resource); ")]),
        SCHEMA,
        None,
    )
    .unwrap();
    assert_ne!(a.version(), b.version());
}

#[test]
fn a_destination_named_by_its_spiffe_id_inherits_its_groups() {
    let set = shipped();
    let mut f = facts(FRONTEND, "GET", "orders.shop.svc", "/v1/orders/42");
    f.service = "spiffe://example.org/ns/shop/sa/orders";
    let eval = set.evaluate(&f).unwrap();
    assert!(eval.allowed, "{eval:?}");
}

#[test]
fn an_action_group_is_not_a_method() {
    let set = shipped();
    for group in ["read", "write"] {
        let err = set
            .evaluate(&facts(FRONTEND, group, "orders.shop.svc", "/v1/orders/42"))
            .unwrap_err();
        assert_eq!(err, RequestError::UnknownMethod(group.into()));
    }
}

#[test]
fn a_schema_that_cannot_take_seams_context_is_refused_at_load() {
    let policy = files(&[("a.cedar", "permit(principal, action, resource);")]);
    let required_intent = SCHEMA.replace("intent?: String", "intent: String");
    assert_ne!(
        required_intent, SCHEMA,
        "the schema declares an optional intent"
    );
    let err = load::build(&policy, &required_intent, None).unwrap_err();
    assert!(
        err.to_string().contains("does not accept seam's request"),
        "{err}"
    );
}

#[test]
fn a_schema_with_no_action_for_workloads_is_refused_at_load() {
    let schema = "entity Workload; entity TrustDomain; entity Destination; entity Service;\n\
                  action read;";
    let policy = files(&[("a.cedar", "permit(principal, action, resource);")]);
    let err = load::build(&policy, schema, None).unwrap_err();
    assert!(err.to_string().contains("no action in the schema"), "{err}");
}

/// The policies handed to Cedar are cut by caller and method; this compares
/// every answer with Cedar's answer over the whole set.
#[test]
fn deciding_on_the_scope_slice_gives_cedars_answer_over_the_whole_set() {
    let set = shipped();
    let callers = [
        FRONTEND,
        AGENT,
        "spiffe://example.org/ns/shop/sa/orders",
        "spiffe://example.org/ns/payments/sa/payments",
        "spiffe://example.org/ns/finance/sa/ledger",
        "spiffe://example.org/ns/other/sa/stranger",
        "spiffe://elsewhere.test/ns/shop/sa/frontend",
    ];
    let targets = [
        ("orders.shop.svc", "/v1/orders/42"),
        ("orders.shop.svc", "/v1/customers/7"),
        ("payments.payments.svc", "/v1/charges"),
        ("ledger.finance.svc", "/v1/entries"),
        ("ledger.finance.svc", "/v1/export"),
    ];
    let workloads = [
        FRONTEND.to_string(),
        "spiffe://example.org/ns/shop/sa/orders".into(),
    ];
    let mut compared = 0;
    for caller in callers {
        for method in ["GET", "HEAD", "POST", "DELETE", "PATCH", "CONNECT"] {
            for (host, path) in targets {
                for (level, sensitivity) in [(0, "public"), (2, "confidential"), (3, "restricted")]
                {
                    for intent in [None, Some("checkout"), Some("export"), Some("support")] {
                        for chained in [false, true] {
                            let mut f = facts(caller, method, host, path);
                            f.sensitivity = sensitivity;
                            f.sensitivity_level = level;
                            f.intent = intent;
                            f.chain = chained.then_some(ChainFacts {
                                txn: "txn-1",
                                depth: 2,
                                workloads: &workloads,
                                scope: "checkout",
                                bound: true,
                            });
                            let built = request::build(&f, &set).unwrap();
                            let sliced = set.authorizer.is_authorized(
                                &built.request,
                                &built.slice.policies,
                                &built.entities,
                            );
                            let whole = set.authorizer.is_authorized(
                                &built.request,
                                &set.policies,
                                &built.entities,
                            );
                            let view = |r: &cedar_policy::Response| {
                                let mut reasons: Vec<String> =
                                    r.diagnostics().reason().map(ToString::to_string).collect();
                                reasons.sort();
                                let errors = r.diagnostics().errors().count();
                                (r.decision(), reasons, errors)
                            };
                            assert_eq!(
                                view(&sliced),
                                view(&whole),
                                "{caller} {method} {host}{path}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(compared, 7 * 6 * 5 * 3 * 4 * 2);
}

#[test]
fn a_schema_that_does_not_declare_an_attribute_seam_sends_is_refused_at_load() {
    let policy = files(&[("a.cedar", "permit(principal, action, resource);")]);
    let without = SCHEMA
        .lines()
        .filter(|line| !line.trim_start().starts_with("namespace?"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        without.len(),
        SCHEMA.trim_end().len(),
        "the schema declares namespace"
    );
    let err = load::build(&policy, &without, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not describe the entities seam builds"),
        "{err}"
    );
}
