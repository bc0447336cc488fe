//! Policy folders for the reload tests, the seam that watches them, and
//! what its admin port says.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Policies, Seam, Setup, http_get};

/// Reload timings the tests run seam with.
pub const POLL: Duration = Duration::from_secs(1);
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// The longest a change may take to be in force: the debounce, one
/// periodic check, and room for loading on a busy two-core machine.
pub const BOUND: Duration = Duration::from_millis(50 + 1000 + 1500);

/// The reporter reads reports; admin paths and payroll are closed.
pub fn base() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/field/baseline.cedar");
    std::fs::read_to_string(path).unwrap()
}

/// A gate that leaves the reporter's request alone.
pub const OPEN: &str = "@id(\"gate\")\n\
                        forbid (principal, action, resource)\n\
                        when { resource.path == \"/v1/closed\" };\n";

/// A gate that closes the reporter's request.
pub const CLOSED: &str = "@id(\"gate\")\n\
                          @reason(\"reports are closed\")\n\
                          forbid (principal, action, resource)\n\
                          when { resource.path == \"/v1/reports\" };\n";

pub fn schema() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.cedarschema");
    std::fs::read_to_string(path).unwrap()
}

/// A folder with the schema, `base.cedar` and `gate.cedar` holding `gate`.
pub fn folder(gate: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.cedarschema"), schema()).unwrap();
    std::fs::write(dir.path().join("base.cedar"), base()).unwrap();
    std::fs::write(dir.path().join("gate.cedar"), gate).unwrap();
    dir
}

/// Writes `text` to `name` as careful editors save: a temporary file in the
/// same folder renamed over the old one.
pub fn save_by_rename(dir: &Path, name: &str, text: &str) {
    let temp = dir.join(format!(".{name}.swx"));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(temp, dir.join(name)).unwrap();
}

/// seam watching `dir` with the test timings.
pub async fn watching(dir: PathBuf) -> Seam {
    Seam::start(Setup {
        policies: Policies::Dir(dir),
        policy_toml: format!(
            "poll_interval_secs = {}\ndebounce_ms = {}\n",
            POLL.as_secs(),
            DEBOUNCE.as_millis()
        ),
        ..Setup::default()
    })
    .await
}

/// The admin port's `/status`.
pub async fn status(seam: &Seam) -> serde_json::Value {
    let (code, body) = http_get(&seam.admin, "/status").await;
    assert_eq!(code, 200);
    serde_json::from_str(&body).unwrap()
}

/// The version of the set in force, as `/status` shows it.
pub async fn live_version(seam: &Seam) -> String {
    status(seam).await["policy_set"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The value of the metric sample `name` on `/metrics`.
pub async fn metric(seam: &Seam, name: &str) -> u64 {
    let (_, body) = http_get(&seam.admin, "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{name}` in /metrics"))
        .parse()
        .unwrap()
}

/// Waits until `/status` satisfies `done`, for at most `limit`; returns
/// the last status seen and whether it did.
pub async fn wait_for_status(
    seam: &Seam,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, bool) {
    let start = Instant::now();
    loop {
        let seen = status(seam).await;
        if done(&seen) {
            return (seen, true);
        }
        if start.elapsed() > limit {
            return (seen, false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the set in force is no longer `version`.
pub async fn wait_for_new_set(seam: &Seam, version: &str, limit: Duration) {
    let (seen, changed) = wait_for_status(seam, limit, |s| {
        s["policy_set"]["version"].as_str() != Some(version)
    })
    .await;
    assert!(changed, "no new set within {limit:?}: {seen:#}");
}
