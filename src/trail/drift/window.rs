//! The time windows drift compares: the window asked for and the one of the
//! same length just before it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::DriftError;
use crate::trail::text::format_time;

/// A span of record time, both ends included, in nanoseconds since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    since: i64,
    until: i64,
    /// Nanoseconds from `since` to `until`; the previous window keeps it
    /// although it ends one nanosecond before this one starts.
    length: i64,
}

/// A window as printed: RFC 3339 ends and the length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowView {
    /// First instant included.
    pub since: String,
    /// Last instant included.
    pub until: String,
    /// Its length, as `7d`, `36h`, `90m` or `45s` (`ms` below a second).
    pub length: String,
}

impl Window {
    /// The window from `since` to `until`, both included.
    pub fn new(since: SystemTime, until: SystemTime) -> Result<Window, DriftError> {
        let (since, until) = (nanos(since), nanos(until));
        if since >= until {
            return Err(DriftError::EmptyWindow {
                since: format_time(since),
                until: format_time(until),
            });
        }
        Ok(Window {
            since,
            until,
            length: until - since,
        })
    }

    /// The `length` of time ending at `until`.
    pub fn ending(until: SystemTime, length: Duration) -> Result<Window, DriftError> {
        let since = until
            .checked_sub(length)
            .ok_or_else(|| DriftError::BadLength {
                value: shown_length(length),
            })?;
        Window::new(since, until)
    }

    /// The window of the same length that ends just before this one starts.
    pub fn previous(&self) -> Window {
        Window {
            since: self.since.saturating_sub(self.length),
            until: self.since.saturating_sub(1),
            length: self.length,
        }
    }

    /// Whether a record time falls inside.
    pub(crate) fn contains(&self, time: i64) -> bool {
        self.since <= time && time <= self.until
    }

    /// The window's length.
    pub fn length(&self) -> Duration {
        Duration::from_nanos(self.length.unsigned_abs())
    }

    /// The window as printed.
    pub fn view(&self) -> WindowView {
        WindowView {
            since: format_time(self.since),
            until: format_time(self.until),
            length: shown_length(self.length()),
        }
    }
}

/// Reads a window length: a whole number with `s`, `m`, `h`, `d` or `w`.
pub fn parse_length(text: &str) -> Result<Duration, DriftError> {
    let bad = || DriftError::BadLength {
        value: text.to_string(),
    };
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };

    let seconds = number.checked_mul(unit_seconds).ok_or_else(bad)?;
    if seconds == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(seconds))
}

/// A length in the largest unit that divides it exactly.
fn shown_length(length: Duration) -> String {
    let seconds = length.as_secs();
    if length.subsec_nanos() != 0 || seconds == 0 {
        return format!("{}ms", length.as_millis());
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// Nanoseconds since the epoch, saturating.
fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn lengths_read_in_every_unit_and_refuse_the_rest() {
        assert_eq!(parse_length("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_length("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_length("36h").unwrap(), Duration::from_secs(129_600));
        assert_eq!(parse_length("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_length("2w").unwrap(), Duration::from_secs(1_209_600));
        for bad in [
            "",
            "7",
            "d",
            "7y",
            "0d",
            "-1d",
            "1.5d",
            "99999999999999999999w",
        ] {
            assert!(parse_length(bad).is_err(), "`{bad}` should be refused");
        }
    }

    #[test]
    fn a_seven_day_window_ends_where_asked_and_its_previous_is_the_week_before() {
        // 2026-05-08T00:00:00Z is 1778198400 seconds after the epoch.
        let until = at(1_778_198_400);
        let window = Window::ending(until, Duration::from_secs(7 * 86_400)).unwrap();
        assert_eq!(window.view().since, "2026-05-01T00:00:00Z");
        assert_eq!(window.view().until, "2026-05-08T00:00:00Z");
        assert_eq!(window.view().length, "7d");

        let previous = window.previous();
        assert_eq!(previous.view().since, "2026-04-24T00:00:00Z");
        assert_eq!(previous.until, window.since - 1);
        assert_eq!(previous.length(), Duration::from_secs(7 * 86_400));
        assert_eq!(previous.view().length, "7d");
    }

    #[test]
    fn the_two_windows_share_no_instant() {
        let window = Window::new(at(1000), at(1600)).unwrap();
        let previous = window.previous();

        assert!(window.contains(1000 * SECOND));
        assert!(window.contains(1600 * SECOND));
        assert!(!window.contains(1600 * SECOND + 1));
        assert!(!previous.contains(1000 * SECOND));
        assert!(previous.contains(1000 * SECOND - 1));
        assert!(previous.contains(400 * SECOND));
        assert!(!previous.contains(400 * SECOND - 1));
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        assert!(Window::new(at(2000), at(1000)).is_err());
        assert!(Window::new(at(1000), at(1000)).is_err());
    }

    #[test]
    fn lengths_print_in_the_largest_exact_unit() {
        assert_eq!(shown_length(Duration::from_secs(1_209_600)), "14d");
        assert_eq!(shown_length(Duration::from_secs(86_400 * 3)), "3d");
        assert_eq!(shown_length(Duration::from_secs(5400)), "90m");
        assert_eq!(shown_length(Duration::from_secs(61)), "61s");
        assert_eq!(shown_length(Duration::from_millis(1500)), "1500ms");
    }
}
