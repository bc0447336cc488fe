//! Decoding Envoy's `source.certificate` field into the leaf's DER bytes.
//!
//! This is the first step of identity verification, run on untrusted input
//! before anything else looks at the certificate: cap the size, percent-decode
//! strictly, find exactly one PEM `CERTIFICATE` block with nothing but
//! whitespace around it, and check the DER parses with no bytes left over.
//!
//! Un-encoded raw PEM is accepted: it holds no `%`, so strict percent-decoding
//! leaves it unchanged, and what follows is exactly the same check. `+` is a
//! literal plus (base64 uses it), never a space.

use base64::Engine;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::error::IdentityError;

const BEGIN_PREFIX: &[u8] = b"-----BEGIN ";
const END_PREFIX: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";
const CERTIFICATE_LABEL: &[u8] = b"CERTIFICATE";

/// What may stand between and around PEM blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surroundings {
    /// Only ASCII whitespace: request fields, where anything else is a sign
    /// of tampering or a broken proxy.
    Whitespace,
    /// Any text without `-----`: operator files, which often carry
    /// `subject=` lines or comments between certificates.
    Text,
}

/// Decodes one `source.certificate` value into the leaf's DER bytes.
///
/// Checks, in order: non-empty, at most `max_bytes` as received, strict
/// percent-decoding, exactly one PEM `CERTIFICATE` block surrounded only by
/// whitespace, valid base64, and DER that parses as one X.509 certificate
/// with no trailing bytes.
pub fn decode_certificate_field(field: &str, max_bytes: usize) -> Result<Vec<u8>, IdentityError> {
    if field.is_empty() {
        return Err(IdentityError::NoClientCertificate);
    }
    if field.len() > max_bytes {
        return Err(IdentityError::CertificateTooLarge {
            size: field.len(),
            limit: max_bytes,
        });
    }

    let text =
        percent_decode_strict(field.as_bytes()).map_err(IdentityError::CertificateEncoding)?;

    let mut blocks = pem_certificates(&text, 1, Surroundings::Whitespace)
        .map_err(IdentityError::CertificateEncoding)?;
    let der = match (blocks.pop(), blocks.is_empty()) {
        (Some(der), true) => der,
        _ => {
            return Err(IdentityError::CertificateEncoding(
                "expected exactly one `CERTIFICATE` block".to_owned(),
            ));
        }
    };

    parse_certificate(&der).map_err(IdentityError::CertificateMalformed)?;
    Ok(der)
}

/// Percent-decodes `input`, refusing any `%` not followed by two hex digits.
pub(crate) fn percent_decode_strict(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;

    while let Some(&byte) = input.get(i) {
        if byte != b'%' {
            out.push(byte);
            i += 1;
            continue;
        }

        let high = input.get(i + 1).and_then(|b| hex_value(*b));
        let low = input.get(i + 2).and_then(|b| hex_value(*b));
        match (high, low) {
            (Some(high), Some(low)) => out.push(high << 4 | low),
            _ => {
                let end = input.len().min(i + 3);
                let shown = String::from_utf8_lossy(input.get(i..end).unwrap_or_default());
                return Err(format!("invalid percent-encoding `{shown}` at byte {i}"));
            }
        }
        i += 3;
    }
    Ok(out)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Reads every PEM `CERTIFICATE` block in `text` and returns their DER
/// contents, in order. More than `max_blocks` blocks, a block of another
/// kind, PEM headers, bad base64 or (with [`Surroundings::Whitespace`]) any
/// non-whitespace outside the blocks is an error.
pub(crate) fn pem_certificates(
    text: &[u8],
    max_blocks: usize,
    surroundings: Surroundings,
) -> Result<Vec<Vec<u8>>, String> {
    let begins = count_occurrences(text, BEGIN_PREFIX);
    if begins > max_blocks {
        return Err(format!("{begins} PEM blocks, at most {max_blocks} allowed"));
    }

    let mut blocks = Vec::new();
    let mut rest = text;
    loop {
        let Some(start) = find(rest, BEGIN_PREFIX) else {
            check_between(rest, surroundings)?;
            break;
        };
        let (between, block) = rest.split_at(start);
        check_between(between, surroundings)?;

        let (der, after) = read_block(block)?;
        blocks.push(der);
        rest = after;
    }

    if blocks.is_empty() {
        return Err("no `CERTIFICATE` PEM block".to_owned());
    }
    Ok(blocks)
}

/// Reads one block starting at `-----BEGIN `; returns its DER and the text after it.
fn read_block(block: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let after_begin = block.get(BEGIN_PREFIX.len()..).unwrap_or_default();
    let Some(label_end) = find(after_begin, DASHES) else {
        return Err("unterminated `-----BEGIN` line".to_owned());
    };
    let label = after_begin.get(..label_end).unwrap_or_default();
    if label != CERTIFICATE_LABEL {
        return Err(format!(
            "unexpected `{}` PEM block",
            String::from_utf8_lossy(label)
        ));
    }

    let body_and_rest = after_begin
        .get(label_end + DASHES.len()..)
        .unwrap_or_default();
    let Some(body_end) = find(body_and_rest, END_PREFIX) else {
        return Err("`CERTIFICATE` block has no `-----END` line".to_owned());
    };
    let body = body_and_rest.get(..body_end).unwrap_or_default();
    let end_line = body_and_rest.get(body_end..).unwrap_or_default();

    let expected_end = b"-----END CERTIFICATE-----";
    if !end_line.starts_with(expected_end) {
        return Err("`CERTIFICATE` block ends with another label".to_owned());
    }
    let after = end_line.get(expected_end.len()..).unwrap_or_default();

    Ok((decode_body(body)?, after))
}

/// Decodes a PEM body: base64 lines with nothing else (no headers).
fn decode_body(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut compact = Vec::with_capacity(body.len());
    for &byte in body {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if !(byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')) {
            return Err(format!(
                "`{}` is not allowed inside a PEM block",
                char::from(byte).escape_default()
            ));
        }
        compact.push(byte);
    }
    if compact.is_empty() {
        return Err("empty `CERTIFICATE` block".to_owned());
    }

    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|err| format!("invalid base64 in PEM block: {err}"))
}

fn check_between(text: &[u8], surroundings: Surroundings) -> Result<(), String> {
    let clean = match surroundings {
        Surroundings::Whitespace => text.iter().all(u8::is_ascii_whitespace),
        Surroundings::Text => find(text, DASHES).is_none(),
    };
    if clean {
        Ok(())
    } else {
        Err("unexpected bytes outside the PEM block".to_owned())
    }
}

/// Parses one DER certificate, refusing trailing bytes and a signature
/// algorithm that differs between the signed part and the outer structure.
pub(crate) fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|err| format!("DER does not parse: {err}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the certificate", rest.len()));
    }
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err("signature algorithm differs inside and outside the signed part".to_owned());
    }
    Ok(cert)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[cfg(test)]
mod tests;
