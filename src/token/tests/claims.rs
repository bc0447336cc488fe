//! Genuinely signed tokens whose claims must still be refused: holder,
//! missing or mistyped claims, chains.

use super::*;

#[test]
fn signed_tokens_with_unacceptable_claims_fail_with_the_expected_reason() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    let cases: Vec<(&str, String, &str, Result<(), &str>)> = vec![
        // Holder.
        (
            "presented by a workload other than its holder",
            fixture.mint(&origin_grant()).token,
            PAYMENTS,
            Err("token_wrong_holder"),
        ),
        (
            "presented by its holder",
            fixture.mint(&origin_grant()).token,
            ORDERS,
            Ok(()),
        ),
        (
            "cnf without a spiffe_id",
            fixture.resign(set("cnf", json!({ "x5t#S256": "abc" }))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "cnf not an object",
            fixture.resign(set("cnf", json!(ORDERS))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        // Required claims and their types.
        (
            "no txn",
            fixture.resign(set("txn", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no sub",
            fixture.resign(set("sub", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no scope",
            fixture.resign(set("scope", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no req_wl",
            fixture.resign(set("req_wl", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no jti",
            fixture.resign(set("jti", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no iat",
            fixture.resign(set("iat", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no exp",
            fixture.resign(set("exp", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no tctx",
            fixture.resign(set("tctx", Value::Null)),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "no tctx.decision_id",
            fixture.resign(|c| {
                c["tctx"].as_object_mut().unwrap().remove("decision_id");
            }),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "empty sub",
            fixture.resign(set("sub", json!(""))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "sub as an object",
            fixture.resign(set("sub", json!({ "id": FRONTEND }))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "scope as an array",
            fixture.resign(set("scope", json!(["checkout"]))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "tctx path as a number",
            fixture.resign(|c| c["tctx"]["path"] = json!(1)),
            ORDERS,
            Err("token_bad_claim"),
        ),
        (
            "rctx as a string",
            fixture.resign(set("rctx", json!("127.0.0.1"))),
            ORDERS,
            Err("token_bad_claim"),
        ),
        // Chains.
        (
            "seven actors: eight workloads, the maximum",
            fixture.resign(set("act", actors(7))),
            ORDERS,
            Ok(()),
        ),
        (
            "eight actors: nine workloads",
            fixture.resign(set("act", actors(8))),
            ORDERS,
            Err("token_chain_too_deep"),
        ),
        (
            "a thousand actors",
            fixture.resign(set("act", actors(1000))),
            ORDERS,
            Err("token_too_large"),
        ),
        (
            "actor without sub",
            fixture.resign(set("act", json!({ "act": { "sub": ORDERS } }))),
            ORDERS,
            Err("token_missing_claim"),
        ),
        (
            "actor as a string",
            fixture.resign(set("act", json!(ORDERS))),
            ORDERS,
            Err("token_bad_claim"),
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
fn a_chain_too_deep_is_refused_even_within_a_generous_size_cap() {
    let fixture = Fixture::with_settings(TokenSettings {
        max_token_bytes: 65536,
        ..TokenSettings::default()
    });

    let token = fixture.resign(set("act", actors(100)));

    let err = fixture.verify(&token, ORDERS).unwrap_err();
    assert_eq!(err, TokenError::ChainTooDeep { depth: 9, limit: 8 });
}

#[test]
fn a_holder_id_longer_than_the_limit_is_compared_through_its_hash() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let long_holder = format!("spiffe://example.org/{}", "h".repeat(300));
    let other_long = format!("spiffe://example.org/{}", "i".repeat(300));
    let minted = fixture.mint(&Grant {
        holder: Some(&long_holder),
        ..origin_grant()
    });

    let inbound = fixture.verify(&minted.token, &long_holder).unwrap();

    assert!(inbound.holder.as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(
        fixture
            .verify(&minted.token, &other_long)
            .unwrap_err()
            .reason_code(),
        "token_wrong_holder"
    );
}

#[test]
fn a_verified_token_exposes_its_context() {
    let fixture = Fixture::new(Algorithm::Es256);
    let minted = fixture.mint(&origin_grant());

    let inbound = fixture.verify(&minted.token, ORDERS).unwrap();

    assert_eq!(inbound.txn, minted.txn);
    assert_eq!(inbound.jti, minted.jti);
    assert_eq!(inbound.issuer.as_deref(), Some("seam"));
    assert_eq!(inbound.audience, TRUST_DOMAIN);
    assert_eq!(inbound.iat, T0);
    assert_eq!(inbound.exp, T0 + 60);
    assert_eq!(inbound.kid, fixture.kid);
    assert_eq!(inbound.source_address.as_deref(), Some("127.0.0.1:41000"));
    assert_eq!(
        inbound.tctx,
        TransactionContext {
            service: Some("orders".to_owned()),
            method: Some("POST".to_owned()),
            path: Some("/v1/orders".to_owned()),
            sensitivity: Some("confidential".to_owned()),
            intent: Some("checkout".to_owned()),
            decision_id: "decision-1".to_owned(),
        }
    );
}
