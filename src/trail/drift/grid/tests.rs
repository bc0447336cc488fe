use std::path::Path;

use super::*;
use crate::config::{Config, EMBEDDED};

fn shipped() -> (Config, Vec<RuleSpec>) {
    let config = Config::embedded(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let rules = rules_from_config(EMBEDDED).unwrap();
    (config, rules)
}

fn request(host: &str, path: &str, service: &str) -> Request {
    Request {
        host: host.into(),
        path: path.into(),
        service: service.into(),
        file: 0,
        line: 1,
    }
}

fn shown(grid: &Grid) -> Vec<(String, String, String)> {
    grid.targets
        .iter()
        .map(|t| (t.host.clone(), t.path.clone(), t.from.clone()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_shipped_configuration_names_five_rules() {
    let (_, rules) = shipped();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders",
            "customer-profiles",
            "payment-charges",
            "card-data",
            "finance"
        ]
    );
    assert_eq!(rules[4].host.as_deref(), Some("*.finance.svc"));
    assert_eq!(rules[0].path_prefix, None);
}

#[test]
fn the_shipped_schema_names_the_nine_http_methods_in_standard_order() {
    let set =
        crate::policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    assert_eq!(schema_methods(&set), standard_methods());
}

#[test]
fn with_no_trail_every_rule_stands_for_its_destination() {
    let (config, rules) = shipped();
    let grid = Grid::new(
        standard_methods(),
        &BTreeMap::new(),
        &rules,
        &config.context.classifier,
        &config.context.intents,
    );

    assert_eq!(
        shown(&grid),
        [
            ("orders.shop.svc", "/", "rule:orders"),
            (
                "orders.shop.svc",
                "/v1/customers/example",
                "rule:customer-profiles"
            ),
            (
                "payments.payments.svc",
                "/v1/charges/example",
                "rule:payment-charges"
            ),
            (
                "payments.payments.svc",
                "/v1/cards/example",
                "rule:card-data"
            ),
            ("finance.finance.svc", "/", "rule:finance"),
        ]
        .map(|(h, p, f)| (h.to_string(), p.to_string(), f.to_string()))
    );
    assert_eq!(
        grid.targets[4].service,
        "spiffe://example.org/ns/finance/sa/ledger"
    );
    assert_eq!(grid.intents[0], "");
    assert_eq!(grid.intents.len(), 8);
}

#[test]
fn labels_the_rules_override_are_not_sent() {
    let (config, rules) = shipped();
    let grid = Grid::new(
        standard_methods(),
        &BTreeMap::new(),
        &rules,
        &config.context.classifier,
        &config.context.intents,
    );

    // Orders is at least internal: `public` already gives internal, so
    // `internal` adds nothing. Customer profiles and charges are at least
    // confidential, card data restricted whatever the route says.
    assert_eq!(
        grid.kept_labels,
        vec![vec![0, 2, 3], vec![0, 3], vec![0, 3], vec![0], vec![0, 3]]
    );
    assert_eq!(grid.size(), 9 * 5 * 4 * 8);
    assert_eq!(grid.sent(), 9 * (3 + 2 + 2 + 1 + 2) * 8);
    assert_eq!(grid.sent_per_chain(), 9 * 10);
}

#[test]
fn trail_requests_stand_for_their_destination_before_rules_do() {
    let (config, rules) = shipped();
    let orders = "spiffe://example.org/ns/shop/sa/orders";
    let destinations = BTreeMap::from([
        (
            "orders.shop.svc".to_string(),
            vec![request("orders.shop.svc", "/v1/orders/7", orders)],
        ),
        (
            "ledger.finance.svc".to_string(),
            vec![request("ledger.finance.svc", "/v1/entries", "")],
        ),
        (
            "catalog.shop.svc".to_string(),
            vec![request("catalog.shop.svc", "/v1/items", "")],
        ),
    ]);
    let grid = Grid::new(
        strings(&["GET", "POST"]),
        &destinations,
        &rules,
        &config.context.classifier,
        &config.context.intents,
    );

    assert_eq!(
        shown(&grid),
        [
            ("catalog.shop.svc", "/v1/items", "trail"),
            ("ledger.finance.svc", "/v1/entries", "trail"),
            ("orders.shop.svc", "/v1/orders/7", "trail"),
            (
                "orders.shop.svc",
                "/v1/customers/example",
                "rule:customer-profiles"
            ),
            (
                "payments.payments.svc",
                "/v1/charges/example",
                "rule:payment-charges"
            ),
            (
                "payments.payments.svc",
                "/v1/cards/example",
                "rule:card-data"
            ),
        ]
        .map(|(h, p, f)| (h.to_string(), p.to_string(), f.to_string()))
    );
    // Nothing classifies the catalog: every label stands.
    assert_eq!(grid.kept_labels[0], vec![0, 1, 2, 3]);
    assert_eq!(grid.size(), 2 * 6 * 4 * 8);
}

#[test]
fn a_rule_host_is_exact_named_after_the_rule_for_a_suffix_and_absent_for_any() {
    let rule = |host: Option<&str>, service: Option<&str>| RuleSpec {
        name: "Ledger".into(),
        host: host.map(String::from),
        service: service.map(String::from),
        path_prefix: None,
    };
    assert_eq!(
        rule_host(&rule(Some("a.svc"), None)).as_deref(),
        Some("a.svc")
    );
    assert_eq!(
        rule_host(&rule(Some("*.finance.svc"), None)).as_deref(),
        Some("ledger.finance.svc")
    );
    assert_eq!(rule_host(&rule(Some("*"), None)), None);
    assert_eq!(
        rule_host(&rule(None, Some("spiffe://example.org/x"))).as_deref(),
        Some("ledger")
    );
    assert_eq!(probe_path("/v1/cards/"), "/v1/cards/example");
    assert_eq!(probe_path("/"), "/");
}
