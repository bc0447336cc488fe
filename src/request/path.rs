//! The request target: Envoy's `request.http.path` split into a normalised
//! path and a raw query.
//!
//! This runs after identity is verified and before the policy sees the
//! request: the path produced here is what Cedar rules match on, so two
//! spellings the upstream would treat as the same resource must come out
//! identical, and spellings known to smuggle a different resource past a
//! prefix rule (`%2F`, `..;`, control bytes) are refused outright.
//!
//! Envoy hands over the target exactly as the client sent it, query
//! included and nothing decoded.

use super::headers::escape_bytes;

/// Longest request target accepted, in bytes, before and after normalising.
pub const MAX_TARGET_LEN: usize = 8192;

/// Longest offending value shown in an error message, in bytes.
const SHOWN_LEN: usize = 96;

/// A request target read from Envoy: the normalised path and the raw query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The path, percent-escapes normalised, repeated slashes merged and dot
    /// segments resolved, e.g. `/v1/reports`.
    pub path: String,
    /// Everything after the first `?`, exactly as sent and without the `?`;
    /// empty when there is no query.
    pub query: String,
}

/// Why a request target was refused.
///
/// Every variant carries the offending target escaped and truncated, so the
/// message is safe to log whatever the client sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The target is longer than [`MAX_TARGET_LEN`].
    #[error("request target of {len} bytes is longer than the {max} allowed", max = MAX_TARGET_LEN)]
    TooLong {
        /// Length of the raw target, or of the normalised path when the
        /// escapes it gained pushed it over the limit.
        len: usize,
    },
    /// The path part is empty.
    #[error("request target `{0}` has an empty path")]
    Empty(String),
    /// The path does not start with `/` (`*`, `v1/x`, `http://host/x`).
    #[error("request target `{0}` is not a path starting with `/`")]
    NotOriginForm(String),
    /// A `#` appears anywhere in the target.
    #[error("request target `{0}` contains a fragment `#`")]
    Fragment(String),
    /// A raw byte that must not appear unescaped: control, space, `\` or
    /// non-ASCII.
    #[error("request target `{value}` contains the forbidden byte `{byte}`")]
    ForbiddenByte {
        /// The target.
        value: String,
        /// The byte, escaped.
        byte: String,
    },
    /// A `%` not followed by two hex digits.
    #[error("path `{0}` has a `%` not followed by two hex digits")]
    BadEscape(String),
    /// An escape that decodes to `/`, `\` or a control character.
    #[error("path `{value}` contains the forbidden escape `{escape}`")]
    ForbiddenEscape {
        /// The path.
        value: String,
        /// The escape as sent, e.g. `%2f`.
        escape: String,
    },
    /// A `..` segment that would climb above the root.
    #[error("path `{0}` climbs above the root with `..`")]
    AboveRoot(String),
    /// A segment that is `.` or `..` once cut at `;` (`..;`, `.;x=1`).
    #[error("path `{0}` has a dot segment carrying parameters after `;`")]
    DotWithParams(String),
}

impl PathError {
    /// The reason code decision records and responses carry.
    pub fn reason_code(&self) -> &'static str {
        "invalid_path"
    }
}

/// Splits Envoy's raw request target into a normalised path and a raw query.
///
/// The path has every escape of an unreserved character decoded and every
/// other escape written `%XX` in uppercase, characters that have no place
/// unescaped in a URI (`"`, `<`, `>`, `[`, `]`, `^`, `` ` ``, `{`, `|`,
/// `}`) escaped, repeated slashes merged and `.`/`..` segments resolved;
/// a trailing `/` is kept. The query is returned as sent: its escapes are
/// neither checked nor decoded, but control characters, space, `\` and
/// non-ASCII bytes are refused anywhere in the target, query included.
pub fn normalize(raw: &str) -> Result<Target, PathError> {
    if raw.len() > MAX_TARGET_LEN {
        return Err(PathError::TooLong { len: raw.len() });
    }
    if raw.contains('#') {
        return Err(PathError::Fragment(shown(raw)));
    }
    check_raw_bytes(raw)?;

    let (path, query) = match raw.split_once('?') {
        Some((path, query)) => (path, query),
        None => (raw, ""),
    };
    if path.is_empty() {
        return Err(PathError::Empty(shown(raw)));
    }
    if !path.starts_with('/') {
        return Err(PathError::NotOriginForm(shown(raw)));
    }

    let decoded = normalize_escapes(path)?;
    if has_dot_with_params(&decoded) {
        return Err(PathError::DotWithParams(shown(raw)));
    }

    let path = resolve_segments(&decoded).ok_or_else(|| PathError::AboveRoot(shown(raw)))?;
    if path.len() > MAX_TARGET_LEN {
        return Err(PathError::TooLong { len: path.len() });
    }

    Ok(Target {
        path,
        query: query.to_string(),
    })
}

/// Refuses raw bytes no request target may carry unescaped, in the path or
/// in the query: control characters, space, `\` and anything non-ASCII.
fn check_raw_bytes(raw: &str) -> Result<(), PathError> {
    let bad = raw
        .bytes()
        .find(|&b| b.is_ascii_control() || b == b' ' || b == b'\\' || !b.is_ascii());

    match bad {
        Some(byte) => Err(PathError::ForbiddenByte {
            value: shown(raw),
            byte: escape_bytes(&[byte], 8),
        }),
        None => Ok(()),
    }
}

/// Rewrites the path's escapes into their one canonical spelling.
///
/// The input holds printable ASCII only, checked by [`check_raw_bytes`].
fn normalize_escapes(path: &str) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;

    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            push_raw(&mut out, b);
            i += 1;
            continue;
        }

        let escape = bytes.get(i..i + 3).unwrap_or_default();
        let decoded = match escape {
            [_, hi, lo] => hex_value(*hi)
                .zip(hex_value(*lo))
                .map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        let Some(decoded) = decoded else {
            return Err(PathError::BadEscape(shown(path)));
        };

        if decoded == b'/' || decoded == b'\\' || decoded.is_ascii_control() {
            return Err(PathError::ForbiddenEscape {
                value: shown(path),
                escape: escape_bytes(escape, 8),
            });
        }
        if is_unreserved(decoded) {
            out.push(char::from(decoded));
        } else {
            push_escape(&mut out, decoded);
        }
        i += 3;
    }

    Ok(out)
}

/// Merges repeated slashes and resolves `.` and `..` segments; `None` when
/// a `..` would climb above the root.
fn resolve_segments(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    let mut trailing_slash = false;

    for (i, segment) in segments.into_iter().enumerate() {
        let is_last = i == last;
        match segment {
            "" | "." => trailing_slash = is_last,
            ".." => {
                kept.pop()?;
                trailing_slash = is_last;
            }
            name => {
                kept.push(name);
                trailing_slash = false;
            }
        }
    }

    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&kept.join("/"));
    if trailing_slash && !kept.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// Whether a segment of the decoded path reads as `.` or `..` once cut at
/// its first `;` (or escaped `;`), which servlet containers treat as a dot
/// segment while everyone else sees a name.
fn has_dot_with_params(path: &str) -> bool {
    path.split('/').any(|segment| {
        let cut = [segment.find(';'), segment.find("%3B")]
            .into_iter()
            .flatten()
            .min();
        match cut {
            Some(at) => matches!(&segment[..at], "." | ".."),
            None => false,
        }
    })
}

/// Appends a raw path byte, escaping characters that have no place
/// unescaped in a URI so that they and their escape compare equal.
fn push_raw(out: &mut String, b: u8) {
    match b {
        b'"' | b'<' | b'>' | b'[' | b']' | b'^' | b'`' | b'{' | b'|' | b'}' => push_escape(out, b),
        _ => out.push(char::from(b)),
    }
}

/// Appends `%XX` with uppercase hex digits.
fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// The value of one hex digit, either case.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 unreserved characters: the only ones whose escape is decoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The target escaped and truncated for an error message.
fn shown(value: &str) -> String {
    escape_bytes(value.as_bytes(), SHOWN_LEN)
}

#[cfg(test)]
mod tests;
