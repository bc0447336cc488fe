//! Tokens an attacker builds: other algorithms, other keys, altered bytes,
//! strange encodings (field case F15 and the verifier pitfalls of the
//! task-token reference).

use ring::hmac;

use super::*;

/// The public key as an attacker would fetch it: SPKI DER built from the
/// published JWK, and the raw key bytes.
fn public_key_bytes(fixture: &Fixture) -> (Vec<u8>, Vec<u8>) {
    let jwk = fixture.tokens.jwks()["keys"][0].clone();
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();

    let (prefix, raw): (&[u8], Vec<u8>) = match fixture.algorithm {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING }
        Algorithm::EdDsa => (
            &[
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ],
            coordinate("x"),
        ),
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 } BIT STRING }
        Algorithm::Es256 => (
            &[
                0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
            ],
            [vec![4], coordinate("x"), coordinate("y")].concat(),
        ),
    };
    ([prefix, &raw].concat(), raw)
}

/// The claims of a genuine token, signed with HMAC-SHA256 under `secret`,
/// with `alg` in the header.
fn hmac_forgery(fixture: &Fixture, alg: &str, secret: &[u8]) -> String {
    let genuine = fixture.mint(&origin_grant());
    let claims_segment = genuine.token.split('.').nth(1).unwrap();
    let header = json!({ "typ": TOKEN_TYPE, "alg": alg, "kid": fixture.kid });
    let message = format!(
        "{}.{claims_segment}",
        URL_SAFE_NO_PAD.encode(header.to_string())
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        message.as_bytes(),
    );
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Builds every forged token with its expected outcome.
fn forgeries(fixture: &Fixture) -> Vec<(&'static str, String, Result<(), &'static str>)> {
    let genuine = fixture.mint(&origin_grant()).token;
    let parts: Vec<&str> = genuine.split('.').collect();
    let claims_text = claims_of(&genuine).to_string();
    let header = fixture.header();
    let with_header = |edit: &dyn Fn(&mut Value)| {
        let mut h = header.clone();
        edit(&mut h);
        fixture.sign_raw(&h.to_string(), &claims_text)
    };

    let (spki_der, raw_key) = public_key_bytes(fixture);
    let spki_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki_der.clone()));
    let dir = tempfile::tempdir().unwrap();
    let other_key = KeyFile::new(&dir, "other.pem", fixture.algorithm);
    let other_ring =
        KeyRing::load(std::slice::from_ref(&other_key.path), fixture.algorithm).unwrap();
    let other_kid = other_ring.signing_kid().unwrap().to_owned();

    let mut altered_claims = claims_of(&genuine);
    altered_claims["sub"] = json!(PAYMENTS);
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(altered_claims.to_string()),
        parts[2]
    );
    let unsigned_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({ "typ": TOKEN_TYPE, "alg": "none", "kid": fixture.kid }).to_string()),
        parts[1]
    );
    let mut trailing_bits = genuine.clone();
    trailing_bits.pop();
    trailing_bits.push('B');

    vec![
        ("genuine token", genuine.clone(), Ok(())),
        ("alg none with empty signature", unsigned_none, Err("token_bad_header")),
        (
            "alg none keeping the original signature",
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(json!({ "typ": TOKEN_TYPE, "alg": "none", "kid": fixture.kid }).to_string()), parts[1], parts[2]),
            Err("token_bad_header"),
        ),
        ("HS256 keyed with the public key PEM", hmac_forgery(fixture, "HS256", spki_pem.as_bytes()), Err("token_bad_header")),
        ("HS256 keyed with the public key DER", hmac_forgery(fixture, "HS256", &spki_der), Err("token_bad_header")),
        ("HS256 keyed with the raw public key", hmac_forgery(fixture, "HS256", &raw_key), Err("token_bad_header")),
        (
            "HMAC over the public key PEM under the configured alg",
            hmac_forgery(fixture, fixture.algorithm.jws_name(), spki_pem.as_bytes()),
            Err("token_bad_signature"),
        ),
        (
            "right kid, another key's signature",
            fixture.sign_raw_with(&other_key, fixture.algorithm, &header.to_string(), &claims_text),
            Err("token_bad_signature"),
        ),
        (
            "another key announcing itself by its own kid",
            fixture.sign_raw_with(
                &other_key,
                fixture.algorithm,
                &json!({ "typ": TOKEN_TYPE, "alg": fixture.algorithm.jws_name(), "kid": other_kid }).to_string(),
                &claims_text,
            ),
            Err("token_unknown_key"),
        ),
        (
            "another key embedded as jwk under our kid",
            fixture.sign_raw_with(
                &other_key,
                fixture.algorithm,
                &json!({ "typ": TOKEN_TYPE, "alg": fixture.algorithm.jws_name(), "kid": fixture.kid, "jwk": other_ring.jwks()["keys"][0] }).to_string(),
                &claims_text,
            ),
            Err("token_bad_signature"),
        ),
        ("claims altered after signing", altered, Err("token_bad_signature")),
        ("signature cut off", format!("{}.{}.", parts[0], parts[1]), Err("token_bad_signature")),
        ("signature with non-canonical trailing bits", trailing_bits, Err("token_malformed")),
        ("typ JWT", with_header(&|h| h["typ"] = json!("JWT")), Err("token_bad_header")),
        ("typ missing", with_header(&|h| { h.as_object_mut().unwrap().remove("typ"); }), Err("token_bad_header")),
        ("typ with media type prefix and other case", with_header(&|h| h["typ"] = json!("application/TxnToken+JWT")), Ok(())),
        ("alg in lower case", with_header(&|h| h["alg"] = json!(fixture.algorithm.jws_name().to_lowercase())), Err("token_bad_header")),
        ("alg of the other supported algorithm", with_header(&|h| h["alg"] = json!(if fixture.algorithm == Algorithm::EdDsa { "ES256" } else { "EdDSA" })), Err("token_bad_header")),
        ("kid missing", with_header(&|h| { h.as_object_mut().unwrap().remove("kid"); }), Err("token_bad_header")),
        ("kid not a string", with_header(&|h| h["kid"] = json!(1)), Err("token_bad_header")),
        ("kid unknown", with_header(&|h| h["kid"] = json!("retired-or-never-issued")), Err("token_unknown_key")),
        ("crit extension", with_header(&|h| h["crit"] = json!(["exp"])), Err("token_bad_header")),
        (
            "header naming alg twice",
            fixture.sign_raw(
                &format!(r#"{{"typ":"{TOKEN_TYPE}","alg":"{}","alg":"none","kid":"{}"}}"#, fixture.algorithm.jws_name(), fixture.kid),
                &claims_text,
            ),
            Err("token_malformed"),
        ),
        ("header not JSON", fixture.sign_raw("not json", &claims_text), Err("token_malformed")),
        ("header a JSON array", fixture.sign_raw("[]", &claims_text), Err("token_malformed")),
        ("claims a JSON array", fixture.sign_raw(&header.to_string(), "[1]"), Err("token_malformed")),
        ("claims not JSON", fixture.sign_raw(&header.to_string(), "{\"sub\":"), Err("token_malformed")),
    ]
}

#[test]
fn forged_tokens_fail_with_the_expected_reason() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let fixture = Fixture::new(algorithm);

        for (name, token, expected) in forgeries(&fixture) {
            let outcome = fixture
                .verify(&token, ORDERS)
                .map(|_| ())
                .map_err(|e| e.reason_code());
            assert_eq!(outcome, expected, "{algorithm}: {name}");
        }
    }
}

#[test]
fn tokens_that_are_not_compact_base64url_fail_as_malformed_before_any_key_is_used() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let genuine = fixture.mint(&origin_grant()).token;
    let parts: Vec<&str> = genuine.split('.').collect();
    let header = parts[0];

    let cases = [
        (
            "standard alphabet plus",
            format!("{}+.{}.{}", header, parts[1], parts[2]),
        ),
        (
            "standard alphabet slash",
            format!("{}/.{}.{}", header, parts[1], parts[2]),
        ),
        ("padding", format!("{}==.{}.{}", header, parts[1], parts[2])),
        ("space", format!("{} .{}.{}", header, parts[1], parts[2])),
        (
            "percent encoding",
            format!("{}%3D.{}.{}", header, parts[1], parts[2]),
        ),
        (
            "non-ASCII",
            format!("{}é.{}.{}", header, parts[1], parts[2]),
        ),
        ("newline at the end", format!("{genuine}\n")),
        ("bearer prefix", format!("Bearer {genuine}")),
        ("two segments", format!("{}.{}", header, parts[1])),
        ("four segments", format!("{genuine}.{}", parts[2])),
        ("empty header", format!(".{}.{}", parts[1], parts[2])),
        ("empty claims", format!("{}..{}", header, parts[2])),
        (
            "impossible base64 length",
            format!(
                "{}A.{}.{}",
                &header[..header.len() - (header.len() % 4)],
                parts[1],
                parts[2]
            ),
        ),
        ("empty string", String::new()),
    ];

    for (name, token) in cases {
        let err = fixture.verify(&token, ORDERS).unwrap_err();
        assert_eq!(err.reason_code(), "token_malformed", "{name}: {err}");
    }
}

#[test]
fn an_oversized_token_is_refused_before_it_is_decoded() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let padded = fixture.resign(|claims| claims["pad"] = json!("p".repeat(4096)));
    let garbage = "%".repeat(4097);

    for token in [padded, garbage, "A".repeat(1_000_000)] {
        let err = fixture.verify(&token, ORDERS).unwrap_err();
        assert_eq!(
            err,
            TokenError::TooLarge {
                size: token.len(),
                limit: 4096
            }
        );
    }
}

#[test]
fn error_messages_cut_long_values_taken_from_a_token() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let long_kid = "k".repeat(2000);
    let token = fixture.sign_raw(
        &json!({ "typ": TOKEN_TYPE, "alg": "EdDSA", "kid": long_kid }).to_string(),
        "{}",
    );

    let err = fixture.verify(&token, ORDERS).unwrap_err();

    assert_eq!(err.reason_code(), "token_unknown_key");
    assert!(err.to_string().len() < 200, "{err}");
}
