//! One line of the record stream, read leniently: only the fields the trail
//! queries need are kept, strings are borrowed from the line where they
//! carry no escapes, and a top-level field this reader does not know (a
//! newer writer's addition) is named rather than refused.
//!
//! Limitation: unknown fields are noticed at the top level only; a field
//! added inside `caller`, `request` or a token object is skipped silently,
//! because naming those would cost a hand-written reader for every nested
//! object on a path that runs a million times per load.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A string field: borrowed from the line unless it had escapes. `null`
/// and absent read as empty, numbers and booleans as their text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text::default())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
}

/// The verified caller, as far as the trail needs it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawCaller<'a> {
    #[serde(borrow)]
    pub(crate) spiffe_id: Text<'a>,
}

/// The HTTP request, as far as the trail needs it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawRequest<'a> {
    #[serde(borrow)]
    pub(crate) method: Text<'a>,
    #[serde(borrow)]
    pub(crate) host: Text<'a>,
    #[serde(borrow)]
    pub(crate) path: Text<'a>,
}

/// Sensitivity and intent the decision was made with.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawContext<'a> {
    #[serde(borrow)]
    pub(crate) sensitivity: Text<'a>,
    #[serde(borrow)]
    pub(crate) intent: Text<'a>,
}

/// The Txn-Token minted on allow.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawToken<'a> {
    #[serde(borrow)]
    pub(crate) txn: Text<'a>,
    #[serde(borrow)]
    pub(crate) jti: Text<'a>,
    #[serde(borrow)]
    pub(crate) expires: Text<'a>,
    #[serde(borrow)]
    pub(crate) holder: Text<'a>,
    pub(crate) depth: Option<u32>,
}

/// The Txn-Token the caller presented.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawInbound<'a> {
    #[serde(borrow)]
    pub(crate) txn: Text<'a>,
    #[serde(borrow)]
    pub(crate) jti: Text<'a>,
    #[serde(borrow)]
    pub(crate) parent_decision_id: Text<'a>,
    pub(crate) depth: Option<u32>,
    #[serde(borrow)]
    pub(crate) chain: Option<Vec<Text<'a>>>,
}

/// Every top-level field the trail reads, from any kind of line.
#[derive(Debug, Default)]
pub(crate) struct RawLine<'a> {
    pub(crate) version: u32,
    pub(crate) kind: Text<'a>,
    pub(crate) time: Text<'a>,
    pub(crate) seq: Option<u64>,
    pub(crate) instance: Text<'a>,
    pub(crate) decision_id: Text<'a>,
    pub(crate) request_id: Text<'a>,
    pub(crate) trace_id: Text<'a>,
    pub(crate) caller: Option<RawCaller<'a>>,
    pub(crate) request: Option<RawRequest<'a>>,
    pub(crate) context: Option<RawContext<'a>>,
    pub(crate) decision: Text<'a>,
    pub(crate) reason: Text<'a>,
    pub(crate) detail: Text<'a>,
    pub(crate) http_status: u32,
    pub(crate) determining_policies: Vec<Text<'a>>,
    pub(crate) policy_set_version: Text<'a>,
    pub(crate) token: Option<RawToken<'a>>,
    pub(crate) inbound_token: Option<RawInbound<'a>>,
    /// `gap` lines: decisions whose records were not written.
    pub(crate) lost: u64,
    /// `segment` lines: the segment number and what retention removed.
    pub(crate) segment: u64,
    pub(crate) removed_through: u64,
    /// Top-level fields this reader does not know.
    pub(crate) unknown: Vec<String>,
}

/// Top-level fields of the record format that the trail does not need.
const KNOWN_UNUSED: &[&str] = &[
    "stream_id",
    "request_id_generated",
    "status_code",
    "errors",
    "policy_evaluated",
    "advice",
    "latency_us",
    "credential",
    "shadow",
    "prev_hash",
];

impl<'a> RawLine<'a> {
    /// Reads one line; the error says what was wrong with it.
    pub(crate) fn parse(line: &'a [u8]) -> Result<RawLine<'a>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(line);
        let raw = deserializer.deserialize_map(LineVisitor)?;
        deserializer.end()?;
        Ok(raw)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = RawLine<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut line = RawLine::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.as_str() {
                "version" => line.version = map.next_value::<Option<u32>>()?.unwrap_or(0),
                "kind" => line.kind = map.next_value()?,
                "time" => line.time = map.next_value()?,
                "seq" => line.seq = map.next_value()?,
                "instance" => line.instance = map.next_value()?,
                "decision_id" => line.decision_id = map.next_value()?,
                "request_id" => line.request_id = map.next_value()?,
                "trace_id" => line.trace_id = map.next_value()?,
                "caller" => line.caller = map.next_value()?,
                "request" => line.request = map.next_value()?,
                "context" => line.context = map.next_value()?,
                "decision" => line.decision = map.next_value()?,
                "reason" => line.reason = map.next_value()?,
                "detail" => line.detail = map.next_value()?,
                "http_status" => line.http_status = map.next_value::<Option<u32>>()?.unwrap_or(0),
                "determining_policies" => {
                    line.determining_policies = map
                        .next_value::<Option<Vec<Text<'de>>>>()?
                        .unwrap_or_default()
                }
                "policy_set_version" => line.policy_set_version = map.next_value()?,
                "token" => line.token = map.next_value()?,
                "inbound_token" => line.inbound_token = map.next_value()?,
                "lost" => line.lost = map.next_value::<Option<u64>>()?.unwrap_or(0),
                "segment" => line.segment = map.next_value::<Option<u64>>()?.unwrap_or(0),
                "removed_through" => {
                    line.removed_through = map.next_value::<Option<u64>>()?.unwrap_or(0)
                }
                other => {
                    if !KNOWN_UNUSED.contains(&other) {
                        line.unknown.push(other.to_owned());
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_line_keeps_the_fields_the_queries_need() {
        let line = br#"{"version":1,"time":"2026-05-01T10:00:00Z","decision_id":"d1","kind":"decision","caller":{"spiffe_id":"spiffe://example.org/a","trust_domain":"example.org"},"request":{"method":"GET","host":"h","path":"/p\"q"},"token":{"txn":"t","jti":"j","expires":"2026-05-01T10:01:00Z","holder":"spiffe://example.org/b","depth":1,"kid":"k"},"inbound_token":null,"shadow":null,"determining_policies":["p1"]}"#;
        let raw = RawLine::parse(line).unwrap();
        assert_eq!(raw.kind.as_str(), "decision");
        assert_eq!(
            raw.caller.unwrap().spiffe_id.as_str(),
            "spiffe://example.org/a"
        );
        assert_eq!(raw.request.unwrap().path.as_str(), "/p\"q");
        assert_eq!(raw.token.unwrap().depth, Some(1));
        assert!(raw.inbound_token.is_none());
        assert_eq!(raw.determining_policies, vec![Text("p1".into())]);
        assert!(raw.unknown.is_empty());
    }

    #[test]
    fn fields_from_a_newer_writer_are_named_not_refused() {
        let line = br#"{"kind":"decision","decision_id":"d1","seq":7,"prev_hash":"00","risk":{"score":3}}"#;
        let raw = RawLine::parse(line).unwrap();
        assert_eq!(raw.seq, Some(7));
        assert_eq!(raw.unknown, vec!["risk".to_string()]);
    }

    #[test]
    fn half_a_line_is_an_error_not_a_record() {
        assert!(RawLine::parse(br#"{"kind":"decision","decision_id":"d1","cal"#).is_err());
        assert!(RawLine::parse(b"[1,2]").is_err());
        assert!(RawLine::parse(br#"{"kind":"gap"} trailing"#).is_err());
    }
}
