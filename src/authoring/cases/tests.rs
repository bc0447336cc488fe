use super::*;

fn case(text: &str) -> Case {
    let file: TestFile = toml::from_str(text).unwrap();
    file.cases.into_iter().next().unwrap()
}

fn answered(decision: &str, reason: &str, determining: &[&str]) -> Answered {
    Answered {
        decision: decision.into(),
        reason: reason.into(),
        determining: determining.iter().map(|s| s.to_string()).collect(),
        errors: Vec::new(),
    }
}

const AGENT: &str = r#"
[[case]]
name = "agent reads card data"
caller = "spiffe://example.org/ns/agents/sa/support-agent"
url = "https://payments.payments.svc/v1/cards/4111"
intent = "support"
sensitivity = "restricted"
expect = "deny"
reason = "policy_denied"
determining = ["b", "a"]
"#;

#[test]
fn a_case_becomes_the_request_file_seam_check_would_send() {
    let file = case(AGENT).request_file();
    assert_eq!(file.method, "GET");
    assert_eq!(file.headers["x-seam-intent"], "support");
    assert_eq!(file.route["sensitivity"], "restricted");
    assert_eq!(
        file.caller.as_deref(),
        Some("spiffe://example.org/ns/agents/sa/support-agent")
    );
}

#[test]
fn determining_ids_match_in_any_order_and_reason_must_agree() {
    let case = case(AGENT);
    assert!(case.met_by(&answered("deny", "policy_denied", &["a", "b"])));
    assert!(!case.met_by(&answered("deny", "policy_denied", &["a"])));
    assert!(!case.met_by(&answered("deny", "policy_error", &["a", "b"])));
    assert!(!case.met_by(&answered("allow", "allowed", &["a", "b"])));
}

#[test]
fn a_case_without_reason_or_determining_checks_only_the_decision() {
    let case = case(
        r#"
[[case]]
name = "n"
caller = "spiffe://example.org/x"
url = "https://h/"
expect = "allow"
"#,
    );
    assert!(case.met_by(&answered("allow", "allowed", &["whatever"])));
    assert_eq!(case.expected(), "allow");
}

#[test]
fn a_failed_case_line_says_what_was_expected_and_what_came() {
    let case = case(AGENT);
    let result = CaseResult {
        name: "agents.toml: agent reads card data".into(),
        expected: case.expected(),
        answered: Ok(answered("allow", "allowed", &["p"])),
        passed: false,
    };
    assert_eq!(
        result.line(),
        "FAIL agents.toml: agent reads card data: expected deny (policy_denied) by [b, a], \
         got allow (allowed) (determining: p)"
    );
}

#[test]
fn unknown_keys_and_bad_expectations_are_refused() {
    let bad_key = "[[case]]\nname='n'\ncaller='c'\nurl='u'\nexpect='allow'\nexpected='x'\n";
    assert!(toml::from_str::<TestFile>(bad_key).is_err());
    let bad_expect = "[[case]]\nname='n'\ncaller='c'\nurl='u'\nexpect='maybe'\n";
    assert!(toml::from_str::<TestFile>(bad_expect).is_err());
}
