//! Why a Txn-Token was refused or could not be issued, and why signing keys
//! could not be loaded.
//!
//! [`TokenError`] leaves [`Tokens::verify`](super::Tokens::verify) and
//! [`Tokens::mint`](super::Tokens::mint); the Check handler writes its
//! [`TokenError::reason_code`] into the decision record. [`KeyError`] and
//! [`SettingsError`] stop seam at start (or a key reload) before any token is
//! issued.

use std::path::PathBuf;

/// Longest piece of a presented token echoed in an error message; the rest
/// is cut so that an attacker cannot fill logs through a claim value.
const SHOWN_BYTES: usize = 80;

/// Why a presented token was not accepted, or a token could not be minted.
///
/// Messages never carry key material or a whole token, and cut every value
/// taken from a token to a short prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url segments holding a JSON header and JSON claims.
    #[error("token is malformed: {0}")]
    Malformed(String),

    /// The encoded token is over the configured size cap.
    #[error("token is {size} bytes, larger than the {limit} allowed")]
    TooLarge {
        /// Size of the token as presented or as it would be issued.
        size: usize,
        /// The configured cap.
        limit: usize,
    },

    /// `typ`, `alg` or `kid` is missing or not what seam accepts, or the
    /// header asks for an extension seam does not implement.
    #[error("token header is not acceptable: {0}")]
    BadHeader(String),

    /// No key in the own or trusted key rings has the header's `kid`.
    #[error("token key id `{kid}` is not in any trusted key set")]
    UnknownKey {
        /// The `kid` from the header.
        kid: String,
    },

    /// The signature does not verify with the key named by `kid`.
    #[error("token signature does not verify with key `{kid}`")]
    BadSignature {
        /// The `kid` whose key was tried.
        kid: String,
    },

    /// `exp` has passed, beyond the leeway.
    #[error("token expired at `{exp}`, now is `{now}`")]
    Expired {
        /// The token's `exp`, Unix seconds.
        exp: i64,
        /// The verifier's clock, Unix seconds.
        now: i64,
    },

    /// `nbf` is ahead of the clock, beyond the leeway.
    #[error("token is not valid before `{nbf}`, now is `{now}`")]
    NotYetValid {
        /// The token's `nbf`, Unix seconds.
        nbf: i64,
        /// The verifier's clock, Unix seconds.
        now: i64,
    },

    /// `iat` is ahead of the clock, beyond the leeway.
    #[error("token is issued at `{iat}`, in the future of now `{now}`")]
    IssuedInFuture {
        /// The token's `iat`, Unix seconds.
        iat: i64,
        /// The verifier's clock, Unix seconds.
        now: i64,
    },

    /// `aud` names another trust domain, or several.
    #[error("token audience `{found}` is not `{expected}`")]
    WrongAudience {
        /// The audience the verifier (or minter) requires.
        expected: String,
        /// The audience found, as compact JSON, cut short.
        found: String,
    },

    /// A required claim is absent.
    #[error("token claim `{0}` is missing")]
    MissingClaim(String),

    /// A claim is present with the wrong type or an unusable value.
    #[error("token claim `{claim}` is invalid: {reason}")]
    BadClaim {
        /// The claim's name, dotted for nested members (`tctx.decision_id`).
        claim: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The token is bound (`cnf.spiffe_id`) to another workload than the
    /// one presenting it.
    #[error("token is bound to `{holder}`, presented by `{presenter}`")]
    WrongHolder {
        /// The bound holder.
        holder: String,
        /// The workload that presented the token, or that asked to extend it.
        presenter: String,
    },

    /// The token names no holder (it was minted where Envoy gave no
    /// destination identity), so no workload can show it is the holder.
    #[error("token is bound to no workload, so none may present it onward")]
    Unbound,

    /// The delegation chain has more workloads than allowed.
    #[error("token chain has {depth} workloads, more than the {limit} allowed")]
    ChainTooDeep {
        /// Workloads in the chain (origin included), or the first count seen
        /// over the limit.
        depth: usize,
        /// The configured maximum.
        limit: usize,
    },

    /// A replacement token was asked for with another scope than the
    /// token it replaces.
    #[error("replacement token would change scope `{scope}` to `{requested}`")]
    ScopeWidened {
        /// The scope of the token being replaced.
        scope: String,
        /// The scope asked for.
        requested: String,
    },

    /// The token could not be signed: no signing key, or the signer failed.
    #[error("token could not be signed: {0}")]
    SigningFailed(String),
}

impl TokenError {
    /// The stable reason code written into decision records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token_malformed",
            Self::TooLarge { .. } => "token_too_large",
            Self::BadHeader(_) => "token_bad_header",
            Self::UnknownKey { .. } => "token_unknown_key",
            Self::BadSignature { .. } => "token_bad_signature",
            Self::Expired { .. } => "token_expired",
            Self::NotYetValid { .. } => "token_not_yet_valid",
            Self::IssuedInFuture { .. } => "token_issued_in_future",
            Self::WrongAudience { .. } => "token_wrong_audience",
            Self::MissingClaim(_) => "token_missing_claim",
            Self::BadClaim { .. } => "token_bad_claim",
            Self::WrongHolder { .. } => "token_wrong_holder",
            Self::Unbound => "token_unbound",
            Self::ChainTooDeep { .. } => "token_chain_too_deep",
            Self::ScopeWidened { .. } => "token_scope_widened",
            Self::SigningFailed(_) => "token_signing_failed",
        }
    }

    /// A [`TokenError::BadClaim`] for `claim`.
    pub(crate) fn bad_claim(claim: &str, reason: impl Into<String>) -> Self {
        Self::BadClaim {
            claim: claim.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why signing or verification keys could not be loaded or generated.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file or directory could not be read or written.
    #[error("key file `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A private key file may be read or written by group or others.
    #[error("key file `{path}` has mode `{mode:o}`, a private key must be 0600 or stricter")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A key file is not one PKCS#8 `PRIVATE KEY` PEM block.
    #[error("key file `{path}` is not a PKCS#8 PEM private key: {reason}")]
    NotPkcs8 {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// A key file holds a key for another algorithm than the configured one.
    #[error("key file `{path}` does not hold an {algorithm} key: {reason}")]
    WrongAlgorithm {
        /// The file.
        path: PathBuf,
        /// The configured algorithm's JWS name.
        algorithm: &'static str,
        /// Why the key was rejected.
        reason: String,
    },

    /// No key file was given, or a JWKS holds no usable key.
    #[error("no usable {algorithm} key in `{source_name}`")]
    NoKeys {
        /// Where the keys were looked for.
        source_name: String,
        /// The configured algorithm's JWS name.
        algorithm: &'static str,
    },

    /// A JWKS document or one of its keys is invalid.
    #[error("key set `{source_name}` is invalid: {reason}")]
    BadJwks {
        /// The file, or `inline` for a key set given as a value.
        source_name: String,
        /// What is wrong.
        reason: String,
    },

    /// A private key parsed but the signer refused it.
    #[error("a private key from {source_name} cannot sign: {reason}")]
    Unusable {
        /// Where the key came from.
        source_name: String,
        /// Why the signer refused it.
        reason: String,
    },

    /// A new key could not be generated.
    #[error("key generation failed for {algorithm}")]
    Generation {
        /// The configured algorithm's JWS name.
        algorithm: &'static str,
    },
}

/// Why token settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A setting is outside its allowed range.
    #[error("token setting `{key}` is `{value}`, allowed is {allowed}")]
    OutOfRange {
        /// The setting's name.
        key: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        allowed: &'static str,
    },

    /// The issuer name is empty or too long.
    #[error("token setting `issuer` must be 1 to 256 bytes, got {0}")]
    Issuer(usize),
}

/// `value` cut to a short prefix for an error message, marked when cut,
/// with control characters escaped so a message stays on one line.
pub(crate) fn shown(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(SHOWN_BYTES) + 3);
    for c in value.chars() {
        if out.len() >= SHOWN_BYTES {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_are_cut_and_kept_on_one_line() {
        assert_eq!(shown("spiffe://example.org/a"), "spiffe://example.org/a");
        assert_eq!(shown("a\nb\u{0}"), "a\\nb\\u{0}");
        let long = shown(&"é".repeat(100));
        assert!(long.ends_with("..."));
        assert!(long.len() <= SHOWN_BYTES + 5);
    }
}
