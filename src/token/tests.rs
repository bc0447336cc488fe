//! Shared fixture for the token tests: an issuer on a fixed clock whose
//! private key the tests can also use directly, to forge the tokens an
//! attacker or a sloppy issuer would send.

mod chain;
mod claims;
mod forgery;
mod mint;
mod rotation;
mod window;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::*;
use crate::clock::FixedClock;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;
const TRUST_DOMAIN: &str = "example.org";
const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
const PAYMENTS: &str = "spiffe://example.org/ns/shop/sa/payments";
const LEDGER: &str = "spiffe://example.org/ns/shop/sa/ledger";

fn at(seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap())
}

/// A key written as a PKCS#8 PEM file, as an operator would provide it.
struct KeyFile {
    pem: Zeroizing<String>,
    path: PathBuf,
}

impl KeyFile {
    fn new(dir: &tempfile::TempDir, name: &str, algorithm: Algorithm) -> Self {
        use std::os::unix::fs::PermissionsExt;

        let pem = generate_pkcs8_pem(algorithm).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, pem.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { pem, path }
    }

    fn encoding_key(&self, algorithm: Algorithm) -> jsonwebtoken::EncodingKey {
        let der = pem::parse(self.pem.as_bytes()).unwrap().into_contents();
        match algorithm {
            Algorithm::EdDsa => jsonwebtoken::EncodingKey::from_ed_der(&der),
            Algorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_der(&der),
        }
    }
}

struct Fixture {
    algorithm: Algorithm,
    tokens: Tokens,
    clock: Arc<FixedClock>,
    key: KeyFile,
    kid: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(algorithm: Algorithm) -> Self {
        Self::with_settings(TokenSettings {
            algorithm,
            ..TokenSettings::default()
        })
    }

    fn with_settings(settings: TokenSettings) -> Self {
        let algorithm = settings.algorithm;
        let dir = tempfile::tempdir().unwrap();
        let key = KeyFile::new(&dir, "signing-1.pem", algorithm);
        let ring = KeyRing::load(std::slice::from_ref(&key.path), algorithm).unwrap();
        let kid = ring.signing_kid().unwrap().to_owned();
        let clock = FixedClock::new(at(T0));
        let tokens = Tokens::new(settings, ring, Vec::new(), clock.clone());

        Self {
            algorithm,
            tokens,
            clock,
            key,
            kid,
            dir,
        }
    }

    fn mint(&self, grant: &Grant<'_>) -> Minted {
        self.tokens.mint(grant).unwrap()
    }

    /// A compact JWS over the given header and claims text, signed with the
    /// fixture's own private key: a token the issuer's key really signed,
    /// whatever it says.
    fn sign_raw(&self, header: &str, claims: &str) -> String {
        self.sign_raw_with(&self.key, self.algorithm, header, claims)
    }

    fn sign_raw_with(
        &self,
        key: &KeyFile,
        algorithm: Algorithm,
        header: &str,
        claims: &str,
    ) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &key.encoding_key(algorithm),
            algorithm.jws(),
        )
        .unwrap();
        format!("{message}.{signature}")
    }

    /// The header seam writes, for this fixture's key.
    fn header(&self) -> Value {
        json!({ "typ": TOKEN_TYPE, "alg": self.algorithm.jws_name(), "kid": self.kid })
    }

    /// A minted origin token's claims changed by `edit`, re-signed with the
    /// issuer's key under seam's header.
    fn resign(&self, edit: impl FnOnce(&mut Value)) -> String {
        let minted = self.mint(&origin_grant());
        let mut claims = inspect(&minted.token).unwrap()["claims"].clone();
        edit(&mut claims);
        self.sign_raw(&self.header().to_string(), &claims.to_string())
    }

    fn verify(&self, token: &str, presenter: &str) -> Result<Inbound, TokenError> {
        self.tokens.verify(token, TRUST_DOMAIN, presenter)
    }
}

/// The frontend starts a checkout by calling orders.
fn origin_grant() -> Grant<'static> {
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

/// `caller` extends `parent` by calling `holder`.
fn next_hop<'a>(
    parent: &'a Inbound,
    caller: &'a str,
    holder: &'a str,
    decision_id: &'a str,
) -> Grant<'a> {
    Grant {
        audience: TRUST_DOMAIN,
        caller,
        holder: Some(holder),
        service: "next",
        method: "POST",
        path: "/v1/next",
        sensitivity: "confidential",
        intent: None,
        decision_id,
        source_address: "127.0.0.1:42000",
        parent: Some(parent),
    }
}

/// The claims of `token`, unverified.
fn claims_of(token: &str) -> Value {
    inspect(token).unwrap()["claims"].clone()
}

/// The header of `token`, unverified.
fn header_of(token: &str) -> Value {
    inspect(token).unwrap()["header"].clone()
}

/// Sets `name` in the claims, or removes it when `value` is null.
fn set(name: &'static str, value: Value) -> impl FnOnce(&mut Value) {
    move |claims| {
        let claims = claims.as_object_mut().unwrap();
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.to_owned(), value);
        }
    }
}

/// An `act` claim naming `count` actors.
fn actors(count: usize) -> Value {
    (0..count).fold(Value::Null, |inner, i| {
        let mut act = json!({ "sub": format!("spiffe://example.org/hop/{i}") });
        if !inner.is_null() {
            act["act"] = inner;
        }
        act
    })
}

/// The genuine claims text with `from` replaced by `to`, signed.
fn replaced(fixture: &Fixture, from: &str, to: &str) -> String {
    let claims = claims_of(&fixture.mint(&origin_grant()).token).to_string();
    assert!(claims.contains(from), "{claims}");
    fixture.sign_raw(&fixture.header().to_string(), &claims.replacen(from, to, 1))
}

#[test]
fn tokens_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}

    assert_send_sync::<Tokens>();
    assert_send_sync::<KeyRing>();
}

#[test]
fn settings_outside_their_ranges_are_refused_by_name() {
    let cases = [
        (
            TokenSettings {
                lifetime: Duration::from_secs(301),
                ..TokenSettings::default()
            },
            "lifetime",
        ),
        (
            TokenSettings {
                lifetime: Duration::ZERO,
                ..TokenSettings::default()
            },
            "lifetime",
        ),
        (
            TokenSettings {
                max_chain_depth: 0,
                ..TokenSettings::default()
            },
            "max_chain_depth",
        ),
        (
            TokenSettings {
                max_token_bytes: 100,
                ..TokenSettings::default()
            },
            "max_token_bytes",
        ),
        (
            TokenSettings {
                leeway: Duration::from_secs(3600),
                ..TokenSettings::default()
            },
            "leeway",
        ),
    ];

    assert_eq!(TokenSettings::default().validate(), Ok(()));
    for (settings, key) in cases {
        let err = settings.validate().unwrap_err();
        assert!(
            matches!(err, SettingsError::OutOfRange { key: k, .. } if k == key),
            "{err}"
        );
    }
    let empty_issuer = TokenSettings {
        issuer: String::new(),
        ..TokenSettings::default()
    };
    assert_eq!(empty_issuer.validate(), Err(SettingsError::Issuer(0)));
}

#[test]
fn default_settings_follow_the_brief() {
    let settings = TokenSettings::default();

    assert_eq!(settings.algorithm, Algorithm::Es256);
    assert_eq!(settings.issuer, "seam");
    assert_eq!(settings.lifetime, Duration::from_secs(60));
    assert_eq!(settings.leeway, Duration::from_secs(30));
    assert_eq!(settings.max_chain_depth, 8);
    assert_eq!(settings.max_token_bytes, 4096);
}

#[test]
fn algorithm_names_are_the_jws_names() {
    assert_eq!("EdDSA".parse::<Algorithm>(), Ok(Algorithm::EdDsa));
    assert_eq!("ES256".parse::<Algorithm>(), Ok(Algorithm::Es256));
    assert!("none".parse::<Algorithm>().is_err());
    assert!("HS256".parse::<Algorithm>().is_err());
    assert!("eddsa".parse::<Algorithm>().is_err());
    assert_eq!(Algorithm::Es256.to_string(), "ES256");
}

#[test]
fn inspect_decodes_header_and_claims_without_verifying() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let minted = fixture.mint(&origin_grant());
    let mut tampered: Vec<&str> = minted.token.split('.').collect();
    tampered[2] = "AAAA";

    let seen = inspect(&tampered.join(".")).unwrap();

    assert_eq!(seen["header"]["typ"], "txntoken+jwt");
    assert_eq!(seen["claims"]["sub"], FRONTEND);
    assert_eq!(
        inspect("not a token").unwrap_err().reason_code(),
        "token_malformed"
    );
    assert_eq!(
        inspect(&"a".repeat(70_000)).unwrap_err().reason_code(),
        "token_too_large"
    );
}

#[test]
fn jwks_verification_checks_everything_but_the_holder() {
    let fixture = Fixture::new(Algorithm::EdDsa);
    let minted = fixture.mint(&origin_grant());
    let jwks = fixture.tokens.jwks();
    let settings = TokenSettings {
        algorithm: Algorithm::EdDsa,
        ..TokenSettings::default()
    };

    let claims = verify_with_jwks(
        &minted.token,
        &jwks,
        Some(TRUST_DOMAIN),
        &settings,
        &*fixture.clock,
    )
    .unwrap();
    assert_eq!(claims["cnf"]["spiffe_id"], ORDERS);
    assert!(verify_with_jwks(&minted.token, &jwks, None, &settings, &*fixture.clock).is_ok());

    let other_domain = verify_with_jwks(
        &minted.token,
        &jwks,
        Some("other.example"),
        &settings,
        &*fixture.clock,
    );
    assert_eq!(
        other_domain.unwrap_err().reason_code(),
        "token_wrong_audience"
    );
    let no_keys = verify_with_jwks(
        &minted.token,
        &json!({"keys": []}),
        None,
        &settings,
        &*fixture.clock,
    );
    assert_eq!(no_keys.unwrap_err().reason_code(), "token_unknown_key");

    fixture.clock.advance(Duration::from_secs(120));
    let late = verify_with_jwks(&minted.token, &jwks, None, &settings, &*fixture.clock);
    assert_eq!(late.unwrap_err().reason_code(), "token_expired");
}
