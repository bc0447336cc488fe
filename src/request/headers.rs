//! Request headers as Envoy sends them, read one name at a time.
//!
//! The Check handler reads the headers that feed the policy (the declared
//! intent) and the decision record (request id, trace context, forwarded
//! client certificate) through this module. Envoy delivers headers in one
//! of two shapes: the `headers` map, lowercase names with repeated headers
//! joined by `,` and non-UTF-8 bytes replaced by `!`; or, with
//! `encode_raw_headers: true` and from proxyless gRPC clients, the
//! `header_map` list of raw entries, one per occurrence. [`Headers`] hides
//! the difference, and refuses to guess when a value that must be single
//! arrives twice.

use std::collections::HashMap;
use std::fmt;

pub use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
pub use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;

/// Longest escaped value [`Headers::escaped`] returns before cutting it.
pub const ESCAPED_LEN: usize = 256;

/// Longest offending value shown in an error message, in bytes.
const SHOWN_LEN: usize = 96;

/// A read-only view over the headers of one request, in whichever shape
/// Envoy sent them.
///
/// Its `Debug` form lists header names only: values can carry credentials.
#[derive(Clone, Copy)]
pub enum Headers<'a> {
    /// The `headers` map: repeated headers already joined with `,`.
    Joined(&'a HashMap<String, String>),
    /// The `header_map` list: one entry per occurrence, values as raw bytes.
    Raw(&'a [HeaderValue]),
}

/// Why a header's value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A single-valued header sent more than once.
    #[error("header `{name}` is sent {count} times where one value is expected")]
    Repeated {
        /// The header name.
        name: String,
        /// How many times it was sent.
        count: usize,
    },
    /// A single-valued header holding a list, as Envoy makes of repeats.
    #[error("header `{name}` holds several values `{value}` where one is expected")]
    List {
        /// The header name.
        name: String,
        /// The value, escaped and truncated.
        value: String,
    },
    /// A value that is not UTF-8.
    #[error("header `{name}` is not valid utf-8: `{value}`")]
    NotUtf8 {
        /// The header name.
        name: String,
        /// The value, escaped and truncated.
        value: String,
    },
    /// A value holding a control character.
    #[error("header `{name}` contains a control character: `{value}`")]
    Control {
        /// The header name.
        name: String,
        /// The value, escaped and truncated.
        value: String,
    },
    /// A value that is empty once surrounding spaces and tabs are trimmed.
    #[error("header `{name}` is empty")]
    Empty {
        /// The header name.
        name: String,
    },
}

impl HeaderError {
    /// The reason code decision records and responses carry:
    /// `ambiguous_header` when a header holds more than one value,
    /// `invalid_header` otherwise.
    pub fn reason_code(&self) -> &'static str {
        match self {
            HeaderError::Repeated { .. } | HeaderError::List { .. } => "ambiguous_header",
            HeaderError::NotUtf8 { .. }
            | HeaderError::Control { .. }
            | HeaderError::Empty { .. } => "invalid_header",
        }
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shape, names): (&str, Vec<&str>) = match *self {
            Headers::Joined(map) => {
                let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
                names.sort_unstable();
                ("joined", names)
            }
            Headers::Raw(entries) => ("raw", entries.iter().map(|e| e.key.as_str()).collect()),
        };

        f.debug_struct("Headers")
            .field("shape", &shape)
            .field("names", &names)
            .finish()
    }
}

impl<'a> Headers<'a> {
    /// The headers of `http`: the raw `header_map` when the `headers` map is
    /// empty and `header_map` has entries, the `headers` map otherwise.
    pub fn of(http: &'a HttpRequest) -> Headers<'a> {
        match &http.header_map {
            Some(map) if http.headers.is_empty() && !map.headers.is_empty() => {
                Headers::Raw(&map.headers)
            }
            _ => Headers::Joined(&http.headers),
        }
    }

    /// A header that must carry exactly one token, e.g. `x-seam-intent`.
    ///
    /// Absent gives `Ok(None)`. Sent more than once, or holding a `,` (how
    /// Envoy joins repeats), is ambiguous: no element is ever picked. Not
    /// UTF-8, a control character, or nothing left after trimming spaces
    /// and tabs is invalid.
    pub fn single_token(&self, name: &str) -> Result<Option<String>, HeaderError> {
        let values = self.values(name);
        let value = match values.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            many => {
                return Err(HeaderError::Repeated {
                    name: name.to_string(),
                    count: many.len(),
                });
            }
        };

        let text = utf8(name, value)?;
        let token = text.trim_matches([' ', '\t']);
        if token.chars().any(char::is_control) {
            return Err(HeaderError::Control {
                name: name.to_string(),
                value: escape_bytes(value, SHOWN_LEN),
            });
        }
        if token.contains(',') {
            return Err(HeaderError::List {
                name: name.to_string(),
                value: escape_bytes(value, SHOWN_LEN),
            });
        }
        if token.is_empty() {
            return Err(HeaderError::Empty {
                name: name.to_string(),
            });
        }

        Ok(Some(token.to_string()))
    }

    /// The whole value of a header as text, repeats joined with `,` as
    /// Envoy does; `Ok(None)` when absent, an error when not UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<String>, HeaderError> {
        match self.joined(name) {
            None => Ok(None),
            Some(value) => utf8(name, &value).map(|text| Some(text.to_string())),
        }
    }

    /// A loggable form of a header's value, whatever its bytes: see
    /// [`escape_bytes`]. Cut at [`ESCAPED_LEN`] bytes.
    pub fn escaped(&self, name: &str) -> Option<String> {
        self.joined(name)
            .map(|value| escape_bytes(&value, ESCAPED_LEN))
    }

    /// Whether the header is present, even with an empty value.
    pub fn contains(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }

    /// Every value sent under `name`, compared without regard to ASCII case,
    /// in the order Envoy listed them (map keys in sorted order, which only
    /// matters for a map that is not lowercase as Envoy's always is).
    fn values(&self, name: &str) -> Vec<&'a [u8]> {
        match *self {
            Headers::Joined(map) => {
                let mut found: Vec<(&String, &String)> = map
                    .iter()
                    .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                    .collect();
                found.sort();
                found
                    .into_iter()
                    .map(|(_, value)| value.as_bytes())
                    .collect()
            }
            Headers::Raw(entries) => entries
                .iter()
                .filter(|entry| entry.key.eq_ignore_ascii_case(name))
                .map(|entry| {
                    if entry.raw_value.is_empty() {
                        entry.value.as_bytes()
                    } else {
                        entry.raw_value.as_slice()
                    }
                })
                .collect(),
        }
    }

    /// Every value sent under `name` joined with `,`; `None` when absent.
    fn joined(&self, name: &str) -> Option<Vec<u8>> {
        let values = self.values(name);
        if values.is_empty() {
            return None;
        }
        Some(values.join(&b","[..]))
    }
}

/// A loggable form of arbitrary bytes: printable ASCII is kept, `\` becomes
/// `\\`, `"` becomes `\"`, and every other byte `\xNN` (lowercase hex).
///
/// The result is cut before it would exceed `max_len` bytes, never inside
/// an escape, and then ends with `…`.
pub fn escape_bytes(bytes: &[u8], max_len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().min(max_len) + 3);

    for &b in bytes {
        let piece_len = match b {
            b'\\' | b'"' => 2,
            0x20..=0x7e => 1,
            _ => 4,
        };
        if out.len() + piece_len > max_len {
            out.push('…');
            return out;
        }

        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }

    out
}

/// `value` as UTF-8, or the error naming the header.
fn utf8<'v>(name: &str, value: &'v [u8]) -> Result<&'v str, HeaderError> {
    std::str::from_utf8(value).map_err(|_| HeaderError::NotUtf8 {
        name: name.to_string(),
        value: escape_bytes(value, SHOWN_LEN),
    })
}

#[cfg(test)]
mod tests;
