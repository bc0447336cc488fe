//! The W3C trace context of the request (`traceparent`), carried into the
//! decision record so a decision can be found from the trace that caused it.
//!
//! The value is only ever recorded, never trusted for a decision, so
//! anything that does not follow the format exactly is dropped rather than
//! refused: the request goes on without a trace context.

/// The fields of a valid `traceparent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id: 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// The id of the caller's span: 16 lowercase hex digits, not all zero.
    pub parent_id: String,
    /// Whether the caller sampled the trace (flag bit `01`).
    pub sampled: bool,
}

/// Parses a `traceparent` value, `version-traceid-parentid-flags`.
///
/// Version `00` must have exactly those four parts; a later version may
/// append more after a `-`, which are ignored. Version `ff`, uppercase hex,
/// wrong lengths, an all-zero id or anything else gives `None`.
pub fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;

    if !is_lower_hex(version, 2) || version == "ff" {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if !is_lower_hex(trace_id, 32) || is_all_zero(trace_id) {
        return None;
    }
    if !is_lower_hex(parent_id, 16) || is_all_zero(parent_id) {
        return None;
    }
    if !is_lower_hex(flags, 2) {
        return None;
    }

    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceContext {
        trace_id: trace_id.to_string(),
        parent_id: parent_id.to_string(),
        sampled: flags & 0x01 == 0x01,
    })
}

/// Whether `s` is exactly `len` lowercase hex digits.
fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether every digit of `s` is `0`.
fn is_all_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests;
