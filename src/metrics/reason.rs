//! The fixed vocabulary of reason codes that metric labels may carry.
//!
//! A reason label is never request text: every code a Check can end with is
//! listed here at compile time, and anything else is counted as `other`, so
//! the number of series stays bounded whatever callers send.

/// Every reason code a Check can end with, sorted so a code is found by
/// binary search. `other` stands for a code missing from this list.
pub const REASONS: &[&str] = &[
    "allowed",
    "ambiguous_header",
    "certificate_encoding",
    "certificate_expired",
    "certificate_malformed",
    "certificate_not_yet_valid",
    "certificate_too_large",
    "forwarded_chain_invalid",
    "intent_conflicts_with_chain",
    "invalid_header",
    "invalid_host",
    "invalid_method",
    "invalid_path",
    "invalid_sensitivity",
    "missing_attributes",
    "no_client_certificate",
    "no_policy_loaded",
    "other",
    "path_not_normalized",
    "policy_denied",
    "policy_error",
    "policy_request_refused",
    "principal_mismatch",
    "record_queue_full",
    "record_sink_failed",
    "record_writer_stopped",
    "spiffe_id_invalid",
    "svid_critical_extension",
    "svid_extended_key_usage",
    "svid_key_usage",
    "svid_leaf_is_ca",
    "svid_uri_san_count",
    "token_bad_claim",
    "token_bad_header",
    "token_bad_signature",
    "token_chain_too_deep",
    "token_expired",
    "token_issued_in_future",
    "token_malformed",
    "token_missing_claim",
    "token_not_yet_valid",
    "token_scope_widened",
    "token_signing_failed",
    "token_too_large",
    "token_unbound",
    "token_unknown_key",
    "token_wrong_audience",
    "token_wrong_holder",
    "unknown_intent",
    "unknown_method",
    "unknown_trust_domain",
    "untrusted_chain",
];

/// How many reason codes there are, `other` included.
pub const COUNT: usize = REASONS.len();

/// Where `other` sits in [`REASONS`].
const OTHER: usize = 17;

/// The slot of `reason` in [`REASONS`], or the slot of `other` for a code
/// the list does not know.
pub fn index(reason: &str) -> usize {
    REASONS.binary_search(&reason).unwrap_or(OTHER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_list_is_sorted_and_unique_so_binary_search_finds_every_code() {
        assert!(REASONS.windows(2).all(|pair| pair[0] < pair[1]));
        for (slot, reason) in REASONS.iter().enumerate() {
            assert_eq!(index(reason), slot, "{reason}");
        }
        assert_eq!(REASONS[OTHER], "other");
    }

    #[test]
    fn a_code_missing_from_the_list_is_counted_as_other() {
        assert_eq!(REASONS[index("made_up_by_a_client")], "other");
        assert_eq!(REASONS[index("")], "other");
    }

    #[test]
    fn every_reason_code_the_readme_documents_has_its_own_slot() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| outcome | gRPC status | HTTP | reason codes |")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or_default();
        let codes: Vec<&str> = table
            .lines()
            .filter_map(|line| line.rsplit('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .collect();

        assert!(codes.len() > 40, "the README table was found: {codes:?}");
        for code in codes {
            assert_ne!(REASONS[index(code)], "other", "`{code}` has no slot");
        }
    }

    #[test]
    fn every_code_a_reason_code_function_returns_has_its_own_slot() {
        let sources = [
            include_str!("../identity/error.rs"),
            include_str!("../request/headers.rs"),
            include_str!("../request/host.rs"),
            include_str!("../request/path.rs"),
            include_str!("../record.rs"),
            include_str!("../token/error.rs"),
        ];
        let mut seen = 0;
        for source in sources {
            let Some(body) = source.split("fn reason_code").nth(1) else {
                continue;
            };
            let body = body.split("\n    }\n").next().unwrap_or_default();
            for code in body.split("=> \"").skip(1) {
                let code = code.split('"').next().unwrap_or_default();
                assert_ne!(REASONS[index(code)], "other", "`{code}` has no slot");
                seen += 1;
            }
        }
        assert!(seen > 35, "the reason_code functions were read: {seen}");
    }
}
