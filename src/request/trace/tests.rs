use super::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn context(sampled: bool) -> TraceContext {
    TraceContext {
        trace_id: TRACE.to_string(),
        parent_id: PARENT.to_string(),
        sampled,
    }
}

#[test]
fn reads_a_version_00_traceparent() {
    assert_eq!(
        parse_traceparent(&format!("00-{TRACE}-{PARENT}-01")),
        Some(context(true))
    );
    assert_eq!(
        parse_traceparent(&format!("00-{TRACE}-{PARENT}-00")),
        Some(context(false))
    );
}

#[test]
fn reads_the_sampled_bit_alone_from_the_flags() {
    assert_eq!(
        parse_traceparent(&format!("00-{TRACE}-{PARENT}-03")),
        Some(context(true))
    );
    assert_eq!(
        parse_traceparent(&format!("00-{TRACE}-{PARENT}-02")),
        Some(context(false))
    );
    assert_eq!(
        parse_traceparent(&format!("00-{TRACE}-{PARENT}-ff")),
        Some(context(true))
    );
}

#[test]
fn accepts_later_versions_with_extra_parts() {
    assert_eq!(
        parse_traceparent(&format!("01-{TRACE}-{PARENT}-01")),
        Some(context(true))
    );
    assert_eq!(
        parse_traceparent(&format!("cc-{TRACE}-{PARENT}-01-what-the-future-holds")),
        Some(context(true))
    );
}

#[test]
fn rejects_everything_off_the_format() {
    let zero_trace = "0".repeat(32);
    let zero_parent = "0".repeat(16);
    let cases = [
        format!("ff-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01-extra"),
        format!("00-{TRACE}-{PARENT}-01-"),
        format!("00-{TRACE}-{PARENT}"),
        format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
        format!("00-{TRACE}-{}-01", PARENT.to_uppercase()),
        format!("0A-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-0A"),
        format!("00-{zero_trace}-{PARENT}-01"),
        format!("00-{TRACE}-{zero_parent}-01"),
        format!("00-{}-{PARENT}-01", &TRACE[1..]),
        format!("00-{TRACE}0-{PARENT}-01"),
        format!("00-{TRACE}-{}-01", &PARENT[1..]),
        format!("00-{TRACE}-{PARENT}-1"),
        format!("00-{TRACE}-{PARENT}-001"),
        format!("0-{TRACE}-{PARENT}-01"),
        format!("000-{TRACE}-{PARENT}-01"),
        format!(" 00-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01 "),
        format!("00_{TRACE}_{PARENT}_01"),
        format!("00-{}g-{PARENT}-01", &TRACE[1..]),
        format!("01-{TRACE}-{PARENT}-01."),
        "00--{PARENT}-01".to_string(),
        String::new(),
        "-".to_string(),
        "---".to_string(),
    ];
    for value in cases {
        assert_eq!(parse_traceparent(&value), None, "`{value}`");
    }
}
