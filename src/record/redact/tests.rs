use super::*;
use crate::proto::{Context, HttpRequest};

fn redaction() -> Redaction {
    Redaction::new(
        &["token".to_string(), "api_key".to_string()],
        &["X-Request-Id".to_string(), "x-seam-intent".to_string()],
    )
}

#[test]
fn a_named_parameter_is_masked_and_others_are_kept() {
    let r = redaction();
    assert_eq!(
        r.mask_target("/v1/orders?expand=items&token=s3cr3t&page=2"),
        "/v1/orders?expand=items&token=REDACTED&page=2"
    );
    assert_eq!(r.mask_target("/v1/orders"), "/v1/orders");
    assert_eq!(r.mask_query("api_key=k", false), "api_key=REDACTED");
}

#[test]
fn every_repetition_of_a_named_parameter_is_masked() {
    assert_eq!(
        redaction().mask_query("token=a&x=1&token=b&token=c", false),
        "token=REDACTED&x=1&token=REDACTED&token=REDACTED"
    );
}

#[test]
fn a_percent_encoded_or_plus_spelled_name_is_matched_as_the_server_decodes_it() {
    let r = redaction();
    assert_eq!(r.mask_query("%74oken=s", false), "%74oken=REDACTED");
    assert_eq!(r.mask_query("api%5Fkey=s", false), "api%5Fkey=REDACTED");
    assert_eq!(r.mask_query("to%6ben=s", false), "to%6ben=REDACTED");

    let spaced = Redaction::new(&["api key".to_string()], &[]);
    assert_eq!(spaced.mask_query("api+key=s", false), "api+key=REDACTED");
}

#[test]
fn names_are_matched_exactly_not_by_case_or_prefix() {
    assert_eq!(
        redaction().mask_query("Token=a&tokens=b&xtoken=c&token%3D=d", false),
        "Token=a&tokens=b&xtoken=c&token%3D=d"
    );
}

#[test]
fn empty_values_and_bare_names_stay_as_they_are() {
    assert_eq!(
        redaction().mask_query("token=&token&x=", false),
        "token=&token&x="
    );
}

#[test]
fn a_semicolon_starts_a_parameter_but_never_ends_a_masked_value() {
    let r = redaction();
    assert_eq!(
        r.mask_query("a=1;token=s3cr3t&b=2", false),
        "a=1;token=REDACTED&b=2"
    );
    assert_eq!(
        r.mask_query("token=abc;def&b=2", false),
        "token=REDACTED&b=2"
    );
}

#[test]
fn a_value_holding_an_encoded_separator_is_masked_whole() {
    assert_eq!(
        redaction().mask_query("token=a%26b%3Dc&d=1", false),
        "token=REDACTED&d=1"
    );
}

#[test]
fn the_fragment_is_left_alone() {
    assert_eq!(
        redaction().mask_target("/a?token=s#token=t"),
        "/a?token=REDACTED#token=t"
    );
}

#[test]
fn a_record_is_masked_in_its_raw_path_query_and_quoting_detail() {
    let mut record = DecisionRecord {
        request_id: "rid-1".into(),
        request: Some(HttpRequest {
            raw_path: "/x/../y?token=s3cr3t&a=1".into(),
            path: "/y".into(),
            query: "token=s3cr3t&a=1".into(),
            ..Default::default()
        }),
        detail: "path `/x/../y?token=s3cr3t&a=1` is not in normal form `/y`".into(),
        ..Default::default()
    };
    redaction().apply(&mut record);

    let request = record.request.unwrap();
    assert_eq!(request.raw_path, "/x/../y?token=REDACTED&a=1");
    assert_eq!(request.path, "/y");
    assert_eq!(request.query, "token=REDACTED&a=1");
    assert_eq!(
        record.detail,
        "path `/x/../y?token=REDACTED&a=1` is not in normal form `/y`"
    );
    assert!(!record.detail.contains("s3cr3t"));
}

#[test]
fn a_named_header_is_masked_in_its_field_and_in_the_detail_quoting_it() {
    let mut record = DecisionRecord {
        request_id: "rid-1".into(),
        context: Some(Context {
            intent: "exfiltrate".into(),
            ..Default::default()
        }),
        detail: "intent `exfiltrate` is not a configured intent".into(),
        ..Default::default()
    };
    redaction().apply(&mut record);
    assert_eq!(record.request_id, "REDACTED");
    assert_eq!(record.context.unwrap().intent, "REDACTED");
    assert_eq!(
        record.detail,
        "intent `REDACTED` is not a configured intent"
    );

    let mut ambiguous = DecisionRecord {
        detail: "header `x-seam-intent` holds several values `read,delete` where one is expected"
            .into(),
        ..Default::default()
    };
    redaction().apply(&mut ambiguous);
    assert_eq!(
        ambiguous.detail,
        "header `x-seam-intent` holds several values `REDACTED` where one is expected"
    );
}

#[test]
fn nothing_is_masked_when_no_names_are_configured() {
    let mut record = DecisionRecord {
        request_id: "rid".into(),
        request: Some(HttpRequest {
            raw_path: "/a?token=t".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    Redaction::default().apply(&mut record);
    assert_eq!(record.request_id, "rid");
    assert_eq!(record.request.unwrap().raw_path, "/a?token=t");
}
