//! Compact storage for the strings a trail holds a million times over.
//!
//! Most values on the record stream repeat (SPIFFE IDs, hosts, reasons,
//! policy versions) and are kept once in [`Strings`]; the ids that are unique
//! per record (decision, token and transaction ids are UUIDs, trace ids are 32
//! hex digits) are packed into 16 bytes by [`Id`] instead. Times are kept as
//! nanoseconds since the Unix epoch.

use std::collections::HashMap;

/// Index of a string in [`Strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct Sym(u32);

/// Every distinct string of a trail, kept once. Index 0 is the empty string.
#[derive(Debug)]
pub(crate) struct Strings {
    texts: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            texts: vec![Box::from("")],
            index: HashMap::from([(Box::from(""), Sym(0))]),
        }
    }
}

impl Strings {
    /// The symbol of `text`, adding it when new.
    pub(crate) fn intern(&mut self, text: &str) -> Sym {
        if let Some(sym) = self.index.get(text) {
            return *sym;
        }
        let sym = Sym(u32::try_from(self.texts.len()).unwrap_or(u32::MAX));
        self.texts.push(Box::from(text));
        self.index.insert(Box::from(text), sym);
        sym
    }

    /// The symbol of `text` if the trail holds it.
    pub(crate) fn find(&self, text: &str) -> Option<Sym> {
        self.index.get(text).copied()
    }

    /// The text of `sym` (empty for a symbol from another table).
    pub(crate) fn get(&self, sym: Sym) -> &str {
        self.texts.get(sym.0 as usize).map_or("", |t| t)
    }
}

/// An identifier from a record, packed when it has a well-known shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) enum Id {
    /// The field was empty or absent.
    #[default]
    None,
    /// A lowercase hyphenated UUID.
    Uuid([u8; 16]),
    /// 32 lowercase hex digits (a W3C trace id).
    Hex([u8; 16]),
    /// Anything else, kept as text.
    Text(Sym),
}

impl Id {
    /// Packs `text`, interning it when it has no packed form.
    pub(crate) fn intern(text: &str, strings: &mut Strings) -> Id {
        Id::packed(text).unwrap_or_else(|| Id::Text(strings.intern(text)))
    }

    /// `text` as the trail would hold it; `None` when it cannot occur in it.
    pub(crate) fn find(text: &str, strings: &Strings) -> Option<Id> {
        match Id::packed(text) {
            Some(id) => Some(id),
            None => strings.find(text).map(Id::Text),
        }
    }

    fn packed(text: &str) -> Option<Id> {
        if text.is_empty() {
            return Some(Id::None);
        }
        let bytes = text.as_bytes();
        match bytes.len() {
            36 => {
                let hyphens = [8, 13, 18, 23];
                if hyphens.iter().any(|&at| bytes[at] != b'-') {
                    return None;
                }
                let digits = bytes.iter().filter(|&&b| b != b'-');
                pack_hex(digits).map(Id::Uuid)
            }
            32 => pack_hex(bytes.iter()).map(Id::Hex),
            _ => None,
        }
    }

    /// Whether the field was empty.
    pub(crate) fn is_none(&self) -> bool {
        matches!(self, Id::None)
    }

    /// The id as it was written.
    pub(crate) fn text(&self, strings: &Strings) -> String {
        match self {
            Id::None => String::new(),
            Id::Uuid(bytes) => {
                let hex = hex::encode(bytes);
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..32]
                )
            }
            Id::Hex(bytes) => hex::encode(bytes),
            Id::Text(sym) => strings.get(*sym).to_string(),
        }
    }
}

/// 32 lowercase hex digits as 16 bytes; `None` for anything else (uppercase
/// digits stay text so the id prints back exactly as written).
fn pack_hex<'a>(digits: impl Iterator<Item = &'a u8>) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut count = 0usize;
    for &digit in digits {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        let byte = out.get_mut(count / 2)?;
        *byte = (*byte << 4) | value;
        count += 1;
    }
    (count == 32).then_some(out)
}

/// Nanoseconds since the Unix epoch of an RFC 3339 time such as
/// `2026-05-01T10:00:00.123456Z` or `…+02:00`; `None` when it is not one.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }

    let mut rest = &b[19..];
    let mut nanos = 0i64;
    if let Some((b'.', fraction)) = rest.split_first() {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for (i, digit) in fraction[..len].iter().enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i64::from(digit - b'0');
            }
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = &fraction[len..];
    }

    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `nanos` since the epoch as RFC 3339 UTC; empty for an unknown time.
pub(crate) fn format_time(nanos: i64) -> String {
    if nanos == UNKNOWN_TIME {
        return String::new();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The time of a record whose `time` could not be read; sorts first.
pub(crate) const UNKNOWN_TIME: i64 = i64::MIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_trace_ids_pack_and_print_back_exactly() {
        let mut strings = Strings::default();
        for text in [
            "01a24243-fc16-7015-bcfd-56a4efd875ba",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "req-7f3a",
            "01A24243-FC16-7015-BCFD-56A4EFD875BA",
        ] {
            let id = Id::intern(text, &mut strings);
            assert_eq!(id.text(&strings), text);
            assert_eq!(Id::find(text, &strings), Some(id));
        }
        assert!(matches!(
            Id::intern("01a24243-fc16-7015-bcfd-56a4efd875ba", &mut strings),
            Id::Uuid(_)
        ));
        assert_eq!(Id::find("never-seen", &strings), None);
    }

    #[test]
    fn rfc3339_times_read_to_the_nanosecond_with_offsets() {
        // 2026-05-01T10:00:00Z is 1777629600 seconds after the epoch.
        assert_eq!(
            parse_time("2026-05-01T10:00:00Z"),
            Some(1_777_629_600_000_000_000)
        );
        assert_eq!(
            parse_time("2026-05-01T10:00:00.123456789Z"),
            Some(1_777_629_600_123_456_789)
        );
        assert_eq!(
            parse_time("2026-05-01T12:00:00.5+02:00"),
            Some(1_777_629_600_500_000_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-05-01"), None);
        assert_eq!(parse_time("2026-13-01T10:00:00Z"), None);
        assert_eq!(parse_time("2026-05-01T10:00:00"), None);
    }

    #[test]
    fn times_format_back_as_rfc3339_utc() {
        assert_eq!(
            format_time(1_777_629_600_123_456_000),
            "2026-05-01T10:00:00.123456Z"
        );
        assert_eq!(format_time(UNKNOWN_TIME), "");
    }
}
