//! Genuinely signed tokens outside their time window or for another
//! audience.

use super::*;

#[test]
fn signed_tokens_outside_their_window_or_audience_fail_with_the_expected_reason() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let exp = format!("\"exp\":{}", T0 + 60);
    let iat = format!("\"iat\":{T0}");

    let cases: Vec<(&str, String, &str, Result<(), &str>)> = vec![
        // Time, with the default 30 s leeway, clock at T0.
        (
            "issued 31 s ahead",
            fixture.resign(|c| {
                c["iat"] = json!(T0 + 31);
                c["nbf"] = json!(T0 + 31);
                c["exp"] = json!(T0 + 91);
            }),
            ORDERS,
            Err("token_issued_in_future"),
        ),
        (
            "issued 30 s ahead, within leeway",
            fixture.resign(|c| {
                c["iat"] = json!(T0 + 30);
                c["nbf"] = json!(T0 + 30);
                c["exp"] = json!(T0 + 90);
            }),
            ORDERS,
            Ok(()),
        ),
        (
            "valid only from 120 s ahead",
            fixture.resign(set("nbf", json!(T0 + 120))),
            ORDERS,
            Err("token_not_yet_valid"),
        ),
        (
            "no nbf",
            fixture.resign(set("nbf", Value::Null)),
            ORDERS,
            Ok(()),
        ),
        (
            "expired 30 s ago",
            fixture.resign(|c| {
                c["iat"] = json!(T0 - 90);
                c["nbf"] = json!(T0 - 90);
                c["exp"] = json!(T0 - 30);
            }),
            ORDERS,
            Err("token_expired"),
        ),
        (
            "expired 29 s ago, within leeway",
            fixture.resign(|c| {
                c["iat"] = json!(T0 - 89);
                c["nbf"] = json!(T0 - 89);
                c["exp"] = json!(T0 - 29);
            }),
            ORDERS,
            Ok(()),
        ),
        (
            "negative exp",
            fixture.resign(set("exp", json!(-1))),
            ORDERS,
            Err("token_expired"),
        ),
        (
            "lifetime over five minutes",
            fixture.resign(set("exp", json!(T0 + 301))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "exp before iat",
            fixture.resign(|c| {
                c["iat"] = json!(T0 + 10);
                c["exp"] = json!(T0 + 5);
            }),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "float exp",
            replaced(&fixture, &exp, &format!("\"exp\":{}.5", T0 + 60)),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "float exp with zero fraction",
            replaced(&fixture, &exp, &format!("\"exp\":{}.0", T0 + 60)),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "exp in exponent notation",
            replaced(&fixture, &exp, "\"exp\":1.76722566e9"),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "exp beyond 64 bits",
            replaced(&fixture, &exp, "\"exp\":18446744073709551616"),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "exp as a string",
            fixture.resign(set("exp", json!((T0 + 60).to_string()))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "float iat",
            replaced(&fixture, &iat, &format!("\"iat\":{T0}.25")),
            ORDERS,
            Err("token_bad_claim"),
        ),
        // Audience.
        (
            "no aud",
            fixture.resign(set("aud", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "another trust domain's aud",
            fixture.resign(set("aud", json!("other.example"))),
            ORDERS,
            Err("token_wrong_audience"),
        ),
        (
            "aud differing in case",
            fixture.resign(set("aud", json!("EXAMPLE.ORG"))),
            ORDERS,
            Err("token_wrong_audience"),
        ),
        (
            "aud as a SPIFFE URI",
            fixture.resign(set("aud", json!("spiffe://example.org"))),
            ORDERS,
            Err("token_wrong_audience"),
        ),
        (
            "aud as a one-member array",
            fixture.resign(set("aud", json!([TRUST_DOMAIN]))),
            ORDERS,
            Ok(()),
        ),
        (
            "aud naming two trust domains",
            fixture.resign(set("aud", json!([TRUST_DOMAIN, "other.example"]))),
            ORDERS,
            Err("token_wrong_audience"),
        ),
        (
            "aud as an empty array",
            fixture.resign(set("aud", json!([]))),
            ORDERS,
            Err("token_wrong_audience"),
        ),
        (
            "aud as a number",
            fixture.resign(set("aud", json!(7))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "aud named twice",
            replaced(&fixture, "\"aud\":", "\"aud\":\"other.example\",\"aud\":"),
            ORDERS,
            Err("token_malformed"),
        ),
    ];

    for (name, token, presenter, expected) in cases {
        let outcome = fixture
            .verify(&token, presenter)
            .map(|_| ())
            .map_err(|e| e.reason_code());
        assert_eq!(outcome, expected, "{name}");
    }
}

#[test]
fn a_token_expires_at_exp_plus_leeway_on_the_verifier_clock() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let minted = fixture.mint(&origin_grant());

    fixture.clock.set(at(T0 + 60 + 29));
    assert!(fixture.verify(&minted.token, ORDERS).is_ok());

    fixture.clock.set(at(T0 + 60 + 30));
    let err = fixture.verify(&minted.token, ORDERS).unwrap_err();
    assert_eq!(
        err,
        TokenError::Expired {
            exp: T0 + 60,
            now: T0 + 90
        }
    );
}
