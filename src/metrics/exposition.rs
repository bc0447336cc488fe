//! Prometheus text exposition (format 0.0.4), written by hand: a family
//! header, then its samples, with help text and label values escaped as
//! the format requires.

use std::fmt::{Display, Write};

use super::histogram::Snapshot;

/// The content type of a page written by [`Exposition`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Bucketed observations with their count and sum.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metrics page being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty page.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts the family `name` of `kind`, described by `help`.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample of `name` with `labels` (names are trusted, values are
    /// escaped).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A whole histogram family: cumulative `_bucket` samples, `_sum` and
    /// `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, snapshot: &Snapshot) {
        self.family(name, Kind::Histogram, help);

        let bucket = format!("{name}_bucket");
        for (le, count) in &snapshot.cumulative {
            self.sample(&bucket, &[("le", le)], count);
        }
        self.sample(&format!("{name}_sum"), &[], snapshot.sum_seconds);
        self.sample(&format!("{name}_count"), &[], snapshot.count);
    }

    /// The page written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value as the format quotes it: `\`, `"` and line feeds escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text as the format reads it: `\` and line feeds escaped (quotes
/// stay as they are).
pub fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::Histogram;

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("one\ntwo"), "one\\ntwo");
        assert_eq!(
            escape_label("spiffe://example.org/a"),
            "spiffe://example.org/a"
        );
    }

    #[test]
    fn help_text_escapes_backslash_and_line_feed_but_not_quotes() {
        assert_eq!(escape_help("a \"b\"\\\nc"), "a \"b\"\\\\\\nc");
    }

    #[test]
    fn a_family_is_its_help_and_type_then_its_samples() {
        let mut page = Exposition::new();
        page.family("seam_x_total", Kind::Counter, "Things.\nCounted.");
        page.sample("seam_x_total", &[("outcome", "ok"), ("reason", "a\"b")], 3);
        page.sample("seam_y", &[], 0.5);

        assert_eq!(
            page.finish(),
            "# HELP seam_x_total Things.\\nCounted.\n\
             # TYPE seam_x_total counter\n\
             seam_x_total{outcome=\"ok\",reason=\"a\\\"b\"} 3\n\
             seam_y 0.5\n"
        );
    }

    #[test]
    fn a_histogram_writes_cumulative_buckets_then_sum_and_count() {
        let histogram = Histogram::default();
        histogram.observe(std::time::Duration::from_micros(20));
        histogram.observe(std::time::Duration::from_micros(20));
        histogram.observe(std::time::Duration::from_millis(3));

        let mut page = Exposition::new();
        page.histogram("seam_d_seconds", "Latency.", &histogram.snapshot());
        let text = page.finish();
        let lines: Vec<&str> = text.lines().collect();

        assert_eq!(lines[0], "# HELP seam_d_seconds Latency.");
        assert_eq!(lines[1], "# TYPE seam_d_seconds histogram");
        assert_eq!(lines[2], "seam_d_seconds_bucket{le=\"0.00001\"} 0");
        assert_eq!(lines[3], "seam_d_seconds_bucket{le=\"0.000025\"} 2");
        assert!(lines.contains(&"seam_d_seconds_bucket{le=\"0.0025\"} 2"));
        assert!(lines.contains(&"seam_d_seconds_bucket{le=\"0.005\"} 3"));
        assert_eq!(lines[15], "seam_d_seconds_bucket{le=\"+Inf\"} 3");
        assert_eq!(lines[16], "seam_d_seconds_sum 0.00304");
        assert_eq!(lines[17], "seam_d_seconds_count 3");
        assert_eq!(lines.len(), 18);
    }
}
