//! A transaction through three hops (frontend → orders → payments → ledger)
//! with seam deciding each one: the token at each hop, the chain Cedar saw,
//! and the records joining up.

use seam::probe::RequestFile;
use seam::token::inspect;

use super::support::*;

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
const LEDGER: &str = "spiffe://example.org/ns/finance/sa/ledger";

fn hop(caller: &str, method: &str, url: &str, destination: &str) -> RequestFile {
    RequestFile {
        caller: Some(caller.into()),
        method: method.into(),
        url: url.into(),
        destination: destination.into(),
        source_address: "10.0.0.7:51234".into(),
        ..Default::default()
    }
}

fn claims(token: &str) -> serde_json::Value {
    inspect(token).unwrap()["claims"].clone()
}

#[tokio::test]
async fn a_checkout_flows_through_three_hops_with_one_transaction() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        ..Setup::default()
    })
    .await;

    // Hop 1: the frontend asks orders to place an order, declaring checkout.
    let mut first = hop(
        FRONTEND,
        "POST",
        "https://orders.shop.svc/v1/orders",
        ORDERS,
    );
    first
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await;
    assert_eq!(outcome(&response), ALLOW);
    let t1 = minted_token(&response);
    let c1 = claims(&t1);
    assert_eq!(c1["sub"], FRONTEND);
    assert_eq!(c1["req_wl"], FRONTEND);
    assert_eq!(c1["scope"], "checkout");
    assert_eq!(c1["aud"], "example.org");
    assert_eq!(c1["cnf"]["spiffe_id"], ORDERS);
    assert!(c1.get("act").is_none());
    assert_eq!(inspect(&t1).unwrap()["header"]["typ"], "txntoken+jwt");

    // Hop 2: orders charges payments, carrying the token; no intent declared,
    // it is inherited.
    let mut second = hop(
        ORDERS,
        "POST",
        "https://payments.payments.svc/v1/charges",
        PAYMENTS,
    );
    second.headers.insert("txn-token".into(), t1.clone());
    let response = seam.check_as(&second, &seam.pki.leaf(ORDERS)).await;
    assert_eq!(
        outcome(&response),
        ALLOW,
        "{:?}",
        seam::cli::answer(&response)
    );
    let t2 = minted_token(&response);
    let c2 = claims(&t2);
    assert_eq!(c2["txn"], c1["txn"]);
    assert_eq!(c2["sub"], FRONTEND);
    assert_eq!(c2["scope"], "checkout");
    assert_eq!(c2["req_wl"], ORDERS);
    assert_eq!(c2["cnf"]["spiffe_id"], PAYMENTS);
    assert_eq!(c2["act"]["sub"], ORDERS);
    assert!(c2["exp"].as_i64().unwrap() <= c1["exp"].as_i64().unwrap());

    // Hop 3: payments writes the ledger entry: allowed only because the
    // chain shows the checkout came from the frontend through orders.
    let mut third = hop(
        PAYMENTS,
        "POST",
        "https://ledger.finance.svc/v1/entries",
        LEDGER,
    );
    third.headers.insert("txn-token".into(), t2.clone());
    let response = seam.check_as(&third, &seam.pki.leaf(PAYMENTS)).await;
    assert_eq!(
        outcome(&response),
        ALLOW,
        "{:?}",
        seam::cli::answer(&response)
    );
    let c3 = claims(&minted_token(&response));
    assert_eq!(c3["txn"], c1["txn"]);
    assert_eq!(c3["act"]["sub"], PAYMENTS);
    assert_eq!(c3["act"]["act"]["sub"], ORDERS);

    // The same ledger write declaring checkout without the chain is refused.
    let mut direct = third.clone();
    direct.headers.remove("txn-token");
    direct
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&direct, &seam.pki.leaf(PAYMENTS)).await;
    assert_eq!(outcome(&response), DENY_POLICY);

    // Payments presenting orders' token: it is not the holder.
    let mut stolen = third.clone();
    stolen.headers.insert("txn-token".into(), t1.clone());
    let response = seam.check_as(&stolen, &seam.pki.leaf(PAYMENTS)).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "token_wrong_holder");

    // A declared intent cannot change the transaction's.
    let mut widened = second.clone();
    widened
        .headers
        .insert("x-seam-intent".into(), "refund".into());
    let response = seam.check_as(&widened, &seam.pki.leaf(ORDERS)).await;
    assert_eq!(outcome(&response), DENY_POLICY);
    assert_eq!(reason(&response), "intent_conflicts_with_chain");

    // Garbage in the token header is a deny, never "no token".
    let mut garbage = second.clone();
    garbage
        .headers
        .insert("txn-token".into(), "not.a.token".into());
    let response = seam.check_as(&garbage, &seam.pki.leaf(ORDERS)).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    let records = seam.stop().await;
    let (a, b, c) = (&records[0], &records[1], &records[2]);
    let txn = c1["txn"].as_str().unwrap();
    for r in [a, b, c] {
        assert_eq!(r["token"]["txn"], txn);
        let text = r.to_string();
        assert!(
            !text.contains(&t1) && !text.contains(&t2),
            "records never hold a token"
        );
    }
    assert_eq!(b["inbound_token"]["parent_decision_id"], a["decision_id"]);
    assert_eq!(c["inbound_token"]["parent_decision_id"], b["decision_id"]);
    assert_eq!(b["inbound_token"]["jti"], a["token"]["jti"]);
    assert_eq!(
        c["inbound_token"]["chain"],
        serde_json::json!([FRONTEND, ORDERS])
    );
    assert_eq!(a["token"]["holder"], ORDERS);
    assert_eq!(c["context"]["intent"], "checkout");
    assert_eq!(c["context"]["intent_source"], "inherited");
    assert_eq!(a["context"]["intent_source"], "declared");
    assert_eq!(records[4]["reason"], "token_wrong_holder");
}

#[tokio::test]
async fn an_unusable_signing_key_turns_an_allow_into_a_503_never_an_allow_without_a_token() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    assert_eq!(outcome(&seam.check_as(&baseline(), &cert).await), ALLOW);

    // Rotate to a ring that can verify but not sign.
    let authorizer = seam.authorizer.clone();
    let public =
        seam::token::KeyRing::from_jwks(&authorizer.jwks(), seam::token::Algorithm::Es256).unwrap();
    authorizer.tokens().replace_keys(public);

    let response = seam.check_as(&baseline(), &cert).await;
    assert_eq!(outcome(&response), DENY_ERROR);
    assert_eq!(reason(&response), "token_signing_failed");
    let records = seam.stop().await;
    assert_eq!(records[1]["reason"], "token_signing_failed");
    assert_eq!(
        records[1]["determining_policies"],
        serde_json::json!(["reporter-reads-reports"])
    );
}

fn write_key(dir: &std::path::Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let pem = seam::token::generate_pkcs8_pem(seam::token::Algorithm::Es256).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn keys_rotate_without_restart_and_a_retired_keys_tokens_fail() {
    let keys = tempfile::tempdir().unwrap();
    write_key(keys.path(), "2026-01.pem");
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        token_keys: vec![keys.path().display().to_string()],
        ..Setup::default()
    })
    .await;
    let kid = |token: &str| {
        inspect(token).unwrap()["header"]["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let mut first = hop(
        FRONTEND,
        "POST",
        "https://orders.shop.svc/v1/orders",
        ORDERS,
    );
    first
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let old = minted_token(&seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await);

    // A new key with a later name signs from the next reload; the old one
    // still verifies.
    write_key(keys.path(), "2026-02.pem");
    seam::server::reload(&seam.config, &seam.authorizer);
    let new = minted_token(&seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await);
    assert_ne!(kid(&old), kid(&new));
    let published = seam.authorizer.jwks().to_string();
    assert!(published.contains(&kid(&old)) && published.contains(&kid(&new)));

    let mut second = hop(
        ORDERS,
        "POST",
        "https://payments.payments.svc/v1/charges",
        PAYMENTS,
    );
    second.headers.insert("txn-token".into(), old.clone());
    assert_eq!(
        outcome(&seam.check_as(&second, &seam.pki.leaf(ORDERS)).await),
        ALLOW
    );

    // Retire the old key: its tokens fail, the new key's still pass.
    std::fs::remove_file(keys.path().join("2026-01.pem")).unwrap();
    seam::server::reload(&seam.config, &seam.authorizer);
    let response = seam.check_as(&second, &seam.pki.leaf(ORDERS)).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "token_unknown_key");
    second.headers.insert("txn-token".into(), new);
    assert_eq!(
        outcome(&seam.check_as(&second, &seam.pki.leaf(ORDERS)).await),
        ALLOW
    );
    seam.stop().await;
}

#[tokio::test]
async fn static_credentials_are_stripped_upstream_only_when_configured() {
    use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;

    for strip in [false, true] {
        let mut seam = Seam::start(Setup {
            strip_credentials: strip,
            ..Setup::default()
        })
        .await;
        let mut file = baseline();
        file.headers.insert("x-api-key".into(), "k-123".into());
        let response = seam.check_as(&file, &seam.pki.leaf(REPORTER)).await;
        assert_eq!(outcome(&response), ALLOW);
        let Some(HttpResponse::OkResponse(ok)) = &response.http_response else {
            panic!("expected an allow")
        };
        let expected: Vec<String> = if strip {
            vec!["x-api-key".into()]
        } else {
            vec![]
        };
        assert_eq!(ok.headers_to_remove, expected);
        let records = seam.stop().await;
        assert_eq!(records[0]["credential"], "api_key");
    }
}

#[tokio::test]
async fn a_token_minted_without_a_destination_identity_cannot_be_presented_by_anyone() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        ..Setup::default()
    })
    .await;

    // Envoy gave no destination.principal: the token has no holder.
    let mut first = hop(FRONTEND, "POST", "https://orders.shop.svc/v1/orders", "");
    first
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await;
    assert_eq!(outcome(&response), ALLOW);
    let unbound = minted_token(&response);
    assert!(claims(&unbound).get("cnf").is_none());

    // Neither the workload it was meant for nor any other may carry it on.
    for presenter in [ORDERS, PAYMENTS] {
        let mut onward = hop(
            presenter,
            "POST",
            "https://payments.payments.svc/v1/charges",
            PAYMENTS,
        );
        onward.headers.insert("txn-token".into(), unbound.clone());
        let response = seam.check_as(&onward, &seam.pki.leaf(presenter)).await;
        assert_eq!(outcome(&response), DENY_IDENTITY, "{presenter}");
        assert_eq!(reason(&response), "token_unbound", "{presenter}");
    }
    assert_eq!(seam.stop().await.len(), 3);
}

#[tokio::test]
async fn two_txn_tokens_are_ambiguous_and_neither_is_picked() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        ..Setup::default()
    })
    .await;
    let mut first = hop(
        FRONTEND,
        "POST",
        "https://orders.shop.svc/v1/orders",
        ORDERS,
    );
    first
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await;
    assert_eq!(outcome(&response), ALLOW);
    let token = minted_token(&response);

    // As Envoy's joined map carries a repeated header, and as its raw
    // header map does.
    for raw_headers in [false, true] {
        let mut second = hop(
            ORDERS,
            "POST",
            "https://payments.payments.svc/v1/charges",
            PAYMENTS,
        );
        second.raw_headers = raw_headers;
        second
            .headers
            .insert("txn-token".into(), format!("{token},{token}"));
        let response = seam.check_as(&second, &seam.pki.leaf(ORDERS)).await;
        assert_eq!(outcome(&response), DENY_INPUT, "raw = {raw_headers}");
        assert_eq!(reason(&response), "ambiguous_header", "raw = {raw_headers}");
    }
    seam.stop().await;
}
