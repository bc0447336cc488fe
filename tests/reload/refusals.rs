//! Candidates that must be refused whole, and changes that must not cause
//! a load at all: the live set keeps deciding every check, and the admin
//! port says what was wrong.

use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use super::folder::{
    BOUND, CLOSED, OPEN, folder, live_version, metric, save_by_rename, schema, status,
    wait_for_status, watching,
};
use super::traffic::{Traffic, assert_steady};
use crate::support::{ALLOW, Seam};

const FAILED: &str = "seam_policy_reloads_total{result=\"failed\"}";

/// Sends checks, applies `change`, waits until `/status` shows a refusal,
/// keeps sending for the rest of the bound, and asserts that the set in
/// force never changed. Returns the refusal as `/status` shows it.
async fn refused(seam: &Seam, change: impl FnOnce()) -> serde_json::Value {
    let before = live_version(seam).await;
    let traffic = Traffic::start(seam, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let at = Instant::now();
    change();
    let (seen, failed) = wait_for_status(seam, BOUND, |s| {
        s["reload"]["last_attempt"]["result"] == "failed"
    })
    .await;
    assert!(failed, "no refusal within {BOUND:?}: {seen:#}");
    tokio::time::sleep(BOUND.saturating_sub(at.elapsed())).await;

    let streams = traffic.stop().await;
    assert_steady(&streams, ALLOW);
    assert_eq!(live_version(seam).await, before);
    assert!(metric(seam, FAILED).await >= 1);
    assert_eq!(metric(seam, "seam_policy_reload_failing").await, 1);
    status(seam).await["reload"]["last_error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_save_is_refused_and_shown_with_file_line_and_column() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    // The comma after `action` is missing: the parser stops at `resource`
    // on line 3, column 27.
    let error = refused(&seam, || {
        let broken = "@id(\"gate\")\n// closing reports\nforbid (principal, action resource);\n";
        save_by_rename(dir.path(), "gate.cedar", broken);
    })
    .await;

    assert_eq!(error["file"], "gate.cedar");
    assert_eq!(error["line"], 3);
    assert_eq!(error["column"], 27);
    assert!(
        error["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("gate.cedar:3:27: "),
        "{error:#}"
    );

    // A good save afterwards is loaded and clears the error.
    let before = live_version(&seam).await;
    save_by_rename(dir.path(), "gate.cedar", CLOSED);
    let (seen, cleared) = wait_for_status(&seam, BOUND, |s| {
        s["policy_set"]["version"].as_str() != Some(before.as_str())
    })
    .await;
    assert!(cleared, "{seen:#}");
    assert_eq!(seen["reload"]["last_error"], serde_json::Value::Null);
    assert_eq!(seen["reload"]["last_attempt"]["result"], "ok");
    assert_eq!(metric(&seam, "seam_policy_reload_failing").await, 0);
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_that_breaks_existing_policies_is_refused_whole() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    // Destinations lose their `path`, which every base policy reads; the
    // gate closing reports comes in the same change and must not apply.
    let error = refused(&seam, || {
        let narrowed = schema().replace("  path: String,\n  // The id", "  // The id");
        assert_ne!(narrowed, schema());
        save_by_rename(dir.path(), "schema.cedarschema", &narrowed);
        save_by_rename(dir.path(), "gate.cedar", CLOSED);
    })
    .await;

    let problems = error["problems"].to_string();
    assert!(problems.contains("base.cedar:"), "{error:#}");
    assert!(problems.contains("path"), "{error:#}");
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entities_file_that_does_not_match_the_schema_is_refused() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    // `Team` is no entity type of the schema.
    let error = refused(&seam, || {
        let entities =
            r#"[{"uid": {"type": "Team", "id": "billing"}, "attrs": {}, "parents": []}]"#;
        save_by_rename(dir.path(), "entities.json", entities);
    })
    .await;

    assert_eq!(error["file"], "entities.json");
    assert!(
        error["message"].as_str().unwrap().contains("Team"),
        "{error:#}"
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_droppings_never_cause_a_load_or_a_failure() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;
    let before = live_version(&seam).await;
    let traffic = Traffic::start(&seam, 2);

    // Backups, swap files, vim's write test, emacs autosave and lock files,
    // all holding text that would not parse.
    let garbage = "forbid (principal, action resource";
    for name in ["gate.cedar~", ".gate.cedar.swp", "4913", "#gate.cedar#"] {
        std::fs::write(dir.path().join(name), garbage).unwrap();
    }
    symlink("root@host.4242:1700000000", dir.path().join(".#gate.cedar")).unwrap();
    std::fs::remove_file(dir.path().join("4913")).unwrap();
    tokio::time::sleep(BOUND).await;

    let streams = traffic.stop().await;
    assert_steady(&streams, ALLOW);
    assert_eq!(live_version(&seam).await, before);
    assert_eq!(metric(&seam, FAILED).await, 0);
    assert_eq!(
        metric(&seam, "seam_policy_reloads_total{result=\"ok\"}").await,
        0
    );
    seam.stop().await;
}
