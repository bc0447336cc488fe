use super::*;

fn pairs(element: &XfccElement) -> Vec<(&str, &str)> {
    element
        .pairs()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn parses_an_envoy_element() {
    let header = "By=spiffe://example.org/ns/edge/sa/envoy;Hash=468ed33b;\
                  Subject=\"CN=Test Client,OU=Lyft\";URI=spiffe://example.org/ns/a/sa/b;\
                  DNS=a.example;DNS=b.example";

    let elements = parse_xfcc(header).unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(
        pairs(&elements[0]),
        vec![
            ("By", "spiffe://example.org/ns/edge/sa/envoy"),
            ("Hash", "468ed33b"),
            ("Subject", "CN=Test Client,OU=Lyft"),
            ("URI", "spiffe://example.org/ns/a/sa/b"),
            ("DNS", "a.example"),
            ("DNS", "b.example"),
        ]
    );
    assert_eq!(
        elements[0].values("dns").collect::<Vec<_>>(),
        vec!["a.example", "b.example"]
    );
}

#[test]
fn splits_elements_on_commas_outside_quotes() {
    let header = "By=a;Subject=\"O=x, Inc\",By=b;Hash=2";

    let elements = parse_xfcc(header).unwrap();
    assert_eq!(
        pairs(&elements[0]),
        vec![("By", "a"), ("Subject", "O=x, Inc")]
    );
    assert_eq!(pairs(&elements[1]), vec![("By", "b"), ("Hash", "2")]);
}

#[test]
fn unescapes_quoted_values() {
    let elements = parse_xfcc(r#"Subject="CN=\"quoted\" \\ name";Hash=1"#).unwrap();

    assert_eq!(
        pairs(&elements[0]),
        vec![("Subject", r#"CN="quoted" \ name"#), ("Hash", "1")]
    );
}

#[test]
fn rejects_malformed_headers() {
    let cases = [
        ("", XfccError::Empty),
        ("Hash", XfccError::MissingEquals { at: 0 }),
        ("Hash=1;", XfccError::MissingEquals { at: 7 }),
        ("Hash=1,,By=2", XfccError::MissingEquals { at: 7 }),
        (
            "=1",
            XfccError::InvalidKey {
                key: String::new(),
                at: 0,
            },
        ),
        (
            "Ha sh=1",
            XfccError::InvalidKey {
                key: "Ha sh".to_owned(),
                at: 0,
            },
        ),
        ("Subject=\"open", XfccError::UnterminatedQuote { at: 8 }),
        ("Subject=\"open\\", XfccError::UnterminatedQuote { at: 8 }),
        ("Subject=\"a\"b", XfccError::StrayQuote { at: 11 }),
        ("Hash=a\"b", XfccError::StrayQuote { at: 6 }),
    ];
    for (header, expected) in cases {
        assert_eq!(parse_xfcc(header), Err(expected), "{header}");
    }
}
