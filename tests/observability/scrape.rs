//! A `/metrics` page read back into samples, checking on the way that it
//! follows the text exposition format.

use std::collections::BTreeMap;

use crate::support::{Seam, http_get};

/// Every sample on a page, `name{labels}` to value, and the families'
/// declared types.
#[derive(Debug)]
pub struct Page {
    pub samples: BTreeMap<String, f64>,
    pub types: BTreeMap<String, String>,
    pub text: String,
}

impl Page {
    /// Reads `text`, asserting that every sample belongs to the family
    /// whose `# HELP` and `# TYPE` came just before it, and that no family
    /// or sample appears twice.
    pub fn parse(text: &str) -> Page {
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        let mut family: Option<(String, String)> = None;
        let mut help_for = None;

        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("help has text");
                assert!(!help.is_empty(), "{line}");
                help_for = Some(name.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("type has a kind");
                assert_eq!(help_for.as_deref(), Some(name), "HELP before TYPE: {line}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                let fresh = types.insert(name.to_string(), kind.to_string()).is_none();
                assert!(fresh, "family declared twice: {name}");
                family = Some((name.to_string(), kind.to_string()));
            } else {
                let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
                let name = series.split('{').next().unwrap_or_default();
                let (declared, kind) = family.clone().expect("a sample follows its family");
                let belongs = match kind.as_str() {
                    "histogram" => ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| name == format!("{declared}{suffix}")),
                    "counter" => name == declared && name.ends_with("_total"),
                    _ => name == declared,
                };
                assert!(belongs, "`{name}` does not belong to `{declared}`");
                let value: f64 = value.parse().expect("a numeric value");
                let fresh = samples.insert(series.to_string(), value).is_none();
                assert!(fresh, "sample written twice: {series}");
            }
        }
        Page {
            samples,
            types,
            text: text.to_string(),
        }
    }

    /// The value of `series` (`name` or `name{labels}`, labels as written).
    pub fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no `{series}` in\n{}", self.text))
    }

    /// Every sample of the family `name`, labels as written.
    pub fn family(&self, name: &str) -> BTreeMap<String, f64> {
        self.samples
            .iter()
            .filter(|(series, _)| series.split('{').next() == Some(name))
            .map(|(series, value)| (series.clone(), *value))
            .collect()
    }
}

/// Scrapes `/metrics` on `seam`'s admin port.
pub async fn scrape(seam: &Seam) -> Page {
    let (status, body) = http_get(&seam.admin, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    Page::parse(&body)
}
