//! Records from real checks: a `seam serve` process stopped by SIGTERM, and
//! the in-process server's masked records and published head.

use std::path::Path;
use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use seam::record::verify::{self, Anchor, Status};

use super::files::{lines, names, verify_dir};
use crate::support::*;

fn copy_field_policies(target: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(target).unwrap();
    for entry in std::fs::read_dir(repo.join("tests/fixtures/field")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    std::fs::copy(
        repo.join("policies/schema.cedarschema"),
        target.join("schema.cedarschema"),
    )
    .unwrap();
}

#[tokio::test]
async fn every_check_answered_before_sigterm_has_its_record_in_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("example.org");
    std::fs::write(dir.path().join("bundle.pem"), &pki.ca_pem).unwrap();
    copy_field_policies(&dir.path().join("policies"));
    let socket = dir.path().join("seam.sock");
    let records = dir.path().join("records");
    let config = format!(
        r#"
state_dir = "{state}"
[server]
listen = ["unix:{socket}"]
[policy]
dir = "policies"
[[identity.trust_domains]]
name = "example.org"
bundle = "bundle.pem"
[context]
intents = ["read", "delete", "export"]
[admin]
listen = "off"
[records]
sink = "file"
path = "records/decisions.jsonl"
instance = "sigterm"
max_file_bytes = 65536
durability = "fsync_batch"
"#,
        state = dir.path().join("state").display(),
        socket = socket.display(),
    );
    let config_path = dir.path().join("seam.toml");
    std::fs::write(&config_path, config).unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("SEAM_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut client = None;
    for _ in 0..200 {
        if socket.exists()
            && let Ok(c) = AuthorizationClient::connect(format!("unix:{}", socket.display())).await
        {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = client.expect("seam serve listens on its socket");

    const N: usize = 300;
    let cert = pki.leaf(REPORTER);
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let mut client = client.clone();
        let cert = cert.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..N / 6 {
                let mut file = baseline();
                file.headers
                    .insert("x-request-id".into(), format!("w{worker}-{i}"));
                let response = client.check(file.to_check(&cert).unwrap()).await.unwrap();
                assert_eq!(outcome(response.get_ref()), ALLOW);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    // SIGTERM to the process this test started, by its id.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "seam exits cleanly on SIGTERM: {status}");

    let files = verify::collect(std::slice::from_ref(&records)).unwrap();
    let decisions: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|f| lines(f))
        .filter(|l| l["kind"] == "decision")
        .collect();
    assert_eq!(decisions.len(), N, "one record per answered check");
    let mut ids: Vec<&str> = decisions
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    assert!(names(&records).len() > 1, "the trail rotated");
    let report = verify_dir(&records);
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
}

#[tokio::test]
async fn records_of_real_checks_are_masked_and_anchored_by_the_published_head() {
    let records = tempfile::tempdir().unwrap();
    let path = records.path().join("decisions.jsonl");
    let mut seam = Seam::start(Setup {
        records_path: Some(path.display().to_string()),
        extra_toml: "redact_query = [\"token\"]\nredact_headers = [\"x-request-id\"]\n".into(),
        ..Setup::default()
    })
    .await;
    let cert = seam.pki.leaf(REPORTER);

    let mut file = baseline();
    file.url = "https://reports.internal.example/v1/reports?token=s3cr3t&page=2".into();
    file.headers
        .insert("x-request-id".into(), "customer-4711".into());
    assert_eq!(outcome(&seam.check_as(&file, &cert).await), ALLOW);
    for _ in 0..4 {
        seam.check_as(&baseline(), &cert).await;
    }

    // The head the admin port publishes once the writer has caught up.
    let mut head = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, body) = http_get(&seam.admin, "/status").await;
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        head = status["records"]["head"].clone();
        if head["seq"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(head["seq"], 5, "{head}");
    seam.stop().await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("s3cr3t"));
    assert!(!text.contains("customer-4711"));
    let first = &lines(&path)[0];
    assert_eq!(
        first["request"]["raw_path"],
        "/v1/reports?token=REDACTED&page=2"
    );
    assert_eq!(first["request"]["query"], "token=REDACTED&page=2");
    assert_eq!(first["request_id"], "REDACTED");

    let anchor: Anchor = format!("5:{}", head["hash"].as_str().unwrap())
        .parse()
        .unwrap();
    let files = verify::collect(&[records.path().to_path_buf()]).unwrap();
    let report = verify::verify_files(&files, std::slice::from_ref(&anchor)).unwrap();
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);

    // Rewriting the newest line, hashes and all, is caught by the anchor.
    let mut all: Vec<String> = text.lines().map(String::from).collect();
    let last = all.len() - 1;
    all[last] = all[last].replace("\"allow\"", "\"deny\"");
    std::fs::write(&path, all.join("\n") + "\n").unwrap();
    let report = verify::verify_files(&files, &[anchor]).unwrap();
    assert_eq!(report.status, Status::Tampered);
}
