//! Key rotation and trusted issuers.

use super::*;

fn load(files: &[&KeyFile]) -> KeyRing {
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    KeyRing::load(&paths, Algorithm::EdDsa).unwrap()
}

#[test]
fn old_and_new_keys_both_verify_until_the_old_one_is_retired() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let old = &fixture.key;
    let new = KeyFile::new(&fixture.dir, "signing-2.pem", Algorithm::EdDsa);
    let before = fixture.mint(&origin_grant());

    // Overlap: both keys in the ring, the new one (last) signs.
    fixture.tokens.replace_keys(load(&[old, &new]));
    let during = fixture.mint(&origin_grant());
    let published: Vec<String> = fixture.tokens.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    assert_ne!(during.kid, before.kid);
    assert_eq!(published, [before.kid.clone(), during.kid.clone()]);
    assert!(fixture.verify(&before.token, ORDERS).is_ok());
    assert!(fixture.verify(&during.token, ORDERS).is_ok());

    // Retired: only the new key is left.
    fixture.tokens.replace_keys(load(&[&new]));

    let err = fixture.verify(&before.token, ORDERS).unwrap_err();
    assert_eq!(err.reason_code(), "token_unknown_key");
    assert!(fixture.verify(&during.token, ORDERS).is_ok());
    assert_eq!(fixture.mint(&origin_grant()).kid, during.kid);
}

#[test]
fn verification_keeps_working_while_keys_are_replaced() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let new = KeyFile::new(&fixture.dir, "signing-2.pem", Algorithm::EdDsa);
    let token = fixture.mint(&origin_grant()).token;

    std::thread::scope(|scope| {
        let verifiers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| (0..50).all(|_| fixture.verify(&token, ORDERS).is_ok())))
            .collect();
        for _ in 0..20 {
            fixture.tokens.replace_keys(load(&[&fixture.key, &new]));
        }
        for verifier in verifiers {
            assert!(verifier.join().unwrap());
        }
    });
}

#[test]
fn tokens_of_a_trusted_issuer_verify_by_its_published_keys() {
    let issuer = Fixture::new(Algorithm::EdDsa);
    let foreign = issuer.mint(&origin_grant());
    let trusted = KeyRing::from_jwks(&issuer.tokens.jwks(), Algorithm::EdDsa).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let own = KeyFile::new(&dir, "own.pem", Algorithm::EdDsa);
    let clock = FixedClock::new(at(T0));

    let trusting = Tokens::new(eddsa(), load(&[&own]), vec![trusted], clock.clone());
    let stranger = Tokens::new(eddsa(), load(&[&own]), Vec::new(), clock);

    assert_eq!(
        trusting
            .verify(&foreign.token, TRUST_DOMAIN, ORDERS)
            .unwrap()
            .txn,
        foreign.txn
    );
    assert_eq!(
        stranger
            .verify(&foreign.token, TRUST_DOMAIN, ORDERS)
            .unwrap_err()
            .reason_code(),
        "token_unknown_key"
    );
    // Trusting an issuer's keys does not publish them as seam's own.
    assert_eq!(trusting.jwks()["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn keys_of_another_algorithm_are_never_used() {
    let es256 = Fixture::new(Algorithm::Es256);
    let foreign = es256.mint(&origin_grant());
    // An ES256 ring handed to an EdDSA verifier as trusted.
    let es256_ring = KeyRing::from_jwks(&es256.tokens.jwks(), Algorithm::Es256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let own = KeyFile::new(&dir, "own.pem", Algorithm::EdDsa);
    let verifier = Tokens::new(
        eddsa(),
        load(&[&own]),
        vec![es256_ring],
        FixedClock::new(at(T0)),
    );

    let err = verifier
        .verify(&foreign.token, TRUST_DOMAIN, ORDERS)
        .unwrap_err();

    assert_eq!(err.reason_code(), "token_bad_header");
}

fn eddsa() -> TokenSettings {
    TokenSettings {
        algorithm: Algorithm::EdDsa,
        ..TokenSettings::default()
    }
}
