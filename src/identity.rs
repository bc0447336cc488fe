//! Placeholder until the identity module lands: only the SPIFFE ID shape.

/// A SPIFFE ID (placeholder).
#[derive(Debug, Clone)]
pub struct SpiffeId(String);

impl SpiffeId {
    /// Parses a workload SPIFFE ID (placeholder rules).
    pub fn parse(s: &str) -> Result<SpiffeId, String> {
        let rest = s.strip_prefix("spiffe://").ok_or("scheme")?;
        match rest.find('/') {
            Some(i) if i > 0 && i + 1 < rest.len() => Ok(SpiffeId(s.to_string())),
            _ => Err("shape".into()),
        }
    }
}
