//! The drift report over the recorded traffic, against what the shipped
//! policy text grants (see `policies/*.cedar`; each expectation below is
//! derived from it by hand).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use seam::config::{Config, EMBEDDED};
use seam::trail::Trail;
use seam::trail::drift::{
    DriftInput, DriftReport, UnusedGrant, Window, WorkloadDrift, rules_from_config,
};

use super::traffic::*;

/// Read and write methods: what `action in [Action::"read", Action::"write"]` covers.
const READ_WRITE: [&str; 7] = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
/// The shipped intents and none.
const INTENTS: [&str; 8] = [
    "",
    "browse",
    "checkout",
    "refund",
    "support",
    "settle",
    "reconcile",
    "export",
];
const CHAIN: &str =
    "spiffe://example.org/ns/shop/sa/frontend > spiffe://example.org/ns/shop/sa/orders";

type Flat = BTreeSet<(String, String, String, String, String, Vec<String>)>;

fn drift(recorded: &Recorded, policies: &Path) -> DriftReport {
    let config = Config::embedded(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let rules = rules_from_config(EMBEDDED).unwrap();
    let (trail, report) = Trail::load(std::slice::from_ref(&recorded.records)).unwrap();
    assert!(report.issues.is_empty(), "{:?}", report.issues);

    let window = Window::new(
        recorded.boundary,
        recorded.boundary + Duration::from_secs(3600),
    )
    .unwrap();
    trail
        .drift(&DriftInput {
            config: &config,
            rules: &rules,
            policy_dir: policies,
            window,
        })
        .unwrap()
}

fn workload<'a>(report: &'a DriftReport, id: &str) -> &'a WorkloadDrift {
    report
        .workloads
        .iter()
        .find(|w| w.workload == id)
        .unwrap_or_else(|| panic!("no drift for {id}"))
}

/// Every (method, destination, sensitivity, intent, via, policies) the
/// groups stand for.
fn flat(groups: &[UnusedGrant]) -> Flat {
    let mut out = Flat::new();
    for g in groups {
        for m in &g.methods {
            for s in &g.sensitivities {
                for i in &g.intents {
                    let row = (
                        m.clone(),
                        g.destination.clone(),
                        s.clone(),
                        i.clone(),
                        g.via.clone(),
                        g.policies.clone(),
                    );
                    assert!(out.insert(row), "a grant is listed once");
                }
            }
        }
    }
    out
}

fn row(
    m: &str,
    d: &str,
    s: &str,
    i: &str,
    via: &str,
    policy: &str,
) -> (String, String, String, String, String, Vec<String>) {
    (
        m.into(),
        d.into(),
        s.into(),
        i.into(),
        via.into(),
        vec![policy.to_string()],
    )
}

#[tokio::test]
async fn unused_grants_are_what_the_policy_text_grants_less_what_was_done() {
    let recorded = record().await;
    let report = drift(&recorded, &recorded.policies("policies"));

    // Only callers with decisions in the window; the support agent was
    // active only in the previous one, and the ledger never called anyone.
    let seen: Vec<&str> = report
        .workloads
        .iter()
        .map(|w| w.workload.as_str())
        .collect();
    assert_eq!(seen, [PAYMENTS, FRONTEND, ORDERS]);

    // frontend-manages-orders: read and write on the orders group, for
    // `/v1/orders*` and `/v1/customers/*`, up to confidential, any intent.
    // On orders.shop.svc the rules put everything at internal or above, so
    // internal and confidential, for the eight intents. Used: POST at
    // internal for checkout, GET at confidential for support.
    let frontend = workload(&report, FRONTEND);
    let mut expected = Flat::new();
    for m in READ_WRITE {
        for s in ["internal", "confidential"] {
            for i in INTENTS {
                if (m, s, i) != ("POST", "internal", "checkout")
                    && (m, s, i) != ("GET", "confidential", "support")
                {
                    expected.insert(row(
                        m,
                        "orders.shop.svc",
                        s,
                        i,
                        "direct",
                        "frontend-manages-orders",
                    ));
                }
            }
        }
    }
    assert_eq!(flat(&frontend.unused), expected);
    assert_eq!(frontend.granted, 7 * 2 * 8);
    assert_eq!(frontend.unused_count, 7 * 2 * 8 - 2);
    assert!(frontend.now_denied.is_empty());

    // orders-charges-payments: POST on the payments group under
    // `/v1/charges*` for checkout or refund, at any sensitivity the rules
    // leave there (confidential or restricted). Used: confidential checkout.
    let orders = workload(&report, ORDERS);
    let policy = "orders-charges-payments";
    let d = "payments.payments.svc";
    assert_eq!(
        flat(&orders.unused),
        Flat::from([
            row("POST", d, "confidential", "refund", "direct", policy),
            row("POST", d, "restricted", "checkout", "direct", policy),
            row("POST", d, "restricted", "refund", "direct", policy),
        ])
    );
    assert_eq!(orders.unused.len(), 2, "{:#?}", orders.unused);

    // payments-settles-ledger: POST /v1/entries on the ledger for settle on
    // its own, or for checkout inside the frontend > orders chain, at
    // confidential or restricted. Used: confidential checkout in the chain.
    let payments = workload(&report, PAYMENTS);
    let policy = "payments-settles-ledger";
    let d = "ledger.finance.svc";
    assert_eq!(
        flat(&payments.unused),
        Flat::from([
            row("POST", d, "confidential", "settle", "direct", policy),
            row("POST", d, "restricted", "settle", "direct", policy),
            row("POST", d, "restricted", "checkout", CHAIN, policy),
        ])
    );
    assert_eq!(payments.unused.len(), 2, "{:#?}", payments.unused);
    assert_eq!(
        payments.unused[0].sensitivities,
        ["confidential", "restricted"]
    );
}

#[tokio::test]
async fn deeper_chains_new_sensitivities_and_quiet_workloads_are_reported_as_they_happened() {
    let recorded = record().await;
    let report = drift(&recorded, &recorded.policies("policies"));

    // Payments settled directly before (no chain) and now writes at the end
    // of a three-hop chain: two workloads before it.
    let payments = workload(&report, PAYMENTS);
    let depth = payments.changes.deeper_chain.expect("a deeper chain");
    assert_eq!((depth.before, depth.now), (0, 2));
    assert!(payments.changes.new_sensitivities.is_empty());
    assert!(payments.changes.new_destinations.is_empty());

    // The frontend reached confidential data for the first time.
    let frontend = workload(&report, FRONTEND);
    assert_eq!(frontend.changes.new_sensitivities, ["confidential"]);
    assert_eq!(frontend.changes.deeper_chain, None);
    assert!(!frontend.changes.first_seen);

    // Orders did the same as before, at the same depth.
    let orders = workload(&report, ORDERS);
    assert_eq!(orders.changes.deeper_chain, None);
    assert!(orders.changes.new_sensitivities.is_empty());
    assert_eq!(orders.allowed, 1);

    assert!(report.workloads.iter().all(|w| w.workload != AGENT));
    assert_eq!(report.grid.methods.len(), 9);
    assert_eq!(
        report.grid.points_per_workload,
        9 * report.grid.targets.len() * 4 * 8
    );
}

#[tokio::test]
async fn a_use_the_tightened_policies_would_deny_is_listed_with_both_policy_sets() {
    let recorded = record().await;
    let policies = recorded.policies("tightened");
    let shop = policies.join("shop.cedar");
    let text = std::fs::read_to_string(&shop).unwrap();
    let tightened = text.replace(
        "context.sensitivity_level <= 2",
        "context.sensitivity_level <= 1",
    );
    assert_ne!(text, tightened);
    std::fs::write(&shop, tightened).unwrap();

    let report = drift(&recorded, &policies);
    let frontend = workload(&report, FRONTEND);
    assert_eq!(frontend.now_denied.len(), 1, "{:#?}", frontend.now_denied);
    let denied = &frontend.now_denied[0];
    assert_eq!(
        (
            denied.tuple.method.as_str(),
            denied.tuple.sensitivity.as_str(),
            denied.path.as_str()
        ),
        ("GET", "confidential", "/v1/customers/42")
    );
    assert_eq!(denied.allowed_by, ["frontend-manages-orders"]);
    assert_eq!(denied.reason_now, "policy_denied");
    assert!(denied.denied_by.is_empty());
    assert_ne!(denied.allowed_under, report.policy_set_version);

    // Internal stays granted, confidential no longer is.
    assert!(
        frontend
            .unused
            .iter()
            .all(|g| g.sensitivities == ["internal"])
    );
    assert!(workload(&report, ORDERS).now_denied.is_empty());
}
