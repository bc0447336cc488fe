//! Record files read a block at a time and cut into numbered lines, each
//! parsed where it lies in the block (no copy per line).
//!
//! Parsing JSON is most of the cost of loading a trail. Splitting a block's
//! lines between two threads was tried and measured slower on the shared
//! two-core machine this was built on (the parsed lines had to be held until
//! indexed, in order, on one thread), so lines are parsed and indexed in one
//! pass.

use std::io::Read;

use super::line::RawLine;

/// Bytes read from a file per block.
pub(crate) const BLOCK: u64 = 16 << 20;

/// Why a line gave no record.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The file ends inside this line.
    Truncated,
    /// The line is not a record; the JSON reader's complaint.
    Unparseable(String),
}

/// Reads the next block of whole lines into `pending`: whatever was left
/// over from the previous block, then up to `limit` bytes more. Returns
/// how many bytes of `pending` end in a line break (the rest is carried to
/// the next call), and whether the file is exhausted.
pub(crate) fn next_block(
    input: &mut impl Read,
    pending: &mut Vec<u8>,
    limit: u64,
) -> std::io::Result<(usize, bool)> {
    let read = input.by_ref().take(limit).read_to_end(pending)?;
    let at_end = read == 0 || (read as u64) < limit;
    if at_end {
        return Ok((pending.len(), true));
    }
    let whole = pending
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    Ok((whole, false))
}

/// Calls `each` with the number and parse of every non-blank line of
/// `block`, whose first line is number `first`. When `ends_cleanly` is false
/// the last line has no line break: the file ends inside it.
pub(crate) fn each_line<'a>(
    block: &'a [u8],
    first: u64,
    ends_cleanly: bool,
    mut each: impl FnMut(u64, Result<RawLine<'a>, Failure>),
) {
    let mut number = first;
    let mut rest = block;
    while !rest.is_empty() {
        let (line, complete, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], true, &rest[at + 1..]),
            None => (rest, ends_cleanly, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            let outcome = match RawLine::parse(line) {
                Ok(raw) => Ok(raw),
                Err(_) if !complete => Err(Failure::Truncated),
                Err(error) => Err(Failure::Unparseable(error.to_string())),
            };
            each(number, outcome);
        }
        number += 1;
        rest = next;
    }
}

/// Line breaks in `bytes`: how far the line numbers advance past a block.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(block: &[u8], first: u64, ends_cleanly: bool) -> Vec<(u64, bool)> {
        let mut seen = Vec::new();
        each_line(block, first, ends_cleanly, |number, outcome| {
            seen.push((number, outcome.is_ok()))
        });
        seen
    }

    #[test]
    fn lines_are_numbered_in_file_order_blank_ones_counted_not_parsed() {
        let mut text = String::new();
        for i in 0..1000 {
            if i == 500 {
                text.push_str("garbage\n\r\n");
            }
            text.push_str(&format!(
                "{{\"kind\":\"decision\",\"decision_id\":\"d{i}\"}}\r\n"
            ));
        }
        let got = parse_all(text.as_bytes(), 1, true);
        assert_eq!(got.len(), 1001);
        assert_eq!(got[499], (500, true));
        assert_eq!(got[500], (501, false));
        assert_eq!(got[501], (503, true));
        assert_eq!(got[1000], (1002, true));
    }

    #[test]
    fn blocks_end_at_a_line_break_and_carry_the_rest_over() {
        let text = b"{\"kind\":\"gap\"}\n{\"kind\":\"gap\",\"lost\":2}\n{\"kind\":\"ga";
        let mut input = &text[..];
        let mut pending = Vec::new();

        let (whole, at_end) = next_block(&mut input, &mut pending, 20).unwrap();
        assert_eq!((whole, at_end), (15, false));
        pending.drain(..whole);
        let (whole, at_end) = next_block(&mut input, &mut pending, 20).unwrap();
        assert!(!at_end);
        assert_eq!(&pending[..whole], b"{\"kind\":\"gap\",\"lost\":2}\n");
        pending.drain(..whole);

        let (whole, at_end) = next_block(&mut input, &mut pending, 20).unwrap();
        assert!(at_end);
        let mut failures = Vec::new();
        each_line(&pending[..whole], 3, false, |number, outcome| {
            failures.push((number, matches!(outcome, Err(Failure::Truncated))))
        });
        assert_eq!(failures, [(3, true)]);
        assert_eq!(count_lines(&pending[..whole]), 0);
    }
}
