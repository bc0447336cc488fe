//! What workloads actually did: the allowed decisions of a window folded
//! into (method, destination, sensitivity, intent) tuples, and the requests
//! that stand for them when the current policies are asked again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};

use serde::{Deserialize, Serialize};

use super::window::Window;
use crate::trail::Trail;
use crate::trail::text::Sym;

/// How many path shapes of one destination stand for it in the grid.
pub(crate) const SHAPES_PER_DESTINATION: usize = 4;

/// One kind of use: what was done, where, at which sensitivity, for which
/// declared or inherited intent (empty for none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Tuple {
    /// HTTP method.
    pub method: String,
    /// Destination host, as normalised in the record.
    pub destination: String,
    /// The sensitivity the request was decided at.
    pub sensitivity: String,
    /// The intent it was decided with (empty: none).
    pub intent: String,
}

/// The transaction a hop continued: the workloads before the caller, origin
/// first, and the intent fixed at the origin (empty: none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ChainContext {
    pub(crate) workloads: Vec<String>,
    pub(crate) scope: String,
}

impl ChainContext {
    /// The chain as policies see it: workloads joined with ` > `.
    pub(crate) fn route(&self) -> String {
        self.workloads.join(" > ")
    }
}

/// A concrete request from the trail: where it went, and where its record is.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) host: String,
    pub(crate) path: String,
    /// `request.service` of the record, read when needed.
    pub(crate) service: String,
    pub(crate) file: u32,
    pub(crate) line: u32,
}

/// The latest request of one tuple, path shape and chain.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) tuple: Tuple,
    pub(crate) request: Request,
    pub(crate) chain: Option<ChainContext>,
    pub(crate) version: String,
    pub(crate) determining: Vec<String>,
    pub(crate) count: usize,
    pub(crate) last: i64,
}

/// How often a tuple was used and when last.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Uses {
    pub(crate) count: usize,
    pub(crate) last: i64,
}

/// One workload's decisions in one window.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    pub(crate) allowed: usize,
    pub(crate) denied: usize,
    pub(crate) used: BTreeMap<Tuple, Uses>,
    pub(crate) samples: Vec<Sample>,
    pub(crate) chains: BTreeSet<ChainContext>,
    /// Deepest chain presented on an allowed decision (0: none).
    pub(crate) max_depth: u32,
}

impl Usage {
    /// Sensitivities of allowed decisions.
    pub(crate) fn sensitivities(&self) -> BTreeSet<&str> {
        self.used.keys().map(|t| t.sensitivity.as_str()).collect()
    }

    /// Destinations of allowed decisions.
    pub(crate) fn destinations(&self) -> BTreeSet<&str> {
        self.used.keys().map(|t| t.destination.as_str()).collect()
    }
}

/// A path with the segments that name one item (numbers, UUIDs, long hex)
/// replaced by `{id}`, so `/v1/orders/7` and `/v1/orders/8` are one shape.
pub(crate) fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if names_an_item(segment) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn names_an_item(segment: &str) -> bool {
    let hex_or_hyphen = |c: char| c.is_ascii_hexdigit() || c == '-';
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let long_hex = segment.len() >= 16
        && segment.chars().all(hex_or_hyphen)
        && segment.chars().any(|c| c.is_ascii_digit());
    digits || long_hex
}

impl Trail {
    /// Each caller's decisions within `window`, by SPIFFE ID.
    pub(crate) fn usage(&self, window: &Window) -> BTreeMap<String, Usage> {
        let strings = &self.store.strings;
        let mut by_caller: BTreeMap<String, Usage> = BTreeMap::new();
        let mut sample_at: HashMap<(String, Tuple, String, Option<ChainContext>), usize> =
            HashMap::new();

        for &i in &self.in_time {
            let rec = self.rec(i);
            if rec.caller == Sym::default() || !window.contains(rec.time) {
                continue;
            }
            let caller = strings.get(rec.caller).to_string();
            let usage = by_caller.entry(caller.clone()).or_default();
            if !self.store.allowed(rec) {
                usage.denied += 1;
                continue;
            }
            usage.allowed += 1;

            let tuple = Tuple {
                method: strings.get(rec.method).to_string(),
                destination: strings.get(rec.host).to_string(),
                sensitivity: strings.get(rec.sensitivity).to_string(),
                intent: strings.get(rec.intent).to_string(),
            };
            let uses = usage.used.entry(tuple.clone()).or_default();
            uses.count += 1;
            uses.last = uses.last.max(rec.time);

            let chain = rec.inbound.map(|inbound| {
                let workloads = self.store.texts(inbound.chain);
                let depth = inbound
                    .depth
                    .max(u32::try_from(workloads.len()).unwrap_or(0));
                usage.max_depth = usage.max_depth.max(depth);
                ChainContext {
                    workloads,
                    scope: tuple.intent.clone(),
                }
            });
            if let Some(chain) = &chain {
                usage.chains.insert(chain.clone());
            }

            let path = strings.get(rec.path).to_string();
            let key = (caller, tuple.clone(), path_shape(&path), chain.clone());
            let sample = Sample {
                tuple,
                request: Request {
                    host: strings.get(rec.host).to_string(),
                    path,
                    service: String::new(),
                    file: rec.file,
                    line: rec.line,
                },
                chain,
                version: strings.get(rec.version).to_string(),
                determining: self.store.texts(rec.policies),
                count: 1,
                last: rec.time,
            };
            match sample_at.get(&key) {
                Some(&at) => {
                    let kept = &mut usage.samples[at];
                    let count = kept.count + 1;
                    *kept = Sample { count, ..sample };
                }
                None => {
                    sample_at.insert(key, usage.samples.len());
                    usage.samples.push(sample);
                }
            }
        }
        by_caller
    }

    /// Every destination host in the whole trail with up to
    /// [`SHAPES_PER_DESTINATION`] of its path shapes, the most requested
    /// first, each as its latest request.
    pub(crate) fn destinations(&self) -> BTreeMap<String, Vec<Request>> {
        let strings = &self.store.strings;
        let mut shapes: BTreeMap<String, HashMap<String, (usize, Request)>> = BTreeMap::new();

        for &i in &self.in_time {
            let rec = self.rec(i);
            let host = strings.get(rec.host);
            if host.is_empty() {
                continue;
            }
            let path = strings.get(rec.path);
            let request = Request {
                host: host.to_string(),
                path: path.to_string(),
                service: String::new(),
                file: rec.file,
                line: rec.line,
            };
            let entry = shapes
                .entry(host.to_string())
                .or_default()
                .entry(path_shape(path))
                .or_insert((0, request.clone()));
            entry.0 += 1;
            entry.1 = request;
        }

        shapes
            .into_iter()
            .map(|(host, by_shape)| {
                let mut ranked: Vec<(String, (usize, Request))> = by_shape.into_iter().collect();
                ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
                let kept = ranked
                    .into_iter()
                    .take(SHAPES_PER_DESTINATION)
                    .map(|(_, (_, request))| request)
                    .collect();
                (host, kept)
            })
            .collect()
    }

    /// Fills in `request.service` of `requests` from their record lines: the
    /// compact trail does not keep it, so the few lines needed are read
    /// again. A line that cannot be read leaves the service empty, and the
    /// request is then decided by its host alone.
    pub(crate) fn fill_services<'a>(&self, requests: impl IntoIterator<Item = &'a mut Request>) {
        let mut wanted: BTreeMap<u32, Vec<&mut Request>> = BTreeMap::new();
        for request in requests {
            wanted.entry(request.file).or_default().push(request);
        }

        for (file, mut requests) in wanted {
            let Some(path) = self.store.files.get(file as usize) else {
                continue;
            };
            let lines: BTreeSet<u32> = requests.iter().map(|r| r.line).collect();
            let services = read_services(path, &lines);
            for request in &mut requests {
                if let Some(service) = services.get(&request.line) {
                    request.service.clone_from(service);
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServiceLine {
    request: Option<ServiceOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServiceOnly {
    service: String,
}

/// `request.service` of the given lines (1-based) of a record file.
fn read_services(path: &str, lines: &BTreeSet<u32>) -> HashMap<u32, String> {
    let mut found = HashMap::new();
    let Ok(file) = std::fs::File::open(path) else {
        return found;
    };
    let last = lines.last().copied().unwrap_or(0);

    for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
        let number = u32::try_from(number + 1).unwrap_or(u32::MAX);
        if number > last {
            break;
        }
        let Ok(line) = line else {
            break;
        };
        if !lines.contains(&number) {
            continue;
        }
        if let Ok(parsed) = serde_json::from_slice::<ServiceLine>(&line) {
            let service = parsed.request.map(|r| r.service).unwrap_or_default();
            found.insert(number, service);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_segments_fold_into_one_shape() {
        assert_eq!(path_shape("/v1/orders/7/status"), "/v1/orders/{id}/status");
        assert_eq!(path_shape("/v1/orders/8/status"), "/v1/orders/{id}/status");
        assert_eq!(
            path_shape("/v1/customers/01a24243-fc16-7015-bcfd-56a4efd875ba"),
            "/v1/customers/{id}"
        );
        assert_eq!(path_shape("/v1/entries"), "/v1/entries");
        assert_eq!(path_shape("/v1/charges/deadbeef"), "/v1/charges/deadbeef");
        assert_eq!(path_shape("/"), "/");
    }
}
