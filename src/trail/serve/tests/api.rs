//! The JSON API and the page's files over a real socket.

use serde_json::json;

use super::super::assets::CONTENT_SECURITY_POLICY;
use super::support::*;

#[tokio::test]
async fn the_page_loads_only_its_own_script_and_style_under_a_strict_policy() {
    let running = start(&three_hops()).await;
    let page = get(&running, "/").await;

    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("content-security-policy"),
        Some(CONTENT_SECURITY_POLICY)
    );
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.body.matches("<script").count(), 1);
    assert!(
        page.body
            .contains(r#"<script src="/page.js" defer></script>"#)
    );
    assert!(
        page.body
            .contains(r#"<link rel="stylesheet" href="/page.css">"#)
    );

    let script = get(&running, "/page.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    let style = get(&running, "/page.css").await;
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );

    // Nothing is fetched from elsewhere: the only URL in the files is the
    // SVG namespace name, which is never fetched.
    for body in [&page.body, &script.body, &style.body] {
        let outside = body.matches("http://").count() + body.matches("https://").count();
        let namespace = body.matches("http://www.w3.org/2000/svg").count();
        assert_eq!(outside, namespace);
    }
}

#[tokio::test]
async fn the_script_never_hands_record_text_to_an_html_parser() {
    let running = start(&three_hops()).await;
    let script = get(&running, "/page.js").await.body;
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "page.js uses `{sink}`");
    }
    assert!(script.contains("textContent"));
}

#[tokio::test]
async fn any_id_of_a_transaction_finds_all_of_it() {
    let running = start(&three_hops()).await;
    let cases = [
        (TXN, "txn"),
        (D2, "decision_id"),
        (REQUEST_ID, "request_id"),
        (TRACE_ID, "trace_id"),
        (JTI2, "jti"),
        (ORDERS, "spiffe_id"),
    ];
    for (id, matched) in cases {
        let path = format!(
            "/api/find?id={}",
            id.replace(':', "%3A").replace('/', "%2F")
        );
        let answer = get(&running, &path).await;
        assert_eq!(answer.status, 200, "{id}: {}", answer.body);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let found = answer.json();
        assert_eq!(found["matched"], matched, "{id}");
        assert_eq!(found["id"], id);
        let txns = found["transactions"].as_array().unwrap();
        assert_eq!(txns.len(), 1, "{id}");
        assert_eq!(txns[0]["txn"], TXN);
        assert_eq!(txns[0]["hops"], 3);
        assert_eq!(txns[0]["denials"], 1);

        let origin = &txns[0]["roots"][0];
        assert_eq!(origin["caller"], FRONTEND);
        assert_eq!(origin["children"][0]["caller"], ORDERS);
        assert_eq!(origin["children"][0]["inbound"]["jti"], JTI1);
        assert_eq!(origin["children"][0]["children"][0]["caller"], PAYMENTS);
        assert_eq!(origin["children"][0]["children"][0]["decision"], "deny");
    }
}

#[tokio::test]
async fn a_hop_whose_parent_is_missing_comes_back_as_an_orphan_naming_it() {
    let lines = three_hops()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let running = start(&lines).await;
    let found = get(&running, &format!("/api/find?id={TXN}")).await.json();
    let txn = &found["transactions"][0];
    assert_eq!(txn["roots"], json!([]));
    assert_eq!(txn["orphans"][0]["missing_parent"], D1);
    assert_eq!(txn["orphans"][0]["node"]["caller"], ORDERS);
}

#[tokio::test]
async fn an_id_no_record_has_is_a_404_naming_it_and_a_missing_id_a_400() {
    let running = start(&three_hops()).await;
    let unknown = get(&running, "/api/find?id=no-such-id").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "no record has the id `no-such-id`");

    let missing = get(&running, "/api/find").await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"], "name an id: `?id=`");
}

#[tokio::test]
async fn denials_come_grouped_by_reason_with_the_largest_group_first() {
    let mut lines = three_hops();
    lines.push_str(&record(
        5,
        5,
        D5,
        ORDERS,
        "ledger.finance.svc",
        "/v1/entries",
        "deny",
        "policy_denied",
        None,
        None,
    ));
    let running = start(&lines).await;

    let denials = get(&running, "/api/denials?by=reason&limit=5").await.json();
    assert_eq!(denials["total"], 3);
    assert_eq!(denials["groups"][0]["key"], "policy_denied");
    assert_eq!(denials["groups"][0]["count"], 2);
    assert_eq!(denials["groups"][0]["recent"][1]["decision_id"], D5);
    assert_eq!(denials["groups"][1]["key"], "intent_conflicts_with_chain");

    let bad = get(&running, "/api/denials?by=colour").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["error"],
        "`colour` is not a grouping: use `reason`, `caller` or `host`"
    );
}

#[tokio::test]
async fn who_unused_and_stale_answer_the_trail_queries() {
    const JTI3: &str = "5f0c1a2b-0000-4000-8000-00000000000c";
    // The charge was decided under a new policy set: the token it presented
    // was minted under the old one.
    let mut lines: Vec<String> = three_hops().lines().map(|l| format!("{l}\n")).collect();
    lines[1] = lines[1].replace("f5269a1be9fdbc8b", "0a1b2c3d4e5f6a7b");
    let mut lines = lines.concat();
    lines.push_str(&record(
        5,
        5,
        D5,
        FRONTEND,
        "orders.shop.svc",
        "/v1/orders",
        "allow",
        "allowed",
        Some((JTI3, ORDERS)),
        None,
    ));
    let running = start(&lines).await;

    let who = get(&running, &format!("/api/who?spiffe_id={PAYMENTS}"))
        .await
        .json();
    let decisions: Vec<&str> = who["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["decision_id"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, [D3, D4]);
    let nobody = get(
        &running,
        "/api/who?spiffe_id=spiffe%3A%2F%2Fexample.org%2Fnobody",
    )
    .await;
    assert_eq!(nobody.status, 404);

    let unused = get(&running, "/api/unused").await.json();
    let tokens = unused["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["jti"], JTI3);
    assert_eq!(tokens[0]["unexpired_at_end"], true);

    let stale = get(&running, "/api/stale").await.json();
    assert_eq!(stale["tokens"][0]["jti"], JTI1);
    assert_eq!(stale["tokens"][0]["minted_under"], "f5269a1be9fdbc8b");
    assert_eq!(stale["tokens"][0]["used_under"], "0a1b2c3d4e5f6a7b");
}

#[tokio::test]
async fn a_record_appended_to_the_file_is_seen_on_the_next_request() {
    let running = start(&three_hops()).await;
    let before = get(&running, "/api/report").await.json();
    assert_eq!(before["records"], 4);

    append(
        &running.file,
        &record(
            5,
            5,
            D5,
            ORDERS,
            "ledger.finance.svc",
            "/v1/entries",
            "deny",
            "policy_denied",
            None,
            None,
        ),
    );
    let after = get(&running, "/api/report").await.json();
    assert_eq!(after["records"], 5);
    assert_eq!(after["trail_end"], "2026-12-04T17:32:05.379888313Z");
    let found = get(&running, &format!("/api/find?id={D5}")).await;
    assert_eq!(found.status, 200);
}

#[tokio::test]
async fn records_that_cannot_be_read_any_more_are_a_503_until_they_come_back() {
    let running = start(&three_hops()).await;
    let kept = std::fs::read(&running.file).unwrap();
    std::fs::remove_file(&running.file).unwrap();
    let gone = get(&running, "/api/report").await;
    assert_eq!(gone.status, 503);
    assert!(
        gone.json()["error"]
            .as_str()
            .unwrap()
            .contains("no record files")
    );

    std::fs::write(&running.file, kept).unwrap();
    assert_eq!(get(&running, "/api/report").await.status, 200);
}
