//! The policy-edit field cases, each with the outcome the case list gives
//! it: a broken or emptied file mid-save, an empty folder at start, and the
//! ids of policies spread over several files.

use std::time::Duration;

use super::folder::{
    BOUND, OPEN, folder, live_version, metric, save_by_rename, status, wait_for_new_set,
    wait_for_status, watching,
};
use super::traffic::{Traffic, assert_steady};
use crate::support::{
    ALLOW, DENY_ERROR, DENY_POLICY, Policies, REPORTER, Seam, Setup, baseline, http_get, outcome,
};

const FAILED: &str = "seam_policy_reloads_total{result=\"failed\"}";

/// Applies `change` while checks flow, waits for the refusal, and returns
/// the refusal as `/status` shows it and every record written meanwhile.
async fn refuse(seam: &Seam, change: impl FnOnce()) -> serde_json::Value {
    let failed_before = metric(seam, FAILED).await;
    let traffic = Traffic::start(seam, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;

    change();
    let (seen, failed) = wait_for_status(seam, BOUND, |s| {
        s["reload"]["last_attempt"]["result"] == "failed"
    })
    .await;
    assert!(failed, "no refusal within {BOUND:?}: {seen:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_steady(&traffic.stop().await, ALLOW);
    assert_eq!(metric(seam, FAILED).await, failed_before + 1);
    status(seam).await["reload"]["last_error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_whn_for_when_is_refused_by_file_and_line_and_the_old_set_keeps_answering() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;
    let live = live_version(&seam).await;

    let error = refuse(&seam, || {
        let broken = "@id(\"gate\")\nforbid (principal, action, resource)\n\
                      whn { resource.path == \"/v1/reports\" };\n";
        save_by_rename(dir.path(), "gate.cedar", broken);
    })
    .await;
    assert_eq!(error["file"], "gate.cedar");
    assert_eq!(error["line"], 3);

    let records = seam.stop().await;
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r["policy_set_version"] == live.as_str()),
        "every record carries the set that decided it: the old one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_a_file_truncated_to_nothing_is_a_failed_reload_not_a_deny_all() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    let error = refuse(&seam, || {
        std::fs::write(dir.path().join("gate.cedar"), "").unwrap();
    })
    .await;
    assert_eq!(error["file"], "gate.cedar");
    assert!(
        error["message"].as_str().unwrap().contains("empty"),
        "{error:#}"
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_a_cold_start_on_an_empty_folder_denies_with_an_error_and_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let mut seam = Seam::start(Setup {
        policies: Policies::Dir(dir.path().to_path_buf()),
        ..Setup::default()
    })
    .await;
    let cert = seam.pki.leaf(REPORTER);

    for _ in 0..3 {
        assert_eq!(
            outcome(&seam.check_as(&baseline(), &cert).await),
            DENY_ERROR
        );
    }
    let (code, body) = http_get(&seam.admin, "/readyz").await;
    assert_eq!(code, 503, "{body}");

    let records = seam.stop().await;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["reason"] == "no_policy_loaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_policies_without_ids_in_two_files_get_stable_file_qualified_ids() {
    let dir = folder(OPEN);
    std::fs::write(
        dir.path().join("closing.cedar"),
        "forbid (principal, action, resource) when { resource.path == \"/v1/reports\" };\n",
    )
    .unwrap();
    let mut seam = watching(dir.path().to_path_buf()).await;
    let cert = seam.pki.leaf(REPORTER);

    let response = seam.check_as(&baseline(), &cert).await;
    assert_eq!(outcome(&response), DENY_POLICY);
    let records = seam.stop().await;
    assert_eq!(records[0]["determining_policies"][0], "closing.cedar#1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_one_id_in_two_files_is_refused_naming_both_and_the_old_set_stays() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    let error = refuse(&seam, || {
        save_by_rename(dir.path(), "again.cedar", OPEN);
    })
    .await;
    let message = error["problems"].to_string();
    assert!(
        message.contains("again.cedar") && message.contains("gate.cedar"),
        "{error:#}"
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_a_deleted_files_policies_are_gone_after_the_reload() {
    let dir = folder(OPEN);
    std::fs::write(
        dir.path().join("closing.cedar"),
        "@id(\"closing\")\nforbid (principal, action, resource) \
         when { resource.path == \"/v1/reports\" };\n",
    )
    .unwrap();
    let mut seam = watching(dir.path().to_path_buf()).await;
    let cert = seam.pki.leaf(REPORTER);
    assert_eq!(
        outcome(&seam.check_as(&baseline(), &cert).await),
        DENY_POLICY
    );

    let before = live_version(&seam).await;
    std::fs::remove_file(dir.path().join("closing.cedar")).unwrap();
    wait_for_new_set(&seam, &before, BOUND).await;
    assert_eq!(outcome(&seam.check_as(&baseline(), &cert).await), ALLOW);
    // The baseline's three and the gate: `closing` went with its file.
    assert_eq!(status(&seam).await["policy_set"]["policies"], 4);
    seam.stop().await;
}
