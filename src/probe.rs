//! Envoy-shaped Check requests from small, human-written request files.
//!
//! `seam check`, the load script and the tests all describe a request the
//! way a person would (caller, method, URL, headers, route labels) and get
//! back the `CheckRequest` Envoy would send for it: the leaf certificate
//! percent-encoded as Envoy encodes it, the raw path with its query, lowercase
//! headers including pseudo-headers, route labels in `context_extensions`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{self as core, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::dev::DevCa;

/// Bytes Envoy leaves as they are when it percent-encodes a certificate.
const ENVOY_CERT_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// One request, as written in a request file (TOML).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// What the request shows, for humans.
    #[serde(default)]
    pub description: String,
    /// The expected decision: `allow` or `deny`.
    pub expect: Option<String>,
    /// The expected reason code, e.g. `policy_denied`.
    pub expect_reason: Option<String>,
    /// The caller's SPIFFE ID; its SVID is minted from the development CA.
    pub caller: Option<String>,
    /// Or a PEM certificate file to present instead.
    pub certificate: Option<PathBuf>,
    /// `source.principal` as Envoy would report it (defaults to `caller`).
    pub principal: Option<String>,
    /// HTTP method.
    #[serde(default = "get")]
    pub method: String,
    /// `scheme://authority/path?query`, sent raw.
    pub url: String,
    /// `destination.principal`: the SPIFFE ID of the workload behind the proxy.
    #[serde(default)]
    pub destination: String,
    /// The caller's address as Envoy saw it.
    #[serde(default = "source_address")]
    pub source_address: String,
    /// Request headers (names are lowercased, as Envoy does).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Send headers as Envoy's raw `header_map` instead of the joined map.
    #[serde(default)]
    pub raw_headers: bool,
    /// Per-route `context_extensions`, e.g. `sensitivity`.
    #[serde(default)]
    pub route: BTreeMap<String, String>,
}

fn get() -> String {
    "GET".into()
}

fn source_address() -> String {
    "10.0.0.7:51234".into()
}

/// A request file that cannot be turned into a Check.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file cannot be read.
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not a valid request description.
    #[error("invalid request file `{0}`: {1}")]
    Parse(PathBuf, String),
    /// The URL is not `scheme://authority/path`.
    #[error("url `{0}` must look like `https://host/path?query`")]
    Url(String),
    /// Neither `caller` nor `certificate` is given.
    #[error("a request needs `caller` or `certificate`")]
    NoCaller,
    /// The development CA could not mint the caller's SVID.
    #[error("cannot mint an SVID for `{0}`: {1}")]
    Mint(String, String),
}

impl RequestFile {
    /// Reads a request file.
    pub fn load(path: &Path) -> Result<RequestFile, ProbeError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ProbeError::Read(path.to_path_buf(), e))?;
        toml::from_str(&text).map_err(|e| ProbeError::Parse(path.to_path_buf(), e.to_string()))
    }

    /// The certificate PEM this request presents: the named file, or an SVID
    /// for `caller` minted from `ca`.
    pub fn certificate_pem(&self, ca: Option<&DevCa>, base: &Path) -> Result<String, ProbeError> {
        if let Some(file) = &self.certificate {
            let path = base.join(file);
            return std::fs::read_to_string(&path).map_err(|e| ProbeError::Read(path, e));
        }
        let caller = self.caller.as_deref().ok_or(ProbeError::NoCaller)?;
        let ca = ca.ok_or_else(|| ProbeError::Mint(caller.into(), "no development CA".into()))?;
        ca.mint_svid(caller, Duration::from_secs(3600))
            .map(|svid| svid.cert_pem)
            .map_err(|e| ProbeError::Mint(caller.into(), e.to_string()))
    }

    /// The CheckRequest Envoy would send for this request, presenting
    /// `certificate_pem`.
    pub fn to_check(&self, certificate_pem: &str) -> Result<CheckRequest, ProbeError> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let request_id = self
            .headers
            .get("x-request-id")
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

        let mut headers: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.insert(":method".into(), self.method.clone());
        headers.insert(":path".into(), path.to_string());
        headers.insert(":authority".into(), authority.to_string());
        headers.insert(":scheme".into(), scheme.to_string());
        headers.insert("x-request-id".into(), request_id);

        let mut http = HttpRequest {
            id: format!("{}", rand_stream_id()),
            method: self.method.clone(),
            path: path.to_string(),
            host: authority.to_string(),
            scheme: scheme.to_string(),
            protocol: "HTTP/2".into(),
            ..Default::default()
        };
        if self.raw_headers {
            http.header_map = Some(core::HeaderMap {
                headers: headers
                    .into_iter()
                    .map(|(key, value)| core::HeaderValue {
                        key,
                        raw_value: value.into_bytes(),
                        ..Default::default()
                    })
                    .collect(),
            });
        } else {
            http.headers = headers.into_iter().collect();
        }

        let principal = self
            .principal
            .clone()
            .or_else(|| self.caller.clone())
            .unwrap_or_default();
        let attributes = AttributeContext {
            source: Some(Peer {
                address: Some(socket_address(&self.source_address)),
                principal,
                certificate: encode_certificate(certificate_pem),
                ..Default::default()
            }),
            destination: Some(Peer {
                address: Some(socket_address("10.0.0.9:8443")),
                principal: self.destination.clone(),
                ..Default::default()
            }),
            request: Some(Request {
                http: Some(http),
                ..Default::default()
            }),
            context_extensions: self.route.clone().into_iter().collect(),
            ..Default::default()
        };
        Ok(CheckRequest {
            attributes: Some(attributes),
        })
    }
}

/// Percent-encodes a PEM certificate exactly as Envoy does for
/// `source.certificate`.
pub fn encode_certificate(pem: &str) -> String {
    utf8_percent_encode(pem, ENVOY_CERT_SET).to_string()
}

fn split_url(url: &str) -> Result<(&str, &str, &str), ProbeError> {
    let bad = || ProbeError::Url(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    if scheme.is_empty() || authority.is_empty() {
        return Err(bad());
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((scheme, authority, path))
}

fn socket_address(text: &str) -> core::Address {
    let (ip, port) = match text.rsplit_once(':') {
        Some((ip, port)) => (ip.trim_matches(['[', ']']), port.parse().unwrap_or(0)),
        None => (text, 0),
    };
    core::Address {
        address: Some(Address::SocketAddress(SocketAddress {
            address: ip.to_string(),
            port_specifier: Some(PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

/// A stream id shaped like Envoy's (a decimal u64).
fn rand_stream_id() -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_encoded_as_envoy_encodes_them() {
        let pem = "-----BEGIN CERTIFICATE-----\nMII+a/b=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            encode_certificate(pem),
            "-----BEGIN%20CERTIFICATE-----%0AMII%2Ba%2Fb%3D%0A-----END%20CERTIFICATE-----%0A"
        );
    }

    #[test]
    fn urls_split_into_scheme_authority_and_raw_target() {
        assert_eq!(
            split_url("https://Orders.shop.svc:8443/v1/a%2F?q=1").unwrap(),
            ("https", "Orders.shop.svc:8443", "/v1/a%2F?q=1")
        );
        assert_eq!(split_url("http://h?x").unwrap(), ("http", "h", "?x"));
        assert_eq!(split_url("http://h").unwrap(), ("http", "h", "/"));
        assert!(split_url("orders/v1").is_err());
    }
}
