//! Changes that put a new set in force: every check is decided, by the set
//! in force when it was made, and the new set is in force within the bound.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use super::folder::{
    BOUND, CLOSED, OPEN, POLL, base, folder, live_version, metric, save_by_rename, schema,
    wait_for_new_set, watching,
};
use super::traffic::{Traffic, assert_switch};
use crate::support::{ALLOW, DENY_POLICY, Seam};

/// Sends checks, applies `change`, waits for the new set, and asserts the
/// switch from allowed to denied. Returns how long the switch took.
async fn switch_to_closed(seam: &Seam, change: impl FnOnce()) -> Duration {
    let before = live_version(seam).await;
    let traffic = Traffic::start(seam, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let at = Instant::now();
    change();
    wait_for_new_set(seam, &before, BOUND * 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let streams = traffic.stop().await;
    let took = assert_switch(&streams, at, BOUND, ALLOW, DENY_POLICY);
    assert!(took <= BOUND, "the switch took {took:?}");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_policy_file_is_in_force_without_a_restart() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    switch_to_closed(&seam, || {
        let closing = CLOSED.replace("\"gate\"", "\"closing\"");
        std::fs::write(dir.path().join("closing.cedar"), closing).unwrap();
    })
    .await;

    assert_eq!(
        metric(&seam, "seam_policy_reloads_total{result=\"failed\"}").await,
        0
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_by_rename_switches_sets_between_two_checks() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;

    switch_to_closed(&seam, || save_by_rename(dir.path(), "gate.cedar", CLOSED)).await;

    assert_eq!(
        metric(&seam, "seam_policy_reloads_total{result=\"ok\"}").await,
        1
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_deleted_then_made_again_is_followed_through_both_steps() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;
    let first = live_version(&seam).await;
    let traffic = Traffic::start(&seam, 2);

    // Without the gate the reporter is still allowed: the set in between
    // decides as the first one does.
    std::fs::remove_file(dir.path().join("gate.cedar")).unwrap();
    wait_for_new_set(&seam, &first, BOUND).await;
    let between = live_version(&seam).await;

    let at = Instant::now();
    std::fs::write(dir.path().join("gate.cedar"), CLOSED).unwrap();
    wait_for_new_set(&seam, &between, BOUND * 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let streams = traffic.stop().await;
    let took = assert_switch(&streams, at, BOUND, ALLOW, DENY_POLICY);
    assert!(took <= BOUND, "the switch took {took:?}");
    assert_eq!(
        metric(&seam, "seam_policy_reloads_total{result=\"failed\"}").await,
        0
    );
    seam.stop().await;
}

/// Lays out `root` as a Kubernetes ConfigMap volume: the files in a
/// timestamped folder, `..data` linking to it, and one link per file.
fn configmap(root: &Path, version: &str, gate: &str) {
    let data = root.join(version);
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("schema.cedarschema"), schema()).unwrap();
    std::fs::write(data.join("base.cedar"), base()).unwrap();
    std::fs::write(data.join("gate.cedar"), gate).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_update_swapping_its_data_link_is_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    configmap(root, "..2026_12_04_10_00_00.1", OPEN);
    symlink("..2026_12_04_10_00_00.1", root.join("..data")).unwrap();
    for name in ["schema.cedarschema", "base.cedar", "gate.cedar"] {
        symlink(format!("..data/{name}"), root.join(name)).unwrap();
    }
    let seam = watching(root.to_path_buf()).await;

    // As the kubelet does it: the new files first, then the link swapped
    // in one rename, then the old files removed.
    switch_to_closed(&seam, || {
        configmap(root, "..2026_12_04_10_05_00.2", CLOSED);
        symlink("..2026_12_04_10_05_00.2", root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        std::fs::remove_dir_all(root.join("..2026_12_04_10_00_00.1")).unwrap();
    })
    .await;

    assert_eq!(
        metric(&seam, "seam_policy_reloads_total{result=\"failed\"}").await,
        0
    );
    seam.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_link_to_the_whole_folder_is_caught_by_the_periodic_check() {
    // No event fires in the watched folder when the link leading to it is
    // swapped: only the periodic check can see it.
    let dir = tempfile::tempdir().unwrap();
    for (name, gate) in [("v1", OPEN), ("v2", CLOSED)] {
        let version = dir.path().join(name);
        std::fs::create_dir(&version).unwrap();
        std::fs::write(version.join("schema.cedarschema"), schema()).unwrap();
        std::fs::write(version.join("base.cedar"), base()).unwrap();
        std::fs::write(version.join("gate.cedar"), gate).unwrap();
    }
    let current = dir.path().join("current");
    symlink("v1", &current).unwrap();
    let seam = watching(current.clone()).await;

    let took = switch_to_closed(&seam, || {
        symlink("v2", dir.path().join("next")).unwrap();
        std::fs::rename(dir.path().join("next"), &current).unwrap();
    })
    .await;

    assert!(took <= POLL + BOUND, "the switch took {took:?}");
    seam.stop().await;
}

/// `count` distinct policies that validate against the shipped schema and
/// never concern the reporter's request.
fn many(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "@id(\"team-{i}\")\n\
                 permit (principal == Workload::\"spiffe://example.org/ns/team{i}/sa/app\", \
                 action in Action::\"read\", resource)\n\
                 when {{ resource.path like \"/v1/team{i}/*\" }};\n"
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_keep_flowing_while_ten_thousand_policies_load() {
    let dir = folder(OPEN);
    let seam = watching(dir.path().to_path_buf()).await;
    let before = live_version(&seam).await;
    let traffic = Traffic::start(&seam, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let at = Instant::now();
    // One rename, so one change: the closed gate and the bulk together.
    save_by_rename(
        dir.path(),
        "gate.cedar",
        &format!("{CLOSED}{}", many(10_000)),
    );
    // Not a timing test: an unoptimised build loads slowly, and speed is
    // measured by the benchmark.
    wait_for_new_set(&seam, &before, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let streams = traffic.stop().await;
    assert_switch(&streams, at, Duration::from_secs(300), ALLOW, DENY_POLICY);
    let status = super::folder::status(&seam).await;
    assert_eq!(status["policy_set"]["policies"], 10_000 + 4);
    seam.stop().await;
}
