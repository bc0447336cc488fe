//! JSON reading for token headers and claims that refuses duplicate members.
//!
//! Two parsers that disagree on which of two `aud` members wins can be
//! played against each other; a token whose header or claims name a member
//! twice is refused as malformed instead of silently keeping one of them.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value in which no object names a member twice.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without duplicate object members")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member `{}`",
                    super::error::shown(&name)
                )));
            }
            let Strict(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<Strict>(text).map(|s| s.0)
    }

    #[test]
    fn accepts_nested_objects_with_distinct_members() {
        let value = parse(r#"{"a":1,"b":{"a":2,"c":[{"a":3}]},"d":1.5}"#).unwrap();

        assert_eq!(value["b"]["c"][0]["a"], 3);
        assert_eq!(value["d"], 1.5);
    }

    #[test]
    fn refuses_a_member_named_twice_at_the_top() {
        let err = parse(r#"{"aud":"a.example","aud":"b.example"}"#).unwrap_err();

        assert!(err.to_string().contains("duplicate member `aud`"), "{err}");
    }

    #[test]
    fn refuses_a_member_named_twice_in_a_nested_object() {
        assert!(parse(r#"{"cnf":{"spiffe_id":"a","spiffe_id":"b"}}"#).is_err());
    }

    #[test]
    fn refuses_nesting_deeper_than_the_parser_limit_without_overflowing() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));

        assert!(parse(&deep).is_err());
    }
}
