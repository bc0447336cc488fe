use super::*;

fn ok(raw: &str) -> Target {
    match normalize(raw) {
        Ok(target) => target,
        Err(e) => panic!("`{raw}` was refused: {e}"),
    }
}

fn err(raw: &str) -> PathError {
    match normalize(raw) {
        Ok(target) => panic!("`{raw}` was accepted as {target:?}"),
        Err(e) => e,
    }
}

#[test]
fn splits_the_query_at_the_first_question_mark_and_keeps_it_raw() {
    let cases = [
        ("/v1/reports?q=%0A", "/v1/reports", "q=%0A"),
        ("/v1/reports?a=1?b=2", "/v1/reports", "a=1?b=2"),
        ("/v1/reports?", "/v1/reports", ""),
        ("/v1/reports", "/v1/reports", ""),
        ("/v1/reports?q=%2e%2e/%2F", "/v1/reports", "q=%2e%2e/%2F"),
        ("/v1/reports?q=a+b&r=100%", "/v1/reports", "q=a+b&r=100%"),
    ];
    for (raw, path, query) in cases {
        let target = ok(raw);
        assert_eq!(target.path, path, "path of `{raw}`");
        assert_eq!(target.query, query, "query of `{raw}`");
    }
}

#[test]
fn rejects_targets_that_are_not_an_absolute_path() {
    for raw in ["", "v1/admin", "*", "http://x/", "?q=1", "admin/../v1"] {
        let e = err(raw);
        assert!(
            matches!(e, PathError::Empty(_) | PathError::NotOriginForm(_)),
            "`{raw}` gave {e:?}"
        );
    }
}

#[test]
fn rejects_a_fragment_anywhere() {
    for raw in ["/v1/reports#x", "/v1/reports?q=1#x", "#", "/#"] {
        assert!(matches!(err(raw), PathError::Fragment(_)), "`{raw}`");
    }
}

#[test]
fn rejects_targets_longer_than_the_cap() {
    let at_cap = format!("/{}", "a".repeat(MAX_TARGET_LEN - 1));
    assert_eq!(ok(&at_cap).path.len(), MAX_TARGET_LEN);

    let over = format!("/{}", "a".repeat(MAX_TARGET_LEN));
    assert_eq!(
        err(&over),
        PathError::TooLong {
            len: MAX_TARGET_LEN + 1
        }
    );

    let long_query = format!("/a?{}", "q".repeat(MAX_TARGET_LEN));
    assert!(matches!(err(&long_query), PathError::TooLong { .. }));
}

#[test]
fn rejects_a_normalised_path_that_escaping_pushed_over_the_cap() {
    let braces = format!("/{}", "{".repeat(3000));
    assert_eq!(err(&braces), PathError::TooLong { len: 1 + 3 * 3000 });
}

#[test]
fn rejects_a_stray_percent_deterministically() {
    for raw in [
        "/files/100%",
        "/files/100%2",
        "/files/%zz",
        "/files/%g0",
        "/%",
        "/a%2/b",
    ] {
        assert!(matches!(err(raw), PathError::BadEscape(_)), "`{raw}`");
        assert_eq!(normalize(raw), normalize(raw));
    }
}

#[test]
fn decodes_only_unreserved_escapes_and_uppercases_the_rest() {
    let cases = [
        ("/v1/%72eports", "/v1/reports"),
        ("/%7e", "/~"),
        ("/%7E%2d%2E%5F", "/~-._"),
        ("/%41%5a%30%39", "/AZ09"),
        ("/x%c3%a9", "/x%C3%A9"),
        ("/a%3bb", "/a%3Bb"),
        ("/a%3fb", "/a%3Fb"),
        ("/a%23b", "/a%23b"),
        ("/a%25b", "/a%25b"),
        ("/a%252Fb", "/a%252Fb"),
        ("/a%20b", "/a%20b"),
        ("/a%21b", "/a%21b"),
        ("/a!b", "/a!b"),
        ("/a:b@c;d=e,f+g$h&i'j(k)*", "/a:b@c;d=e,f+g$h&i'j(k)*"),
    ];
    for (raw, path) in cases {
        assert_eq!(ok(raw).path, path, "`{raw}`");
    }
}

#[test]
fn escapes_characters_that_may_not_appear_raw_in_a_uri() {
    let cases = [
        ("/a{b}", "/a%7Bb%7D"),
        ("/a|b", "/a%7Cb"),
        ("/a\"b<c>", "/a%22b%3Cc%3E"),
        ("/a[0]^`", "/a%5B0%5D%5E%60"),
        ("/a%7bb%7D", "/a%7Bb%7D"),
    ];
    for (raw, path) in cases {
        assert_eq!(ok(raw).path, path, "`{raw}`");
    }
}

#[test]
fn rejects_escapes_of_slash_backslash_and_control_characters() {
    let cases = [
        ("/v1/reports%2F..%2Fadmin", "%2F"),
        ("/v1/reports%2f..%2fadmin", "%2f"),
        ("/v1%5cadmin", "%5c"),
        ("/v1%5Cadmin", "%5C"),
        ("/v1/a%00b", "%00"),
        ("/v1/a%0Ab", "%0A"),
        ("/v1/a%0db", "%0d"),
        ("/v1/a%1Fb", "%1F"),
        ("/v1/a%7fb", "%7f"),
        ("/v1/a%09b", "%09"),
    ];
    for (raw, escape) in cases {
        match err(raw) {
            PathError::ForbiddenEscape { escape: got, .. } => {
                assert_eq!(got, escape, "`{raw}`");
            }
            other => panic!("`{raw}` gave {other:?}"),
        }
    }
}

#[test]
fn rejects_raw_control_space_backslash_and_non_ascii_bytes() {
    let cases = [
        ("/v1/a\nb", "\\x0a"),
        ("/v1/a\rb", "\\x0d"),
        ("/v1/a\0b", "\\x00"),
        ("/v1/a\tb", "\\x09"),
        ("/v1/a\u{7f}b", "\\x7f"),
        ("/v1/a b", " "),
        ("/v1\\admin", "\\\\"),
        ("/v1/\u{e9}", "\\xc3"),
        ("/v1/reports?q=a b", " "),
        ("/v1/reports?q=\n", "\\x0a"),
        ("/v1/reports?q=\u{e9}", "\\xc3"),
    ];
    for (raw, byte) in cases {
        match err(raw) {
            PathError::ForbiddenByte { byte: got, .. } => assert_eq!(got, byte, "`{raw:?}`"),
            other => panic!("`{raw:?}` gave {other:?}"),
        }
    }
}

#[test]
fn merges_repeated_slashes() {
    let cases = [
        ("/v1//admin", "/v1/admin"),
        ("//v1///admin", "/v1/admin"),
        ("/v1/admin//", "/v1/admin/"),
        ("//", "/"),
        ("///?q=1", "/"),
    ];
    for (raw, path) in cases {
        assert_eq!(ok(raw).path, path, "`{raw}`");
    }
}

#[test]
fn resolves_dot_segments_after_decoding() {
    let cases = [
        ("/v1/reports/../admin/users", "/v1/admin/users"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/.%2E/b", "/b"),
        ("/a/%2E/b", "/a/b"),
        ("/a/./b/./c", "/a/b/c"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/b/../", "/a/"),
        ("/a/..", "/"),
        ("/.", "/"),
        ("/a//../b", "/b"),
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/c", "/a/..b/c"),
        ("/a/b..", "/a/b.."),
        ("/v1/reports/", "/v1/reports/"),
        ("/", "/"),
    ];
    for (raw, path) in cases {
        assert_eq!(ok(raw).path, path, "`{raw}`");
    }
}

#[test]
fn rejects_dot_segments_that_climb_above_the_root() {
    for raw in [
        "/..",
        "/../a",
        "/a/../..",
        "/a/../../b",
        "//..",
        "/%2e%2e/etc",
        "/a/./../../b",
    ] {
        assert!(matches!(err(raw), PathError::AboveRoot(_)), "`{raw}`");
    }
}

#[test]
fn rejects_dot_segments_carrying_parameters() {
    let cases = [
        "/v1/reports/..;/admin",
        "/v1/reports/.;x=1/admin",
        "/v1/..;",
        "/v1/%2e%2e;/admin",
        "/v1/..%3Bjsessionid=1/admin",
        "/v1/..%3b/admin",
        "/v1/..;/../admin",
        "/..;",
    ];
    for raw in cases {
        assert!(matches!(err(raw), PathError::DotWithParams(_)), "`{raw}`");
    }
}

#[test]
fn keeps_parameters_on_ordinary_segments() {
    let cases = [
        ("/v1/reports;v=2/x", "/v1/reports;v=2/x"),
        ("/v1/;/x", "/v1/;/x"),
        ("/v1/...;/x", "/v1/...;/x"),
        ("/v1/a.;/x", "/v1/a.;/x"),
    ];
    for (raw, path) in cases {
        assert_eq!(ok(raw).path, path, "`{raw}`");
    }
}

#[test]
fn error_messages_escape_and_truncate_the_target() {
    let hostile = format!("/{}%", "\"".repeat(500));
    let message = err(&hostile).to_string();
    assert!(message.len() < 200, "{} bytes: {message}", message.len());
    assert!(message.contains("\\\""));
    assert!(message.ends_with("…` has a `%` not followed by two hex digits"));

    assert_eq!(
        err("/files/100%").to_string(),
        "path `/files/100%` has a `%` not followed by two hex digits"
    );
    assert_eq!(
        err("/v1/reports%2F..%2Fadmin").to_string(),
        "path `/v1/reports%2F..%2Fadmin` contains the forbidden escape `%2F`"
    );
    assert_eq!(
        err("/v1/a\nb").to_string(),
        "request target `/v1/a\\x0ab` contains the forbidden byte `\\x0a`"
    );
    assert_eq!(err("v1/admin").reason_code(), "invalid_path");
}

/// Normalised paths that must come back unchanged, and never contain a
/// sequence that a second reading could interpret differently.
#[test]
fn normalising_is_idempotent_and_leaves_no_ambiguous_sequences() {
    let inputs = [
        "/v1/reports/../admin/users",
        "/a/%2e%2e/b",
        "/v1//%72eports/./x/",
        "/x%c3%a9/%7e/{a}",
        "/a/b/../../c/d/..",
        "/a%25%32%46b",
        "/;/..%2e/x",
        "/a/.%2e%2e/b",
        "/%2E%2E%2E/x",
    ];
    for raw in inputs {
        let Ok(first) = normalize(raw) else {
            continue;
        };
        let again = normalize(&first.path);
        assert_eq!(
            again,
            Ok(Target {
                path: first.path.clone(),
                query: String::new()
            }),
            "`{raw}`"
        );

        let path = first.path.to_ascii_uppercase();
        for bad in ["//", "/./", "/../", "%2F", "%5C", "%00"] {
            assert!(!path.contains(bad), "`{raw}` gave `{}`", first.path);
        }
        assert!(!path.ends_with("/.") && !path.ends_with("/.."), "`{raw}`");
    }
}

#[test]
fn an_escaped_percent_followed_by_hex_is_not_decoded_twice() {
    assert_eq!(ok("/a%252Fb").path, "/a%252Fb");
    assert_eq!(ok("/a%25%32%46b").path, "/a%252Fb");
}
