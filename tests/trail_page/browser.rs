//! Headless Chromium, started once per page load and always ended: the
//! DOM after the page's script ran (`--dump-dom`) or a screenshot. Runs
//! one at a time (the machine has two cores) and is kept off every host
//! but loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the page may take in virtual time (fetches pause it).
const VIRTUAL_TIME_MS: u32 = 8000;
/// How long one Chromium run may take in real time.
const WALL_LIMIT: Duration = Duration::from_secs(120);

/// One Chromium at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The Chromium binary; a failure naming the package when it is absent.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("SEAM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "`{}` not found: the trail page tests need Debian's `chromium` package \
         (`apt-get install chromium`), or SEAM_CHROMIUM naming a Chromium binary",
        path.display()
    );
    path
}

/// The page at `url` after its script ran, as serialised HTML.
pub async fn dump_dom(url: &str) -> String {
    let binary = chromium();
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || run(&binary, &["--dump-dom".into(), url]))
        .await
        .unwrap();
    assert!(
        out.contains("</html>"),
        "chromium printed no page for the dump: {out}"
    );
    out
}

/// A PNG screenshot of `url` at `width`×`height`, written to `to`.
pub async fn screenshot(url: &str, to: &Path, width: u32, height: u32) {
    let args = vec![
        format!("--screenshot={}", to.display()),
        format!("--window-size={width},{height}"),
        url.to_string(),
    ];
    let binary = chromium();
    tokio::task::spawn_blocking(move || run(&binary, &args))
        .await
        .unwrap();
    assert!(
        to.exists(),
        "chromium wrote no screenshot to `{}`",
        to.display()
    );
}

/// Runs Chromium with `args` after the common flags; its standard output.
fn run(binary: &Path, args: &[String]) -> String {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let profile = tempfile::tempdir().unwrap();
    let out_file = profile.path().join("stdout");
    let err_file = profile.path().join("stderr");

    let mut command = Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-domain-reliability",
            "--no-pings",
            "--disable-features=Translate,OptimizationHints,MediaRouter",
            // Nothing leaves the machine: every other name fails to
            // resolve and any other connection meets a closed proxy.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={VIRTUAL_TIME_MS}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().unwrap();

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WALL_LIMIT {
            // The group this test started, Chromium's helpers with it.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {WALL_LIMIT:?}: {}",
                std::fs::read_to_string(&err_file).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let stdout = std::fs::read_to_string(&out_file).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        std::fs::read_to_string(&err_file).unwrap_or_default()
    );
    stdout
}
