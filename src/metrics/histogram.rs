//! The decision latency histogram: fixed buckets from 10 µs to 100 ms,
//! counted with one atomic add per observation and no lock.
//!
//! Each bucket holds only the observations that fell into it; the
//! cumulative counts Prometheus expects are added up when a scrape reads
//! the histogram, so `+Inf` always equals the count of the same scrape.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds, each with its `le` label.
/// A decision takes tens of microseconds when its caller is cached and
/// about a hundred when it is not; the tail covers a slow policy or a
/// starved machine up to the 100 ms beyond which Envoy has long given up.
pub const BUCKETS: [(u64, &str); 13] = [
    (10_000, "0.00001"),
    (25_000, "0.000025"),
    (50_000, "0.00005"),
    (100_000, "0.0001"),
    (250_000, "0.00025"),
    (500_000, "0.0005"),
    (1_000_000, "0.001"),
    (2_500_000, "0.0025"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
];

/// A latency histogram over [`BUCKETS`] and one overflow bucket.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// What a scrape reads from a [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `(le, cumulative count)` for every bound, `+Inf` last.
    pub cumulative: Vec<(&'static str, u64)>,
    /// Observations counted (equal to the `+Inf` bucket).
    pub count: u64,
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
}

impl Histogram {
    /// Counts one observation of `elapsed`.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let slot = BUCKETS.partition_point(|(bound, _)| *bound < nanos);

        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The buckets as cumulative counts, with their count and sum.
    pub fn snapshot(&self) -> Snapshot {
        let labels = BUCKETS.iter().map(|(_, le)| *le).chain(["+Inf"]);
        let mut running = 0u64;
        let cumulative: Vec<(&'static str, u64)> = labels
            .zip(&self.buckets)
            .map(|(le, bucket)| {
                running += bucket.load(Ordering::Relaxed);
                (le, running)
            })
            .collect();

        // Nanoseconds fit an f64 exactly up to about 104 days of summed
        // latency; past that the sum loses precision, never the counts.
        let sum_nanos = self.sum_nanos.load(Ordering::Relaxed) as f64;
        Snapshot {
            count: running,
            cumulative,
            sum_seconds: sum_nanos / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn buckets_are_cumulative_and_inf_equals_the_count() {
        let histogram = Histogram::default();
        for elapsed in [micros(5), micros(10), micros(30), micros(40), micros(900)] {
            histogram.observe(elapsed);
        }
        histogram.observe(Duration::from_millis(250));

        let snapshot = histogram.snapshot();
        let at = |le: &str| {
            snapshot
                .cumulative
                .iter()
                .find(|(l, _)| *l == le)
                .map(|(_, n)| *n)
        };
        assert_eq!(at("0.00001"), Some(2));
        assert_eq!(at("0.000025"), Some(2));
        assert_eq!(at("0.00005"), Some(4));
        assert_eq!(at("0.0005"), Some(4));
        assert_eq!(at("0.001"), Some(5));
        assert_eq!(at("0.1"), Some(5));
        assert_eq!(at("+Inf"), Some(6));
        assert_eq!(snapshot.count, 6);
        assert_eq!(snapshot.cumulative.len(), BUCKETS.len() + 1);
    }

    #[test]
    fn an_observation_on_a_bound_falls_into_that_bound() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_millis(100));
        histogram.observe(Duration::from_nanos(100_000_001));

        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.cumulative[BUCKETS.len() - 1], ("0.1", 1));
        assert_eq!(snapshot.cumulative[BUCKETS.len()], ("+Inf", 2));
    }

    #[test]
    fn the_sum_is_in_seconds() {
        let histogram = Histogram::default();
        histogram.observe(micros(250));
        histogram.observe(micros(750));

        let snapshot = histogram.snapshot();
        assert!((snapshot.sum_seconds - 0.001).abs() < 1e-12);
    }

    #[test]
    fn bounds_rise_from_ten_microseconds_to_a_hundred_milliseconds() {
        assert!(BUCKETS.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(BUCKETS[0].0, 10_000);
        assert_eq!(BUCKETS[BUCKETS.len() - 1].0, 100_000_000);
        for (nanos, le) in BUCKETS {
            let seconds: f64 = le.parse().unwrap_or(f64::NAN);
            assert!((seconds * 1e9 - nanos as f64).abs() < 1e-3, "{le}");
        }
    }
}
