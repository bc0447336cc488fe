use super::*;

#[test]
fn parses_a_workload_id_into_its_parts() {
    let id = SpiffeId::parse("spiffe://example.org/ns/billing/sa/reporter").unwrap();

    assert_eq!(id.as_str(), "spiffe://example.org/ns/billing/sa/reporter");
    assert_eq!(
        id.to_string(),
        "spiffe://example.org/ns/billing/sa/reporter"
    );
    assert_eq!(id.trust_domain(), "example.org");
    assert_eq!(id.path(), "/ns/billing/sa/reporter");
    assert_eq!(
        id.namespace_and_service_account(),
        Some(("billing", "reporter"))
    );
}

#[test]
fn applies_every_spiffe_id_rule() {
    let long_path = format!("spiffe://example.org/{}", "a".repeat(2048 - 21));
    let too_long = format!("{long_path}b");
    let long_domain = format!("spiffe://{}/a", "d".repeat(255));
    let too_long_domain = format!("spiffe://{}/a", "d".repeat(256));
    assert_eq!(long_path.len(), 2048);

    let cases: Vec<(&str, &str, Option<SpiffeIdError>)> = vec![
        ("plain", "spiffe://example.org/workload", None),
        (
            "allowed punctuation",
            "spiffe://my-domain_1.example/a.b-c_D/9",
            None,
        ),
        (
            "segment starting with a dot",
            "spiffe://example.org/.x",
            None,
        ),
        ("three dots", "spiffe://example.org/...", None),
        ("uppercase path", "spiffe://example.org/NS/Billing", None),
        ("2048 bytes", &long_path, None),
        ("255-byte trust domain", &long_domain, None),
        (
            "2049 bytes",
            &too_long,
            Some(SpiffeIdError::TooLong { len: 2049 }),
        ),
        (
            "256-byte trust domain",
            &too_long_domain,
            Some(SpiffeIdError::TrustDomainTooLong { len: 256 }),
        ),
        (
            "uppercase trust domain",
            "spiffe://Example.org/a",
            Some(SpiffeIdError::TrustDomainCharacter {
                trust_domain: "Example.org".to_owned(),
                character: 'E',
            }),
        ),
        (
            "uppercase scheme",
            "SPIFFE://example.org/a",
            Some(SpiffeIdError::Scheme {
                id: "SPIFFE://example.org/a".to_owned(),
            }),
        ),
        (
            "other scheme",
            "https://example.org/a",
            Some(SpiffeIdError::Scheme {
                id: "https://example.org/a".to_owned(),
            }),
        ),
        (
            "missing slashes",
            "spiffe:example.org/a",
            Some(SpiffeIdError::Scheme {
                id: "spiffe:example.org/a".to_owned(),
            }),
        ),
        (
            "port",
            "spiffe://example.org:8443/a",
            Some(SpiffeIdError::Port {
                trust_domain: "example.org:8443".to_owned(),
            }),
        ),
        (
            "userinfo",
            "spiffe://admin@example.org/a",
            Some(SpiffeIdError::Userinfo {
                trust_domain: "admin@example.org".to_owned(),
            }),
        ),
        (
            "encoded slash",
            "spiffe://example.org/ns%2Fadmin",
            Some(SpiffeIdError::PercentEncoded {
                id: "spiffe://example.org/ns%2Fadmin".to_owned(),
            }),
        ),
        (
            "empty segment",
            "spiffe://example.org/ns//sa",
            Some(SpiffeIdError::EmptySegment {
                id: "spiffe://example.org/ns//sa".to_owned(),
            }),
        ),
        (
            "dot segment",
            "spiffe://example.org/ns/./sa",
            Some(SpiffeIdError::DotSegment {
                id: "spiffe://example.org/ns/./sa".to_owned(),
            }),
        ),
        (
            "dot-dot segment",
            "spiffe://example.org/ns/../admin",
            Some(SpiffeIdError::DotSegment {
                id: "spiffe://example.org/ns/../admin".to_owned(),
            }),
        ),
        (
            "trailing slash",
            "spiffe://example.org/ns/billing/",
            Some(SpiffeIdError::TrailingSlash {
                id: "spiffe://example.org/ns/billing/".to_owned(),
            }),
        ),
        (
            "root path only",
            "spiffe://example.org/",
            Some(SpiffeIdError::TrailingSlash {
                id: "spiffe://example.org/".to_owned(),
            }),
        ),
        (
            "query",
            "spiffe://example.org/a?b=c",
            Some(SpiffeIdError::QueryOrFragment {
                id: "spiffe://example.org/a?b=c".to_owned(),
            }),
        ),
        (
            "fragment",
            "spiffe://example.org/a#b",
            Some(SpiffeIdError::QueryOrFragment {
                id: "spiffe://example.org/a#b".to_owned(),
            }),
        ),
        (
            "trust domain only",
            "spiffe://example.org",
            Some(SpiffeIdError::MissingPath {
                id: "spiffe://example.org".to_owned(),
            }),
        ),
        (
            "empty trust domain",
            "spiffe:///a",
            Some(SpiffeIdError::EmptyTrustDomain {
                id: "spiffe:///a".to_owned(),
            }),
        ),
        (
            "space in path",
            "spiffe://example.org/a b",
            Some(SpiffeIdError::PathCharacter {
                id: "spiffe://example.org/a b".to_owned(),
                character: ' ',
            }),
        ),
        (
            "non-ASCII in path",
            "spiffe://example.org/caf\u{e9}",
            Some(SpiffeIdError::PathCharacter {
                id: "spiffe://example.org/caf\u{e9}".to_owned(),
                character: '\u{e9}',
            }),
        ),
        (
            "empty string",
            "",
            Some(SpiffeIdError::Scheme { id: String::new() }),
        ),
    ];

    for (name, input, expected) in cases {
        assert_eq!(SpiffeId::parse(input).err(), expected, "{name}");
    }
}

#[test]
fn reads_namespace_and_service_account_only_from_the_exact_shape() {
    let cases = [
        (
            "spiffe://example.org/ns/billing/sa/reporter",
            Some(("billing", "reporter")),
        ),
        ("spiffe://example.org/ns/billing/sa/reporter/extra", None),
        ("spiffe://example.org/ns/billing/sa", None),
        ("spiffe://example.org/NS/billing/SA/reporter", None),
        ("spiffe://example.org/sa/reporter/ns/billing", None),
        ("spiffe://example.org/workload", None),
    ];
    for (input, expected) in cases {
        let id = SpiffeId::parse(input).unwrap();
        assert_eq!(id.namespace_and_service_account(), expected, "{input}");
    }
}

#[test]
fn compares_ids_without_normalising_them() {
    let a = SpiffeId::parse("spiffe://example.org/ns/a").unwrap();
    let b = SpiffeId::parse("spiffe://example.org/NS/a").unwrap();

    assert_ne!(a, b);
    assert_eq!(a, "spiffe://example.org/ns/a".parse::<SpiffeId>().unwrap());
}

#[test]
fn reads_trust_domain_only_ids_for_signing_certificates() {
    assert_eq!(
        parse_trust_domain_id("spiffe://example.org"),
        Ok("example.org")
    );
    assert_eq!(
        parse_trust_domain_id("spiffe://example.org/ca"),
        Err(SpiffeIdError::UnexpectedPath {
            id: "spiffe://example.org/ca".to_owned()
        })
    );
}

#[test]
fn checks_configured_trust_domain_names() {
    assert_eq!(check_trust_domain("example.org"), Ok(()));
    assert!(check_trust_domain("").is_err());
    assert!(check_trust_domain("example.org/a").is_err());
    assert!(check_trust_domain("../etc").is_err());
    assert!(check_trust_domain("EXAMPLE.org").is_err());
}
