use super::*;

fn joined(pairs: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        headers: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..HttpRequest::default()
    }
}

fn raw(entries: &[(&str, &[u8])]) -> HttpRequest {
    HttpRequest {
        header_map: Some(HeaderMap {
            headers: entries
                .iter()
                .map(|(k, v)| HeaderValue {
                    key: k.to_string(),
                    value: String::new(),
                    raw_value: v.to_vec(),
                })
                .collect(),
        }),
        ..HttpRequest::default()
    }
}

fn intent(http: &HttpRequest) -> Result<Option<String>, HeaderError> {
    Headers::of(http).single_token("x-seam-intent")
}

#[test]
fn reads_the_raw_header_map_when_the_joined_map_is_empty() {
    let http = raw(&[("x-seam-intent", b"read"), ("x-request-id", b"req-0042")]);
    let headers = Headers::of(&http);
    assert!(matches!(headers, Headers::Raw(_)));
    assert_eq!(
        headers.single_token("x-seam-intent"),
        Ok(Some("read".to_string()))
    );
    assert_eq!(
        headers.text("x-request-id"),
        Ok(Some("req-0042".to_string()))
    );

    let same = joined(&[("x-seam-intent", "read"), ("x-request-id", "req-0042")]);
    assert_eq!(intent(&same), intent(&http));
    assert_eq!(
        Headers::of(&same).text("x-request-id"),
        headers.text("x-request-id")
    );
}

#[test]
fn prefers_the_joined_map_when_it_has_entries() {
    let mut http = joined(&[("x-seam-intent", "read")]);
    http.header_map = raw(&[("x-seam-intent", b"delete")]).header_map;
    assert!(matches!(Headers::of(&http), Headers::Joined(_)));
    assert_eq!(intent(&http), Ok(Some("read".to_string())));

    let empty_list = HttpRequest {
        header_map: Some(HeaderMap::default()),
        ..HttpRequest::default()
    };
    assert!(matches!(Headers::of(&empty_list), Headers::Joined(_)));
    assert_eq!(intent(&empty_list), Ok(None));
}

#[test]
fn takes_value_when_raw_value_is_empty() {
    let http = HttpRequest {
        header_map: Some(HeaderMap {
            headers: vec![
                HeaderValue {
                    key: "x-seam-intent".to_string(),
                    value: "read".to_string(),
                    raw_value: Vec::new(),
                },
                HeaderValue {
                    key: "x-request-id".to_string(),
                    value: "ignored".to_string(),
                    raw_value: b"req-7f3a".to_vec(),
                },
            ],
        }),
        ..HttpRequest::default()
    };
    let headers = Headers::of(&http);
    assert_eq!(
        headers.single_token("x-seam-intent"),
        Ok(Some("read".to_string()))
    );
    assert_eq!(
        headers.text("x-request-id"),
        Ok(Some("req-7f3a".to_string()))
    );
}

#[test]
fn looks_names_up_without_regard_to_case() {
    let http = raw(&[("X-Seam-Intent", b"read")]);
    assert_eq!(intent(&http), Ok(Some("read".to_string())));
    assert_eq!(
        Headers::of(&http).single_token("X-SEAM-INTENT"),
        Ok(Some("read".to_string()))
    );

    let map = joined(&[("x-seam-intent", "read")]);
    assert_eq!(
        Headers::of(&map).single_token("X-Seam-Intent"),
        Ok(Some("read".to_string()))
    );
}

#[test]
fn an_absent_header_is_none_everywhere() {
    for http in [joined(&[("other", "x")]), raw(&[("other", b"x")])] {
        let headers = Headers::of(&http);
        assert_eq!(headers.single_token("x-seam-intent"), Ok(None));
        assert_eq!(headers.text("x-seam-intent"), Ok(None));
        assert_eq!(headers.escaped("x-seam-intent"), None);
        assert!(!headers.contains("x-seam-intent"));
        assert!(headers.contains("other"));
    }
}

#[test]
fn a_token_joined_from_repeats_is_ambiguous_never_its_first_element() {
    let e = intent(&joined(&[("x-seam-intent", "read,delete")])).unwrap_err();
    assert_eq!(e.reason_code(), "ambiguous_header");
    assert_eq!(
        e.to_string(),
        "header `x-seam-intent` holds several values `read,delete` where one is expected"
    );

    for value in ["read, delete", ",read", "read,", ","] {
        let e = intent(&joined(&[("x-seam-intent", value)])).unwrap_err();
        assert_eq!(e.reason_code(), "ambiguous_header", "`{value}`");
    }
}

#[test]
fn a_token_sent_twice_in_the_raw_map_is_ambiguous() {
    let http = raw(&[("x-seam-intent", b"read"), ("x-seam-intent", b"delete")]);
    let e = intent(&http).unwrap_err();
    assert_eq!(
        e,
        HeaderError::Repeated {
            name: "x-seam-intent".to_string(),
            count: 2
        }
    );
    assert_eq!(e.reason_code(), "ambiguous_header");

    let same_twice = raw(&[("x-seam-intent", b"read"), ("X-Seam-Intent", b"read")]);
    assert_eq!(
        intent(&same_twice).unwrap_err().reason_code(),
        "ambiguous_header"
    );
}

#[test]
fn a_token_that_is_not_utf8_is_invalid_and_shown_escaped() {
    let http = raw(&[("x-seam-intent", b"r\xe9ad")]);
    let e = intent(&http).unwrap_err();
    assert_eq!(
        e,
        HeaderError::NotUtf8 {
            name: "x-seam-intent".to_string(),
            value: "r\\xe9ad".to_string()
        }
    );
    assert_eq!(e.reason_code(), "invalid_header");
    assert_eq!(
        e.to_string(),
        "header `x-seam-intent` is not valid utf-8: `r\\xe9ad`"
    );
    assert_eq!(
        Headers::of(&http).escaped("x-seam-intent"),
        Some("r\\xe9ad".to_string())
    );
}

#[test]
fn an_envoy_sanitised_token_passes_through_for_the_caller_to_reject() {
    let http = joined(&[("x-seam-intent", "re!d")]);
    assert_eq!(intent(&http), Ok(Some("re!d".to_string())));
}

#[test]
fn a_token_with_control_characters_is_invalid() {
    for value in [
        &b"re\x00ad"[..],
        b"read\n",
        b"re\tad",
        b"\x7fread",
        b"read\r\n",
    ] {
        let e = intent(&raw(&[("x-seam-intent", value)])).unwrap_err();
        assert!(
            matches!(e, HeaderError::Control { .. }),
            "{value:?} gave {e:?}"
        );
        assert_eq!(e.reason_code(), "invalid_header");
    }
    let e = intent(&raw(&[("x-seam-intent", b"re\x00ad")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "header `x-seam-intent` contains a control character: `re\\x00ad`"
    );
}

#[test]
fn a_token_is_trimmed_of_spaces_and_tabs_and_must_not_end_empty() {
    for value in [" read", "read ", "\tread\t", "  read \t "] {
        assert_eq!(
            intent(&joined(&[("x-seam-intent", value)])),
            Ok(Some("read".to_string())),
            "`{value:?}`"
        );
    }
    for value in ["", " ", "\t \t"] {
        let e = intent(&joined(&[("x-seam-intent", value)])).unwrap_err();
        assert_eq!(
            e,
            HeaderError::Empty {
                name: "x-seam-intent".to_string()
            },
            "`{value:?}`"
        );
        assert_eq!(e.reason_code(), "invalid_header");
    }
}

#[test]
fn text_joins_raw_repeats_with_a_comma_as_envoy_does() {
    let http = raw(&[
        ("x-forwarded-client-cert", b"By=a"),
        ("x-request-id", b"r1"),
        ("x-forwarded-client-cert", b"By=b"),
    ]);
    assert_eq!(
        Headers::of(&http).text("x-forwarded-client-cert"),
        Ok(Some("By=a,By=b".to_string()))
    );

    let map = joined(&[("x-forwarded-client-cert", "By=a,By=b")]);
    assert_eq!(
        Headers::of(&map).text("x-forwarded-client-cert"),
        Headers::of(&http).text("x-forwarded-client-cert")
    );
}

#[test]
fn text_keeps_the_whole_value_and_refuses_non_utf8() {
    let http = raw(&[
        ("x-request-id", b" req 1 "),
        ("empty", b""),
        ("bad", b"\xff\xfe"),
    ]);
    let headers = Headers::of(&http);
    assert_eq!(
        headers.text("x-request-id"),
        Ok(Some(" req 1 ".to_string()))
    );
    assert_eq!(headers.text("empty"), Ok(Some(String::new())));
    assert!(headers.contains("empty"));

    let e = headers.text("bad").unwrap_err();
    assert_eq!(e.reason_code(), "invalid_header");
    assert_eq!(
        e.to_string(),
        "header `bad` is not valid utf-8: `\\xff\\xfe`"
    );
}

#[test]
fn escape_bytes_keeps_printable_ascii_and_escapes_the_rest() {
    let cases: [(&[u8], &str); 7] = [
        (b"read", "read"),
        (b"r\xe9ad", "r\\xe9ad"),
        (b"a\\b", "a\\\\b"),
        (b"say \"hi\"", "say \\\"hi\\\""),
        (b"\x00\x1f\x7f\x80\xff", "\\x00\\x1f\\x7f\\x80\\xff"),
        ("é".as_bytes(), "\\xc3\\xa9"),
        (b"line\r\nnext", "line\\x0d\\x0anext"),
    ];
    for (bytes, want) in cases {
        assert_eq!(escape_bytes(bytes, 256), want, "{bytes:?}");
    }
}

#[test]
fn escape_bytes_cuts_at_the_cap_without_splitting_an_escape() {
    assert_eq!(escape_bytes(b"abcdef", 4), "abcd…");
    assert_eq!(escape_bytes(b"abcd", 4), "abcd");
    assert_eq!(escape_bytes(b"ab\xff", 4), "ab…");
    assert_eq!(escape_bytes(b"abc\\", 4), "abc…");
    assert_eq!(escape_bytes(b"a", 0), "…");
    assert_eq!(escape_bytes(b"", 0), "");

    let long = escape_bytes(&[0xff; 10_000], ESCAPED_LEN);
    assert!(long.len() <= ESCAPED_LEN + '…'.len_utf8());
    assert!(long.ends_with("\\xff…"));
}

#[test]
fn escaped_gives_a_capped_loggable_value_for_any_header() {
    let hostile: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let http = raw(&[("x-seam-intent", &hostile)]);
    let shown = Headers::of(&http)
        .escaped("x-seam-intent")
        .unwrap_or_default();
    assert!(shown.starts_with("\\x00\\x01"));
    assert!(shown.len() <= ESCAPED_LEN + 3);
    assert!(shown.chars().all(|c| c == '…' || (' '..='~').contains(&c)));
}

#[test]
fn error_messages_stay_short_for_hostile_values() {
    let hostile = vec![0xffu8; 5000];
    let http = raw(&[("x-seam-intent", &hostile)]);
    let message = intent(&http).unwrap_err().to_string();
    assert!(message.len() < 160, "{} bytes", message.len());
}

#[test]
fn debug_output_names_headers_without_their_values() {
    let http = raw(&[
        ("txn-token", b"eyJhbGciOi.secret"),
        ("x-seam-intent", b"read"),
    ]);
    let shown = format!("{:?}", Headers::of(&http));
    assert_eq!(
        shown,
        r#"Headers { shape: "raw", names: ["txn-token", "x-seam-intent"] }"#
    );

    let map = joined(&[
        ("authorization", "Bearer secret"),
        ("x-seam-intent", "read"),
    ]);
    let shown = format!("{:?}", Headers::of(&map));
    assert_eq!(
        shown,
        r#"Headers { shape: "joined", names: ["authorization", "x-seam-intent"] }"#
    );
}
