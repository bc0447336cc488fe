//! Checking a presented token, in a fixed order so that each refusal has one
//! precise reason: size, shape, header, key, signature, claims (types and
//! chain depth), audience, time, holder.
//!
//! Nothing is decoded before the size cap, nothing but the header is read
//! before the signature verifies, and the algorithm is the configured one
//! whatever the header says.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::claims::{Inbound, ReadClaims, bounded, read_claims};
use super::error::{TokenError, shown};
use super::json::Strict;
use super::keys::{Algorithm, KeyRing, RingKey};
use super::{MAX_LIFETIME, TOKEN_TYPE, TokenSettings};

/// Largest token [`inspect`] decodes; it has no settings to take a cap from.
const INSPECT_MAX_BYTES: usize = 64 * 1024;

/// What one verification checks against.
pub(crate) struct Check<'a> {
    /// Algorithm, leeway, depth and size caps.
    pub(crate) settings: &'a TokenSettings,
    /// The verifier's clock, Unix seconds.
    pub(crate) now: i64,
    /// The required audience; `None` only for command-line inspection.
    pub(crate) audience: Option<&'a str>,
    /// The workload presenting the token; `None` only for command-line
    /// inspection, where no holder can be checked.
    pub(crate) presenter: Option<&'a str>,
}

/// Verifies `token` with a key from `rings`; returns the typed view and the
/// verified claims as sent.
pub(crate) fn verify(
    token: &str,
    rings: &[&KeyRing],
    check: &Check<'_>,
) -> Result<(Inbound, Value), TokenError> {
    let settings = check.settings;
    if token.len() > settings.max_token_bytes {
        return Err(TokenError::TooLarge {
            size: token.len(),
            limit: settings.max_token_bytes,
        });
    }

    let [header, claims, signature] = segments(token)?;
    let header = decode_json(header, "header")?;
    let kid = check_header(&header, settings.algorithm)?;

    let key = rings
        .iter()
        .filter(|ring| ring.algorithm() == settings.algorithm)
        .find_map(|ring| ring.find(kid))
        .ok_or_else(|| TokenError::UnknownKey { kid: shown(kid) })?;
    check_signature(token, signature, key)?;
    let claims = decode_json(claims, "claims")?;

    let ReadClaims {
        iat,
        exp,
        nbf,
        aud,
        mut inbound,
    } = read_claims(&claims, kid, settings.max_chain_depth)?;
    inbound.audience = check_audience(aud, check.audience)?;

    let leeway = i64::try_from(settings.leeway.as_secs()).unwrap_or(i64::MAX);
    check_times(iat, nbf, exp, check.now, leeway)?;

    // A token with no holder could be replayed by any workload that saw it;
    // a presented one is refused. (Inspection has no presenter to check.)
    if check.presenter.is_some() && inbound.holder.is_none() {
        return Err(TokenError::Unbound);
    }
    if let (Some(holder), Some(presenter)) = (inbound.holder.as_deref(), check.presenter)
        && holder != bounded(presenter)
    {
        return Err(TokenError::WrongHolder {
            holder: shown(holder),
            presenter: shown(presenter),
        });
    }
    Ok((inbound, claims))
}

/// Decodes a token's header and claims WITHOUT verifying anything, for
/// `seam token inspect`: `{"header": {...}, "claims": {...}}`.
pub fn inspect(token: &str) -> Result<Value, TokenError> {
    if token.len() > INSPECT_MAX_BYTES {
        return Err(TokenError::TooLarge {
            size: token.len(),
            limit: INSPECT_MAX_BYTES,
        });
    }

    let [header, claims, _] = segments(token)?;
    Ok(json!({
        "header": decode_json(header, "header")?,
        "claims": decode_json(claims, "claims")?,
    }))
}

/// The three segments of a compact JWS, each only base64url characters;
/// header and claims not empty (an empty signature fails its check later).
fn segments(token: &str) -> Result<[&str; 3], TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "expected three dot-separated segments".to_owned(),
        ));
    };

    for (name, part) in [
        ("header", header),
        ("claims", claims),
        ("signature", signature),
    ] {
        let outside = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'));
        if let Some(c) = outside {
            return Err(TokenError::Malformed(format!(
                "{name} segment has `{}`, outside base64url",
                c.escape_default()
            )));
        }
    }
    if header.is_empty() || claims.is_empty() {
        return Err(TokenError::Malformed(
            "empty header or claims segment".to_owned(),
        ));
    }
    Ok([header, claims, signature])
}

/// Decodes one base64url segment as JSON without duplicate members.
fn decode_json(segment: &str, name: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|err| TokenError::Malformed(format!("{name} segment is not base64url: {err}")))?;
    serde_json::from_slice::<Strict>(&bytes)
        .map(|strict| strict.0)
        .map_err(|err| TokenError::Malformed(format!("{name} is not JSON: {err}")))
}

/// Checks `typ`, `alg` and `crit`, and returns the `kid`.
fn check_header(header: &Value, algorithm: Algorithm) -> Result<&str, TokenError> {
    let Some(header) = header.as_object() else {
        return Err(TokenError::Malformed(
            "header is not a JSON object".to_owned(),
        ));
    };
    let member = |name: &str| header_text(header, name);

    let typ = member("typ")?;
    // Media types compare case-insensitively, and `application/` may be
    // left out (RFC 7515, section 4.1.9).
    let media = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .and_then(|_| typ.get(12..))
        .unwrap_or(typ);
    if !media.eq_ignore_ascii_case(TOKEN_TYPE) {
        return Err(TokenError::BadHeader(format!(
            "`typ` is `{}`, expected `{TOKEN_TYPE}`",
            shown(typ)
        )));
    }

    let alg = member("alg")?;
    if alg != algorithm.jws_name() {
        return Err(TokenError::BadHeader(format!(
            "`alg` is `{}`, only `{}` is accepted",
            shown(alg),
            algorithm.jws_name()
        )));
    }

    if header.contains_key("crit") {
        return Err(TokenError::BadHeader(
            "`crit` names extensions seam does not implement".to_owned(),
        ));
    }
    member("kid")
}

fn header_text<'h>(header: &'h Map<String, Value>, name: &str) -> Result<&'h str, TokenError> {
    match header.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(TokenError::BadHeader(format!(
            "`{name}` is not a non-empty string"
        ))),
        None => Err(TokenError::BadHeader(format!("no `{name}`"))),
    }
}

/// Verifies the signature over the first two segments with `key`, whose
/// ring was chosen for the configured algorithm only. The claims are
/// decoded after this, by seam, so that their checks run on seam's clock
/// with precise reasons.
fn check_signature(token: &str, signature: &str, key: &RingKey) -> Result<(), TokenError> {
    let bad_signature = || TokenError::BadSignature {
        kid: shown(&key.kid),
    };
    let Some((signed, _)) = token.rsplit_once('.') else {
        return Err(bad_signature());
    };

    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|err| {
        TokenError::Malformed(format!("signature segment is not base64url: {err}"))
    })?;
    if key.verifier.verify(signed.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(bad_signature())
    }
}

/// Exactly one audience, equal byte for byte to the required one (a string,
/// or an array of one string).
fn check_audience(aud: Vec<String>, required: Option<&str>) -> Result<String, TokenError> {
    let found = || shown(&Value::from(aud.clone()).to_string());
    let [single] = aud.as_slice() else {
        return Err(TokenError::WrongAudience {
            expected: required.unwrap_or("one audience").to_owned(),
            found: found(),
        });
    };

    match required {
        Some(required) if single != required => Err(TokenError::WrongAudience {
            expected: required.to_owned(),
            found: found(),
        }),
        _ => Ok(single.clone()),
    }
}

/// `iat` and `nbf` not ahead of now beyond the leeway, `exp` not behind it,
/// and a lifetime that is positive and within [`MAX_LIFETIME`].
fn check_times(
    iat: i64,
    nbf: Option<i64>,
    exp: i64,
    now: i64,
    leeway: i64,
) -> Result<(), TokenError> {
    let latest_accepted = now.saturating_add(leeway);
    if iat > latest_accepted {
        return Err(TokenError::IssuedInFuture { iat, now });
    }
    if let Some(nbf) = nbf.filter(|nbf| *nbf > latest_accepted) {
        return Err(TokenError::NotYetValid { nbf, now });
    }
    if exp.saturating_add(leeway) <= now {
        return Err(TokenError::Expired { exp, now });
    }

    let lifetime = exp.saturating_sub(iat);
    let cap = i64::try_from(MAX_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    if lifetime <= 0 || lifetime > cap {
        return Err(TokenError::bad_claim(
            "exp",
            format!("lifetime `{lifetime}` s is outside 1 to {cap} s"),
        ));
    }
    Ok(())
}
