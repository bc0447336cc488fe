//! The X.509-SVID rules for the caller's leaf certificate.
//!
//! Runs right after the certificate field is decoded and before any trust
//! bundle is consulted: the leaf must carry exactly one URI SAN holding a
//! valid workload SPIFFE ID, must not be a CA, must have a critical keyUsage
//! with digitalSignature and without certificate or CRL signing, must allow
//! clientAuth when it restricts extended key usage, and must carry no
//! critical extension seam does not understand.

use std::time::{Duration, SystemTime};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_BASIC_CONSTRAINTS,
    OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE, OID_X509_EXT_SUBJECT_ALT_NAME,
    OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};
use x509_parser::time::ASN1Time;

use super::error::IdentityError;
use super::spiffe_id::SpiffeId;

/// The DER tag of a `uniformResourceIdentifier` GeneralName.
const URI_TAG: u32 = 6;

/// Checks every leaf rule and returns the leaf's SPIFFE ID.
pub(crate) fn check_leaf(cert: &X509Certificate<'_>) -> Result<SpiffeId, IdentityError> {
    check_extensions_parse(cert).map_err(IdentityError::CertificateMalformed)?;

    let uris = uri_sans(cert).map_err(IdentityError::CertificateMalformed)?;
    let [uri] = uris.as_slice() else {
        return Err(IdentityError::SvidUriSanCount { count: uris.len() });
    };
    let id = SpiffeId::parse(uri).map_err(IdentityError::SpiffeIdInvalid)?;

    if cert.is_ca() {
        return Err(IdentityError::SvidLeafIsCa { id: id.to_string() });
    }

    check_key_usage(cert).map_err(|reason| IdentityError::SvidKeyUsage {
        id: id.to_string(),
        reason,
    })?;

    if let Ok(Some(eku)) = cert.extended_key_usage()
        && !eku.value.client_auth
    {
        return Err(IdentityError::SvidExtendedKeyUsage { id: id.to_string() });
    }

    if let Some(ext) = unknown_critical_extension(cert) {
        return Err(IdentityError::SvidCriticalExtension {
            id: id.to_string(),
            oid: ext.oid.to_id_string(),
        });
    }

    Ok(id)
}

/// Refuses duplicate extensions and extensions x509-parser knows but could
/// not decode: both make any later reading of the certificate ambiguous.
pub(crate) fn check_extensions_parse(cert: &X509Certificate<'_>) -> Result<(), String> {
    if cert.extensions_map().is_err() {
        return Err("an extension appears twice".to_owned());
    }
    if let Some(ext) = cert
        .extensions()
        .iter()
        .find(|ext| matches!(ext.parsed_extension(), ParsedExtension::ParseError { .. }))
    {
        return Err(format!(
            "extension `{}` cannot be parsed",
            ext.oid.to_id_string()
        ));
    }
    Ok(())
}

/// Every URI SAN, as text. A URI that is not valid UTF-8 is kept in lossy
/// form so it still counts and then fails SPIFFE ID parsing.
/// The first critical extension seam does not process, if any. Such an
/// extension means the issuer required a check seam cannot make.
pub(crate) fn unknown_critical_extension<'a>(
    cert: &'a X509Certificate<'_>,
) -> Option<&'a X509Extension<'a>> {
    let known = [
        OID_X509_EXT_SUBJECT_ALT_NAME,
        OID_X509_EXT_BASIC_CONSTRAINTS,
        OID_X509_EXT_KEY_USAGE,
        OID_X509_EXT_EXTENDED_KEY_USAGE,
        OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
        OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
    ];
    cert.extensions()
        .iter()
        .find(|ext| ext.critical && !known.contains(&ext.oid))
}

pub(crate) fn uri_sans(cert: &X509Certificate<'_>) -> Result<Vec<String>, String> {
    let san = cert
        .subject_alternative_name()
        .map_err(|err| format!("subjectAltName: {err}"))?;
    let Some(san) = san else {
        return Ok(Vec::new());
    };

    let uris = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            GeneralName::Invalid(tag, bytes) if tag.0 == URI_TAG => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        })
        .collect();
    Ok(uris)
}

fn check_key_usage(cert: &X509Certificate<'_>) -> Result<(), String> {
    let usage = match cert.key_usage() {
        Ok(Some(usage)) => usage,
        Ok(None) => return Err("keyUsage is missing".to_owned()),
        Err(err) => return Err(format!("keyUsage cannot be read: {err}")),
    };

    if !usage.critical {
        return Err("keyUsage is not critical".to_owned());
    }
    if !usage.value.digital_signature() {
        return Err("keyUsage lacks digitalSignature".to_owned());
    }
    if usage.value.key_cert_sign() {
        return Err("keyUsage allows keyCertSign".to_owned());
    }
    if usage.value.crl_sign() {
        return Err("keyUsage allows cRLSign".to_owned());
    }
    Ok(())
}

/// A certificate's validity window as system times.
pub(crate) fn validity(cert: &X509Certificate<'_>) -> (SystemTime, SystemTime) {
    let validity = cert.validity();
    (
        system_time(validity.not_before),
        system_time(validity.not_after),
    )
}

/// Checks `now` against one certificate's window, allowing `leeway` either side.
pub(crate) fn check_validity(
    cert: &X509Certificate<'_>,
    now: SystemTime,
    leeway: Duration,
) -> Result<(), IdentityError> {
    let (not_before, not_after) = validity(cert);
    check_window(describe(cert), not_before, not_after, now, leeway)
}

/// Checks `now` against a window, allowing `leeway` either side.
pub(crate) fn check_window(
    subject: String,
    not_before: SystemTime,
    not_after: SystemTime,
    now: SystemTime,
    leeway: Duration,
) -> Result<(), IdentityError> {
    let shifted_now_forward = now.checked_add(leeway).unwrap_or(now);
    if shifted_now_forward < not_before {
        return Err(IdentityError::not_yet_valid(subject, not_before));
    }

    let shifted_now_back = now.checked_sub(leeway).unwrap_or(now);
    if shifted_now_back > not_after {
        return Err(IdentityError::expired(subject, not_after));
    }
    Ok(())
}

/// A short human name for a certificate: its subject, or its serial when
/// the subject is empty.
pub(crate) fn describe(cert: &X509Certificate<'_>) -> String {
    let subject = cert.subject().to_string();
    if subject.is_empty() {
        format!("serial {}", serial_hex(cert.raw_serial()))
    } else {
        subject
    }
}

/// The serial as lowercase hex without separators or DER sign padding.
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let first_significant = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(raw.get(first_significant..).unwrap_or(raw))
}

fn system_time(t: ASN1Time) -> SystemTime {
    let secs = t.timestamp();
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    let shifted = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    };
    shifted.unwrap_or(SystemTime::UNIX_EPOCH)
}
