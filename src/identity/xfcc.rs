//! The `x-forwarded-client-cert` header, read only to find intermediates.
//!
//! Consulted during path building, and only when the operator has declared
//! that the proxy sanitises the header (`trust_forwarded_chain`): any client
//! can send it otherwise. Even then, identity never comes from it: its
//! `Chain=` leaf must be the very certificate in `source.certificate`, and
//! its other certificates are untrusted candidates that still have to reach
//! a bundle root.
//!
//! Format: elements separated by `,`, each a list of `Key=value` pairs
//! separated by `;`; a value may be double-quoted, with `\` escaping the
//! next character. When several proxies appended elements, the last one was
//! added by the proxy next to seam, and that is the one read.

use super::bundle::StoredCert;
use super::chain::MAX_PATH_LEN;
use super::error::IdentityError;
use super::field::{Surroundings, pem_certificates, percent_decode_strict};

/// One element of the header: the `Key=value` pairs one proxy added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfccElement {
    pairs: Vec<(String, String)>,
}

/// Why a header value is not in the `x-forwarded-client-cert` format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XfccError {
    /// The header is empty.
    #[error("empty header")]
    Empty,

    /// A pair has no `=` after its key.
    #[error("pair at byte {at} has no `=`")]
    MissingEquals {
        /// Byte offset where the pair starts.
        at: usize,
    },

    /// A key is empty or holds characters other than letters and digits.
    #[error("invalid key `{key}` at byte {at}")]
    InvalidKey {
        /// The key as found.
        key: String,
        /// Byte offset of the key.
        at: usize,
    },

    /// A quoted value never closes.
    #[error("quoted value starting at byte {at} is not closed")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        at: usize,
    },

    /// A `"` inside an unquoted value, or text after a closing quote.
    #[error("stray quote or text after a quoted value at byte {at}")]
    StrayQuote {
        /// Byte offset of the offending character.
        at: usize,
    },
}

impl XfccElement {
    /// The pairs in the order they appear.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Every value whose key equals `key`, ignoring ASCII case.
    pub fn values<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.pairs
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an `x-forwarded-client-cert` header value into its elements.
pub fn parse_xfcc(header: &str) -> Result<Vec<XfccElement>, XfccError> {
    if header.trim().is_empty() {
        return Err(XfccError::Empty);
    }

    let bytes = header.as_bytes();
    let mut elements = Vec::new();
    let mut pairs = Vec::new();
    let mut i = 0;

    loop {
        let (key, after_key) = read_key(bytes, i)?;
        let (value, after_value) = read_value(bytes, after_key)?;
        pairs.push((key, value));

        match bytes.get(after_value) {
            None => {
                elements.push(XfccElement { pairs });
                return Ok(elements);
            }
            Some(b',') => elements.push(XfccElement {
                pairs: std::mem::take(&mut pairs),
            }),
            Some(_) => {}
        }
        i = after_value + 1;
    }
}

/// Reads `key=` starting at `start`; returns the key and the offset after `=`.
fn read_key(bytes: &[u8], start: usize) -> Result<(String, usize), XfccError> {
    let rest = bytes.get(start..).unwrap_or_default();
    let Some(equals) = rest.iter().position(|b| matches!(b, b'=' | b';' | b',')) else {
        return Err(XfccError::MissingEquals { at: start });
    };
    if rest.get(equals) != Some(&b'=') {
        return Err(XfccError::MissingEquals { at: start });
    }

    let raw = rest.get(..equals).unwrap_or_default();
    let key = String::from_utf8_lossy(raw).trim().to_owned();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(XfccError::InvalidKey { key, at: start });
    }
    Ok((key, start + equals + 1))
}

/// Reads a quoted or bare value starting at `start`; returns it and the
/// offset of the `;`, `,` or end that follows.
fn read_value(bytes: &[u8], start: usize) -> Result<(String, usize), XfccError> {
    if bytes.get(start) == Some(&b'"') {
        return read_quoted(bytes, start);
    }

    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        match b {
            b';' | b',' => break,
            b'"' => return Err(XfccError::StrayQuote { at: i }),
            _ => i += 1,
        }
    }
    let raw = bytes.get(start..i).unwrap_or_default();
    Ok((String::from_utf8_lossy(raw).trim().to_owned(), i))
}

fn read_quoted(bytes: &[u8], open: usize) -> Result<(String, usize), XfccError> {
    let mut value = Vec::new();
    let mut i = open + 1;

    loop {
        match bytes.get(i) {
            None => return Err(XfccError::UnterminatedQuote { at: open }),
            Some(b'\\') => {
                let Some(&escaped) = bytes.get(i + 1) else {
                    return Err(XfccError::UnterminatedQuote { at: open });
                };
                value.push(escaped);
                i += 2;
            }
            Some(b'"') => {
                i += 1;
                break;
            }
            Some(&b) => {
                value.push(b);
                i += 1;
            }
        }
    }

    while bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    match bytes.get(i) {
        None | Some(b';') | Some(b',') => {}
        Some(_) => return Err(XfccError::StrayQuote { at: i }),
    }
    Ok((String::from_utf8_lossy(&value).into_owned(), i))
}

/// Reads the intermediates from a trusted header: the last element's single
/// `Chain=` value, whose first certificate must be `leaf_der`.
pub(crate) fn forwarded_intermediates(
    header: &str,
    leaf_der: &[u8],
) -> Result<Vec<StoredCert>, IdentityError> {
    let invalid = IdentityError::ForwardedChainInvalid;

    let elements = parse_xfcc(header).map_err(|err| invalid(err.to_string()))?;
    let Some(element) = elements.last() else {
        return Err(invalid("no element".to_owned()));
    };

    let chains: Vec<&str> = element.values("Chain").collect();
    let [chain] = chains.as_slice() else {
        return Err(invalid(format!(
            "{} `Chain` fields, expected exactly one",
            chains.len()
        )));
    };

    let text = percent_decode_strict(chain.as_bytes()).map_err(invalid)?;
    let mut blocks = pem_certificates(&text, MAX_PATH_LEN, Surroundings::Whitespace)
        .map_err(|err| invalid(format!("`Chain`: {err}")))?
        .into_iter();

    if blocks.next().as_deref() != Some(leaf_der) {
        return Err(invalid(
            "the first `Chain` certificate is not the presented certificate".to_owned(),
        ));
    }

    blocks
        .enumerate()
        .map(|(i, der)| {
            StoredCert::from_der(der)
                .map_err(|err| invalid(format!("`Chain` certificate {}: {err}", i + 2)))
        })
        .collect()
}

#[cfg(test)]
mod tests;
