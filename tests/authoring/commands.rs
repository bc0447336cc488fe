//! `seam validate`, `seam test` and `seam check --explain` run as the
//! binary, on policy folders made in a temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `seam args...` in `cwd`: (exit code, stdout, stderr).
fn seam(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        status.code().unwrap(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// A copy of the shipped policy folder (with its tests) in a temp folder.
fn shipped_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    (tmp, dir)
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.toml"))
        .collect()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn validate_summarises_a_clean_folder_and_exits_zero() {
    let (tmp, dir) = shipped_copy();
    let (code, stdout, stderr) = seam(tmp.path(), &["validate", arg(&dir)]);

    assert_eq!(code, 0, "{stderr}");
    // agents 3, finance 2, guardrails 3, shop 2.
    assert!(
        stdout.starts_with("10 policies in 4 files, version "),
        "{stdout}"
    );
    assert_eq!(stderr, "");
}

#[test]
fn validate_points_at_a_syntax_error_with_file_line_and_caret() {
    let (tmp, dir) = shipped_copy();
    std::fs::write(
        dir.join("broken.cedar"),
        "// a typo on line 3\n@id(\"broken\")\n\
         permit (principal, action, resource) when { true &&& };\n",
    )
    .unwrap();
    let (code, stdout, stderr) = seam(tmp.path(), &["validate", arg(&dir)]);

    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(stderr.contains("× invalid token"), "{stderr}");
    // Cedar reads `&&` and stops at the lone `&` after it.
    let line = "permit (principal, action, resource) when { true &&& };";
    let column = line.find("&&&").unwrap() + 3;
    assert!(
        stderr.contains(&format!("╭─[broken.cedar:3:{column}]")),
        "{stderr}"
    );
    let caret = stderr
        .lines()
        .find(|l| l.trim_start().starts_with('·'))
        .expect("an underline line");
    let code_line = stderr
        .lines()
        .find(|l| l.contains("&&&"))
        .expect("the source line");
    assert_eq!(
        caret.find('▲').map(|i| caret[..i].chars().count()),
        code_line
            .find("&&&")
            .map(|i| code_line[..i].chars().count() + 2),
        "the caret sits under the third `&`:\n{stderr}"
    );
    assert!(stderr.contains("does not load: 1 error"), "{stderr}");
}

#[test]
fn validate_warns_without_failing_unless_warnings_are_denied() {
    let (tmp, dir) = shipped_copy();
    std::fs::write(
        dir.join("typo.cedar"),
        "@id(\"typo\")\npermit (principal in Group::\"ai-agent\", action, resource);\n",
    )
    .unwrap();

    let (code, stdout, stderr) = seam(tmp.path(), &["validate", arg(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(", 1 warning"), "{stdout}");
    assert!(
        stderr.contains("⚠ policy `typo` refers to `Group::\"ai-agent\"`"),
        "{stderr}"
    );
    assert!(stderr.contains("╭─[typo.cedar:2:22]"), "{stderr}");

    let (code, _, _) = seam(tmp.path(), &["validate", "--deny-warnings", arg(&dir)]);
    assert_eq!(code, 1);
}

fn case_count(dir: &Path) -> usize {
    test_files(dir)
        .into_iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .map(|text| text.matches("[[case]]").count())
        .sum()
}

#[test]
fn the_shipped_policy_tests_all_pass() {
    let (tmp, dir) = shipped_copy();
    let (code, stdout, stderr) = seam(tmp.path(), &["test", arg(&dir)]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    let cases = case_count(&dir);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases + 1);
    assert!(lines[..cases].iter().all(|l| l.starts_with("ok   ")));
    assert_eq!(lines[cases], format!("{cases} passed, 0 failed"));
    assert!(stdout.contains("ok   finance.test.toml: payments posts a checkout's entry"));
}

#[test]
fn a_failing_case_is_reported_and_the_run_exits_non_zero() {
    let (tmp, dir) = shipped_copy();
    for shipped in test_files(&dir) {
        std::fs::remove_file(shipped).unwrap();
    }
    std::fs::write(
        dir.join("mixed.test.toml"),
        r#"
[[case]]
name = "the agent reads order status"
caller = "spiffe://example.org/ns/agents/sa/support-agent"
url = "https://orders.shop.svc/v1/orders/42/status"
intent = "support"
expect = "allow"

[[case]]
name = "the agent cancels an order"
caller = "spiffe://example.org/ns/agents/sa/support-agent"
method = "DELETE"
url = "https://orders.shop.svc/v1/orders/42"
intent = "support"
expect = "allow"
"#,
    )
    .unwrap();
    let (code, stdout, _) = seam(tmp.path(), &["test", arg(&dir)]);

    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "ok   mixed.test.toml: the agent reads order status\n\
         FAIL mixed.test.toml: the agent cancels an order: expected allow, got deny (policy_denied) \
         (determining: agents-are-read-only)\n\
         1 passed, 1 failed\n"
    );
}

#[test]
fn explain_shows_the_cedar_request_and_the_deciding_forbid_with_its_place() {
    let (tmp, dir) = shipped_copy();
    let request = repo().join("examples/requests/07-agent-reads-card-data.toml");
    let (code, stdout, stderr) = seam(
        tmp.path(),
        &["check", "--explain", "--policies", arg(&dir), arg(&request)],
    );
    assert_eq!(code, 0, "{stderr}");

    let agents = std::fs::read_to_string(dir.join("agents.cedar")).unwrap();
    let line = agents
        .lines()
        .position(|l| l == "@id(\"agents-never-touch-restricted\")")
        .unwrap()
        + 1;
    for expected in [
        "  principal: Workload::\"spiffe://example.org/ns/agents/sa/support-agent\"",
        "    parents: Group::\"ai-agents\", TrustDomain::\"example.org\"",
        "  action:    Action::\"GET\"",
        "  resource:  Destination::\"payments.payments.svc/v1/cards/4111\"",
        "\"path\":\"/v1/cards/4111\"",
        "\"sensitivity_source\":\"rule:card-data\"",
        "\"intent\":\"support\"",
        "decision: DENY 403 policy_denied",
        &format!("agents-never-touch-restricted (forbid) agents.cedar:{line}"),
        "@reason: AI agents may not access restricted data",
        "@advice: route the request to a human operator",
        "errors: none",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in\n{stdout}"
        );
    }
}
