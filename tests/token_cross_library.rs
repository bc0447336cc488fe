//! Tokens seam issues verify with a second, independent JWT library
//! (jwt-compact, with its own Ed25519 and P-256 code), using nothing but the
//! JWK set seam publishes: what another workload's verifier would do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_compact::alg::{Ed25519, Es256};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::prelude::*;
use jwt_compact::{Algorithm as JwtAlgorithm, ValidationError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use seam::clock::FixedClock;
use seam::token::{Algorithm, Grant, KeyRing, TokenSettings, Tokens};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;
const TRUST_DOMAIN: &str = "example.org";
const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
const PAYMENTS: &str = "spiffe://example.org/ns/shop/sa/payments";

/// The Txn-Token claims, as the other library reads them.
#[derive(Debug, Deserialize)]
struct TxnClaims {
    iss: String,
    aud: String,
    sub: String,
    txn: String,
    jti: String,
    scope: String,
    req_wl: String,
    tctx: Value,
    cnf: Option<Value>,
    act: Option<Value>,
}

fn issuer(algorithm: Algorithm) -> Tokens {
    let settings = TokenSettings {
        algorithm,
        ..TokenSettings::default()
    };
    let clock = FixedClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0 as u64));
    Tokens::new(
        settings,
        KeyRing::generate(algorithm).unwrap(),
        Vec::new(),
        clock,
    )
}

fn grant() -> Grant<'static> {
    Grant {
        audience: TRUST_DOMAIN,
        caller: FRONTEND,
        holder: Some(ORDERS),
        service: "orders",
        method: "POST",
        path: "/v1/orders",
        sensitivity: "confidential",
        intent: Some("checkout"),
        decision_id: "decision-1",
        source_address: "127.0.0.1:41000",
        parent: None,
    }
}

/// The published key named by the token's `kid`, parsed by the other
/// library.
fn published_key(jwks: &Value, token: &UntrustedToken<'_>) -> JsonWebKey<'static> {
    let kid = token.header().key_id.as_deref().expect("kid in header");
    let entry = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid published in the JWK set");
    serde_json::from_value(entry.clone()).unwrap()
}

/// Verifies with the other library's implementation of `algorithm`.
fn verify_elsewhere(
    algorithm: Algorithm,
    jwks: &Value,
    token: &str,
) -> Result<Token<TxnClaims>, ValidationError> {
    let untrusted = UntrustedToken::new(token).unwrap();
    let jwk = published_key(jwks, &untrusted);

    match algorithm {
        Algorithm::EdDsa => {
            let key = <Ed25519 as JwtAlgorithm>::VerifyingKey::try_from(&jwk).unwrap();
            Ed25519.validator::<TxnClaims>(&key).validate(&untrusted)
        }
        Algorithm::Es256 => {
            let key = <Es256 as JwtAlgorithm>::VerifyingKey::try_from(&jwk).unwrap();
            Es256.validator::<TxnClaims>(&key).validate(&untrusted)
        }
    }
}

#[test]
fn issued_tokens_verify_with_another_jwt_library_from_the_published_jwks() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let tokens = issuer(algorithm);
        let jwks = tokens.jwks();

        let minted = tokens.mint(&grant()).unwrap();
        let verified = verify_elsewhere(algorithm, &jwks, &minted.token).unwrap();

        let header = verified.header();
        assert_eq!(
            header.token_type.as_deref(),
            Some("txntoken+jwt"),
            "{algorithm}"
        );
        assert_eq!(header.key_id.as_deref(), Some(minted.kid.as_str()));
        let claims = verified.claims();
        assert_eq!(claims.issued_at.unwrap().timestamp(), T0);
        assert_eq!(claims.not_before.unwrap().timestamp(), T0);
        assert_eq!(claims.expiration.unwrap().timestamp(), T0 + 60);
        let custom = &claims.custom;
        assert_eq!(custom.iss, "seam");
        assert_eq!(custom.aud, TRUST_DOMAIN);
        assert_eq!(custom.sub, FRONTEND);
        assert_eq!(custom.req_wl, FRONTEND);
        assert_eq!(custom.scope, "checkout");
        assert_eq!(custom.txn, minted.txn);
        assert_eq!(custom.jti, minted.jti);
        assert_eq!(custom.tctx["decision_id"], "decision-1");
        assert_eq!(custom.cnf, Some(json!({ "spiffe_id": ORDERS })));
        assert_eq!(custom.act, None);
    }
}

#[test]
fn a_replacement_token_verifies_with_another_jwt_library_and_shows_its_actor() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let tokens = issuer(algorithm);
        let first = tokens.mint(&grant()).unwrap();
        let at_orders = tokens.verify(&first.token, TRUST_DOMAIN, ORDERS).unwrap();
        let next = Grant {
            caller: ORDERS,
            holder: Some(PAYMENTS),
            intent: None,
            decision_id: "decision-2",
            parent: Some(&at_orders),
            ..grant()
        };

        let replacement = tokens.mint(&next).unwrap();
        let verified = verify_elsewhere(algorithm, &tokens.jwks(), &replacement.token).unwrap();

        let custom = &verified.claims().custom;
        assert_eq!(custom.txn, first.txn, "{algorithm}");
        assert_eq!(custom.sub, FRONTEND);
        assert_eq!(custom.req_wl, ORDERS);
        assert_eq!(custom.act, Some(json!({ "sub": ORDERS })));
        assert_eq!(custom.cnf, Some(json!({ "spiffe_id": PAYMENTS })));
    }
}

#[test]
fn the_other_library_rejects_an_altered_token_too() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let tokens = issuer(algorithm);
        let minted = tokens.mint(&grant()).unwrap();
        let parts: Vec<&str> = minted.token.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["scope"] = json!("admin");
        let altered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );

        let outcome = verify_elsewhere(algorithm, &tokens.jwks(), &altered);

        assert!(
            matches!(outcome, Err(ValidationError::InvalidSignature)),
            "{algorithm}: {outcome:?}"
        );
    }
}

#[test]
fn published_kids_are_the_rfc_7638_thumbprints_the_other_library_computes() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let ring = KeyRing::generate(algorithm).unwrap();
        let jwks = ring.jwks();
        let entry = &jwks["keys"][0];
        let jwk: JsonWebKey<'_> = serde_json::from_value(entry.clone()).unwrap();

        // The other library renders the JWK in its RFC 7638 canonical form.
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.to_string().as_bytes()));

        assert_eq!(entry["kid"], thumbprint.as_str(), "{algorithm}");
    }
}
