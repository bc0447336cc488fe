//! Public keys as JWKs: building seam's published keys, their RFC 7638
//! thumbprints, and reading trusted issuers' JWKS documents.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Algorithm, KeyRing};
use crate::token::error::KeyError;

/// Largest JWKS document read from disk.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// Bytes of one coordinate: the Ed25519 public key, or P-256's x or y.
const COORDINATE_BYTES: usize = 32;

/// A public key ready to join a ring.
pub(super) struct PublicJwk {
    /// The key id: RFC 7638 thumbprint, or the issuer's published `kid`.
    pub(super) kid: String,
    /// The JWK as seam publishes it.
    pub(super) jwk: Value,
    /// The verification key, already checked to be a valid curve point.
    pub(super) verifier: Verifier,
}

/// A public key ready to check signatures. Tokens are verified with ring,
/// the library that signs them: its P-256 verification costs about a
/// quarter of the JWT crate's pure-Rust one, and a chained hop verifies one
/// token per request.
pub(crate) struct Verifier(ring::signature::UnparsedPublicKey<Vec<u8>>);

impl Verifier {
    fn new(algorithm: Algorithm, x: &[u8], y: Option<&[u8]>) -> Verifier {
        let (scheme, bytes): (&'static dyn ring::signature::VerificationAlgorithm, Vec<u8>) =
            match y {
                None => (&ring::signature::ED25519, x.to_vec()),
                Some(y) => {
                    let mut point = Vec::with_capacity(1 + x.len() + y.len());
                    point.push(4);
                    point.extend_from_slice(x);
                    point.extend_from_slice(y);
                    (&ring::signature::ECDSA_P256_SHA256_FIXED, point)
                }
            };
        debug_assert!(matches!(
            (algorithm, y),
            (Algorithm::EdDsa, None) | (Algorithm::Es256, Some(_))
        ));
        Verifier(ring::signature::UnparsedPublicKey::new(scheme, bytes))
    }

    /// Whether `signature` (raw bytes, as JWS carries them) signs `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature).is_ok()
    }
}

impl PublicJwk {
    /// The JWK of a raw public key: 32 bytes for Ed25519, 65 bytes
    /// (uncompressed SEC1) for P-256. The key id is its thumbprint.
    pub(super) fn from_raw(
        algorithm: Algorithm,
        public: &[u8],
        source_name: &str,
    ) -> Result<Self, KeyError> {
        let bad = |reason: &str| KeyError::BadJwks {
            source_name: source_name.to_owned(),
            reason: reason.to_owned(),
        };

        let (x, y) = match algorithm {
            Algorithm::EdDsa if public.len() == COORDINATE_BYTES => (public, None),
            Algorithm::Es256 if public.len() == 1 + 2 * COORDINATE_BYTES && public[0] == 4 => {
                let (x, y) = public[1..].split_at(COORDINATE_BYTES);
                (x, Some(y))
            }
            _ => return Err(bad("public key has the wrong length for the algorithm")),
        };

        let x = URL_SAFE_NO_PAD.encode(x);
        let y = y.map(|y| URL_SAFE_NO_PAD.encode(y));
        let kid = thumbprint(algorithm, &x, y.as_deref());
        Self::build(algorithm, kid, x, y, source_name)
    }

    /// Checks the coordinates and builds the published JWK and the
    /// verification key.
    fn build(
        algorithm: Algorithm,
        kid: String,
        x: String,
        y: Option<String>,
        source_name: &str,
    ) -> Result<Self, KeyError> {
        let (decoding, jwk) = match (algorithm, y) {
            (Algorithm::EdDsa, None) => (
                DecodingKey::from_ed_components(&x),
                json!({
                    "kty": "OKP", "crv": "Ed25519", "x": x,
                    "kid": kid, "alg": algorithm.jws_name(), "use": "sig",
                }),
            ),
            (Algorithm::Es256, Some(y)) => (
                DecodingKey::from_ec_components(&x, &y),
                json!({
                    "kty": "EC", "crv": "P-256", "x": x, "y": y,
                    "kid": kid, "alg": algorithm.jws_name(), "use": "sig",
                }),
            ),
            _ => {
                return Err(KeyError::BadJwks {
                    source_name: source_name.to_owned(),
                    reason: format!("key `{kid}` does not match {algorithm}"),
                });
            }
        };

        let invalid = || KeyError::BadJwks {
            source_name: source_name.to_owned(),
            reason: format!("key `{kid}` is not a valid {algorithm} public key"),
        };
        let decoding = decoding.map_err(|_| invalid())?;

        // Checking one signature with the JWT crate parses the point, so a
        // point that is not on the curve is refused here, at load, rather
        // than failing every token later.
        if jsonwebtoken::crypto::verify("AA", b"probe", &decoding, algorithm.jws()).is_err() {
            return Err(invalid());
        }

        let raw = |coordinate: &str| URL_SAFE_NO_PAD.decode(coordinate).map_err(|_| invalid());
        let x_bytes = raw(&x)?;
        let y_bytes = match jwk.get("y").and_then(Value::as_str) {
            Some(y) => Some(raw(y)?),
            None => None,
        };
        let verifier = Verifier::new(algorithm, &x_bytes, y_bytes.as_deref());
        Ok(Self { kid, jwk, verifier })
    }

    /// Reads one member of a JWKS `keys` array. Keys for another algorithm
    /// or another use are skipped (`None`); a key that claims to be for
    /// this algorithm but is malformed, or carries private material, is an
    /// error.
    fn from_published(
        algorithm: Algorithm,
        key: &Value,
        source_name: &str,
    ) -> Result<Option<Self>, KeyError> {
        let bad = |reason: String| KeyError::BadJwks {
            source_name: source_name.to_owned(),
            reason,
        };
        let Some(key) = key.as_object() else {
            return Err(bad("a member of `keys` is not an object".to_owned()));
        };

        let (kty, crv) = match algorithm {
            Algorithm::EdDsa => ("OKP", "Ed25519"),
            Algorithm::Es256 => ("EC", "P-256"),
        };
        let text = |name: &str| key.get(name).and_then(Value::as_str);
        if text("kty") != Some(kty) || text("crv") != Some(crv) {
            return Ok(None);
        }
        if key.get("use").is_some_and(|u| u.as_str() != Some("sig"))
            || key
                .get("alg")
                .is_some_and(|a| a.as_str() != Some(algorithm.jws_name()))
        {
            return Ok(None);
        }

        let x = coordinate(key, "x").map_err(&bad)?;
        let y = match algorithm {
            Algorithm::EdDsa => None,
            Algorithm::Es256 => Some(coordinate(key, "y").map_err(&bad)?),
        };
        let kid = match key.get("kid") {
            None => thumbprint(algorithm, &x, y.as_deref()),
            Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
            Some(_) => return Err(bad("a key's `kid` is not a non-empty string".to_owned())),
        };
        if key.contains_key("d") {
            return Err(bad(format!("key `{kid}` carries private key material")));
        }

        Self::build(algorithm, kid, x, y, source_name).map(Some)
    }
}

/// RFC 7638 thumbprint: base64url SHA-256 of the required members in
/// lexicographic order, without whitespace.
pub(super) fn thumbprint(algorithm: Algorithm, x: &str, y: Option<&str>) -> String {
    // Coordinates are base64url text, which needs no JSON escaping.
    let canonical = match (algorithm, y) {
        (Algorithm::Es256, Some(y)) => {
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
        _ => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A base64url coordinate of exactly 32 bytes, returned as the text given.
fn coordinate(key: &Map<String, Value>, name: &str) -> Result<String, String> {
    let Some(text) = key.get(name).and_then(Value::as_str) else {
        return Err(format!("a key has no string `{name}`"));
    };
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(bytes) if bytes.len() == COORDINATE_BYTES => Ok(text.to_owned()),
        Ok(bytes) => Err(format!(
            "a key's `{name}` is {} bytes, expected {COORDINATE_BYTES}",
            bytes.len()
        )),
        Err(_) => Err(format!("a key's `{name}` is not base64url")),
    }
}

impl KeyRing {
    /// A verify-only ring from a JWKS document (`{"keys": [...]}`), for a
    /// trusted issuer. Keys of another type, curve, `alg` or `use` are
    /// skipped; the set must hold at least one key for `algorithm`.
    pub fn from_jwks(jwks: &Value, algorithm: Algorithm) -> Result<Self, KeyError> {
        Self::from_jwks_named(jwks, algorithm, "inline")
    }

    /// [`KeyRing::from_jwks`] over a JWKS file.
    pub fn from_jwks_file(path: &Path, algorithm: Algorithm) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        let source_name = path.display().to_string();
        if size > MAX_JWKS_BYTES {
            return Err(KeyError::BadJwks {
                source_name,
                reason: format!("file is {size} bytes, more than {MAX_JWKS_BYTES}"),
            });
        }

        let text = std::fs::read_to_string(path).map_err(io)?;
        let jwks: Value = serde_json::from_str(&text).map_err(|err| KeyError::BadJwks {
            source_name: source_name.clone(),
            reason: format!("not JSON: {err}"),
        })?;
        Self::from_jwks_named(&jwks, algorithm, &source_name)
    }

    fn from_jwks_named(
        jwks: &Value,
        algorithm: Algorithm,
        source_name: &str,
    ) -> Result<Self, KeyError> {
        let Some(members) = jwks.get("keys").and_then(Value::as_array) else {
            return Err(KeyError::BadJwks {
                source_name: source_name.to_owned(),
                reason: "no `keys` array".to_owned(),
            });
        };

        let mut ring = Self {
            algorithm,
            keys: Vec::new(),
            signer: None,
        };
        for member in members {
            if let Some(public) = PublicJwk::from_published(algorithm, member, source_name)? {
                ring.insert(public, None, source_name)?;
            }
        }

        if ring.keys.is_empty() {
            return Err(KeyError::NoKeys {
                source_name: source_name.to_owned(),
                algorithm: algorithm.jws_name(),
            });
        }
        Ok(ring)
    }
}
