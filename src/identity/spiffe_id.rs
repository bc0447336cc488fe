//! SPIFFE ID syntax: the one name a verified caller is known by.
//!
//! The leaf's URI SAN is parsed here after the certificate field is decoded
//! and before the trust bundle is chosen, so every later step (bundle choice,
//! policy principal, decision record) works on a name that is already known
//! to be well formed. Nothing is normalised: an ID that is not already in
//! canonical form is rejected rather than rewritten into another identity.

use std::fmt;

/// Longest SPIFFE ID seam accepts, in bytes.
pub const MAX_SPIFFE_ID_BYTES: usize = 2048;

/// Longest trust domain name, in bytes.
pub const MAX_TRUST_DOMAIN_BYTES: usize = 255;

const SCHEME_PREFIX: &str = "spiffe://";

/// A workload's SPIFFE ID, e.g. `spiffe://example.org/ns/billing/sa/reporter`.
///
/// Always has a non-empty path: an ID naming only a trust domain is not a
/// workload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    uri: String,
    trust_domain_len: usize,
}

/// Why a string is not a SPIFFE ID seam accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeIdError {
    /// Longer than [`MAX_SPIFFE_ID_BYTES`].
    #[error("spiffe id is {len} bytes, longer than the {MAX_SPIFFE_ID_BYTES} allowed")]
    TooLong {
        /// Length of the rejected ID.
        len: usize,
    },

    /// Does not start with exactly `spiffe://`.
    #[error("`{id}` does not start with `spiffe://`")]
    Scheme {
        /// The rejected ID.
        id: String,
    },

    /// Holds a `?` or `#`.
    #[error("`{id}` has a query or fragment")]
    QueryOrFragment {
        /// The rejected ID.
        id: String,
    },

    /// Holds a `%`.
    #[error("`{id}` is percent-encoded")]
    PercentEncoded {
        /// The rejected ID.
        id: String,
    },

    /// Nothing between `spiffe://` and the path.
    #[error("`{id}` has an empty trust domain")]
    EmptyTrustDomain {
        /// The rejected ID.
        id: String,
    },

    /// The trust domain holds `user@`.
    #[error("trust domain `{trust_domain}` has userinfo")]
    Userinfo {
        /// The rejected trust domain.
        trust_domain: String,
    },

    /// The trust domain holds `:port`.
    #[error("trust domain `{trust_domain}` has a port")]
    Port {
        /// The rejected trust domain.
        trust_domain: String,
    },

    /// Longer than [`MAX_TRUST_DOMAIN_BYTES`].
    #[error("trust domain is {len} bytes, longer than the {MAX_TRUST_DOMAIN_BYTES} allowed")]
    TrustDomainTooLong {
        /// Length of the rejected trust domain.
        len: usize,
    },

    /// A character outside `a-z 0-9 . - _` in the trust domain.
    #[error(
        "trust domain `{trust_domain}` contains `{character}`; only lowercase letters, digits, \
         `.`, `-` and `_` are allowed"
    )]
    TrustDomainCharacter {
        /// The rejected trust domain.
        trust_domain: String,
        /// The first character not allowed.
        character: char,
    },

    /// `spiffe://<trust domain>` with no path: names a trust domain, not a workload.
    #[error("`{id}` names only a trust domain, not a workload")]
    MissingPath {
        /// The rejected ID.
        id: String,
    },

    /// A path is present where only a trust domain may be named.
    #[error("`{id}` has a path where only a trust domain is allowed")]
    UnexpectedPath {
        /// The rejected ID.
        id: String,
    },

    /// `//` in the path.
    #[error("`{id}` has an empty path segment")]
    EmptySegment {
        /// The rejected ID.
        id: String,
    },

    /// A `.` or `..` path segment.
    #[error("`{id}` has a `.` or `..` path segment")]
    DotSegment {
        /// The rejected ID.
        id: String,
    },

    /// The path ends in `/`.
    #[error("`{id}` ends with `/`")]
    TrailingSlash {
        /// The rejected ID.
        id: String,
    },

    /// A character outside `a-z A-Z 0-9 . - _` in a path segment.
    #[error(
        "`{id}` contains `{character}` in its path; only letters, digits, `.`, `-` and `_` are \
         allowed"
    )]
    PathCharacter {
        /// The rejected ID.
        id: String,
        /// The first character not allowed.
        character: char,
    },
}

impl SpiffeId {
    /// Parses a workload SPIFFE ID, applying every rule of the SPIFFE ID
    /// specification and requiring a non-empty path.
    pub fn parse(s: &str) -> Result<SpiffeId, SpiffeIdError> {
        let (trust_domain, path) = split(s)?;
        if path.is_empty() {
            return Err(SpiffeIdError::MissingPath { id: s.to_owned() });
        }
        check_path(s, path)?;

        Ok(SpiffeId {
            uri: s.to_owned(),
            trust_domain_len: trust_domain.len(),
        })
    }

    /// The full URI, e.g. `spiffe://example.org/ns/billing/sa/reporter`.
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// The trust domain, e.g. `example.org`.
    pub fn trust_domain(&self) -> &str {
        let start = SCHEME_PREFIX.len();
        self.uri
            .get(start..start + self.trust_domain_len)
            .unwrap_or_default()
    }

    /// The path, starting with `/`, e.g. `/ns/billing/sa/reporter`.
    pub fn path(&self) -> &str {
        self.uri
            .get(SCHEME_PREFIX.len() + self.trust_domain_len..)
            .unwrap_or_default()
    }

    /// The Kubernetes namespace and service account when the path is exactly
    /// `/ns/<namespace>/sa/<service account>`.
    pub fn namespace_and_service_account(&self) -> Option<(&str, &str)> {
        let mut segments = self.path().strip_prefix('/')?.split('/');
        let (ns_key, ns, sa_key, sa) = (
            segments.next()?,
            segments.next()?,
            segments.next()?,
            segments.next()?,
        );
        if segments.next().is_some() || ns_key != "ns" || sa_key != "sa" {
            return None;
        }
        Some((ns, sa))
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

impl std::str::FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpiffeId::parse(s)
    }
}

/// Checks that `name` is a valid trust domain name (`example.org`), as
/// configured for a bundle or a development CA.
pub fn check_trust_domain(name: &str) -> Result<(), SpiffeIdError> {
    if name.is_empty() {
        return Err(SpiffeIdError::EmptyTrustDomain {
            id: format!("{SCHEME_PREFIX}{name}"),
        });
    }
    if name.contains('@') {
        return Err(SpiffeIdError::Userinfo {
            trust_domain: name.to_owned(),
        });
    }
    if name.contains(':') {
        return Err(SpiffeIdError::Port {
            trust_domain: name.to_owned(),
        });
    }
    if name.len() > MAX_TRUST_DOMAIN_BYTES {
        return Err(SpiffeIdError::TrustDomainTooLong { len: name.len() });
    }
    if let Some(character) = name.chars().find(|c| !is_trust_domain_char(*c)) {
        return Err(SpiffeIdError::TrustDomainCharacter {
            trust_domain: name.to_owned(),
            character,
        });
    }
    Ok(())
}

/// Parses the ID a signing certificate may carry: `spiffe://<trust domain>`
/// with no path. Returns the trust domain.
pub(crate) fn parse_trust_domain_id(s: &str) -> Result<&str, SpiffeIdError> {
    let (trust_domain, path) = split(s)?;
    if !path.is_empty() {
        return Err(SpiffeIdError::UnexpectedPath { id: s.to_owned() });
    }
    Ok(trust_domain)
}

/// Splits a SPIFFE ID into a checked trust domain and an unchecked path
/// (empty or starting with `/`).
fn split(s: &str) -> Result<(&str, &str), SpiffeIdError> {
    if s.len() > MAX_SPIFFE_ID_BYTES {
        return Err(SpiffeIdError::TooLong { len: s.len() });
    }
    let Some(rest) = s.strip_prefix(SCHEME_PREFIX) else {
        return Err(SpiffeIdError::Scheme { id: s.to_owned() });
    };

    if rest.contains(['?', '#']) {
        return Err(SpiffeIdError::QueryOrFragment { id: s.to_owned() });
    }
    if rest.contains('%') {
        return Err(SpiffeIdError::PercentEncoded { id: s.to_owned() });
    }

    let (trust_domain, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if trust_domain.is_empty() {
        return Err(SpiffeIdError::EmptyTrustDomain { id: s.to_owned() });
    }
    check_trust_domain(trust_domain)?;

    Ok((trust_domain, path))
}

/// Checks a non-empty path starting with `/`.
fn check_path(id: &str, path: &str) -> Result<(), SpiffeIdError> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);

    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i == last {
            return Err(SpiffeIdError::TrailingSlash { id: id.to_owned() });
        }
        if segment.is_empty() {
            return Err(SpiffeIdError::EmptySegment { id: id.to_owned() });
        }
        if *segment == "." || *segment == ".." {
            return Err(SpiffeIdError::DotSegment { id: id.to_owned() });
        }
        if let Some(character) = segment.chars().find(|c| !is_path_char(*c)) {
            return Err(SpiffeIdError::PathCharacter {
                id: id.to_owned(),
                character,
            });
        }
    }
    Ok(())
}

fn is_trust_domain_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

#[cfg(test)]
mod tests;
