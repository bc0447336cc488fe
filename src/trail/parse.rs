//! Record files parsed a block at a time, the block's lines split between
//! threads: parsing JSON is most of the cost of loading a trail, and the
//! lines are independent until they are indexed, which stays in order on
//! one thread.

use std::io::Read;

use super::line::RawLine;

/// Bytes read from a file per block.
pub(crate) const BLOCK: u64 = 16 << 20;

/// Blocks with fewer lines than this are parsed on the calling thread.
const PARALLEL_FROM: usize = 256;

/// One non-blank line of a block and what parsing it gave.
pub(crate) struct Parsed<'a> {
    /// 1-based line number in the file.
    pub(crate) number: u64,
    pub(crate) outcome: Result<RawLine<'a>, Failure>,
}

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

/// Parses the lines of `block`, whose first line is number `first`. When
/// `ends_cleanly` is false the last line has no line break: the file ends
/// inside it.
pub(crate) fn parse_block(block: &[u8], first: u64, ends_cleanly: bool) -> Vec<Parsed<'_>> {
    let mut lines: Vec<(u64, &[u8], bool)> = Vec::new();
    let mut number = first;
    let mut rest = block;
    while !rest.is_empty() {
        let (line, complete, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], true, &rest[at + 1..]),
            None => (rest, ends_cleanly, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push((number, line, complete));
        }
        number += 1;
        rest = next;
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if threads < 2 || lines.len() < PARALLEL_FROM {
        return lines.iter().map(|&l| parse_one(l)).collect();
    }
    let share = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = lines.chunks(share);
        let mine = parts.next().unwrap_or_default();
        let workers: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(|&l| parse_one(l)).collect::<Vec<_>>()))
            .collect();
        let mut parsed: Vec<Parsed<'_>> = mine.iter().map(|&l| parse_one(l)).collect();
        for worker in workers {
            match worker.join() {
                Ok(more) => parsed.extend(more),
                // A worker cannot panic short of a bug in the JSON reader;
                // should it, its lines are reported rather than lost.
                Err(_) => parsed.extend(lines.iter().skip(parsed.len()).take(share).map(
                    |&(number, _, _)| Parsed {
                        number,
                        outcome: Err(Failure::Unparseable("the parsing thread failed".into())),
                    },
                )),
            }
        }
        parsed
    })
}

fn parse_one((number, line, complete): (u64, &[u8], bool)) -> Parsed<'_> {
    let outcome = match RawLine::parse(line) {
        Ok(raw) => Ok(raw),
        Err(_) if !complete => Err(Failure::Truncated),
        Err(error) => Err(Failure::Unparseable(error.to_string())),
    };
    Parsed { number, outcome }
}

/// Line breaks in `bytes`: how far the line numbers advance past a block.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(parsed: &[Parsed<'_>]) -> Vec<(u64, bool)> {
        parsed
            .iter()
            .map(|p| (p.number, p.outcome.is_ok()))
            .collect()
    }

    #[test]
    fn lines_split_across_threads_come_back_in_file_order() {
        let mut text = String::new();
        for i in 0..1000 {
            if i == 500 {
                text.push_str("garbage\n\n");
            }
            text.push_str(&format!(
                "{{\"kind\":\"decision\",\"decision_id\":\"d{i}\"}}\n"
            ));
        }
        let parsed = parse_block(text.as_bytes(), 1, true);
        assert_eq!(parsed.len(), 1001);
        let got = numbers(&parsed);
        assert_eq!(got[499], (500, true));
        assert_eq!(got[500], (501, false));
        // The blank line 502 is skipped but still counted.
        assert_eq!(got[501], (503, true));
        let last = parsed.last().unwrap().outcome.as_ref().unwrap();
        assert_eq!(last.decision_id.as_str(), "d999");
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
        let parsed = parse_block(&pending[..whole], 3, false);
        assert!(matches!(parsed[0].outcome, Err(Failure::Truncated)));
        assert_eq!(count_lines(&pending[..whole]), 0);
    }
}
