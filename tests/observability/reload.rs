//! A scrape while the watcher loads a large policy set: the page is served
//! at once, from the set still in force, not after the load.

use std::time::{Duration, Instant};

use super::scrape::scrape;
use crate::support::*;

/// A policy file of `count` permits, each for its own team, that the field
/// schema accepts.
fn many_permits(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "permit (principal == Workload::\"spiffe://example.org/ns/team{i}/sa/app\", \
                 action == Action::\"GET\", resource) \
                 when {{ resource.path like \"/v1/team{i}/*\" }};\n"
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_answer_while_a_large_policy_set_loads() {
    let folder = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("tests/fixtures/field/baseline.cedar"),
        folder.path().join("baseline.cedar"),
    )
    .unwrap();
    std::fs::copy(
        root.join("policies/schema.cedarschema"),
        folder.path().join("schema.cedarschema"),
    )
    .unwrap();
    let seam = Seam::start(Setup {
        policies: Policies::Dir(folder.path().to_path_buf()),
        policy_toml: "debounce_ms = 50\npoll_interval_secs = 1\n".into(),
        ..Setup::default()
    })
    .await;
    assert_eq!(scrape(&seam).await.get("seam_policy_set_policies"), 3.0);

    // Written under a dot name the watcher ignores, then renamed into
    // place, so the watcher sees the whole file at once.
    let staged = folder.path().join(".teams.cedar");
    std::fs::write(&staged, many_permits(8_000)).unwrap();
    std::fs::rename(&staged, folder.path().join("teams.cedar")).unwrap();
    let changed = Instant::now();

    let mut during_load = 0;
    let mut slowest = Duration::ZERO;
    let loaded = loop {
        let asked = Instant::now();
        let page = scrape(&seam).await;
        slowest = slowest.max(asked.elapsed());

        if page.get("seam_policy_reloads_total{result=\"ok\"}") == 1.0 {
            break page;
        }
        // Until the swap, every page shows the set still in force.
        assert_eq!(page.get("seam_policy_set_policies"), 3.0);
        assert_eq!(page.get("seam_policy_reload_failing"), 0.0);
        if changed.elapsed() > Duration::from_millis(100) {
            during_load += 1;
        }
        assert!(changed.elapsed() < Duration::from_secs(120), "no reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = changed.elapsed();

    assert_eq!(loaded.get("seam_policy_set_policies"), 8_003.0);
    assert_eq!(
        loaded.get("seam_policy_reloads_total{result=\"failed\"}"),
        0.0
    );
    assert!(
        during_load >= 3,
        "only {during_load} scrapes fell inside a {took:?} load"
    );
    assert!(
        slowest < Duration::from_millis(500) && slowest * 4 < took,
        "a scrape took {slowest:?} during a {took:?} load"
    );
    seam.stop().await;
}
