//! Signing and verification keys for Txn-Tokens: seam's own key ring and
//! the public keys of trusted issuers.
//!
//! A [`KeyRing`] holds one or more keys of the configured [`Algorithm`]. Each
//! key is named by its RFC 7638 JWK thumbprint, which becomes the `kid` of
//! the tokens it signs. The last key given signs; every key in the ring
//! verifies, so a rotation publishes old and new keys side by side until the
//! old one is dropped from the ring. Private keys come from PKCS#8 PEM files
//! ([`files`](self::KeyRing::load)); trusted issuers' public keys come from
//! JWKS documents ([`jwk`](self::KeyRing::from_jwks)).

mod files;
mod jwk;

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::error::{KeyError, TokenError};

pub use files::generate_pkcs8_pem;

/// The JWS algorithm seam signs with and accepts. It is configuration:
/// verification never reads the algorithm from a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// EdDSA over Ed25519 (RFC 8037), JWS name `EdDSA`.
    #[default]
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// ECDSA over P-256 with SHA-256, JWS name `ES256`.
    #[serde(rename = "ES256")]
    Es256,
}

impl Algorithm {
    /// The JWS `alg` name: `EdDSA` or `ES256`.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// The signing library's name for this algorithm.
    pub(crate) fn jws(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jws_name())
    }
}

/// The algorithm name given in configuration is not one seam supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token algorithm `{0}` is not supported, use `EdDSA` or `ES256`")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses the JWS name, exactly as JWA spells it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Self::EdDsa),
            "ES256" => Ok(Self::Es256),
            other => Err(UnknownAlgorithm(other.to_owned())),
        }
    }
}

/// A set of keys of one algorithm: all verify, the last one loaded (if it
/// has its private half) signs.
///
/// `Debug` shows the algorithm and key ids only, never key material.
pub struct KeyRing {
    algorithm: Algorithm,
    keys: Vec<RingKey>,
    signer: Option<usize>,
}

/// One key of a ring.
pub(crate) struct RingKey {
    /// RFC 7638 thumbprint, or the `kid` a trusted issuer published.
    pub(crate) kid: String,
    /// The public JWK as published in the JWKS.
    jwk: Value,
    /// The public key, checked when the ring was built.
    pub(crate) verifier: jwk::Verifier,
    /// The private key, for seam's own keys only.
    encoding: Option<Signer>,
}

/// A private key parsed once, ready to sign. The JWT crate re-parses its
/// key (and for Ed25519 re-derives the public point) on every signature,
/// which costs more than the rest of a decision; a token is minted on every
/// allow, so seam keeps the parsed key and signs the JWS input itself.
/// Verification uses ring too (see [`jwk::Verifier`]).
pub(crate) enum Signer {
    Ed25519(ring::signature::Ed25519KeyPair),
    P256(ring::signature::EcdsaKeyPair, ring::rand::SystemRandom),
}

impl Signer {
    fn from_pkcs8(algorithm: Algorithm, pkcs8: &[u8]) -> Result<Signer, String> {
        match algorithm {
            Algorithm::EdDsa => ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map(Signer::Ed25519)
                .map_err(|e| e.to_string()),
            Algorithm::Es256 => {
                let rng = ring::rand::SystemRandom::new();
                ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &rng,
                )
                .map(|key| Signer::P256(key, rng))
                .map_err(|e| e.to_string())
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, TokenError> {
        match self {
            Signer::Ed25519(key) => Ok(key.sign(input).as_ref().to_vec()),
            Signer::P256(key, rng) => key
                .sign(rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| TokenError::SigningFailed("the P-256 signer failed".to_owned())),
        }
    }
}

/// A private key read from PKCS#8, before it joins a ring.
pub(crate) struct PrivateKey {
    /// PKCS#8 DER, wiped on drop.
    pub(crate) pkcs8: Zeroizing<Vec<u8>>,
    /// The raw public key: 32 bytes for Ed25519, 65 (uncompressed) for P-256.
    pub(crate) public: Vec<u8>,
}

impl KeyRing {
    /// A ring of seam's own private keys, oldest first; the last one signs.
    pub(crate) fn from_private_keys(
        algorithm: Algorithm,
        private: Vec<PrivateKey>,
        source_name: &str,
    ) -> Result<Self, KeyError> {
        let mut ring = Self {
            algorithm,
            keys: Vec::with_capacity(private.len()),
            signer: None,
        };

        for key in private {
            let public = jwk::PublicJwk::from_raw(algorithm, &key.public, source_name)?;
            let encoding =
                Signer::from_pkcs8(algorithm, &key.pkcs8).map_err(|reason| KeyError::Unusable {
                    source_name: source_name.to_owned(),
                    reason,
                })?;
            let index = ring.insert(public, Some(encoding), source_name)?;
            ring.signer = Some(index);
        }

        if ring.keys.is_empty() {
            return Err(KeyError::NoKeys {
                source_name: source_name.to_owned(),
                algorithm: algorithm.jws_name(),
            });
        }
        Ok(ring)
    }

    /// Adds a key, or finds it when the same key is already in the ring;
    /// returns its index.
    fn insert(
        &mut self,
        public: jwk::PublicJwk,
        encoding: Option<Signer>,
        source_name: &str,
    ) -> Result<usize, KeyError> {
        if let Some(index) = self.keys.iter().position(|k| k.kid == public.kid) {
            if self.keys[index].jwk != public.jwk {
                return Err(KeyError::BadJwks {
                    source_name: source_name.to_owned(),
                    reason: format!("two different keys share kid `{}`", public.kid),
                });
            }
            if encoding.is_some() {
                self.keys[index].encoding = encoding;
            }
            return Ok(index);
        }

        self.keys.push(RingKey {
            kid: public.kid,
            jwk: public.jwk,
            verifier: public.verifier,
            encoding,
        });
        Ok(self.keys.len() - 1)
    }

    /// The algorithm every key of this ring is for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key ids in the ring, in the order the keys were given.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// The key id new tokens are signed with, if the ring can sign.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signer.map(|i| self.keys[i].kid.as_str())
    }

    /// The public JWK set: every key, with `kty`, `crv`, `x` (and `y`),
    /// `kid`, `alg` and `use: sig`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys })
    }

    /// The key named `kid`, if the ring holds it.
    pub(crate) fn find(&self, kid: &str) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Signs `claims` as a Txn-Token with the signing key: header
    /// `{"typ":"txntoken+jwt","alg":<configured>,"kid":<signing kid>}`.
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<(String, String), TokenError> {
        let Some(key) = self.signer.map(|i| &self.keys[i]) else {
            return Err(TokenError::SigningFailed(
                "the key ring has no private key".to_owned(),
            ));
        };
        let Some(encoding) = key.encoding.as_ref() else {
            return Err(TokenError::SigningFailed(
                "the key ring has no private key".to_owned(),
            ));
        };

        let header = serde_json::json!({
            "typ": super::TOKEN_TYPE,
            "alg": self.algorithm.jws_name(),
            "kid": key.kid,
        });
        let claims = serde_json::to_vec(claims)
            .map_err(|err| TokenError::SigningFailed(format!("claims do not serialise: {err}")))?;
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let signature = encoding.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok((token, key.kid.clone()))
    }

    /// Signs arbitrary claims (JSON text) with the ring's signing key and
    /// the Txn-Token header, without any of the checks
    /// [`Tokens::mint`](super::Tokens::mint) applies.
    ///
    /// For tests, fuzzing and tooling that need tokens seam would never
    /// issue; the decision path mints only through `Tokens::mint`.
    pub fn sign_unchecked(&self, claims_json: &str) -> Result<String, TokenError> {
        let claims: Value = serde_json::from_str(claims_json)
            .map_err(|err| TokenError::SigningFailed(format!("claims are not JSON: {err}")))?;
        self.sign(&claims).map(|(token, _)| token)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("algorithm", &self.algorithm)
            .field("kids", &self.kids())
            .field("signing_kid", &self.signing_kid())
            .finish()
    }
}

#[cfg(test)]
mod tests;
