//! The `seam` binary, configured with an OTLP endpoint, exports one
//! `seam.check` span per Check to a collector the test runs: a child of
//! the caller's trace (from the gRPC metadata, else the HTTP request),
//! carrying the decision's fields, with the trace id its record carries.
//! Spans still queued at SIGTERM are exported before seam exits.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;

use super::collector::Collector;
use crate::support::*;

const SAMPLED_IN_METADATA: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SAMPLED_IN_HEADERS: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const NOT_SAMPLED: &str = "00-5c2f7a8e3b1d4e6f9a0b1c2d3e4f5a6b-1a2b3c4d5e6f7a8b-00";

/// `seam serve` as a child process, its stderr read line by line.
struct Served {
    child: Child,
    address: String,
}

impl Served {
    /// Starts the binary on `config` and waits until it says where it
    /// serves ext_authz.
    fn start(config: &std::path::Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["serve", "--config"])
            .arg(config)
            .env("SEAM_LOG", "info")
            .env_remove("SEAM_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();

        let (lines, seen) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = lines.send(line);
            }
        });
        let address = loop {
            let line = seen
                .recv_timeout(Duration::from_secs(60))
                .expect("seam says where it serves");
            if line.contains("serving ext_authz over tcp") {
                let after = line.split("address=").nth(1).unwrap();
                break after.split_whitespace().next().unwrap().to_string();
            }
        };
        Served { child, address }
    }

    /// Sends SIGTERM and waits for the exit.
    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = tokio::task::spawn_blocking(move || self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only reached with the child still running when the test failed
        // early; stop it so it does not outlive the test.
        let _ = self.child.kill();
    }
}

fn config(dir: &std::path::Path, pki: &Pki, collector: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::copy(
        root.join("tests/fixtures/field/baseline.cedar"),
        policies.join("baseline.cedar"),
    )
    .unwrap();
    std::fs::copy(
        root.join("policies/schema.cedarschema"),
        policies.join("schema.cedarschema"),
    )
    .unwrap();
    std::fs::write(dir.join("bundle.pem"), &pki.ca_pem).unwrap();

    let text = format!(
        r#"
state_dir = "{dir}/state"
[server]
listen = ["127.0.0.1:0"]
shutdown_grace_secs = 5
[policy]
dir = "{dir}/policies"
[[identity.trust_domains]]
name = "example.org"
bundle = "{dir}/bundle.pem"
[context]
intents = ["read", "delete", "export"]
[admin]
listen = "off"
[records]
sink = "file"
path = "{dir}/records.jsonl"
instance = "seam-test"
[telemetry]
otlp_endpoint = "http://{collector}"
service_name = "seam-under-test"
sample_ratio = 1.0
"#,
        dir = dir.display(),
    );
    let path = dir.join("seam.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A check whose record can be found again by its request id.
fn request(pki: &Pki, id: &str, path: &str, header_traceparent: Option<&str>) -> CheckRequest {
    let mut file = baseline();
    file.url = format!("https://reports.internal.example{path}");
    file.headers.insert("x-request-id".into(), id.into());
    if let Some(value) = header_traceparent {
        file.headers.insert("traceparent".into(), value.into());
    }
    file.to_check(&pki.leaf(REPORTER)).unwrap()
}

fn with_metadata(check: CheckRequest, traceparent: &str) -> tonic::Request<CheckRequest> {
    let mut request = tonic::Request::new(check);
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_is_exported_as_a_child_of_the_callers_trace_with_its_records_ids() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("example.org");
    let seam = Served::start(&config(dir.path(), &pki, &collector.address));
    let mut client = AuthorizationClient::connect(format!("http://{}", seam.address))
        .await
        .unwrap();

    let a = request(&pki, "a", "/v1/reports", None);
    let answer = client.check(with_metadata(a, SAMPLED_IN_METADATA)).await;
    assert_eq!(outcome(&answer.unwrap().into_inner()), ALLOW);
    let b = request(&pki, "b", "/v1/admin", Some(SAMPLED_IN_HEADERS));
    let answer = client.check(b).await;
    assert_eq!(outcome(&answer.unwrap().into_inner()), DENY_POLICY);
    let c = request(&pki, "c", "/v1/reports", None);
    let answer = client.check(c).await;
    assert_eq!(outcome(&answer.unwrap().into_inner()), ALLOW);
    let d = request(&pki, "d", "/v1/reports", None);
    let answer = client.check(with_metadata(d, NOT_SAMPLED)).await;
    assert_eq!(outcome(&answer.unwrap().into_inner()), ALLOW);

    // The batch would leave after five seconds; stopping now proves that
    // shutdown exports what is still queued.
    seam.stop().await;

    let records: BTreeMap<String, serde_json::Value> =
        read_records(&dir.path().join("records.jsonl"))
            .into_iter()
            .filter(|r| r["kind"] == "decision")
            .map(|r| (r["request_id"].as_str().unwrap().to_string(), r))
            .collect();
    assert_eq!(records.len(), 4, "{records:?}");
    let spans: BTreeMap<String, _> = collector
        .spans()
        .into_iter()
        .filter(|s| s.name == "seam.check")
        .map(|s| (s.attributes["seam.decision_id"].clone(), s))
        .collect();
    assert_eq!(
        spans.len(),
        3,
        "the unsampled trace is not exported: {spans:?}"
    );

    for (request_id, record) in &records {
        let decision_id = record["decision_id"].as_str().unwrap();
        let Some(span) = spans.get(decision_id) else {
            assert_eq!(request_id, "d", "only the unsampled check has no span");
            continue;
        };
        assert_eq!(span.trace_id, record["trace_id"].as_str().unwrap());
        assert_eq!(span.kind, 2, "a server span");
        assert_eq!(span.span_id.len(), 16);
        assert_ne!(span.span_id, span.parent_span_id);
        // A denial is a decision made, not a failure: the status stays unset.
        assert_eq!(span.status_code, 0);
        assert_eq!(span.attributes["seam.decision"], record["decision"]);
        assert_eq!(span.attributes["seam.reason"], record["reason"]);
        assert_eq!(
            span.attributes["seam.caller"],
            record["caller"]["spiffe_id"]
        );
        assert_eq!(
            span.attributes["seam.policy_set_version"],
            record["policy_set_version"]
        );
        assert_eq!(span.resource["service.name"], "seam-under-test");
        assert_eq!(span.resource["service.instance.id"], "seam-test");
    }

    let by_request = |id: &str| &spans[records[id]["decision_id"].as_str().unwrap()];
    let a = by_request("a");
    assert_eq!(a.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(a.parent_span_id, "00f067aa0ba902b7");
    assert_eq!(a.attributes["seam.decision"], "allow");
    assert_eq!(a.attributes["seam.reason"], "allowed");
    assert_eq!(a.attributes["seam.caller"], REPORTER);
    assert_eq!(a.attributes["seam.policy_set_version"].len(), 16);

    let b = by_request("b");
    assert_eq!(b.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(b.parent_span_id, "b7ad6b7169203331");
    assert_eq!(b.attributes["seam.decision"], "deny");
    assert_eq!(b.attributes["seam.reason"], "policy_denied");

    // Without a caller's trace seam starts one, and the record says which.
    let c = by_request("c");
    assert_eq!(c.parent_span_id, "");
    assert_eq!(c.trace_id.len(), 32);
    assert_ne!(c.trace_id, "0".repeat(32));
    assert_ne!(c.trace_id, a.trace_id);

    assert_eq!(records["d"]["trace_id"], "5c2f7a8e3b1d4e6f9a0b1c2d3e4f5a6b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_away_never_holds_a_decision_up() {
    // A port that was free a moment ago: nothing answers there.
    let away = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = away.local_addr().unwrap().to_string();
    drop(away);
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("example.org");
    let seam = Served::start(&config(dir.path(), &pki, &address));
    let mut client = AuthorizationClient::connect(format!("http://{}", seam.address))
        .await
        .unwrap();

    for i in 0..20 {
        let check = request(&pki, &format!("r{i}"), "/v1/reports", None);
        let asked = std::time::Instant::now();
        let answer = client
            .check(with_metadata(check, SAMPLED_IN_METADATA))
            .await;
        assert_eq!(outcome(&answer.unwrap().into_inner()), ALLOW);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
    }

    // Shutdown gives up on the unreachable collector after its timeout.
    let stopping = std::time::Instant::now();
    seam.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(read_records(&dir.path().join("records.jsonl")).len(), 20);
}
