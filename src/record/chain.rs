//! The hash chain that makes the record stream tamper-evident.
//!
//! Every line the writer puts on the stream carries `seq` (1, 2, 3... over the
//! instance's whole stream) and `prev_hash`, the SHA-256 of the previous
//! line's bytes exactly as written, without the newline. Editing, removing or
//! reordering a line breaks a link that [`super::verify`] reports. This
//! module holds the running head of the chain and finds where an existing
//! file left it, so a restarted seam continues the same chain.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `prev_hash` of the very first line of a stream.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The last line written: the next line takes `seq + 1` and links to `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `seq` of the last line; 0 before the first.
    pub seq: u64,
    /// SHA-256 of the last line, lowercase hex; [`ZERO_HASH`] before the first.
    pub hash: String,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            seq: 0,
            hash: ZERO_HASH.to_string(),
        }
    }
}

impl Head {
    /// Moves the head past `line` (its bytes without the newline).
    pub(crate) fn advance(&mut self, line: &[u8]) {
        self.seq += 1;
        self.hash = line_hash(line);
    }
}

/// Lowercase hex SHA-256 of `line`.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The fields of any line that the chain and the rotation rely on; every
/// other field is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChainFields {
    /// `decision`, `gap` or `segment`.
    #[serde(default)]
    pub kind: String,
    /// Position in the instance's stream.
    pub seq: Option<u64>,
    /// Hash of the previous line.
    pub prev_hash: Option<String>,
    /// The instance that wrote the line.
    #[serde(default)]
    pub instance: String,
    /// On a `segment` line: the number of the file it starts.
    pub segment: Option<u64>,
    /// On a `segment` line: the last segment deleted by rotation.
    pub removed_through: Option<u64>,
}

impl ChainFields {
    /// The chain fields of `line`, or `None` when it is not a JSON object
    /// carrying both `seq` and `prev_hash`.
    pub fn parse(line: &[u8]) -> Option<ChainFields> {
        let fields: ChainFields = serde_json::from_slice(line).ok()?;
        (fields.seq.is_some() && fields.prev_hash.is_some()).then_some(fields)
    }

    /// Whether this line directly follows `head`.
    pub fn follows(&self, head: &Head) -> bool {
        self.seq == Some(head.seq + 1) && self.prev_hash.as_deref() == Some(head.hash.as_str())
    }
}

/// The end of a record file: its last complete line, and any bytes after
/// the last newline (a line cut short by a crash).
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The last line that ends with a newline, without it.
    pub(crate) last_line: Option<Vec<u8>>,
    /// Bytes after the last newline.
    pub(crate) fragment: Vec<u8>,
}

/// First read from the end of a file; doubled until a whole line fits.
const TAIL_WINDOW: u64 = 64 * 1024;

/// Reads the last complete line of the file at `path` and what follows it.
pub(crate) fn read_tail(path: &Path) -> std::io::Result<Tail> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut window = TAIL_WINDOW.min(len);

    loop {
        let mut bytes = Vec::with_capacity(usize::try_from(window).unwrap_or(0));
        file.seek(SeekFrom::Start(len - window))?;
        (&mut file).take(window).read_to_end(&mut bytes)?;
        let whole_file = window == len;

        let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
            if whole_file {
                return Ok(Tail {
                    last_line: None,
                    fragment: bytes,
                });
            }
            window = (window * 2).min(len);
            continue;
        };

        let fragment = bytes[last_newline + 1..].to_vec();
        let before = &bytes[..last_newline];
        match before.iter().rposition(|&b| b == b'\n') {
            Some(start) => {
                return Ok(Tail {
                    last_line: Some(before[start + 1..].to_vec()),
                    fragment,
                });
            }
            None if whole_file => {
                return Ok(Tail {
                    last_line: Some(before.to_vec()),
                    fragment,
                });
            }
            None => window = (window * 2).min(len),
        }
    }
}

/// Where the chain stands at the end of `tail`, and whether its fragment
/// turned out to be a complete line missing only its newline.
pub(crate) fn head_of(tail: &Tail) -> (Head, bool) {
    let mut head = Head::default();
    if let Some(line) = &tail.last_line
        && let Some(fields) = ChainFields::parse(line)
        && let Some(seq) = fields.seq
    {
        head = Head {
            seq,
            hash: line_hash(line),
        };
    }

    // A crash may cut a write exactly before its newline: such a line is
    // whole and continues the chain, so it counts.
    if !tail.fragment.is_empty()
        && let Some(fields) = ChainFields::parse(&tail.fragment)
        && fields.follows(&head)
    {
        head.advance(&tail.fragment);
        return (head, true);
    }
    (head, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_a_line_is_the_sha256_of_its_bytes_in_lowercase_hex() {
        // SHA-256 of the empty string and of "abc", from FIPS 180-2.
        assert_eq!(
            line_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            line_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_tail_is_the_last_complete_line_and_what_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let long = "x".repeat(200_000);
        std::fs::write(&path, format!("a\n{long}\n{{\"seq\":3,\"pre")).unwrap();

        let tail = read_tail(&path).unwrap();
        assert_eq!(tail.last_line.as_deref(), Some(long.as_bytes()));
        assert_eq!(tail.fragment, b"{\"seq\":3,\"pre");
    }

    #[test]
    fn a_line_missing_only_its_newline_continues_the_chain() {
        let first = format!(r#"{{"seq":1,"prev_hash":"{ZERO_HASH}"}}"#);
        let second = format!(
            r#"{{"seq":2,"prev_hash":"{}"}}"#,
            line_hash(first.as_bytes())
        );
        let tail = Tail {
            last_line: Some(first.clone().into_bytes()),
            fragment: second.clone().into_bytes(),
        };

        let (head, whole) = head_of(&tail);
        assert!(whole);
        assert_eq!(head.seq, 2);
        assert_eq!(head.hash, line_hash(second.as_bytes()));

        let cut = Tail {
            last_line: Some(first.clone().into_bytes()),
            fragment: second.as_bytes()[..20].to_vec(),
        };
        let (head, whole) = head_of(&cut);
        assert!(!whole);
        assert_eq!(head.seq, 1);
        assert_eq!(head.hash, line_hash(first.as_bytes()));
    }
}
