use super::*;

fn ok(raw: &str, scheme: &str) -> Host {
    match normalize(raw, scheme) {
        Ok(host) => host,
        Err(e) => panic!("`{raw}` over `{scheme}` was refused: {e}"),
    }
}

fn err(raw: &str, scheme: &str) -> HostError {
    match normalize(raw, scheme) {
        Ok(host) => panic!("`{raw}` over `{scheme}` was accepted as {host:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_spelling_of_the_payroll_host_reads_the_same() {
    for raw in [
        "PAYROLL.Internal.Example",
        "payroll.internal.example:443",
        "payroll.internal.example.",
        "Payroll.Internal.Example.:443",
        "payroll.internal.example:0443",
    ] {
        let host = ok(raw, "https");
        assert_eq!(host.host, "payroll.internal.example", "`{raw}`");
        assert_eq!(host.name, "payroll.internal.example", "`{raw}`");
        assert_eq!(host.port, 443, "`{raw}`");
        assert_eq!(host.raw, raw);
    }
}

#[test]
fn keeps_a_port_that_is_not_the_scheme_default() {
    let host = ok("reports.internal.example:8443", "https");
    assert_eq!(
        host,
        Host {
            raw: "reports.internal.example:8443".to_string(),
            host: "reports.internal.example:8443".to_string(),
            name: "reports.internal.example".to_string(),
            port: 8443,
            explicit_port: true,
        }
    );

    let http_on_443 = ok("reports.internal.example:443", "http");
    assert_eq!(http_on_443.host, "reports.internal.example:443");
    assert_eq!(http_on_443.port, 443);

    let https_on_80 = ok("reports.internal.example:80", "https");
    assert_eq!(https_on_80.host, "reports.internal.example:80");
}

#[test]
fn the_scheme_default_fills_in_a_missing_port() {
    let cases = [
        ("https", 443, "reports.internal.example"),
        ("http", 80, "reports.internal.example"),
        ("", 0, "reports.internal.example"),
        ("gopher", 0, "reports.internal.example"),
    ];
    for (scheme, port, host) in cases {
        let got = ok("reports.internal.example", scheme);
        assert_eq!(
            (got.host.as_str(), got.port, got.explicit_port),
            (host, port, false),
            "`{scheme}`"
        );
    }

    let stripped = ok("reports.internal.example:443", "https");
    assert_eq!((stripped.port, stripped.explicit_port), (443, true));
}

#[test]
fn both_web_ports_count_as_default_when_the_scheme_is_unknown() {
    for scheme in ["", "ws", "HTTPX"] {
        for (raw, port) in [("a.example:80", 80), ("a.example:443", 443)] {
            let host = ok(raw, scheme);
            assert_eq!(host.host, "a.example", "`{raw}` over `{scheme}`");
            assert_eq!((host.port, host.explicit_port), (port, true));
        }
        assert_eq!(ok("a.example:8080", scheme).host, "a.example:8080");
    }
}

#[test]
fn rejects_userinfo_spaces_slashes_escapes_and_non_ascii() {
    let cases = [
        ("admin@payroll.internal.example", "userinfo"),
        ("payroll.internal.example@evil.example", "userinfo"),
        ("payroll internal.example", " "),
        ("payroll.internal.example/x", "/"),
        ("payroll.internal.example\\x", "\\\\"),
        ("payroll%2einternal.example", "%"),
        ("p\u{e1}yroll.example", "\\xc3\\xa1"),
        ("payroll.internal.example\t", "\\x09"),
        ("payroll.internal.example\0", "\\x00"),
        ("payroll*.example", "*"),
        ("payroll.example,evil.example", ","),
        ("[::1", "ipv6"),
    ];
    for (raw, what) in cases {
        let e = err(raw, "https");
        let matched = match (&e, what) {
            (HostError::Userinfo(_), "userinfo") => true,
            (HostError::BadIpv6(_), "ipv6") => true,
            (HostError::ForbiddenChar { character, .. }, c) => character == c,
            _ => false,
        };
        assert!(matched, "`{raw:?}` gave {e:?}");
    }
}

#[test]
fn rejects_empty_hosts_and_empty_labels() {
    assert_eq!(err("", "https"), HostError::Empty);
    for raw in ["a..b", ".a", ".", "..", "a.b..", ":443", ".:443"] {
        assert!(
            matches!(err(raw, "https"), HostError::EmptyLabel(_)),
            "`{raw}`"
        );
    }
}

#[test]
fn removes_only_one_trailing_dot() {
    assert_eq!(ok("a.example.", "https").name, "a.example");
    assert!(matches!(
        err("a.example..", "https"),
        HostError::EmptyLabel(_)
    ));
}

#[test]
fn rejects_ports_that_are_not_plain_decimal_in_range() {
    for raw in [
        "a.example:",
        "a.example:0",
        "a.example:00000",
        "a.example:65536",
        "a.example:99999",
        "a.example:-1",
        "a.example:+443",
        "a.example:443 ",
        "a.example:0x1bb",
        "a.example:000443",
        "a.example:١٢٣",
        "[::1]:",
        "[::1]:70000",
    ] {
        assert!(
            matches!(err(raw, "https"), HostError::BadPort(_)),
            "`{raw}`"
        );
    }
    assert_eq!(ok("a.example:65535", "https").port, 65535);
    assert_eq!(ok("a.example:1", "https").port, 1);
}

#[test]
fn accepts_a_name_of_exactly_the_maximum_length() {
    let label = "a".repeat(63);
    let name = format!("{label}.{label}.{label}.{}", "b".repeat(63));
    assert_eq!(name.len(), MAX_NAME_LEN);
    assert_eq!(ok(&name, "https").name, name);
    assert_eq!(
        ok(&format!("{name}.:8443"), "https").host,
        format!("{name}:8443")
    );

    let longer = format!("{name}c");
    assert!(matches!(err(&longer, "https"), HostError::TooLong(_)));
    assert!(matches!(
        err(&"a".repeat(10_000), "https"),
        HostError::TooLong(_)
    ));
}

#[test]
fn normalises_bracketed_ipv6_to_its_canonical_form() {
    let cases = [
        ("[::1]:8443", "https", "[::1]:8443", "[::1]", 8443),
        ("[::1]", "https", "[::1]", "[::1]", 443),
        ("[0:0:0:0:0:0:0:1]:443", "https", "[::1]", "[::1]", 443),
        (
            "[2001:DB8::0:1]",
            "http",
            "[2001:db8::1]",
            "[2001:db8::1]",
            80,
        ),
        (
            "[::FFFF:192.0.2.1]:80",
            "http",
            "[::ffff:192.0.2.1]",
            "[::ffff:192.0.2.1]",
            80,
        ),
    ];
    for (raw, scheme, host, name, port) in cases {
        let got = ok(raw, scheme);
        assert_eq!(
            (got.host.as_str(), got.name.as_str(), got.port),
            (host, name, port),
            "`{raw}`"
        );
    }
}

#[test]
fn rejects_unbracketed_or_malformed_ipv6() {
    for raw in ["::1", "2001:db8::1", "::1:443", "a:b:c"] {
        assert!(
            matches!(err(raw, "https"), HostError::UnbracketedIpv6(_)),
            "`{raw}`"
        );
    }
    for raw in [
        "[::1]x",
        "[::1]]",
        "[fe80::1%25eth0]",
        "[1.2.3.4]",
        "[]",
        "[::1",
        "[a.example]",
    ] {
        assert!(
            matches!(err(raw, "https"), HostError::BadIpv6(_)),
            "`{raw}`"
        );
    }
}

#[test]
fn keeps_valid_ipv4_and_rejects_other_numeric_names() {
    let v4 = ok("192.0.2.10:8080", "http");
    assert_eq!(
        (v4.host.as_str(), v4.name.as_str(), v4.port),
        ("192.0.2.10:8080", "192.0.2.10", 8080)
    );
    assert_eq!(ok("127.0.0.1.", "http").name, "127.0.0.1");

    for raw in [
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "010.0.0.1",
        "1.2.3.256",
        "1.2.3.4.5",
        "a.123",
        "0X7F.1",
    ] {
        assert!(matches!(err(raw, "http"), HostError::BadIpv4(_)), "`{raw}`");
    }
    assert_eq!(ok("123.example", "http").name, "123.example");
    assert_eq!(ok("0xdead.example", "http").name, "0xdead.example");
}

#[test]
fn accepts_underscores_and_hyphens_in_names() {
    assert_eq!(
        ok("_svc.My-Host.example", "https").name,
        "_svc.my-host.example"
    );
}

#[test]
fn error_messages_escape_and_truncate_the_host() {
    let hostile = format!("{}@x", "\u{1b}".repeat(40));
    let message = err(&hostile, "https").to_string();
    assert!(message.len() < 160, "{message}");
    assert!(message.starts_with("host `\\x1b\\x1b"));
    assert!(message.contains('…'));

    assert_eq!(
        err("payroll.internal.example:", "https").to_string(),
        "host `payroll.internal.example:` has an invalid port"
    );
    assert_eq!(err("a..b", "https").reason_code(), "invalid_host");
}

#[test]
fn normalising_the_normalised_host_changes_nothing() {
    for (raw, scheme) in [
        ("PAYROLL.Internal.Example.:443", "https"),
        ("Reports.Internal.Example:8443", "https"),
        ("[0::1]:80", "http"),
        ("192.0.2.1:443", ""),
    ] {
        let first = ok(raw, scheme);
        let again = ok(&first.host, scheme);
        assert_eq!(
            (&again.host, &again.name),
            (&first.host, &first.name),
            "`{raw}`"
        );
    }
}
