//! Chains of workloads: replacement tokens at each hop.

use super::*;

#[test]
fn a_three_hop_chain_keeps_the_transaction_and_nests_each_caller_outermost() {
    let fixture = Fixture::new(Algorithm::EdDsa);

    // frontend -> orders
    let first = fixture.mint(&origin_grant());
    let at_orders = fixture.verify(&first.token, ORDERS).unwrap();
    assert_eq!(at_orders.chain, [FRONTEND]);
    assert_eq!(at_orders.depth, 1);
    assert_eq!(at_orders.holder.as_deref(), Some(ORDERS));
    assert_eq!(at_orders.parent_decision_id, "decision-1");
    assert_eq!(at_orders.intent.as_deref(), Some("checkout"));

    // orders -> payments, ten seconds later
    fixture.clock.advance(Duration::from_secs(10));
    let second = fixture.mint(&next_hop(&at_orders, ORDERS, PAYMENTS, "decision-2"));
    let at_payments = fixture.verify(&second.token, PAYMENTS).unwrap();
    let claims = claims_of(&second.token);
    assert_eq!(claims["act"], json!({ "sub": ORDERS }));
    assert_eq!(claims["req_wl"], ORDERS);
    assert_eq!(claims["iat"], T0 + 10);

    assert_eq!(at_payments.txn, first.txn);
    assert_eq!(at_payments.sub, FRONTEND);
    assert_eq!(at_payments.scope, "checkout");
    assert_eq!(at_payments.req_wl, ORDERS);
    assert_eq!(at_payments.chain, [FRONTEND, ORDERS]);
    assert_eq!(at_payments.depth, 2);
    assert_eq!(at_payments.parent_decision_id, "decision-2");
    assert_ne!(at_payments.jti, at_orders.jti);
    // now + 60 would be T0 + 70; the parent expires at T0 + 60.
    assert_eq!(at_payments.exp, T0 + 60);
    assert_eq!(second.exp, T0 + 60);

    // payments -> ledger
    fixture.clock.advance(Duration::from_secs(5));
    let third = fixture.mint(&next_hop(&at_payments, PAYMENTS, LEDGER, "decision-3"));
    let at_ledger = fixture.verify(&third.token, LEDGER).unwrap();
    assert_eq!(
        claims_of(&third.token)["act"],
        json!({ "sub": PAYMENTS, "act": { "sub": ORDERS } })
    );
    assert_eq!(at_ledger.chain, [FRONTEND, ORDERS, PAYMENTS]);
    assert_eq!(at_ledger.depth, 3);
    assert_eq!(at_ledger.txn, first.txn);
    assert_eq!(at_ledger.sub, FRONTEND);
    assert_eq!(at_ledger.scope, "checkout");
    assert_eq!(at_ledger.exp, T0 + 60);
}

#[test]
fn a_replacement_never_outlives_the_token_it_replaces() {
    let fixture = Fixture::with_settings(TokenSettings {
        lifetime: Duration::from_secs(300),
        ..TokenSettings::default()
    });
    let parent = fixture.mint(&origin_grant());
    let parent = fixture.verify(&parent.token, ORDERS).unwrap();

    fixture.clock.advance(Duration::from_secs(299));
    let replacement = fixture.mint(&next_hop(&parent, ORDERS, PAYMENTS, "decision-2"));

    assert_eq!(parent.exp, T0 + 300);
    assert_eq!(replacement.exp, T0 + 300);
}

#[test]
fn a_replacement_with_a_shorter_own_lifetime_keeps_its_own() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let parent = fixture.mint(&origin_grant());
    let parent = fixture.verify(&parent.token, ORDERS).unwrap();
    let short = Tokens::new(
        TokenSettings {
            lifetime: Duration::from_secs(20),
            ..TokenSettings::default()
        },
        KeyRing::load(std::slice::from_ref(&fixture.key.path), Algorithm::EdDsa).unwrap(),
        Vec::new(),
        fixture.clock.clone(),
    );

    let replacement = short
        .mint(&next_hop(&parent, ORDERS, PAYMENTS, "decision-2"))
        .unwrap();

    assert_eq!(replacement.exp, T0 + 20);
}

#[test]
fn a_replacement_cannot_be_issued_once_its_parent_expired() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let parent = fixture.mint(&origin_grant());
    let parent = fixture.verify(&parent.token, ORDERS).unwrap();

    fixture.clock.advance(Duration::from_secs(60));
    let err = fixture
        .tokens
        .mint(&next_hop(&parent, ORDERS, PAYMENTS, "decision-2"))
        .unwrap_err();

    assert_eq!(err.reason_code(), "token_expired");
}

#[test]
fn a_replacement_may_not_change_the_scope() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let checkout = fixture.mint(&origin_grant());
    let checkout = fixture.verify(&checkout.token, ORDERS).unwrap();
    let unscoped = fixture.mint(&Grant {
        intent: None,
        ..origin_grant()
    });
    let unscoped = fixture.verify(&unscoped.token, ORDERS).unwrap();

    let cases = [
        (&checkout, Some("refund"), Err("token_scope_widened")),
        (
            &checkout,
            Some("checkout refund"),
            Err("token_scope_widened"),
        ),
        (&unscoped, Some("checkout"), Err("token_scope_widened")),
        (&checkout, Some("checkout"), Ok("checkout")),
        (&checkout, None, Ok("checkout")),
        (&unscoped, None, Ok("none")),
    ];

    for (parent, intent, expected) in cases {
        let grant = Grant {
            intent,
            ..next_hop(parent, ORDERS, PAYMENTS, "decision-2")
        };
        let outcome = fixture
            .tokens
            .mint(&grant)
            .map(|m| claims_of(&m.token)["scope"].as_str().unwrap().to_owned())
            .map_err(|e| e.reason_code());
        assert_eq!(outcome.as_deref().map_err(|e| *e), expected, "{intent:?}");
    }
}

#[test]
fn only_the_holder_of_a_bound_token_may_extend_it() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let parent = fixture.mint(&origin_grant());
    let parent = fixture.verify(&parent.token, ORDERS).unwrap();

    let err = fixture
        .tokens
        .mint(&next_hop(&parent, PAYMENTS, LEDGER, "decision-2"))
        .unwrap_err();

    assert_eq!(err.reason_code(), "token_wrong_holder");
}

#[test]
fn a_replacement_stays_in_its_trust_domain() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let parent = fixture.mint(&origin_grant());
    let parent = fixture.verify(&parent.token, ORDERS).unwrap();
    let grant = Grant {
        audience: "other.example",
        ..next_hop(&parent, ORDERS, PAYMENTS, "decision-2")
    };

    let err = fixture.tokens.mint(&grant).unwrap_err();

    assert_eq!(err.reason_code(), "token_wrong_audience");
}

#[test]
fn a_chain_longer_than_the_maximum_cannot_be_minted() {
    let fixture = Fixture::with_settings(TokenSettings {
        max_chain_depth: 2,
        ..TokenSettings::default()
    });
    let first = fixture.mint(&origin_grant());
    let at_orders = fixture.verify(&first.token, ORDERS).unwrap();
    let second = fixture.mint(&next_hop(&at_orders, ORDERS, PAYMENTS, "decision-2"));
    let at_payments = fixture.verify(&second.token, PAYMENTS).unwrap();

    let err = fixture
        .tokens
        .mint(&next_hop(&at_payments, PAYMENTS, LEDGER, "decision-3"))
        .unwrap_err();

    assert_eq!(at_payments.depth, 2);
    assert_eq!(err, TokenError::ChainTooDeep { depth: 3, limit: 2 });
    assert_eq!(err.reason_code(), "token_chain_too_deep");
}

#[test]
fn a_chain_of_exactly_the_maximum_depth_verifies() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let workloads: Vec<String> = (0..8)
        .map(|i| format!("spiffe://example.org/hop/{i}"))
        .collect();
    let first = fixture.mint(&Grant {
        caller: &workloads[0],
        holder: Some(&workloads[1]),
        ..origin_grant()
    });
    let mut inbound = fixture.verify(&first.token, &workloads[1]).unwrap();

    for hop in 1..7 {
        let minted = fixture.mint(&next_hop(
            &inbound,
            &workloads[hop],
            &workloads[hop + 1],
            "d",
        ));
        inbound = fixture.verify(&minted.token, &workloads[hop + 1]).unwrap();
    }

    assert_eq!(inbound.depth, 7);
    let last = fixture.mint(&next_hop(&inbound, &workloads[7], LEDGER, "d"));
    let at_ledger = fixture.verify(&last.token, LEDGER).unwrap();
    assert_eq!(at_ledger.depth, 8);
    assert_eq!(at_ledger.chain, workloads);
    let err = fixture
        .tokens
        .mint(&next_hop(&at_ledger, LEDGER, ORDERS, "d"))
        .unwrap_err();
    assert_eq!(err.reason_code(), "token_chain_too_deep");
}
