//! Fuzzes Txn-Token verification and inspection: neither may panic, every
//! refusal must carry a token reason code and a one-line message, and every
//! accepted token must satisfy the checks verification promises.
//!
//! The first byte picks what the rest is: a whole token string; claims JSON
//! genuinely signed with the issuer's key; or members laid over the claims
//! of a genuine token (later members win), also signed. The signed modes
//! reach the claim checks that a random string never gets past the
//! signature to.

#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use seam::clock::FixedClock;
use seam::token::{
    Algorithm, Grant, Inbound, KeyRing, TokenError, TokenSettings, Tokens, generate_pkcs8_pem,
    inspect,
};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;
const TRUST_DOMAIN: &str = "example.org";
const PRESENTER: &str = "spiffe://example.org/ns/shop/sa/orders";

struct Fixture {
    tokens: Tokens,
    signer: KeyRing,
    kid: String,
    genuine_claims: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let pem = generate_pkcs8_pem(Algorithm::EdDsa).expect("key generation");
    let ring = KeyRing::from_pkcs8_pems(&[&pem], Algorithm::EdDsa).expect("own ring");
    let signer = KeyRing::from_pkcs8_pems(&[&pem], Algorithm::EdDsa).expect("signer");
    let kid = ring.signing_kid().expect("signing kid").to_owned();
    let clock = FixedClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0 as u64));
    let tokens = Tokens::new(TokenSettings::default(), ring, Vec::new(), clock);

    let minted = tokens
        .mint(&Grant {
            audience: TRUST_DOMAIN,
            caller: "spiffe://example.org/ns/shop/sa/frontend",
            holder: Some(PRESENTER),
            service: "orders",
            method: "POST",
            path: "/v1/orders",
            sensitivity: "confidential",
            intent: Some("checkout"),
            decision_id: "decision-1",
            source_address: "127.0.0.1:41000",
            parent: None,
        })
        .expect("mint");
    let genuine_claims = inspect(&minted.token).expect("inspect")["claims"].to_string();

    Fixture {
        tokens,
        signer,
        kid,
        genuine_claims,
    }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);

    let token = match mode % 3 {
        0 => text.into_owned(),
        1 => match fixture.signer.sign_unchecked(&text) {
            Ok(token) => token,
            Err(err) => return check_refusal(&err),
        },
        _ => {
            let base = fixture.genuine_claims.trim_end_matches('}');
            match fixture.signer.sign_unchecked(&format!("{base},{text}}}")) {
                Ok(token) => token,
                Err(err) => return check_refusal(&err),
            }
        }
    };

    match inspect(&token) {
        Ok(seen) => assert!(seen.get("header").is_some() && seen.get("claims").is_some()),
        Err(err) => check_refusal(&err),
    }
    match fixture.tokens.verify(&token, TRUST_DOMAIN, PRESENTER) {
        Ok(inbound) => check_accepted(fixture, &inbound),
        Err(err) => check_refusal(&err),
    }
});

fn check_accepted(fixture: &Fixture, inbound: &Inbound) {
    let leeway = 30;

    assert_eq!(inbound.audience, TRUST_DOMAIN);
    assert_eq!(inbound.kid, fixture.kid);
    assert!(inbound.holder.as_deref().is_none_or(|h| h == PRESENTER));
    assert!((1..=8).contains(&inbound.depth), "depth {}", inbound.depth);
    assert_eq!(inbound.chain.len(), inbound.depth);
    assert_eq!(inbound.chain[0], inbound.sub);
    assert!(inbound.iat <= T0 + leeway, "iat {}", inbound.iat);
    assert!(inbound.exp + leeway > T0, "exp {}", inbound.exp);
    assert!(inbound.exp > inbound.iat && inbound.exp - inbound.iat <= 300);
    for value in [&inbound.txn, &inbound.jti, &inbound.sub, &inbound.scope, &inbound.req_wl] {
        assert!(!value.is_empty());
    }
}

fn check_refusal(err: &TokenError) {
    assert!(err.reason_code().starts_with("token_"));
    let message = err.to_string();
    assert!(message.len() <= 600, "message of {} bytes", message.len());
    assert!(
        !message.contains(['\n', '\r', '\0']),
        "unescaped message {message:?}"
    );
}
