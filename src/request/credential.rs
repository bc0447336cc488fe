//! The caller's other credential: a bearer token or API key sent beside the
//! certificate.
//!
//! seam does not authenticate with these (identity comes only from the
//! certificate); it reports them so policies can refuse static or long-lived
//! secrets travelling through the mesh. A JWT's claims are read without
//! verifying its signature: only its shape and lifetime are reported, never
//! its contents.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::headers::Headers;

/// Largest credential value examined; longer ones are reported as `other`.
const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;

/// What kind of credential a request carries besides its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// None.
    None,
    /// `authorization: Bearer <JWT>`.
    BearerJwt,
    /// `authorization: Bearer <opaque token>`.
    Bearer,
    /// `authorization: Basic ...`.
    Basic,
    /// A configured API-key header.
    ApiKey,
    /// An authorization header of another scheme, or one too large or unreadable.
    Other,
}

/// The credential facts policies see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    /// The kind found (`None` when absent).
    pub kind: Kind,
    /// A JWT without an `exp` claim.
    pub lacks_expiry: bool,
    /// A JWT without `exp`, or whose lifetime exceeds the configured limit.
    pub long_lived: bool,
}

impl Kind {
    /// The name policies compare against.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::BearerJwt => "bearer_jwt",
            Kind::Bearer => "bearer",
            Kind::Basic => "basic",
            Kind::ApiKey => "api_key",
            Kind::Other => "other",
        }
    }
}

impl Credential {
    /// Whether any credential was found.
    pub fn present(&self) -> bool {
        self.kind != Kind::None
    }
}

/// Looks at `authorization` and the API-key headers named in
/// `api_key_headers`. `now` and `max_lifetime` are seconds; a JWT lives
/// from its `iat` (or `nbf`, or `now` when neither) to its `exp`.
pub fn examine(
    headers: &Headers<'_>,
    api_key_headers: &[String],
    now: i64,
    max_lifetime: i64,
) -> Credential {
    let absent = Credential {
        kind: Kind::None,
        lacks_expiry: false,
        long_lived: false,
    };

    if headers.contains("authorization") {
        return match headers.text("authorization") {
            Ok(Some(value)) => classify_authorization(&value, now, max_lifetime),
            _ => Credential {
                kind: Kind::Other,
                ..absent
            },
        };
    }
    if let Some(name) = api_key_headers.iter().find(|h| headers.contains(h)) {
        // An API key can be a JWT too; its lifetime counts the same.
        let value = headers.text(name).ok().flatten().unwrap_or_default();
        return with_jwt_flags(Kind::ApiKey, value.trim(), now, max_lifetime);
    }
    absent
}

/// A credential of `kind`, flagged by the lifetime of `token` when it is a
/// JWT (whatever header or scheme carried it).
fn with_jwt_flags(kind: Kind, token: &str, now: i64, max_lifetime: i64) -> Credential {
    let (lacks_expiry, long_lived) = jwt_flags(token, now, max_lifetime).unwrap_or_default();
    Credential {
        kind,
        lacks_expiry,
        long_lived,
    }
}

/// `(lacks_expiry, long_lived)` when `token` is a JWT; `None` otherwise,
/// and for anything over the size cap, which is never decoded.
fn jwt_flags(token: &str, now: i64, max_lifetime: i64) -> Option<(bool, bool)> {
    if token.len() > MAX_CREDENTIAL_BYTES {
        return None;
    }
    Some(match jwt_lifetime(token)? {
        Lifetime::Unbounded => (true, true),
        Lifetime::Seconds(secs) => (false, secs > max_lifetime),
        Lifetime::From { exp } => (false, exp.saturating_sub(now) > max_lifetime),
    })
}

/// Classifies one `authorization` header value.
pub fn classify_authorization(value: &str, now: i64, max_lifetime: i64) -> Credential {
    let other = Credential {
        kind: Kind::Other,
        lacks_expiry: false,
        long_lived: false,
    };
    if value.len() > MAX_CREDENTIAL_BYTES {
        return other;
    }

    let value = value.trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        return Credential {
            kind: Kind::Basic,
            ..other
        };
    }
    if !scheme.eq_ignore_ascii_case("bearer") || rest.is_empty() {
        // Another scheme (`Token <jwt>`), or a bare token with no scheme:
        // still flagged if what it carries is a JWT.
        let token = if rest.is_empty() { scheme } else { rest };
        return with_jwt_flags(Kind::Other, token, now, max_lifetime);
    }

    match jwt_flags(rest, now, max_lifetime) {
        Some((lacks_expiry, long_lived)) => Credential {
            kind: Kind::BearerJwt,
            lacks_expiry,
            long_lived,
        },
        None => Credential {
            kind: Kind::Bearer,
            ..other
        },
    }
}

enum Lifetime {
    /// No `exp`.
    Unbounded,
    /// `exp - iat` (or `exp - nbf`).
    Seconds(i64),
    /// Only `exp` is known.
    From { exp: i64 },
}

/// The lifetime of `token` if it is shaped as a JWS compact JWT whose
/// header and payload are JSON objects; `None` otherwise.
fn jwt_lifetime(token: &str) -> Option<Lifetime> {
    // Segments after the signature (`<jwt>.`) are ignored rather than
    // taken as "not a JWT": a lenient verifier upstream may accept them.
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);

    let header = decode_object(header)?;
    header.get("alg")?;
    let claims = decode_object(payload)?;

    let number = |name: &str| claims.get(name).and_then(numeric_date);
    let Some(exp) = number("exp") else {
        return Some(Lifetime::Unbounded);
    };
    match number("iat").or_else(|| number("nbf")) {
        Some(start) => Some(Lifetime::Seconds(exp.saturating_sub(start))),
        None => Some(Lifetime::From { exp }),
    }
}

fn decode_object(part: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A NumericDate: integer or float seconds, clamped into `i64`.
fn numeric_date(value: &serde_json::Value) -> Option<i64> {
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = value.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    // A float cast saturates at the i64 bounds, which is what is wanted here.
    Some(f as i64)
}

#[cfg(test)]
mod tests;
