//! Fuzzes the request-target normaliser: it must never panic, and every
//! path it accepts must be canonical, free of the sequences that let a
//! second reader see another resource, and stable when read again.

#![no_main]

use seam::request::path::{MAX_TARGET_LEN, Target, normalize};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    match normalize(&raw) {
        Ok(target) => check_accepted(&raw, &target),
        Err(e) => {
            assert_eq!(e.reason_code(), "invalid_path");
            let message = e.to_string();
            assert!(message.len() <= 200, "message of {} bytes", message.len());
            assert!(
                !message.contains(['\n', '\r', '\0']),
                "unescaped message {message:?}"
            );
        }
    }
});

fn check_accepted(raw: &str, target: &Target) {
    let path = &target.path;
    assert!(path.starts_with('/'), "{raw:?} gave {path:?}");
    assert!(path.len() <= MAX_TARGET_LEN);
    assert!(
        raw.ends_with(target.query.as_str()),
        "query not raw: {raw:?}"
    );
    assert!(!raw.contains('#'));

    assert!(
        path.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'?' && b != b'#'),
        "{raw:?} gave {path:?}"
    );
    assert!(!path.contains("//"), "{raw:?} gave {path:?}");
    for segment in path.split('/') {
        let head = segment.split(';').next().unwrap_or_default();
        let head = head.split("%3B").next().unwrap_or_default();
        assert!(head != "." && head != "..", "{raw:?} gave {path:?}");
    }

    let bytes = path.as_bytes();
    for (i, _) in path.match_indices('%') {
        let escape = bytes.get(i + 1..i + 3).unwrap_or_default();
        assert!(
            escape.len() == 2
                && escape
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)),
            "{raw:?} gave {path:?}"
        );
        let value =
            u8::from_str_radix(std::str::from_utf8(escape).unwrap_or("zz"), 16).unwrap_or(0);
        assert!(
            !value.is_ascii_alphanumeric() && !b"-._~".contains(&value),
            "unreserved escape left in {path:?}"
        );
        assert!(
            value != b'/' && value != b'\\' && !value.is_ascii_control(),
            "{raw:?} gave {path:?}"
        );
    }

    let again = normalize(path);
    let expected = Target {
        path: path.clone(),
        query: String::new(),
    };
    assert_eq!(again, Ok(expected), "not idempotent for {raw:?}");

    let with_query = format!("{path}?{}", target.query);
    if with_query.len() <= MAX_TARGET_LEN {
        assert_eq!(
            normalize(&with_query).as_ref(),
            Ok(target),
            "query changed for {raw:?}"
        );
    }
}
