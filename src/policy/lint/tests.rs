use std::collections::HashSet;
use std::path::Path;

use super::super::LoadError;
use super::*;

fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(name),
    )
    .unwrap()
}

/// The expressions flagged in the forbid with condition `when`.
fn flagged(when: &str, entity_attrs: &[&str]) -> Vec<String> {
    let text = format!("forbid (principal, action, resource) when {{ {when} }};");
    let policy = Policy::from_str(&text).unwrap();
    let attrs: HashSet<String> = entity_attrs.iter().map(|s| s.to_string()).collect();
    runtime::hazards(&policy.to_json().unwrap(), &attrs)
        .into_iter()
        .map(|h| h.expression)
        .collect()
}

#[test]
fn forbid_conditions_that_can_fail_at_run_time_are_flagged() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        // Nothing that can fail.
        ("context.sensitivity_level >= 3", &[], &[]),
        (
            r#"resource.path like "/v1/*" && principal in Group::"g""#,
            &[],
            &[],
        ),
        (r#"["a", "b"].contains(context.sensitivity)"#, &[], &[]),
        (
            r#"principal has namespace && principal.namespace == "x""#,
            &[],
            &[],
        ),
        // Integer overflow.
        (
            "context.sensitivity_level + 1 > 3",
            &[],
            &["context.sensitivity_level + 1"],
        ),
        (
            "context.sensitivity_level * 2 > 3",
            &[],
            &["context.sensitivity_level * 2"],
        ),
        (
            "-context.sensitivity_level < 0",
            &[],
            &["-context.sensitivity_level"],
        ),
        // Two literals whose result fits cannot overflow; one that does not fit can.
        ("context.sensitivity_level > 1 + 2", &[], &[]),
        (
            "context.sensitivity_level > 9223372036854775807 + 1",
            &[],
            &["9223372036854775807 + 1"],
        ),
        // Extension constructors on request data, and overflowing methods.
        (
            "ip(context.source_address).isLoopback()",
            &[],
            &["ip(context.source_address)"],
        ),
        (r#"ip("127.0.0.1").isLoopback()"#, &[], &[]),
        (
            r#"decimal(context.query).lessThan(decimal("1.0"))"#,
            &[],
            &[r#"decimal(context.query)"#],
        ),
        (
            r#"datetime("2026-01-01").offset(duration("1d")) > datetime("2026-01-01")"#,
            &[],
            &[r#"datetime("2026-01-01").offset(duration("1d"))"#],
        ),
        // Tags: only after hasTag.
        (
            r#"principal.getTag("team") == "x""#,
            &[],
            &[r#"principal.getTag("team")"#],
        ),
        (
            r#"principal.hasTag("team") && principal.getTag("team") == "x""#,
            &[],
            &[],
        ),
        // Entities seam does not put into the request's entity data.
        (
            r#"Workload::"spiffe://example.org/a".trust_domain == "example.org""#,
            &[],
            &[r#"Workload::"spiffe://example.org/a".trust_domain"#],
        ),
        (
            r#"Group::"g" has owner && Group::"g".owner == "x""#,
            &[],
            &[],
        ),
        (
            r#"resource.owner.name == "x""#,
            &["owner"],
            &["resource.owner.name"],
        ),
        (
            r#"resource has owner && resource.owner has name && resource.owner.name == "x""#,
            &["owner"],
            &[],
        ),
        (
            r#"!(resource.owner has name) || resource.owner.name == "x""#,
            &["owner"],
            &[],
        ),
        (
            r#"if resource.owner has name then resource.owner.name == "x" else false"#,
            &["owner"],
            &[],
        ),
    ];
    for (when, attrs, expected) in cases {
        assert_eq!(flagged(when, attrs), *expected, "when {{ {when} }}");
    }
}

/// A policy folder: the shipped schema and entities, and `extra.cedar`.
fn folder(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["schema.cedarschema", "entities.json"] {
        std::fs::write(dir.path().join(file), shipped(file)).unwrap();
    }
    std::fs::write(dir.path().join("extra.cedar"), extra).unwrap();
    dir
}

fn warning_messages(policy: &str) -> Vec<String> {
    let dir = folder(policy);
    let set = super::super::load_dir(dir.path()).unwrap();
    warnings(dir.path(), &set)
        .into_iter()
        .inspect(|w| assert_eq!(w.severity, Severity::Warning))
        .map(|w| w.message)
        .collect()
}

#[test]
fn policies_that_can_never_apply_are_warned_about() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"@id("p") permit (principal in Group::"ai-agents", action, resource);"#,
            &[],
        ),
        (
            r#"@id("p") permit (principal in Group::"ai-agent", action, resource);"#,
            &[r#"policy `p` refers to `Group::"ai-agent"`, which entities.json does not declare"#],
        ),
        (
            r#"@id("p") permit (principal == Workload::"frontend", action, resource);"#,
            &[r#"policy `p` refers to `Workload::"frontend"`, which is not a SPIFFE ID"#],
        ),
        (
            r#"@id("p") permit (principal == Service::"orders.shop.svc", action, resource);"#,
            &[
                "for policy `p`, unable to find an applicable action",
                "for policy `p`, policy is impossible",
            ],
        ),
        (
            r#"@id("p") permit (principal, action, resource) when { 1 == 2 };"#,
            &["for policy `p`, policy is impossible"],
        ),
        (
            r#"@id("p") forbid (principal, action, resource) when { context.sensitivity_level + 1 > 3 };"#,
            &["forbid `p` can fail at run time: integer arithmetic"],
        ),
        // A permit that can fail is not a guard that may be skipped.
        (
            r#"@id("p") permit (principal, action, resource) when { context.sensitivity_level + 1 > 3 };"#,
            &[],
        ),
    ];
    for (policy, expected) in cases {
        let messages = warning_messages(policy);
        assert_eq!(messages.len(), expected.len(), "{policy}: {messages:?}");
        for want in *expected {
            assert!(
                messages.iter().any(|m| m.starts_with(want)),
                "{policy}: no warning starting `{want}` in {messages:?}"
            );
        }
    }
}

#[test]
fn the_shipped_policies_have_no_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let set = super::super::load_dir(&dir).unwrap();
    assert_eq!(warnings(&dir, &set), Vec::new());
}

#[test]
fn a_warning_underlines_the_expression_in_the_file() {
    let text = "// guard\n@id(\"p\")\nforbid (principal, action, resource)\n\
                when { context.sensitivity_level + 1 > 3 };\n";
    let dir = folder(text);
    let set = super::super::load_dir(dir.path()).unwrap();
    let found = warnings(dir.path(), &set);
    assert_eq!(found.len(), 1);

    let span = &found[0].spans[0];
    let expression = "context.sensitivity_level + 1";
    assert_eq!(span.offset, text.find(expression).unwrap());
    assert_eq!(span.len, expression.len());
    assert_eq!(found[0].file, "extra.cedar");
}

#[test]
fn a_syntax_error_keeps_cedars_span_and_a_duplicate_id_its_line() {
    let dir = folder("@id(\"a\")\npermit (principal, action, resource)\nwhen { true &&& };\n");
    std::fs::write(
        dir.path().join("more.cedar"),
        "@id(\"b\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("twice.cedar"),
        "@id(\"b\")\npermit (principal, action, resource);\n",
    )
    .unwrap();

    let LoadError::Invalid(problems) = super::super::load_dir(dir.path()).unwrap_err() else {
        panic!("expected problems");
    };
    let found = failure(dir.path(), &problems);
    let syntax = found.iter().find(|f| f.file == "extra.cedar").unwrap();
    assert_eq!(syntax.severity, Severity::Error);
    assert_eq!(syntax.message, "invalid token");
    let third_line = "@id(\"a\")\npermit (principal, action, resource)\n".len();
    // Cedar reads `&&` and then stops at the lone `&` after it.
    assert_eq!(syntax.spans[0].offset, third_line + "when { true &&".len());

    let duplicate = found.iter().find(|f| f.file == "twice.cedar").unwrap();
    assert_eq!(
        duplicate.message,
        "policy id `b` is also declared in `more.cedar:1`"
    );
    assert_eq!(duplicate.spans[0].offset, 0);
}
