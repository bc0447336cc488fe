//! Test support: record lines shaped like seam's, the page's server on a
//! loopback port over a temporary folder, and a plain HTTP client.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::{Page, Source};

pub(super) const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
pub(super) const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
pub(super) const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
pub(super) const TXN: &str = "31c56e38-6250-4049-89f4-dcbc5500ea0a";
pub(super) const D1: &str = "01a24243-fbac-7000-8000-000000000001";
pub(super) const D2: &str = "01a24243-fbda-7000-8000-000000000002";
pub(super) const D3: &str = "01a24243-fc16-7000-8000-000000000003";
pub(super) const D4: &str = "01a24243-fc40-7000-8000-000000000004";
pub(super) const D5: &str = "01a24243-fc55-7000-8000-000000000005";
pub(super) const JTI1: &str = "5f0c1a2b-0000-4000-8000-00000000000a";
pub(super) const JTI2: &str = "5f0c1a2b-0000-4000-8000-00000000000b";
pub(super) const REQUEST_ID: &str = "c99f4c33-0000-4000-8000-0000000000aa";
pub(super) const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// One decision line as seam writes it (the fields the trail reads).
#[allow(
    clippy::too_many_arguments,
    reason = "test helper spelling out one record"
)]
pub(super) fn record(
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
pub(super) fn three_hops() -> String {
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

pub(super) struct Running {
    pub(super) address: std::net::SocketAddr,
    pub(super) file: PathBuf,
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

pub(super) async fn start(lines: &str) -> Running {
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

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A plain HTTP/1.1 GET with `host` as the `Host` header.
pub(super) async fn get_as(address: std::net::SocketAddr, host: &str, path: &str) -> Answer {
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

pub(super) async fn get(running: &Running, path: &str) -> Answer {
    get_as(running.address, &running.address.to_string(), path).await
}

pub(super) fn append(file: &Path, line: &str) {
    let mut out = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    out.write_all(line.as_bytes()).unwrap();
}
