//! A checkout followed through the records seam wrote: the tree from any of
//! its ids, one workload's actions, unused tokens and denials.

use super::run::*;
use crate::support::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test]
async fn a_checkout_reads_back_as_a_three_hop_tree_from_each_kind_of_id() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("decisions.jsonl");
    let mut seam = seam_writing_to(&records, "").await;

    checkout(&mut seam, "req-checkout", TRACE).await;
    // A second order is placed but never charged: its token goes unused.
    place_order(&mut seam, "req-abandoned", OTHER_TRACE).await;
    // Payments writing the ledger without the chain is refused.
    let mut direct = hop(
        PAYMENTS,
        "https://ledger.finance.svc/v1/entries",
        LEDGER,
        "req-direct",
        OTHER_TRACE,
    );
    direct
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&direct, &seam.pki.leaf(PAYMENTS)).await;
    assert_eq!(outcome(&response), DENY_POLICY);
    seam.stop().await;

    let written = lines(&records);
    assert_eq!(written.len(), 5);
    let (first, second, third) = (&written[0], &written[1], &written[2]);
    let txn = first["token"]["txn"].as_str().unwrap();
    let file = records.display().to_string();

    // Every kind of id leads to the same transaction.
    for (id, matched) in [
        (txn, "txn"),
        (second["decision_id"].as_str().unwrap(), "decision_id"),
        ("req-checkout-3", "request_id"),
    ] {
        let run = trail(&["txn", id, &file, "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let found = run.json()["transactions"].clone();
        assert_eq!(found.as_array().unwrap().len(), 1, "{id}");
        let t = &found[0];
        assert_eq!(t["txn"], txn);
        assert_eq!(t["matched"], matched);
        assert_eq!(
            (t["hops"].as_u64(), t["denials"].as_u64()),
            (Some(3), Some(0))
        );
        assert_eq!(t["orphans"], serde_json::json!([]));

        let origin = &t["roots"][0];
        assert_eq!(origin["caller"], FRONTEND);
        assert_eq!(origin["decision_id"], first["decision_id"]);
        assert_eq!(origin["minted"]["holder"], ORDERS);
        assert_eq!(origin["intent"], "checkout");
        let charge = &origin["children"][0];
        assert_eq!(charge["caller"], ORDERS);
        assert_eq!(
            charge["inbound"]["parent_decision_id"],
            first["decision_id"]
        );
        assert_eq!(charge["inbound"]["jti"], first["token"]["jti"]);
        let entry = &charge["children"][0];
        assert_eq!(entry["caller"], PAYMENTS);
        assert_eq!(entry["host"], "ledger.finance.svc");
        assert_eq!(
            entry["inbound"]["parent_decision_id"],
            second["decision_id"]
        );
        assert_eq!(entry["decision_id"], third["decision_id"]);
        assert_eq!(entry["children"], serde_json::json!([]));
    }

    // The trace id spans both transactions it was sent with.
    let run = trail(&["txn", OTHER_TRACE, &file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let found = run.json()["transactions"].clone();
    assert_eq!(found.as_array().unwrap().len(), 2);
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["matched"] == "trace_id")
    );
    // The refused direct write minted no token: a transaction of its own.
    assert_eq!(found[1]["txn"], "");
    assert_eq!(found[1]["denials"], 1);

    // Drawn for a terminal: origin, then each hop one level deeper.
    let run = trail(&["txn", txn, &file]);
    assert_eq!(run.code, 0);
    let heads: Vec<&str> = run.stdout.lines().filter(|l| l.contains("ALLOW")).collect();
    assert_eq!(heads.len(), 3, "{}", run.stdout);
    assert!(heads[0].starts_with("ALLOW ") && heads[0].ends_with(FRONTEND));
    assert!(heads[1].starts_with("└─ ALLOW ") && heads[1].ends_with(ORDERS));
    assert!(heads[2].starts_with("   └─ ALLOW ") && heads[2].ends_with(PAYMENTS));
    assert!(
        run.stdout.contains("payments-settles-ledger"),
        "{}",
        run.stdout
    );

    // Nothing by an unknown id: exit 1; an unreadable path: exit 2.
    let run = trail(&["txn", "no-such-id", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`no-such-id`"), "{}", run.stderr);
    let missing = dir.path().join("nowhere.jsonl").display().to_string();
    let run = trail(&["txn", txn, &missing]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("`{missing}`")),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn who_unused_and_denials_answer_from_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("decisions.jsonl");
    let mut seam = seam_writing_to(&records, "").await;
    checkout(&mut seam, "req-a", TRACE).await;
    place_order(&mut seam, "req-b", OTHER_TRACE).await;
    let mut direct = hop(
        PAYMENTS,
        "https://ledger.finance.svc/v1/entries",
        LEDGER,
        "req-direct",
        OTHER_TRACE,
    );
    direct
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    seam.check_as(&direct, &seam.pki.leaf(PAYMENTS)).await;
    seam.stop().await;
    let written = lines(&records);
    let folder = dir.path().display().to_string();

    // The frontend placed two orders, in that order.
    let run = trail(&["who", FRONTEND, &folder, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hops = run.json()["hops"].clone();
    let ids: Vec<&serde_json::Value> = hops
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["decision_id"])
        .collect();
    assert_eq!(
        ids,
        [&written[0]["decision_id"], &written[3]["decision_id"]]
    );
    let run = trail(&["who", FRONTEND, &folder, "--since", "1h"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.lines().count(),
        3,
        "header and two rows: {}",
        run.stdout
    );
    let run = trail(&["who", FRONTEND, &folder, "--until", "2000-01-01T00:00:00Z"]);
    assert_eq!(run.code, 1);
    let run = trail(&["who", FRONTEND, &folder, "--since", "last tuesday"]);
    assert_eq!(run.code, 2);

    // Unused: the ledger's token (the last hop calls no one) and the
    // abandoned order's; both live 60 seconds, so both are unexpired at the
    // trail's end.
    let run = trail(&["unused", &folder, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tokens = run.json()["tokens"].clone();
    let jtis: Vec<&serde_json::Value> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["jti"])
        .collect();
    assert_eq!(
        jtis,
        [&written[2]["token"]["jti"], &written[3]["token"]["jti"]]
    );
    assert_eq!(tokens[0]["holder"], LEDGER);
    assert_eq!(tokens[1]["holder"], ORDERS);
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["unexpired_at_end"] == true)
    );

    // Denials grouped by reason: the one refused direct write.
    let run = trail(&["denials", &folder, "--by", "reason", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let denials = run.json()["denials"].clone();
    assert_eq!(denials["total"], 1);
    assert_eq!(denials["groups"][0]["key"], "policy_denied");
    assert_eq!(denials["groups"][0]["recent"][0]["caller"], PAYMENTS);
    let run = trail(&["denials", &folder, "--by", "reason"]);
    assert!(
        run.stdout.starts_with("policy_denied  1 denial,"),
        "{}",
        run.stdout
    );

    // Nothing stale: the policy set never changed.
    let run = trail(&["stale", &folder]);
    assert_eq!(run.code, 1);
}
