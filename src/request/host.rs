//! The destination host: Envoy's `request.http.host` (the `:authority`)
//! read into one canonical spelling.
//!
//! Policies name destinations by host, so every spelling that reaches the
//! same virtual host must come out the same (`PAYROLL.Internal.Example`,
//! `payroll.internal.example.`, `payroll.internal.example:443` over
//! https), while a non-default port stays part of the host: a rule for the
//! bare name does not cover another port. Anything that is not a plain
//! name, an IPv4 address or a bracketed IPv6 address, with an optional
//! port, is refused.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::headers::escape_bytes;

/// Longest host name accepted, in bytes, without the port.
pub const MAX_NAME_LEN: usize = 255;

/// Longest offending value shown in an error message, in bytes.
const SHOWN_LEN: usize = 96;

/// A destination host, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The authority exactly as Envoy sent it.
    pub raw: String,
    /// The normalised host policies match on: `name`, followed by `:port`
    /// unless the port is the scheme's default.
    pub host: String,
    /// The host without any port: a lowercase name without trailing dot, an
    /// IPv4 address, or an IPv6 address in brackets (`[::1]`).
    pub name: String,
    /// The port sent, else the scheme's default (443 for `https`, 80 for
    /// `http`), else 0.
    pub port: u16,
    /// Whether the port was sent rather than taken from the scheme.
    pub explicit_port: bool,
}

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// No host at all.
    #[error("host is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("host `{0}` is longer than {max} bytes", max = MAX_NAME_LEN)]
    TooLong(String),
    /// A `user@` part before the host.
    #[error("host `{0}` carries userinfo before `@`")]
    Userinfo(String),
    /// A character that has no place in a host name.
    #[error("host `{value}` contains the forbidden character `{character}`")]
    ForbiddenChar {
        /// The host, escaped and truncated.
        value: String,
        /// The character, escaped.
        character: String,
    },
    /// An empty label: `a..b`, `.a`, `.`.
    #[error("host `{0}` has an empty label")]
    EmptyLabel(String),
    /// A port that is empty, not decimal, out of range or too long.
    #[error("host `{0}` has an invalid port")]
    BadPort(String),
    /// An IPv6 address without brackets.
    #[error("host `{0}` looks like an ipv6 address without brackets")]
    UnbracketedIpv6(String),
    /// Brackets holding something other than an IPv6 address.
    #[error("host `{0}` has brackets without a valid ipv6 address")]
    BadIpv6(String),
    /// A numeric name that is not a dotted-quad IPv4 address (`127.1`,
    /// `2130706433`, `0x7f.0.0.1`, `010.0.0.1`), which resolvers read in
    /// surprising ways.
    #[error("host `{0}` is numeric but not a dotted-quad ipv4 address")]
    BadIpv4(String),
}

impl HostError {
    /// The reason code decision records and responses carry.
    pub fn reason_code(&self) -> &'static str {
        "invalid_host"
    }
}

/// Normalises the authority `raw` of a request made with `scheme`
/// (`request.http.scheme`).
///
/// The name is lowercased and loses one trailing dot; the port is removed
/// from `host` when it is the scheme's default (`https`: 443, `http`: 80,
/// any other or empty scheme: both).
pub fn normalize(raw: &str, scheme: &str) -> Result<Host, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if raw.len() > MAX_NAME_LEN + ":65535".len() {
        return Err(HostError::TooLong(shown(raw)));
    }
    if raw.contains('@') {
        return Err(HostError::Userinfo(shown(raw)));
    }

    let (name, port) = if raw.starts_with('[') {
        split_bracketed(raw)?
    } else {
        split_name(raw)?
    };
    let port = port.map(|p| parse_port(p, raw)).transpose()?;

    let defaults = default_ports(scheme);
    let host = match port {
        Some(p) if !defaults.contains(&p) => format!("{name}:{p}"),
        _ => name.clone(),
    };
    let explicit_port = port.is_some();
    let port = match (port, defaults.as_slice()) {
        (Some(p), _) => p,
        (None, [only]) => *only,
        (None, _) => 0,
    };

    Ok(Host {
        raw: raw.to_string(),
        host,
        name,
        port,
        explicit_port,
    })
}

/// Splits `[v6]` or `[v6]:port`, returning the canonical bracketed address.
fn split_bracketed(raw: &str) -> Result<(String, Option<&str>), HostError> {
    let Some((inside, after)) = raw.strip_prefix('[').and_then(|rest| rest.split_once(']')) else {
        return Err(HostError::BadIpv6(shown(raw)));
    };

    let address: Ipv6Addr = inside.parse().map_err(|_| HostError::BadIpv6(shown(raw)))?;
    let port = match after {
        "" => None,
        _ => match after.strip_prefix(':') {
            Some(port) => Some(port),
            None => return Err(HostError::BadIpv6(shown(raw))),
        },
    };

    Ok((format!("[{address}]"), port))
}

/// Splits `name` or `name:port`, returning the normalised name.
fn split_name(raw: &str) -> Result<(String, Option<&str>), HostError> {
    let (name, port) = match raw.split_once(':') {
        Some((_, rest)) if rest.contains(':') => {
            return Err(HostError::UnbracketedIpv6(shown(raw)));
        }
        Some((name, port)) => (name, Some(port)),
        None => (raw, None),
    };

    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        let mut buf = [0; 4];
        return Err(HostError::ForbiddenChar {
            value: shown(raw),
            character: escape_bytes(bad.encode_utf8(&mut buf).as_bytes(), 16),
        });
    }
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(HostError::EmptyLabel(shown(raw)));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HostError::TooLong(shown(raw)));
    }
    if looks_numeric(name) && name.parse::<Ipv4Addr>().is_err() {
        return Err(HostError::BadIpv4(shown(raw)));
    }

    Ok((name.to_string(), port))
}

/// Reads a port: 1 to 5 decimal digits, value 1 to 65535.
fn parse_port(port: &str, raw: &str) -> Result<u16, HostError> {
    let digits_only =
        !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(HostError::BadPort(shown(raw)));
    }

    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(HostError::BadPort(shown(raw))),
    }
}

/// The ports that count as default for `scheme`.
fn default_ports(scheme: &str) -> Vec<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        vec![443]
    } else if scheme.eq_ignore_ascii_case("http") {
        vec![80]
    } else {
        vec![80, 443]
    }
}

/// Characters a host name may hold.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
}

/// Whether the last label of `name` is a number (decimal, or hex written
/// `0x…`), which makes resolvers read the whole name as an IPv4 address.
fn looks_numeric(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    let decimal = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    hex || decimal
}

/// The host escaped and truncated for an error message.
fn shown(value: &str) -> String {
    escape_bytes(value.as_bytes(), SHOWN_LEN)
}

#[cfg(test)]
mod tests;
