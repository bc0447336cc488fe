//! The page's server over a real loopback socket: the JSON API on
//! hand-written record lines shaped like seam's, the security headers,
//! the loopback-only checks, and reading the files again when they change.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::assets::{CONTENT_SECURITY_POLICY, is_loopback_host};
use super::*;

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
const TXN: &str = "31c56e38-6250-4049-89f4-dcbc5500ea0a";
const D1: &str = "01a24243-fbac-7000-8000-000000000001";
const D2: &str = "01a24243-fbda-7000-8000-000000000002";
const D3: &str = "01a24243-fc16-7000-8000-000000000003";
const D4: &str = "01a24243-fc40-7000-8000-000000000004";
const D5: &str = "01a24243-fc55-7000-8000-000000000005";
const JTI1: &str = "5f0c1a2b-0000-4000-8000-00000000000a";
const JTI2: &str = "5f0c1a2b-0000-4000-8000-00000000000b";
const REQUEST_ID: &str = "c99f4c33-0000-4000-8000-0000000000aa";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// One decision line as seam writes it (the fields the trail reads).
#[allow(
    clippy::too_many_arguments,
    reason = "test helper spelling out one record"
)]
fn record(
    seq: u64,
    second: u32,
    decision_id: &str,
    caller: &str,
    host: &str,
    path: &str,
    decision: &str,
    reason: &str,
    minted: Option<(&str, &str)>,
    inbound: Option<(&str, &str, Vec<&str>)>,
) -> String {
    let mut line = json!({
        "version": 1, "seq": seq, "kind": "decision", "instance": "seam",
        "time": format!("2026-12-04T17:32:{second:02}.379888313Z"),
        "decision_id": decision_id,
        "request_id": if seq == 1 { REQUEST_ID.to_string() } else { format!("req-{seq}") },
        "trace_id": if seq == 2 { TRACE_ID } else { "" },
        "caller": { "spiffe_id": caller, "trust_domain": "example.org" },
        "request": { "method": "POST", "host": host, "path": path },
        "context": { "sensitivity": "internal", "intent": "checkout" },
        "decision": decision, "reason": reason,
        "http_status": if decision == "allow" { 0 } else { 403 },
        "detail": "",
        "determining_policies": ["frontend-manages-orders"],
        "policy_set_version": "f5269a1be9fdbc8b",
    });
    if let Some((jti, holder)) = minted {
        line["token"] = json!({
            "txn": TXN, "jti": jti, "holder": holder,
            "expires": "2026-12-04T17:33:57Z", "depth": 1,
        });
    }
    if let Some((jti, parent, chain)) = inbound {
        line["inbound_token"] = json!({
            "txn": TXN, "jti": jti, "parent_decision_id": parent,
            "depth": chain.len(), "chain": chain,
        });
    }
    format!("{line}\n")
}

/// frontend → orders → payments, then payments refused twice.
fn three_hops() -> String {
    [
        record(
            1,
            1,
            D1,
            FRONTEND,
            "orders.shop.svc",
            "/v1/orders",
            "allow",
            "allowed",
            Some((JTI1, ORDERS)),
            None,
        ),
        record(
            2,
            2,
            D2,
            ORDERS,
            "payments.payments.svc",
            "/v1/charges",
            "allow",
            "allowed",
            Some((JTI2, PAYMENTS)),
            Some((JTI1, D1, vec![FRONTEND])),
        ),
        record(
            3,
            3,
            D3,
            PAYMENTS,
            "ledger.finance.svc",
            "/v1/entries",
            "deny",
            "intent_conflicts_with_chain",
            None,
            Some((JTI2, D2, vec![FRONTEND, ORDERS])),
        ),
        record(
            4,
            4,
            D4,
            PAYMENTS,
            "ledger.finance.svc",
            "/v1/entries",
            "deny",
            "policy_denied",
            None,
            None,
        ),
    ]
    .concat()
}

struct Running {
    address: std::net::SocketAddr,
    file: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(lines: &str) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("decisions.jsonl");
    std::fs::write(&file, lines).unwrap();
    let source = Source::open(vec![dir.path().to_path_buf()]).unwrap();
    let page = Page::bind("127.0.0.1:0".parse().unwrap(), source)
        .await
        .unwrap();
    let address = page.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(page.run(async {
        let _ = stopped.await;
    }));
    Running {
        address,
        file,
        _dir: dir,
        stop: Some(stop),
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A plain HTTP/1.1 GET with `host` as the `Host` header.
async fn get_as(address: std::net::SocketAddr, host: &str, path: &str) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();

    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn get(running: &Running, path: &str) -> Answer {
    get_as(running.address, &running.address.to_string(), path).await
}

fn append(file: &Path, line: &str) {
    let mut out = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    out.write_all(line.as_bytes()).unwrap();
}

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
async fn a_request_addressed_to_another_host_name_is_refused() {
    let running = start(&three_hops()).await;
    let rebound = get_as(running.address, "records.attacker.example", "/api/report").await;
    assert_eq!(rebound.status, 421);
    assert!(
        !rebound.body.contains("decision"),
        "no record reaches another name"
    );
    assert!(
        rebound
            .body
            .contains("`records.attacker.example` is not a loopback name")
    );

    let port = running.address.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            get_as(running.address, &host, "/api/report").await.status,
            200
        );
    }
}

#[test]
fn loopback_host_names_are_told_from_others() {
    for host in [
        "127.0.0.1:8080",
        "127.0.0.1",
        "localhost:80",
        "LOCALHOST",
        "[::1]:8080",
        "[::1]",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "",
        "example.org",
        "127.0.0.1.nip.io:80",
        "10.0.0.1:80",
        "[::1",
        "[::1]x",
        "localhost:",
        "localhost:80:80",
        "0.0.0.0:8080",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[test]
fn only_loopback_addresses_may_be_listened_on() {
    assert_eq!(
        loopback("127.0.0.1:8080").unwrap().to_string(),
        "127.0.0.1:8080"
    );
    assert_eq!(loopback("[::1]:0").unwrap().to_string(), "[::1]:0");
    assert_eq!(
        loopback("localhost:9000").unwrap().to_string(),
        "127.0.0.1:9000"
    );

    for address in ["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080"] {
        let error = loopback(address).unwrap_err();
        assert!(matches!(error, ServeError::NotLoopback { .. }), "{address}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("`{address}` is not a loopback address"))
        );
    }
    for address in ["example.org:80", "127.0.0.1", "localhost:http"] {
        let error = loopback(address).unwrap_err();
        assert!(matches!(error, ServeError::BadAddress { .. }), "{address}");
    }
}

#[tokio::test]
async fn binding_a_non_loopback_address_is_refused_even_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decisions.jsonl"), three_hops()).unwrap();
    let source = Source::open(vec![dir.path().to_path_buf()]).unwrap();
    let error = Page::bind("0.0.0.0:0".parse().unwrap(), source)
        .await
        .unwrap_err();
    assert!(matches!(error, ServeError::NotLoopback { .. }));
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
