use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn jwt(claims: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims);
    format!("Bearer {header}.{payload}.c2lnbmF0dXJl")
}

fn kind(value: &str) -> (Kind, bool, bool) {
    let c = classify_authorization(value, NOW, DAY);
    (c.kind, c.lacks_expiry, c.long_lived)
}

#[test]
fn authorization_values_are_classified() {
    let cases: Vec<(String, (Kind, bool, bool))> = vec![
        (
            jwt(r#"{"sub":"ci","iat":1800000000,"exp":1800000600}"#),
            (Kind::BearerJwt, false, false),
        ),
        (jwt(r#"{"sub":"ci"}"#), (Kind::BearerJwt, true, true)),
        (
            jwt(r#"{"iat":1700000000,"exp":1900000000}"#),
            (Kind::BearerJwt, false, true),
        ),
        (
            jwt(r#"{"exp":1800000060}"#),
            (Kind::BearerJwt, false, false),
        ),
        (jwt(r#"{"exp":1900000000}"#), (Kind::BearerJwt, false, true)),
        (
            jwt(r#"{"iat":1.8e9,"exp":1800000600.5}"#),
            (Kind::BearerJwt, false, false),
        ),
        (jwt(r#"{"exp":1e300}"#), (Kind::BearerJwt, false, true)),
        (jwt(r#"{"exp":"tomorrow"}"#), (Kind::BearerJwt, true, true)),
        (
            jwt(r#"["not","an","object"]"#),
            (Kind::Bearer, false, false),
        ),
        ("Bearer abc.def".into(), (Kind::Bearer, false, false)),
        ("Bearer a.b.c.d".into(), (Kind::Bearer, false, false)),
        ("Bearer !!!.???.***".into(), (Kind::Bearer, false, false)),
        ("bearer sk_live_123".into(), (Kind::Bearer, false, false)),
        ("Basic dXNlcjpwYXNz".into(), (Kind::Basic, false, false)),
        ("Bearer".into(), (Kind::Other, false, false)),
        ("Negotiate abc".into(), (Kind::Other, false, false)),
        // The same never-expiring JWT however it is dressed.
        (
            jwt(r#"{"sub":"ci"}"#).replace("Bearer ", "Token "),
            (Kind::Other, true, true),
        ),
        (
            jwt(r#"{"sub":"ci"}"#).replace("Bearer ", ""),
            (Kind::Other, true, true),
        ),
        (
            format!("{}.", jwt(r#"{"sub":"ci"}"#)),
            (Kind::BearerJwt, true, true),
        ),
        (
            jwt(r#"{"sub":"ci"}"#).replace("Bearer ", "BEARER   "),
            (Kind::BearerJwt, true, true),
        ),
        (
            format!("Bearer {}", "a".repeat(20_000)),
            (Kind::Other, false, false),
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(kind(&value), expected, "{value:.60}");
    }
}

#[test]
fn a_jwt_header_must_name_an_algorithm() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":1800000060}"#);
    assert_eq!(
        kind(&format!("Bearer {header}.{payload}.x")).0,
        Kind::Bearer
    );
}

#[test]
fn an_api_key_that_is_a_jwt_is_flagged_by_its_lifetime() {
    let never = jwt(r#"{"sub":"ci"}"#).replace("Bearer ", "");
    let short = jwt(r#"{"iat":1800000000,"exp":1800000600}"#).replace("Bearer ", "");
    let cases = [
        (never.as_str(), (true, true)),
        (short.as_str(), (false, false)),
        ("sk_live_0123456789", (false, false)),
    ];
    for (value, (lacks, long)) in cases {
        let c = with_jwt_flags(Kind::ApiKey, value, NOW, DAY);
        assert_eq!(
            (c.kind, c.lacks_expiry, c.long_lived),
            (Kind::ApiKey, lacks, long),
            "{value:.40}"
        );
    }
}
