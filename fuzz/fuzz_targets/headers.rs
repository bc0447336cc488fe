//! Fuzzes the header readers on both shapes Envoy sends: none may panic,
//! a single token is never a list, never empty and never carries control
//! characters, errors and escaped forms stay short and printable, and the
//! trace context parser only accepts well-formed values.

#![no_main]

use std::collections::HashMap;

use seam::request::headers::{
    ESCAPED_LEN, HeaderMap, HeaderValue, Headers, HttpRequest, escape_bytes,
};
use seam::request::trace::parse_traceparent;

/// Names looked up; the input's entries draw from these so lookups hit.
const NAMES: [&str; 4] = [
    "x-seam-intent",
    "X-Seam-Intent",
    "traceparent",
    "x-request-id",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check_escape(data);

    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let http = request(shape, rest);
    let headers = Headers::of(&http);

    for name in NAMES {
        check_lookups(&headers, name);
    }
});

/// Builds a request from entries separated by `\n`, each starting with a
/// byte choosing its name; `shape` chooses `headers` or `header_map`.
fn request(shape: u8, rest: &[u8]) -> HttpRequest {
    let entries = rest.split(|&b| b == b'\n').filter_map(|entry| {
        let (&pick, value) = entry.split_first()?;
        Some((NAMES[usize::from(pick) % NAMES.len()], value))
    });

    if shape % 2 == 0 {
        let mut map = HashMap::new();
        for (name, value) in entries {
            let value = String::from_utf8_lossy(value).replace(|c: char| !c.is_ascii(), "!");
            map.insert(name.to_string(), value);
        }
        HttpRequest {
            headers: map,
            ..HttpRequest::default()
        }
    } else {
        let raw_values = shape % 4 == 1;
        let headers = entries
            .map(|(name, value)| HeaderValue {
                key: name.to_string(),
                value: if raw_values {
                    String::new()
                } else {
                    String::from_utf8_lossy(value).into_owned()
                },
                raw_value: if raw_values {
                    value.to_vec()
                } else {
                    Vec::new()
                },
            })
            .collect();
        HttpRequest {
            header_map: Some(HeaderMap { headers }),
            ..HttpRequest::default()
        }
    }
}

fn check_lookups(headers: &Headers<'_>, name: &str) {
    let present = headers.contains(name);

    match headers.single_token(name) {
        Ok(None) => assert!(!present),
        Ok(Some(token)) => {
            assert!(present);
            assert!(!token.is_empty() && !token.contains(','), "token {token:?}");
            assert!(!token.chars().any(char::is_control), "token {token:?}");
            assert_eq!(token.trim_matches([' ', '\t']), token);
        }
        Err(e) => {
            assert!(present);
            assert!(matches!(
                e.reason_code(),
                "ambiguous_header" | "invalid_header"
            ));
            check_message(&e.to_string());
        }
    }

    match headers.text(name) {
        Ok(text) => {
            assert_eq!(text.is_some(), present);
            if let Some(context) = text.as_deref().and_then(parse_traceparent) {
                assert_eq!(context.trace_id.len(), 32);
                assert_eq!(context.parent_id.len(), 16);
                assert!(
                    context
                        .trace_id
                        .bytes()
                        .chain(context.parent_id.bytes())
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                );
                assert!(context.trace_id.bytes().any(|b| b != b'0'));
                assert!(context.parent_id.bytes().any(|b| b != b'0'));
            }
        }
        Err(e) => {
            assert_eq!(e.reason_code(), "invalid_header");
            check_message(&e.to_string());
        }
    }

    let escaped = headers.escaped(name);
    assert_eq!(escaped.is_some(), present);
    if let Some(escaped) = escaped {
        check_printable(&escaped, ESCAPED_LEN);
    }
}

fn check_escape(data: &[u8]) {
    let cap = usize::from(data.first().copied().unwrap_or(0));
    let escaped = escape_bytes(data, cap);
    check_printable(&escaped, cap);
    if !escaped.ends_with('…') {
        assert_eq!(unescape(&escaped), data, "escape is not reversible");
    }
}

/// Printable ASCII only, except a final `…`, and within `cap` bytes before it.
fn check_printable(escaped: &str, cap: usize) {
    let body = escaped.strip_suffix('…').unwrap_or(escaped);
    assert!(
        body.len() <= cap,
        "{} bytes over a cap of {cap}",
        body.len()
    );
    assert!(
        body.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "{escaped:?}"
    );
}

fn check_message(message: &str) {
    assert!(message.len() <= 200, "message of {} bytes", message.len());
    assert!(
        !message.contains(['\n', '\r', '\0']),
        "unescaped message {message:?}"
    );
}

/// Reverses [`escape_bytes`] for a value it did not cut.
fn unescape(escaped: &str) -> Vec<u8> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'x') => {
                let hex =
                    std::str::from_utf8(bytes.get(i + 2..i + 4).unwrap_or_default()).unwrap_or("");
                out.push(
                    u8::from_str_radix(hex, 16)
                        .unwrap_or_else(|_| panic!("bad escape in {escaped:?}")),
                );
                i += 4;
            }
            Some(&c) => {
                out.push(c);
                i += 2;
            }
            None => panic!("dangling backslash in {escaped:?}"),
        }
    }
    out
}
