//! Masking values that may carry secrets before a record is written.
//!
//! The Check handler copies the request it saw into the record (raw path
//! with its query, the normalised query, a detail quoting what was wrong)
//! and a few header values (`x-request-id` as `request_id`, `x-seam-intent`
//! as `context.intent`, the trace id of `traceparent`). The writer thread
//! masks them here, off the decision path: query parameters named in
//! `records.redact_query` (exact names, compared after percent-decoding) and
//! headers named in `records.redact_headers` (any case) become `REDACTED`.
//!
//! A query parameter starts after `?`, `&` or `;` (some servers split on
//! `;`), and a masked value runs to the next `&` or `#`, so a `;` inside a
//! value is masked with it rather than left showing half a secret.

use crate::proto::DecisionRecord;

/// What a masked value is replaced by.
pub const REDACTED: &str = "REDACTED";

/// The names whose values are masked.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    query: Vec<String>,
    headers: Vec<String>,
}

/// The record fields that hold a header's value.
const COPIED_HEADERS: [&str; 3] = ["x-request-id", "x-seam-intent", "traceparent"];

impl Redaction {
    /// Masks the values of query parameters named exactly `query` and of
    /// headers named `headers` (compared without case).
    pub fn new(query: &[String], headers: &[String]) -> Redaction {
        Redaction {
            query: query.to_vec(),
            headers: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    /// Masks `record` in place.
    pub fn apply(&self, record: &mut DecisionRecord) {
        if !self.query.is_empty() {
            if let Some(request) = record.request.as_mut() {
                request.raw_path = self.mask_target(&request.raw_path);
                request.path = self.mask_target(&request.path);
                request.query = self.mask_query(&request.query, false);
            }
            if record.detail.contains('?') {
                record.detail = self.mask_target_in_text(&record.detail);
            }
        }

        for name in COPIED_HEADERS {
            if !self.headers.iter().any(|h| h == name) {
                continue;
            }
            record.detail = mask_header_error(&record.detail, name);
            let field = match name {
                "x-request-id" => &mut record.request_id,
                "x-seam-intent" => match record.context.as_mut() {
                    Some(context) => &mut context.intent,
                    None => continue,
                },
                _ => &mut record.trace_id,
            };
            if field.is_empty() {
                continue;
            }
            let original = std::mem::replace(field, REDACTED.to_string());
            record.detail = record
                .detail
                .replace(&format!("`{original}`"), &format!("`{REDACTED}`"));
        }
    }

    /// A request target with the values of named query parameters masked.
    pub fn mask_target(&self, target: &str) -> String {
        match target.split_once('?') {
            Some((path, query)) => format!("{path}?{}", self.mask_query(query, false)),
            None => target.to_string(),
        }
    }

    /// Masks every query in free text, where a value also ends at a
    /// backtick or white space (the text quotes targets in backticks).
    fn mask_target_in_text(&self, text: &str) -> String {
        match text.split_once('?') {
            Some((before, rest)) => format!("{before}?{}", self.mask_query(rest, true)),
            None => text.to_string(),
        }
    }

    /// `query` with the values of named parameters replaced by `REDACTED`.
    /// Empty values stay empty: there is nothing to hide.
    pub fn mask_query(&self, query: &str, in_text: bool) -> String {
        let value_end = |c: char| c == '&' || c == '#' || (in_text && is_text_end(c));
        let mut out = String::with_capacity(query.len());
        let mut rest = query;

        while !rest.is_empty() {
            let name_len = rest
                .find(|c: char| c == '=' || c == '&' || c == ';' || value_end(c))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(name_len);
            out.push_str(name);

            let Some(value) = after.strip_prefix('=') else {
                // A separator starts the next parameter; a fragment or the
                // end of a quoted target ends the query.
                let mut chars = after.chars();
                match chars.next() {
                    Some(c) if c == '&' || c == ';' => {
                        out.push(c);
                        rest = chars.as_str();
                    }
                    Some(_) => {
                        out.push_str(after);
                        return out;
                    }
                    None => rest = "",
                }
                continue;
            };
            out.push('=');

            if self.is_redacted(name) {
                let value_len = value.find(value_end).unwrap_or(value.len());
                if value_len > 0 {
                    out.push_str(REDACTED);
                }
                rest = &value[value_len..];
            } else {
                let value_len = value
                    .find(|c: char| c == ';' || value_end(c))
                    .unwrap_or(value.len());
                out.push_str(&value[..value_len]);
                rest = &value[value_len..];
            }
        }
        out
    }

    fn is_redacted(&self, raw_name: &str) -> bool {
        let name = decode_name(raw_name);
        self.query.contains(&name)
    }
}

fn is_text_end(c: char) -> bool {
    c == '`' || c.is_whitespace()
}

/// A query parameter name as a server reads it: `+` is a space and
/// percent escapes are decoded (an invalid escape is kept as written).
fn decode_name(raw: &str) -> String {
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// In a header error (`header `name` ...: `value``), masks every quoted
/// value after the name.
fn mask_header_error(detail: &str, name: &str) -> String {
    let prefix = format!("header `{name}`");
    let Some(rest) = detail.strip_prefix(&prefix) else {
        return detail.to_string();
    };

    let mut out = prefix;
    let mut parts = rest.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut quoted = true;
    for part in parts {
        out.push('`');
        out.push_str(if quoted { REDACTED } else { part });
        quoted = !quoted;
    }
    out
}

#[cfg(test)]
mod tests;
