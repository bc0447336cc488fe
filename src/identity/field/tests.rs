use super::*;

#[test]
fn percent_decodes_strictly() {
    let cases: [(&str, Result<&[u8], ()>); 9] = [
        ("plain", Ok(b"plain")),
        ("a%20b", Ok(b"a b")),
        ("%2b%2B", Ok(b"++")),
        ("a+b", Ok(b"a+b")),
        ("%0A%0d", Ok(b"\n\r")),
        ("%", Err(())),
        ("%2", Err(())),
        ("%ZZ", Err(())),
        ("%G0", Err(())),
    ];
    for (input, expected) in cases {
        let decoded = percent_decode_strict(input.as_bytes()).map_err(|_| ());
        assert_eq!(decoded.as_deref().map_err(|_| ()), expected, "{input}");
    }
}

#[test]
fn reads_consecutive_certificate_blocks() {
    let text = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n\
                 \n-----BEGIN CERTIFICATE-----\r\nBAUG\r\n-----END CERTIFICATE-----";

    let blocks = pem_certificates(text, 8, Surroundings::Whitespace).unwrap();
    assert_eq!(blocks, vec![vec![1, 2, 3], vec![4, 5, 6]]);
}

#[test]
fn allows_comments_between_blocks_only_in_files() {
    let text = b"# roots\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\nbye\n";

    assert!(pem_certificates(text, 8, Surroundings::Whitespace).is_err());
    assert_eq!(
        pem_certificates(text, 8, Surroundings::Text).unwrap(),
        vec![vec![1, 2, 3]]
    );
}

#[test]
fn refuses_more_blocks_than_allowed_before_decoding_any() {
    let block = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    let err = pem_certificates(block.repeat(3).as_bytes(), 2, Surroundings::Whitespace);

    assert_eq!(err, Err("3 PEM blocks, at most 2 allowed".to_owned()));
}

#[test]
fn refuses_a_block_opened_inside_another() {
    let text = b"-----BEGIN CERTIFICATE-----\nAQID\n-----BEGIN CERTIFICATE-----\nAQID\n\
                 -----END CERTIFICATE-----\n";

    assert!(pem_certificates(text, 8, Surroundings::Text).is_err());
}

#[test]
fn refuses_blocks_of_other_kinds() {
    let text = b"-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n";

    assert_eq!(
        pem_certificates(text, 8, Surroundings::Text),
        Err("unexpected `PRIVATE KEY` PEM block".to_owned())
    );
}

#[test]
fn decodes_an_empty_field_as_no_certificate() {
    assert_eq!(
        decode_certificate_field("", 16),
        Err(IdentityError::NoClientCertificate)
    );
}
