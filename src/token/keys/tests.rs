use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;

/// RFC 8037, appendix A.1: the Ed25519 private key `d`.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
/// RFC 8037, appendix A.1: its public key `x`.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037, appendix A.3: the RFC 7638 thumbprint of that key.
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
/// RFC 8037, appendix A.4: `Example of Ed25519 signing` signed with it.
const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn write_private(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The RFC 8037 key as an RFC 8410 PKCS#8 v1 PEM file.
fn rfc8037_pem() -> String {
    let prefix = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der = [&prefix[..], &URL_SAFE_NO_PAD.decode(RFC8037_D).unwrap()].concat();
    pem::encode(&pem::Pem::new("PRIVATE KEY", der))
}

fn generated(dir: &Path, name: &str, algorithm: Algorithm) -> PathBuf {
    write_private(
        dir,
        name,
        generate_pkcs8_pem(algorithm).unwrap().as_bytes(),
        0o600,
    )
}

#[test]
fn the_rfc_8037_key_is_named_by_its_rfc_thumbprint_and_verifies_the_rfc_signature() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_private(dir.path(), "rfc8037.pem", rfc8037_pem().as_bytes(), 0o600);

    let ring = KeyRing::load(&[path], Algorithm::EdDsa).unwrap();

    assert_eq!(ring.kids(), [RFC8037_THUMBPRINT]);
    assert_eq!(ring.signing_kid(), Some(RFC8037_THUMBPRINT));
    assert_eq!(ring.jwks()["keys"][0]["x"], RFC8037_X);
    let (message, signature) = RFC8037_JWS.rsplit_once('.').unwrap();
    let key = &ring.find(RFC8037_THUMBPRINT).unwrap().verifier;
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
            .unwrap();
    assert!(key.verify(message.as_bytes(), &signature));
    assert!(!key.verify(b"another message", &signature));
}

#[test]
fn the_rfc_7517_ec_public_key_loads_under_its_published_kid() {
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "kid": "1",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    }]});

    let ring = KeyRing::from_jwks(&jwks, Algorithm::Es256).unwrap();

    assert_eq!(ring.kids(), ["1"]);
    assert_eq!(ring.signing_kid(), None);
}

#[test]
fn a_published_key_without_kid_is_named_by_its_thumbprint() {
    let jwks = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X }]});

    let ring = KeyRing::from_jwks(&jwks, Algorithm::EdDsa).unwrap();

    assert_eq!(ring.kids(), [RFC8037_THUMBPRINT]);
}

#[test]
fn published_keys_carry_only_public_members() {
    for (algorithm, members) in [
        (
            Algorithm::EdDsa,
            vec!["alg", "crv", "kid", "kty", "use", "x"],
        ),
        (
            Algorithm::Es256,
            vec!["alg", "crv", "kid", "kty", "use", "x", "y"],
        ),
    ] {
        let ring = KeyRing::generate(algorithm).unwrap();

        let jwks = ring.jwks();
        let key = jwks["keys"][0].as_object().unwrap();
        let mut names: Vec<&str> = key.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, members, "{algorithm}");
        assert_eq!(key["alg"], algorithm.jws_name());
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], ring.signing_kid().unwrap());
    }
}

#[test]
fn the_last_key_file_signs_and_every_key_is_listed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let first = generated(dir.path(), "a.pem", Algorithm::Es256);
    let second = generated(dir.path(), "b.pem", Algorithm::Es256);
    let first_kid = KeyRing::load(std::slice::from_ref(&first), Algorithm::Es256)
        .unwrap()
        .kids();

    let ring = KeyRing::load(&[first.clone(), second, first], Algorithm::Es256).unwrap();

    let kids = ring.kids();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0], first_kid[0]);
    assert_eq!(ring.signing_kid(), Some(kids[0].as_str()));
}

#[test]
fn key_files_that_are_not_one_private_pkcs8_key_of_the_algorithm_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ed = generate_pkcs8_pem(Algorithm::EdDsa).unwrap();
    let sec1 = pem::encode(&pem::Pem::new("EC PRIVATE KEY", vec![0x30, 0x00]));
    let certificate = pem::encode(&pem::Pem::new("CERTIFICATE", vec![0x30, 0x00]));

    let cases = [
        (
            write_private(dir.path(), "readable.pem", ed.as_bytes(), 0o644),
            "key_permissions",
        ),
        (
            write_private(dir.path(), "sec1.pem", sec1.as_bytes(), 0o600),
            "not_pkcs8",
        ),
        (
            write_private(dir.path(), "cert.pem", certificate.as_bytes(), 0o600),
            "not_pkcs8",
        ),
        (
            write_private(
                dir.path(),
                "two.pem",
                format!("{}{}", *ed, *ed).as_bytes(),
                0o600,
            ),
            "not_pkcs8",
        ),
        (
            write_private(dir.path(), "text.pem", b"not a key", 0o600),
            "not_pkcs8",
        ),
        (
            generated(dir.path(), "p256.pem", Algorithm::Es256),
            "wrong_algorithm",
        ),
        (dir.path().join("missing.pem"), "io"),
    ];

    for (path, expected) in cases {
        let err = KeyRing::load(std::slice::from_ref(&path), Algorithm::EdDsa).unwrap_err();
        let kind = match err {
            KeyError::Permissions { mode, .. } => {
                assert_eq!(mode, 0o644);
                "key_permissions"
            }
            KeyError::NotPkcs8 { .. } => "not_pkcs8",
            KeyError::WrongAlgorithm { .. } => "wrong_algorithm",
            KeyError::Io { .. } => "io",
            other => panic!("{other}"),
        };
        assert_eq!(kind, expected, "{}", path.display());
    }
    assert!(matches!(
        KeyRing::load(&[], Algorithm::EdDsa),
        Err(KeyError::NoKeys { .. })
    ));
}

#[test]
fn a_first_run_generates_a_private_key_file_and_later_runs_reuse_it() {
    let state = tempfile::tempdir().unwrap();

    let first = KeyRing::load_or_generate(state.path(), Algorithm::EdDsa).unwrap();
    let second = KeyRing::load_or_generate(state.path(), Algorithm::EdDsa).unwrap();

    let path = state.path().join("keys/signing-1.pem");
    let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(state.path().join("keys"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(file_mode, 0o600);
    assert_eq!(dir_mode, 0o700);
    assert_eq!(first.kids(), second.kids());
    assert_eq!(first.kids().len(), 1);
}

#[test]
fn rotation_on_disk_adds_a_higher_numbered_file_which_then_signs() {
    let state = tempfile::tempdir().unwrap();
    let first = KeyRing::load_or_generate(state.path(), Algorithm::EdDsa).unwrap();
    let keys = state.path().join("keys");
    // Numbers order numerically, not as text.
    generated(&keys, "signing-10.pem", Algorithm::EdDsa);
    let ninth = generated(&keys, "signing-9.pem", Algorithm::EdDsa);
    let ninth_kid = KeyRing::load(&[ninth], Algorithm::EdDsa).unwrap().kids();

    let ring = KeyRing::load_or_generate(state.path(), Algorithm::EdDsa).unwrap();

    let kids = ring.kids();
    assert_eq!(kids.len(), 3);
    assert_eq!(kids[0], first.kids()[0]);
    assert_eq!(kids[1], ninth_kid[0]);
    assert_eq!(ring.signing_kid(), Some(kids[2].as_str()));
}

#[test]
fn switching_algorithm_in_development_generates_a_key_for_the_new_one() {
    let state = tempfile::tempdir().unwrap();
    let eddsa = KeyRing::load_or_generate(state.path(), Algorithm::EdDsa).unwrap();

    let es256 = KeyRing::load_or_generate(state.path(), Algorithm::Es256).unwrap();

    assert!(state.path().join("keys/signing-2.pem").exists());
    assert_eq!(es256.algorithm(), Algorithm::Es256);
    assert_eq!(es256.kids().len(), 1);
    assert_ne!(es256.kids(), eddsa.kids());
    assert_eq!(es256.jwks()["keys"][0]["kty"], "EC");
}

#[test]
fn debug_output_shows_key_ids_and_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_private(dir.path(), "rfc8037.pem", rfc8037_pem().as_bytes(), 0o600);
    let ring = KeyRing::load(&[path], Algorithm::EdDsa).unwrap();

    let shown = format!("{ring:?}");

    assert!(shown.contains(RFC8037_THUMBPRINT), "{shown}");
    assert!(!shown.contains(RFC8037_D), "{shown}");
    let body = rfc8037_pem().lines().nth(1).unwrap().trim().to_owned();
    assert!(!shown.contains(&body), "{shown}");
}

#[test]
fn unusable_key_sets_are_refused_without_panicking() {
    let short_x = URL_SAFE_NO_PAD.encode([7u8; 31]);
    let off_curve = URL_SAFE_NO_PAD.encode([0u8; 32]);
    let y_one = URL_SAFE_NO_PAD.encode([[0u8; 31].as_slice(), &[1]].concat());

    let cases = [
        ("no keys member", json!({}), Algorithm::EdDsa, "no `keys`"),
        (
            "no key for the algorithm",
            json!({ "keys": [{ "kty": "RSA", "n": "AQAB", "e": "AQAB" }] }),
            Algorithm::EdDsa,
            "no usable",
        ),
        (
            "only an encryption key",
            json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "use": "enc" }] }),
            Algorithm::EdDsa,
            "no usable",
        ),
        (
            "private member",
            json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D }] }),
            Algorithm::EdDsa,
            "private key material",
        ),
        (
            "short coordinate",
            json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": short_x }] }),
            Algorithm::EdDsa,
            "31 bytes",
        ),
        (
            "not base64url",
            json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": "a+b/" }] }),
            Algorithm::EdDsa,
            "not base64url",
        ),
        (
            "point off the curve",
            json!({ "keys": [{ "kty": "EC", "crv": "P-256", "x": off_curve, "y": y_one }] }),
            Algorithm::Es256,
            "not a valid",
        ),
        (
            "member not an object",
            json!({ "keys": ["key"] }),
            Algorithm::EdDsa,
            "not an object",
        ),
        (
            "two keys under one kid",
            json!({ "keys": [
                { "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k" },
                { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(ring_public(Algorithm::EdDsa)), "kid": "k" },
            ]}),
            Algorithm::EdDsa,
            "share kid",
        ),
    ];

    for (name, jwks, algorithm, expected) in cases {
        let err = KeyRing::from_jwks(&jwks, algorithm).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}

#[test]
fn key_sets_skip_keys_for_other_algorithms() {
    let jwks = json!({ "keys": [
        { "kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM" },
        { "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "alg": "EdDSA" },
        { "kty": "OKP", "crv": "X25519", "x": RFC8037_X },
    ]});

    let ring = KeyRing::from_jwks(&jwks, Algorithm::EdDsa).unwrap();

    assert_eq!(ring.kids(), [RFC8037_THUMBPRINT]);
}

#[test]
fn a_key_set_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("jwks.json");
    std::fs::write(
        &good,
        json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X }] }).to_string(),
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();

    assert_eq!(
        KeyRing::from_jwks_file(&good, Algorithm::EdDsa)
            .unwrap()
            .kids(),
        [RFC8037_THUMBPRINT]
    );
    let err = KeyRing::from_jwks_file(&bad, Algorithm::EdDsa).unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");
}

/// A fresh public key's raw bytes.
fn ring_public(algorithm: Algorithm) -> Vec<u8> {
    let ring = KeyRing::generate(algorithm).unwrap();
    let x = ring.jwks()["keys"][0]["x"].as_str().unwrap().to_owned();
    URL_SAFE_NO_PAD.decode(x).unwrap()
}

#[test]
fn keys_held_in_memory_load_like_key_files() {
    let pem = rfc8037_pem();

    let ring = KeyRing::from_pkcs8_pems(&[&pem], Algorithm::EdDsa).unwrap();

    assert_eq!(ring.kids(), [RFC8037_THUMBPRINT]);
    assert_eq!(ring.signing_kid(), Some(RFC8037_THUMBPRINT));
    let err = KeyRing::from_pkcs8_pems(&["not a key"], Algorithm::EdDsa).unwrap_err();
    assert!(matches!(err, KeyError::NotPkcs8 { .. }), "{err}");
}

#[test]
fn unchecked_signing_takes_json_only_and_writes_the_txn_token_header() {
    let ring = KeyRing::from_pkcs8_pems(&[&rfc8037_pem()], Algorithm::EdDsa).unwrap();

    let token = ring.sign_unchecked(r#"{"sub":"x"}"#).unwrap();

    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({ "typ": "txntoken+jwt", "alg": "EdDSA", "kid": RFC8037_THUMBPRINT })
    );
    let err = ring.sign_unchecked("{").unwrap_err();
    assert_eq!(err.reason_code(), "token_signing_failed");
}
