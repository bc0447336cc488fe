//! Queries and the read report over record lines written by hand in the
//! shape seam writes them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";

const TXN: &str = "31c56e38-6250-4049-89f4-dcbc5500ea0a";
const D1: &str = "01a24243-fbac-7000-8000-000000000001";
const D2: &str = "01a24243-fbda-7000-8000-000000000002";
const D3: &str = "01a24243-fc16-7000-8000-000000000003";
const J1: &str = "6f1d0a52-0000-4000-8000-0000000000a1";
const J2: &str = "6f1d0a52-0000-4000-8000-0000000000a2";
const J3: &str = "6f1d0a52-0000-4000-8000-0000000000a3";

/// One decision line: `hop` 0 is the origin; `parent` is the previous hop
/// as (decision id, jti it minted).
fn decision(
    at: &str,
    id: &str,
    caller: &str,
    minted: Option<(&str, &str)>,
    parent: Option<(&str, &str)>,
    version: &str,
) -> Value {
    json!({
        "version": 1, "kind": "decision", "time": at, "decision_id": id,
        "request_id": format!("req-{id}"), "trace_id": "",
        "instance": "seam-a",
        "caller": {"spiffe_id": caller, "trust_domain": "example.org"},
        "request": {"method": "POST", "host": "orders.shop.svc", "path": "/v1/orders"},
        "context": {"sensitivity": "confidential", "intent": "checkout"},
        "decision": if minted.is_some() { "allow" } else { "deny" },
        "reason": if minted.is_some() { "allowed" } else { "policy_denied" },
        "http_status": if minted.is_some() { 0 } else { 403 },
        "determining_policies": ["checkout"],
        "policy_set_version": version,
        "token": minted.map(|(jti, holder)| json!({
            "txn": TXN, "jti": jti, "holder": holder,
            "expires": "2026-05-01T10:01:00Z", "depth": 1, "kid": "k"})),
        "inbound_token": parent.map(|(pid, jti)| json!({
            "txn": TXN, "jti": jti, "parent_decision_id": pid, "depth": 1,
            "chain": [FRONTEND], "scope": "checkout"})),
    })
}

fn checkout() -> Vec<Value> {
    vec![
        decision(
            "2026-05-01T10:00:00Z",
            D1,
            FRONTEND,
            Some((J1, ORDERS)),
            None,
            "v1",
        ),
        decision(
            "2026-05-01T10:00:01Z",
            D2,
            ORDERS,
            Some((J2, PAYMENTS)),
            Some((D1, J1)),
            "v1",
        ),
        decision(
            "2026-05-01T10:00:02Z",
            D3,
            PAYMENTS,
            None,
            Some((D2, J2)),
            "v1",
        ),
    ]
}

fn write(dir: &Path, name: &str, lines: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn load(path: &Path) -> (Trail, ReadReport) {
    Trail::load(&[path.to_path_buf()]).unwrap()
}

#[test]
fn a_transaction_is_a_tree_from_the_origin_to_the_denied_last_hop() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "decisions.jsonl", &checkout());
    let (trail, report) = load(&path);
    assert!(report.issues.is_empty(), "{:?}", report.issues);

    for id in [TXN, D2, "req-01a24243-fbda-7000-8000-000000000002"] {
        let found = trail.transactions(id);
        assert_eq!(found.len(), 1, "{id}");
        let txn = &found[0];
        assert_eq!((txn.hops, txn.denials), (3, 1));
        let origin = &txn.roots[0];
        assert_eq!(origin.hop.caller, FRONTEND);
        let second = &origin.children[0];
        assert_eq!(second.hop.caller, ORDERS);
        assert_eq!(second.hop.inbound.as_ref().unwrap().parent_decision_id, D1);
        let third = &second.children[0];
        assert_eq!(third.hop.caller, PAYMENTS);
        assert!(third.hop.denied());
        assert!(txn.orphans.is_empty());
    }
    assert_eq!(trail.transactions(TXN)[0].matched, IdKind::Txn);
    assert_eq!(trail.transactions(D2)[0].matched, IdKind::DecisionId);
    assert!(trail.transactions("nothing-like-it").is_empty());
}

#[test]
fn a_hop_whose_parent_record_is_missing_is_an_orphan_naming_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let lines = checkout();
    let path = write(
        dir.path(),
        "decisions.jsonl",
        &[lines[0].clone(), lines[2].clone()],
    );
    let (trail, _) = load(&path);

    let txn = &trail.transactions(TXN)[0];
    assert_eq!(txn.roots.len(), 1);
    assert!(txn.roots[0].children.is_empty());
    assert_eq!(txn.orphans.len(), 1);
    assert_eq!(txn.orphans[0].missing_parent, D2);
    assert_eq!(txn.orphans[0].node.hop.caller, PAYMENTS);

    let drawn = render::transactions(&trail.transactions(TXN));
    assert!(drawn.contains(&format!("parent decision {D2} is not in the trail")));
}

#[test]
fn unused_tokens_are_those_no_record_presented() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "decisions.jsonl", &checkout());
    let (trail, _) = load(&path);

    // J1 was presented by hop 2; J2 by hop 3 (which was denied, but it was
    // presented); hop 3 minted nothing.
    assert!(trail.unused().is_empty());

    let mut lines = checkout();
    lines.truncate(2);
    lines[1]["time"] = json!("2026-05-01T10:00:30Z");
    let path = write(dir.path(), "two.jsonl", &lines);
    let (trail, _) = load(&path);
    let unused = trail.unused();
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0].jti, J2);
    assert_eq!(unused[0].holder, PAYMENTS);
    // Expires 10:01:00, the trail ends 10:00:30: it could still be presented.
    assert!(unused[0].unexpired_at_end);
}

#[test]
fn a_token_used_under_another_policy_set_version_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    lines[1]["policy_set_version"] = json!("v2");
    let path = write(dir.path(), "decisions.jsonl", &lines);
    let (trail, _) = load(&path);

    // J1 minted under v1 and presented under v2; J2 minted under v2 (hop
    // 2's set) and presented under v1.
    let stale = trail.stale();
    let seen: Vec<(&str, &str, &str, &str)> = stale
        .iter()
        .map(|s| {
            (
                s.jti.as_str(),
                s.minted_under.as_str(),
                s.used_under.as_str(),
                s.seen_in.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(J1, "v1", "v2", "consumer"), (J2, "v2", "v1", "consumer")]
    );
    assert_eq!(stale[0].used_by, ORDERS);
    assert_eq!(stale[0].used_decision_id, D2);
    assert_eq!(stale[0].used_at, "2026-05-01T10:00:01Z");
}

#[test]
fn a_token_used_after_the_minting_instance_changed_its_set_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    // Hop 2 and 3 run elsewhere under v1, but the minting instance moved to
    // v2 before hop 2 presented J1.
    lines[1]["instance"] = json!("seam-b");
    lines[2]["instance"] = json!("seam-b");
    let mut other = decision(
        "2026-05-01T10:00:00.5Z",
        "01a24243-0000-7000-8000-0000000000ff",
        FRONTEND,
        None,
        None,
        "v2",
    );
    other["request_id"] = json!("unrelated");
    lines.insert(1, other);
    let path = write(dir.path(), "decisions.jsonl", &lines);
    let (trail, _) = load(&path);

    let stale = trail.stale();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].jti, J1);
    assert_eq!(stale[0].used_under, "v2");
    assert_eq!(stale[0].seen_in, "issuer");
}

#[test]
fn who_lists_one_callers_decisions_in_time_order_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    lines.push(decision(
        "2026-05-01T09:00:00Z",
        "01a24243-0000-7000-8000-0000000000ee",
        ORDERS,
        None,
        None,
        "v1",
    ));
    let path = write(dir.path(), "decisions.jsonl", &lines);
    let (trail, _) = load(&path);

    let all = trail.who(ORDERS, None, None);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].time, "2026-05-01T09:00:00Z");
    assert_eq!(all[1].decision_id, D2);

    let now = std::time::SystemTime::now();
    let since = parse_bound("2026-05-01T09:30:00Z", now).unwrap();
    assert_eq!(trail.who(ORDERS, Some(since), None).len(), 1);
    assert!(
        trail
            .who("spiffe://example.org/ns/none/sa/x", None, None)
            .is_empty()
    );
}

#[test]
fn relative_bounds_count_back_from_now() {
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(100_000);
    let at = |text| parse_bound(text, now).unwrap();
    assert_eq!(at("90s"), now - std::time::Duration::from_secs(90));
    assert_eq!(at("2h"), now - std::time::Duration::from_secs(7200));
    assert_eq!(at("1d"), now - std::time::Duration::from_secs(86_400));
    for bad in ["yesterday", "5", "h", "3y", "-1h"] {
        let error = parse_bound(bad, now).unwrap_err();
        assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
    }
}

#[test]
fn denials_group_by_reason_largest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    let mut refused = decision(
        "2026-05-01T10:00:03Z",
        "01a24243-0000-7000-8000-0000000000dd",
        "",
        None,
        None,
        "v1",
    );
    refused["reason"] = json!("no_client_certificate");
    lines.push(refused.clone());
    refused["decision_id"] = json!("01a24243-0000-7000-8000-0000000000de");
    lines.push(refused);
    let path = write(dir.path(), "decisions.jsonl", &lines);
    let (trail, _) = load(&path);

    let listed = trail.denials(None, None, 2);
    assert_eq!(listed.total, 3);
    assert_eq!(listed.recent.len(), 2);
    let grouped = trail.denials(Some(GroupBy::Reason), None, 5);
    let keys: Vec<(&str, usize)> = grouped
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.count))
        .collect();
    assert_eq!(keys, [("no_client_certificate", 2), ("policy_denied", 1)]);
}

#[test]
fn a_cut_short_last_line_is_reported_as_truncated_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "decisions.jsonl", &checkout());
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"version":1,"kind":"decision","time":"2026-05-01T10:00:04Z","decisi"#);
    std::fs::write(&path, text).unwrap();

    let (trail, report) = load(&path);
    assert_eq!(trail.len(), 3);
    assert_eq!(report.issues.len(), 1);
    assert_eq!(report.issues[0].line, 4);
    assert_eq!(report.issues[0].what, IssueKind::Truncated);
}

#[test]
fn garbage_in_the_middle_is_skipped_and_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "decisions.jsonl", &checkout());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "not json at all");
    lines.insert(2, "\u{0}\u{1}{\"kind\":");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let (trail, report) = load(&path);
    assert_eq!(trail.len(), 3);
    let places: Vec<u64> = report.issues.iter().map(|i| i.line).collect();
    assert_eq!(places, [2, 3]);
    assert!(matches!(
        report.issues[0].what,
        IssueKind::Unparseable { .. }
    ));
}

#[test]
fn sequence_holes_gap_lines_and_unknown_kinds_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    for (i, line) in lines.iter_mut().enumerate() {
        line["seq"] = json!(i as u64 + 1);
    }
    lines[2]["seq"] = json!(7);
    lines.push(
        json!({"kind": "gap", "time": "2026-05-01T10:00:05Z", "lost": 4,
                      "instance": "seam-a", "seq": 8}),
    );
    lines.push(json!({"kind": "heartbeat", "instance": "seam-a", "seq": 9}));
    lines.push(json!({"kind": "decision", "instance": "seam-a", "seq": 5,
                      "decision_id": "01a24243-0000-7000-8000-0000000000cc",
                      "decision": "deny", "time": "2026-05-01T10:00:06Z"}));
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (_, report) = load(&path);
    let found: Vec<(u64, IssueKind)> = report
        .issues
        .iter()
        .map(|i| (i.line, i.what.clone()))
        .collect();
    let instance = "seam-a".to_string();
    assert_eq!(
        found,
        [
            (
                3,
                IssueKind::SeqGap {
                    instance: instance.clone(),
                    after: 2,
                    next: 7,
                    missing: 4
                }
            ),
            (
                4,
                IssueKind::Lost {
                    instance: instance.clone(),
                    lost: 4
                }
            ),
            (
                5,
                IssueKind::UnknownKind {
                    kind: "heartbeat".into()
                }
            ),
            (
                6,
                IssueKind::SeqBackwards {
                    instance,
                    after: 9,
                    next: 5
                }
            ),
        ]
    );
}

#[test]
fn a_rotated_file_missing_between_two_present_ones_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let lines = checkout();
    write(dir.path(), "decisions.000001.jsonl", &lines[0..1]);
    write(dir.path(), "decisions.000003.jsonl", &lines[2..3]);
    write(dir.path(), "decisions.jsonl", &[]);

    let (trail, report) = Trail::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(trail.len(), 2);
    let missing: Vec<_> = report
        .issues
        .iter()
        .filter(|i| i.what == IssueKind::MissingFile)
        .map(|i| i.file.clone())
        .collect();
    let expected = dir.path().join("decisions.000002.jsonl");
    assert_eq!(missing, [expected.display().to_string()]);
}

#[test]
fn an_unknown_field_is_reported_once_per_file_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    lines[1]["risk_score"] = json!({"value": 3});
    lines[2]["risk_score"] = json!(null);
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (trail, report) = load(&path);
    assert_eq!(trail.len(), 3);
    assert_eq!(report.issues.len(), 1);
    assert_eq!(report.issues[0].line, 2);
    assert_eq!(
        report.issues[0].what,
        IssueKind::UnknownField {
            field: "risk_score".into(),
            lines: 2
        }
    );
}

#[test]
fn two_instances_in_one_file_are_reported_and_both_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    lines[1]["instance"] = json!("seam-b");
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (trail, report) = load(&path);
    assert_eq!(trail.len(), 3);
    assert_eq!(report.instances, ["seam-a", "seam-b"]);
    assert_eq!(
        report.issues[0].what,
        IssueKind::Interleaved {
            instances: "`seam-a`, `seam-b`".into()
        }
    );
    assert_eq!(report.issues[0].line, 2);
}

#[test]
fn a_duplicated_record_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    lines.push(lines[0].clone());
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (trail, report) = load(&path);
    assert_eq!(trail.len(), 3);
    assert_eq!(
        report.issues[0].what,
        IssueKind::Duplicate {
            decision_id: D1.into()
        }
    );
    assert_eq!(trail.transactions(TXN)[0].roots.len(), 1);
}

#[test]
fn the_drawn_tree_nests_each_hop_under_its_parent_with_box_characters() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "decisions.jsonl", &checkout());
    let (trail, _) = load(&path);

    let drawn = render::transactions(&trail.transactions(TXN));
    let heads: Vec<&str> = drawn
        .lines()
        .filter(|l| l.contains("ALLOW") || l.contains("DENY"))
        .collect();
    assert_eq!(
        heads,
        [
            format!("ALLOW  2026-05-01T10:00:00Z  {FRONTEND}"),
            format!("└─ ALLOW  2026-05-01T10:00:01Z  {ORDERS}"),
            format!("   └─ DENY ✗ 2026-05-01T10:00:02Z  {PAYMENTS}"),
        ]
    );
    assert!(drawn.contains(&format!("minted jti {J1} for {ORDERS}")));
    assert!(drawn.contains(&format!("presented jti {J2}")));
    assert!(!drawn.contains(J3));
}

#[test]
fn json_objects_that_are_not_decisions_are_reported_and_never_counted_as_denials() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"not": "a record"}),
        json!({"kind": "decision"}),
        json!({"kind": "decision", "decision_id": "d9", "decision": "maybe"}),
    ];
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (trail, report) = load(&path);
    assert!(trail.is_empty());
    assert_eq!(trail.denials(None, None, 10).total, 0);
    let found: Vec<_> = report
        .issues
        .iter()
        .map(|i| (i.line, i.what.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                1,
                IssueKind::NotARecord {
                    why: "no decision_id"
                }
            ),
            (
                2,
                IssueKind::NotARecord {
                    why: "no decision_id"
                }
            ),
            (
                3,
                IssueKind::NotARecord {
                    why: "decision is neither allow nor deny"
                }
            ),
            (
                1,
                IssueKind::UnknownField {
                    field: "not".into(),
                    lines: 1
                }
            ),
        ]
    );
}

#[test]
fn a_request_id_is_found_as_sent_though_the_record_holds_it_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = checkout();
    // seam writes `a"b\c` down as `a\"b\\c`.
    lines[0]["request_id"] = json!(r#"a\"b\\c"#);
    let path = write(dir.path(), "decisions.jsonl", &lines);

    let (trail, _) = load(&path);
    let found = trail.transactions(r#"a"b\c"#);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].matched, IdKind::RequestId);
    assert_eq!(trail.transactions(r#"a\"b\\c"#).len(), 1);
}
