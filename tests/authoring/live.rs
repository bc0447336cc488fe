//! A real seam on loopback (development CA, shipped policies): shadow
//! policies beside the live set, and a determining forbid's `@reason` and
//! `@advice` reaching the caller and the record.

use std::path::{Path, PathBuf};
use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::CheckResponse;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use seam::config::Config;
use seam::dev::DevCa;
use seam::probe::RequestFile;
use seam::server::Server;
use tokio::sync::oneshot;

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const AGENT: &str = "spiffe://example.org/ns/agents/sa/support-agent";

/// A forbid the live set does not have: the frontend may no longer read orders.
const FREEZE: &str = r#"
@id("frontend-orders-frozen")
forbid (
  principal == Workload::"spiffe://example.org/ns/shop/sa/frontend",
  action in Action::"read",
  resource in Group::"orders"
);
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped policies (without their tests) copied to `to`, plus `extra`.
fn policies(to: &Path, extra: Option<&str>) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    if let Some(extra) = extra {
        std::fs::write(to.join("extra.cedar"), extra).unwrap();
    }
}

struct Live {
    dir: tempfile::TempDir,
    config: Config,
    ca: DevCa,
    client: AuthorizationClient<tonic::transport::Channel>,
    admin: String,
    authorizer: std::sync::Arc<seam::authz::Authorizer>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Live {
    /// seam in development mode over `live`, with `shadow` as its shadow
    /// folder when given.
    async fn start(dir: tempfile::TempDir, shadow: bool) -> Live {
        let root = dir.path();
        let shadow_line = if shadow {
            format!("shadow_dir = \"{}\"", root.join("shadow").display())
        } else {
            String::new()
        };
        let text = format!(
            r#"
state_dir = "{state}"
[server]
listen = ["127.0.0.1:0"]
shutdown_grace_secs = 5
[policy]
dir = "{live}"
{shadow_line}
[admin]
listen = "127.0.0.1:0"
[records]
sink = "file"
path = "{records}"
instance = "test"
"#,
            state = root.join("state").display(),
            live = root.join("live").display(),
            records = root.join("records.jsonl").display(),
        );
        let mut config = Config::parse(&text, "test.toml", root).unwrap();
        config.context = Config::embedded(root).unwrap().context;

        let server = Server::build(config.clone()).unwrap();
        let bound = server.bind().await.unwrap();
        let address = bound.addresses()[0].clone();
        let admin = bound.admin_address().unwrap();
        let authorizer = bound.authorizer().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bound
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });

        let ca = DevCa::load_or_create(&root.join("state"), "example.org").unwrap();
        let client = AuthorizationClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        Live {
            dir,
            config,
            ca,
            client,
            admin,
            authorizer,
            stop,
            task,
        }
    }

    /// Sends the shipped example request `name` (its caller in this CA).
    async fn send(&mut self, name: &str) -> CheckResponse {
        let file = RequestFile::load(&repo().join("examples/requests").join(name)).unwrap();
        let caller = file.caller.clone().unwrap();
        let pem = self
            .ca
            .mint_svid(&caller, Duration::from_secs(600))
            .unwrap()
            .cert_pem;
        let request = file.to_check(&pem).unwrap();
        self.client.check(request).await.unwrap().into_inner()
    }

    /// The admin port's answer to `GET path`, headers included.
    async fn admin_get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&self.admin).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: seam\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    async fn metric(&self, name: &str) -> u64 {
        let response = self.admin_get("/metrics").await;
        response
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in\n{response}"))
    }

    /// Stops seam and returns its records in order.
    async fn stop(self) -> Vec<serde_json::Value> {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        let text = std::fs::read_to_string(self.dir.path().join("records.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn decision(response: &CheckResponse) -> String {
    seam::cli::answer(response).decision
}

#[tokio::test]
async fn a_shadow_set_is_recorded_only_where_it_disagrees_and_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    policies(&dir.path().join("live"), None);
    policies(&dir.path().join("shadow"), Some(FREEZE));
    let shadow_version = seam::policy::load_dir(&dir.path().join("shadow"))
        .unwrap()
        .version()
        .to_string();
    let mut seam = Live::start(dir, true).await;

    // The live set allows the frontend's read; the shadow set would not.
    let read = seam.send("01-frontend-reads-order.toml").await;
    assert_eq!(decision(&read), "allow");
    // Both allow the agent's status read and both deny its card-data read.
    assert_eq!(
        decision(&seam.send("06-agent-reads-order-status.toml").await),
        "allow"
    );
    assert_eq!(
        decision(&seam.send("07-agent-reads-card-data.toml").await),
        "deny"
    );

    assert_eq!(seam.metric("seam_shadow_evaluations_total").await, 3);
    assert_eq!(seam.metric("seam_shadow_disagreements_total").await, 1);
    // `/status` names the shadow set beside the live one.
    let status = seam.admin_get("/status").await;
    let body = status.split("\r\n\r\n").nth(1).unwrap();
    let status: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(status["shadow_set"]["version"], shadow_version.as_str());
    assert_ne!(
        status["policy_set"]["version"],
        status["shadow_set"]["version"]
    );

    let records = seam.stop().await;
    assert_eq!(records.len(), 3);
    let frontend = &records[0];
    assert_eq!(frontend["caller"]["spiffe_id"], FRONTEND);
    assert_eq!(frontend["decision"], "allow");
    assert_eq!(
        frontend["shadow"],
        serde_json::json!({
            "decision": "deny",
            "determining_policies": ["frontend-orders-frozen"],
            "errors": [],
            "policy_set_version": shadow_version,
        })
    );
    assert_eq!(records[1]["shadow"], serde_json::Value::Null);
    assert_eq!(records[2]["shadow"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_shadow_set_that_fails_to_load_leaves_live_answers_alone_until_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    policies(&dir.path().join("live"), None);
    policies(
        &dir.path().join("shadow"),
        Some("forbid (principal, action, resource"),
    );
    let mut seam = Live::start(dir, true).await;

    assert!(seam.authorizer.shadow_policies().snapshot().is_none());
    let read = seam.send("01-frontend-reads-order.toml").await;
    assert_eq!(decision(&read), "allow");
    assert_eq!(seam.metric("seam_shadow_evaluations_total").await, 0);

    // The author fixes the shadow folder and seam reloads, as on SIGHUP.
    std::fs::write(seam.dir.path().join("shadow/extra.cedar"), FREEZE).unwrap();
    seam::server::reload(&seam.config, &seam.authorizer);
    let read = seam.send("01-frontend-reads-order.toml").await;
    assert_eq!(decision(&read), "allow");
    assert_eq!(seam.metric("seam_shadow_evaluations_total").await, 1);
    assert_eq!(seam.metric("seam_shadow_disagreements_total").await, 1);

    let records = seam.stop().await;
    assert_eq!(records[0]["shadow"], serde_json::Value::Null);
    assert_eq!(records[1]["shadow"]["decision"], "deny");
}

#[tokio::test]
async fn a_determining_forbids_reason_is_the_deny_message_and_its_advice_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    policies(&dir.path().join("live"), None);
    let mut seam = Live::start(dir, false).await;

    let response = seam.send("07-agent-reads-card-data.toml").await;
    let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
        panic!("expected a denied response");
    };
    let body: serde_json::Value = serde_json::from_str(&denied.body).unwrap();
    // The `@reason` and `@advice` of `agents-never-touch-restricted`.
    assert_eq!(body["reason"], "policy_denied");
    assert_eq!(body["message"], "AI agents may not access restricted data");

    let records = seam.stop().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["caller"]["spiffe_id"], AGENT);
    assert_eq!(records[0]["decision_id"], body["decision_id"]);
    assert_eq!(
        records[0]["determining_policies"],
        serde_json::json!(["agents-never-touch-restricted"])
    );
    assert_eq!(
        records[0]["advice"],
        serde_json::json!(["route the request to a human operator"])
    );
}
