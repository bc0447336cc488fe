//! The shipped example mesh: every request in `examples/requests/` gets the
//! decision its file promises, over a real socket.

use std::path::PathBuf;

use seam::probe::RequestFile;

use super::support::*;

#[tokio::test]
async fn every_example_request_gets_the_decision_it_promises() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        ..Setup::default()
    })
    .await;
    let partner = Pki::new("partner.example");

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the examples cover every rule");

    let (mut allows, mut denies) = (0, 0);
    for path in &files {
        let file = RequestFile::load(path).unwrap();
        let caller = file.caller.clone().unwrap();
        let cert = if caller.starts_with("spiffe://partner.example/") {
            partner.leaf(&caller)
        } else {
            seam.pki.leaf(&caller)
        };
        let response = seam.check_as(&file, &cert).await;
        let answer = seam::cli::answer(&response);
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(
            Some(answer.decision.as_str()),
            file.expect.as_deref(),
            "{name}"
        );
        if let Some(reason) = &file.expect_reason {
            assert_eq!(&answer.reason, reason, "{name}");
        }
        match answer.decision.as_str() {
            "allow" => allows += 1,
            _ => denies += 1,
        }
    }
    assert!(allows >= 5 && denies >= 5);

    let records = seam.stop().await;
    assert_eq!(records.len(), files.len());
    let agent = records
        .iter()
        .find(|r| {
            r["request"]["raw_path"] == "/v1/cards/4111" && r["context"]["intent"] == "support"
        })
        .unwrap();
    assert_eq!(
        agent["determining_policies"],
        serde_json::json!(["agents-never-touch-restricted"])
    );
    assert_eq!(
        agent["advice"],
        serde_json::json!(["route the request to a human operator"])
    );
}
