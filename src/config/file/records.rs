//! The `[records]` table: where decision records go, how durably, how the
//! file sink rotates, and what is masked before a record is written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::super::{Durability, OnFull, RecordConfig, RecordSinkConfig};
use super::{ConfigError, invalid};

/// Smallest `max_file_bytes` accepted: below it every record would start a
/// file of its own.
const MIN_FILE_BYTES: u64 = 1024;

/// Query parameters and headers masked when the operator names none: the
/// usual carriers of credentials.
const DEFAULT_REDACT_QUERY: [&str; 5] = ["access_token", "api_key", "apikey", "token", "sig"];
const DEFAULT_REDACT_HEADERS: [&str; 5] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "txn-token",
    "x-api-key",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RecordsFile {
    sink: String,
    path: Option<PathBuf>,
    queue_capacity: usize,
    on_full: String,
    wait_ms: u64,
    instance: Option<String>,
    durability: String,
    max_file_bytes: u64,
    max_files: usize,
    redact_query: Vec<String>,
    redact_headers: Vec<String>,
}

impl Default for RecordsFile {
    fn default() -> Self {
        RecordsFile {
            sink: "stdout".into(),
            path: None,
            queue_capacity: 65_536,
            on_full: "deny".into(),
            wait_ms: 200,
            instance: None,
            durability: "flush".into(),
            max_file_bytes: 0,
            max_files: 0,
            redact_query: DEFAULT_REDACT_QUERY.map(String::from).to_vec(),
            redact_headers: DEFAULT_REDACT_HEADERS.map(String::from).to_vec(),
        }
    }
}

impl RecordsFile {
    pub(super) fn validate(
        self,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<RecordConfig, ConfigError> {
        let sink = match (self.sink.as_str(), self.path) {
            ("stdout", None) => RecordSinkConfig::Stdout,
            ("stdout", Some(_)) => {
                return Err(invalid("records.path", "only used with `sink = \"file\"`"));
            }
            ("file", Some(path)) => RecordSinkConfig::File(resolve(&path)),
            ("file", None) => {
                return Err(invalid("records.path", "required with `sink = \"file\"`"));
            }
            (other, _) => {
                return Err(invalid(
                    "records.sink",
                    format!("`{other}` is not one of `stdout`, `file`"),
                ));
            }
        };

        let on_full = match self.on_full.as_str() {
            "deny" => OnFull::Deny,
            "drop" => OnFull::Drop,
            "wait" => OnFull::Wait(Duration::from_millis(self.wait_ms)),
            other => {
                return Err(invalid(
                    "records.on_full",
                    format!("`{other}` is not one of `deny`, `drop`, `wait`"),
                ));
            }
        };
        if self.wait_ms == 0 || self.wait_ms > 10_000 {
            return Err(invalid(
                "records.wait_ms",
                format!("{} is not between 1 and 10000 milliseconds", self.wait_ms),
            ));
        }
        if self.queue_capacity == 0 || self.queue_capacity > 1 << 20 {
            return Err(invalid(
                "records.queue_capacity",
                "must be between 1 and 1048576",
            ));
        }

        let durability = durability(&self.durability, &sink)?;
        rotation(&sink, self.max_file_bytes, self.max_files)?;
        let redact_query = names("records.redact_query", self.redact_query, false)?;
        let redact_headers = names("records.redact_headers", self.redact_headers, true)?;

        let instance = self
            .instance
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "seam".into());
        Ok(RecordConfig {
            sink,
            queue_capacity: self.queue_capacity,
            on_full,
            instance,
            durability,
            max_file_bytes: self.max_file_bytes,
            max_files: self.max_files,
            redact_query,
            redact_headers,
        })
    }
}

fn durability(value: &str, sink: &RecordSinkConfig) -> Result<Durability, ConfigError> {
    let durability = match value {
        "flush" => Durability::Flush,
        "fsync_batch" => Durability::FsyncBatch,
        "fsync_each" => Durability::FsyncEach,
        other => {
            return Err(invalid(
                "records.durability",
                format!("`{other}` is not one of `flush`, `fsync_batch`, `fsync_each`"),
            ));
        }
    };

    // Syncing a pipe promises nothing: refuse rather than pretend.
    if durability != Durability::Flush && *sink == RecordSinkConfig::Stdout {
        return Err(invalid(
            "records.durability",
            format!("`{value}` needs `sink = \"file\"`; stdout cannot be synced"),
        ));
    }
    Ok(durability)
}

fn rotation(
    sink: &RecordSinkConfig,
    max_file_bytes: u64,
    max_files: usize,
) -> Result<(), ConfigError> {
    if max_file_bytes == 0 {
        if max_files != 0 {
            return Err(invalid(
                "records.max_files",
                "only used with `max_file_bytes` (rotation)",
            ));
        }
        return Ok(());
    }

    let RecordSinkConfig::File(path) = sink else {
        return Err(invalid(
            "records.max_file_bytes",
            "only used with `sink = \"file\"`",
        ));
    };
    if max_file_bytes < MIN_FILE_BYTES {
        return Err(invalid(
            "records.max_file_bytes",
            format!("`{max_file_bytes}` is below the smallest size, {MIN_FILE_BYTES}"),
        ));
    }
    // Rotated files are named `<stem>.<segment>.jsonl` beside the active
    // one; a verifier finds them all by that suffix.
    if path.extension().is_none_or(|e| e != "jsonl") {
        return Err(invalid(
            "records.path",
            format!(
                "`{}` must end in `.jsonl` when `max_file_bytes` rotates it",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Checks a list of names; header names are compared lowercase.
fn names(key: &str, names: Vec<String>, lowercase: bool) -> Result<Vec<String>, ConfigError> {
    names
        .into_iter()
        .map(|name| {
            if name.is_empty() || name.chars().any(|c| c.is_control() || c == ' ') {
                return Err(invalid(key, format!("`{name}` is not a usable name")));
            }
            Ok(if lowercase {
                name.to_ascii_lowercase()
            } else {
                name
            })
        })
        .collect()
}
