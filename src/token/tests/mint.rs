//! What an issued token carries.

use super::*;

#[test]
fn issued_tokens_carry_the_configured_alg_a_published_kid_and_the_txn_token_type() {
    for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
        let fixture = Fixture::new(algorithm);

        let minted = fixture.mint(&origin_grant());

        let header = header_of(&minted.token);
        assert_eq!(header["typ"], "txntoken+jwt");
        assert_eq!(header["alg"], algorithm.jws_name());
        let kid = header["kid"].as_str().unwrap();
        assert_eq!(kid, minted.kid);
        let jwks = fixture.tokens.jwks();
        let published: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(published, [kid]);
        assert_eq!(jwks["keys"][0]["alg"], algorithm.jws_name());
        assert_eq!(jwks["keys"][0]["use"], "sig");
    }
}

#[test]
fn an_origin_token_starts_a_transaction_for_the_caller() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    let minted = fixture.mint(&origin_grant());

    let claims = claims_of(&minted.token);
    assert_eq!(claims["iss"], "seam");
    assert_eq!(claims["aud"], TRUST_DOMAIN);
    assert_eq!(claims["sub"], FRONTEND);
    assert_eq!(claims["req_wl"], FRONTEND);
    assert_eq!(claims["scope"], "checkout");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["nbf"], T0);
    assert_eq!(claims["exp"], T0 + 60);
    assert_eq!(claims["txn"], minted.txn.as_str());
    assert_eq!(claims["jti"], minted.jti.as_str());
    assert_eq!(
        claims["tctx"],
        json!({
            "service": "orders", "method": "POST", "path": "/v1/orders",
            "sensitivity": "confidential", "intent": "checkout", "decision_id": "decision-1",
        })
    );
    assert_eq!(
        claims["rctx"],
        json!({ "source_address": "127.0.0.1:41000" })
    );
    assert_eq!(claims["cnf"], json!({ "spiffe_id": ORDERS }));
    assert!(claims.get("act").is_none());
    assert_eq!(minted.exp, T0 + 60);
    assert_eq!(minted.holder.as_deref(), Some(ORDERS));
    assert_eq!(minted.depth, 1);
}

#[test]
fn transaction_and_token_ids_are_uuids_and_every_token_id_is_new() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    let first = fixture.mint(&origin_grant());
    let second = fixture.mint(&origin_grant());

    for id in [&first.txn, &first.jti, &second.txn, &second.jti] {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    assert_ne!(first.jti, second.jti);
    assert_ne!(first.txn, second.txn);
}

#[test]
fn an_origin_without_intent_holder_or_address_has_scope_none_no_binding_and_cannot_be_presented() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let grant = Grant {
        intent: None,
        holder: None,
        source_address: "",
        ..origin_grant()
    };

    let minted = fixture.mint(&grant);

    let claims = claims_of(&minted.token);
    assert_eq!(claims["scope"], "none");
    assert!(claims.get("cnf").is_none());
    assert!(claims.get("rctx").is_none());
    assert!(claims["tctx"].get("intent").is_none());
    // Bound to nobody, it can be shown by anybody that saw it: no workload
    // may present it onward.
    let refused = fixture.verify(&minted.token, PAYMENTS).unwrap_err();
    assert_eq!(refused.reason_code(), "token_unbound");
}

#[test]
fn a_value_longer_than_the_limit_is_replaced_by_its_sha256() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    // FIPS 180-2 test vector: one million `a`.
    let path = "a".repeat(1_000_000);
    let grant = Grant {
        path: &path,
        ..origin_grant()
    };

    let minted = fixture.mint(&grant);

    let claims = claims_of(&minted.token);
    assert_eq!(
        claims["tctx"]["path"],
        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
    assert!(minted.token.len() < 1024);
}

#[test]
fn values_at_the_limit_are_copied_unchanged() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let path = format!("/{}", "p".repeat(255));
    let grant = Grant {
        path: &path,
        ..origin_grant()
    };

    let minted = fixture.mint(&grant);

    assert_eq!(claims_of(&minted.token)["tctx"]["path"], path.as_str());
}

#[test]
fn a_token_over_the_size_cap_is_not_issued() {
    let fixture = Fixture::with_settings(TokenSettings {
        max_token_bytes: 1024,
        ..TokenSettings::default()
    });
    let value = "v".repeat(250);
    let grant = Grant {
        service: &value,
        method: &value,
        path: &value,
        sensitivity: &value,
        ..origin_grant()
    };

    let err = fixture.tokens.mint(&grant).unwrap_err();

    assert_eq!(err.reason_code(), "token_too_large");
}

#[test]
fn a_lifetime_over_five_minutes_is_cut_to_five_minutes() {
    let fixture = Fixture::with_settings(TokenSettings {
        lifetime: Duration::from_secs(3600),
        ..TokenSettings::default()
    });

    let minted = fixture.mint(&origin_grant());

    assert_eq!(minted.exp, T0 + 300);
    assert_eq!(fixture.tokens.settings().lifetime, Duration::from_secs(300));
}

#[test]
fn a_ring_without_a_private_key_cannot_mint() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let public_only = KeyRing::from_jwks(&fixture.tokens.jwks(), Algorithm::EdDsa).unwrap();
    let clock = FixedClock::new(at(T0));
    let tokens = Tokens::new(TokenSettings::default(), public_only, Vec::new(), clock);

    let err = tokens.mint(&origin_grant()).unwrap_err();

    assert_eq!(err.reason_code(), "token_signing_failed");
}

#[test]
fn a_grant_without_caller_or_decision_is_refused() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    for grant in [
        Grant {
            caller: "",
            ..origin_grant()
        },
        Grant {
            decision_id: "",
            ..origin_grant()
        },
        Grant {
            audience: "",
            ..origin_grant()
        },
    ] {
        assert_eq!(
            fixture.tokens.mint(&grant).unwrap_err().reason_code(),
            "token_signing_failed"
        );
    }
}

#[test]
fn minted_debug_output_leaves_the_token_out() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    let minted = fixture.mint(&origin_grant());

    let shown = format!("{minted:?}");
    assert!(!shown.contains(&minted.token), "{shown}");
    assert!(shown.contains(&minted.jti));
}
