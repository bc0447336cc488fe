//! Data sensitivity: the ordered levels policies compare, and the rules that
//! assign a level to a request.
//!
//! A request's sensitivity comes from two places: the route's
//! `context_extensions["sensitivity"]`, set by the operator in Envoy's
//! config, and seam's own classification rules on host and path. When both
//! apply the more restrictive wins; when neither does, the configured default
//! applies, which out of the box is the most restrictive level. A missing
//! label therefore never reads as "not sensitive".

use std::fmt;

/// The ordered sensitivity levels, least restrictive first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    names: Vec<String>,
    default: usize,
}

/// A level resolved for one request, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensitivity {
    /// Level name, e.g. `confidential`.
    pub name: String,
    /// Position in the order, `0` for the least restrictive.
    pub level: i64,
    /// Where the level came from: `route`, `rule:<name>`, `default`, or
    /// several joined by `,` when they agreed on the winning level.
    pub source: String,
}

/// A problem with the levels or rules themselves, found at load.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LevelsError {
    /// No levels at all.
    #[error("at least one sensitivity level is required")]
    Empty,
    /// A level name that is not a plain lowercase word.
    #[error("level `{0}` must be lowercase letters, digits, `-` or `_`")]
    BadName(String),
    /// A level listed twice.
    #[error("level `{0}` is listed twice")]
    Duplicate(String),
    /// A reference to a level that does not exist.
    #[error("unknown sensitivity level `{0}`")]
    Unknown(String),
}

/// A route label that names no configured level.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("route sensitivity `{0}` is not a configured level")]
pub struct UnknownLevel(pub String);

impl Levels {
    /// The levels `names` in order; `default` names the level used when a
    /// request matches nothing (`None`: the most restrictive).
    pub fn new(names: Vec<String>, default: Option<&str>) -> Result<Levels, LevelsError> {
        if names.is_empty() {
            return Err(LevelsError::Empty);
        }
        for (i, name) in names.iter().enumerate() {
            let plain = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !plain {
                return Err(LevelsError::BadName(name.clone()));
            }
            if names[..i].contains(name) {
                return Err(LevelsError::Duplicate(name.clone()));
            }
        }

        let default = match default {
            None => names.len() - 1,
            Some(d) => names
                .iter()
                .position(|n| n == d)
                .ok_or_else(|| LevelsError::Unknown(d.to_string()))?,
        };
        Ok(Levels { names, default })
    }

    /// The level called `name`, compared without regard to ASCII case so a
    /// label written `Restricted` is still restricted.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name.trim()))
    }

    /// Level names, least restrictive first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn resolved(&self, index: usize, source: String) -> Sensitivity {
        Sensitivity {
            name: self.names[index].clone(),
            level: i64::try_from(index).unwrap_or(i64::MAX),
            source,
        }
    }
}

/// Where a classification rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Any host.
    Any,
    /// Exactly this normalised host (port included when non-default).
    Exact(String),
    /// Any host ending in `.<suffix>` (written `*.suffix`).
    Suffix(String),
}

/// One classification rule: requests to a matching destination and path
/// carry at least `level`.
///
/// A destination matches by host pattern or by exact service id (the SPIFFE
/// ID of the workload behind the proxy). In a sidecar the host is only what
/// the caller wrote, so rules that must hold whatever host a caller claims
/// should name the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Name shown in records as `rule:<name>`.
    pub name: String,
    /// Hosts the rule covers, if it matches by host.
    pub host: Option<HostPattern>,
    /// The service id the rule covers, if it matches by service.
    pub service: Option<String>,
    /// Path prefix on segment boundaries: `/v1/cards` covers `/v1/cards`
    /// and `/v1/cards/7` but not `/v1/cardsx`. `/` covers everything.
    pub path_prefix: String,
    /// Index into [`Levels`].
    pub level: usize,
}

/// The levels and rules together: assigns a [`Sensitivity`] to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classifier {
    levels: Levels,
    rules: Vec<Rule>,
}

impl HostPattern {
    /// Reads `*`, `*.suffix` or an exact host.
    pub fn parse(pattern: &str) -> HostPattern {
        let pattern = pattern.to_ascii_lowercase();
        if pattern == "*" {
            HostPattern::Any
        } else if let Some(suffix) = pattern.strip_prefix("*.") {
            HostPattern::Suffix(suffix.to_string())
        } else {
            HostPattern::Exact(pattern)
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        }
    }
}

impl Rule {
    fn matches(&self, host: &str, service: &str, path: &str) -> bool {
        let by_host = self.host.as_ref().is_some_and(|h| h.matches(host));
        let by_service = self.service.as_deref().is_some_and(|s| s == service);
        if !(by_host || by_service) {
            return false;
        }
        let prefix = self.path_prefix.trim_end_matches('/');
        match path.strip_prefix(prefix) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

impl Classifier {
    /// A classifier over `levels` with `rules`.
    pub fn new(levels: Levels, rules: Vec<Rule>) -> Classifier {
        Classifier { levels, rules }
    }

    /// The levels this classifier orders.
    pub fn levels(&self) -> &Levels {
        &self.levels
    }

    /// The sensitivity of a request to normalised `host`, destination
    /// `service` and `path`, given the route's label if any. The most
    /// restrictive candidate wins; with no candidate the default applies.
    pub fn classify(
        &self,
        route_label: Option<&str>,
        host: &str,
        service: &str,
        path: &str,
    ) -> Result<Sensitivity, UnknownLevel> {
        let mut candidates: Vec<(usize, String)> = Vec::new();

        if let Some(label) = route_label {
            let index = self
                .levels
                .find(label)
                .ok_or_else(|| UnknownLevel(label.to_string()))?;
            candidates.push((index, "route".to_string()));
        }
        for rule in self.rules.iter().filter(|r| r.matches(host, service, path)) {
            candidates.push((rule.level, format!("rule:{}", rule.name)));
        }

        let Some(top) = candidates.iter().map(|(i, _)| *i).max() else {
            return Ok(self.levels.resolved(self.levels.default, "default".into()));
        };
        let sources: Vec<&str> = candidates
            .iter()
            .filter(|(i, _)| *i == top)
            .map(|(_, s)| s.as_str())
            .collect();
        Ok(self.levels.resolved(top, sources.join(",")))
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.name, self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Levels {
        let names = ["public", "internal", "confidential", "restricted"];
        Levels::new(names.iter().map(|s| s.to_string()).collect(), None).unwrap()
    }

    fn rule(name: &str, host: &str, prefix: &str, level: usize) -> Rule {
        Rule {
            name: name.into(),
            host: Some(HostPattern::parse(host)),
            service: None,
            path_prefix: prefix.into(),
            level,
        }
    }

    #[test]
    fn missing_label_and_no_rule_gives_the_most_restrictive_default() {
        let c = Classifier::new(levels(), vec![]);
        let s = c.classify(None, "a.example", "svc", "/x").unwrap();
        assert_eq!(
            (s.name.as_str(), s.level, s.source.as_str()),
            ("restricted", 3, "default")
        );
    }

    #[test]
    fn configured_default_is_honoured() {
        let names = vec!["low".to_string(), "high".to_string()];
        let c = Classifier::new(Levels::new(names, Some("low")).unwrap(), vec![]);
        assert_eq!(c.classify(None, "h", "svc", "/").unwrap().name, "low");
    }

    #[test]
    fn label_case_is_normalised_not_ignored() {
        let c = Classifier::new(levels(), vec![]);
        let s = c.classify(Some("Restricted"), "h", "svc", "/").unwrap();
        assert_eq!((s.name.as_str(), s.level), ("restricted", 3));
    }

    #[test]
    fn unknown_label_is_an_error() {
        let c = Classifier::new(levels(), vec![]);
        assert_eq!(
            c.classify(Some("secret"), "h", "svc", "/"),
            Err(UnknownLevel("secret".into()))
        );
    }

    #[test]
    fn the_more_restrictive_of_route_and_rule_wins() {
        let c = Classifier::new(
            levels(),
            vec![rule("cards", "payments.svc", "/v1/cards", 3)],
        );
        let s = c
            .classify(Some("internal"), "payments.svc", "svc", "/v1/cards/9")
            .unwrap();
        assert_eq!(
            (s.name.as_str(), s.source.as_str()),
            ("restricted", "rule:cards")
        );

        let s = c
            .classify(Some("restricted"), "payments.svc", "svc", "/v1/other")
            .unwrap();
        assert_eq!(
            (s.name.as_str(), s.source.as_str()),
            ("restricted", "route")
        );

        let c = Classifier::new(levels(), vec![rule("all", "*", "/", 0)]);
        let s = c.classify(Some("confidential"), "x", "svc", "/y").unwrap();
        assert_eq!(
            (s.name.as_str(), s.source.as_str()),
            ("confidential", "route")
        );
    }

    #[test]
    fn path_prefixes_match_on_segment_boundaries() {
        let r = rule("cards", "*", "/v1/cards", 3);
        assert!(r.matches("h", "svc", "/v1/cards"));
        assert!(r.matches("h", "svc", "/v1/cards/7"));
        assert!(!r.matches("h", "svc", "/v1/cardsx"));
        assert!(!r.matches("h", "svc", "/v1"));
        assert!(rule("root", "*", "/", 0).matches("h", "svc", "/anything"));
    }

    #[test]
    fn rules_naming_a_service_hold_whatever_host_is_claimed() {
        let r = Rule {
            name: "cards".into(),
            host: None,
            service: Some("spiffe://example.org/ns/payments/sa/payments".into()),
            path_prefix: "/v1/cards".into(),
            level: 3,
        };
        assert!(r.matches(
            "orders.shop.svc",
            "spiffe://example.org/ns/payments/sa/payments",
            "/v1/cards/1"
        ));
        assert!(!r.matches(
            "payments.svc",
            "spiffe://example.org/ns/shop/sa/orders",
            "/v1/cards/1"
        ));
    }

    #[test]
    fn host_suffix_patterns_need_a_label_before_the_suffix() {
        let p = HostPattern::parse("*.finance.svc");
        assert!(p.matches("ledger.finance.svc"));
        assert!(!p.matches("finance.svc"));
        assert!(!p.matches("evilfinance.svc"));
    }

    #[test]
    fn bad_level_lists_are_refused() {
        assert_eq!(Levels::new(vec![], None), Err(LevelsError::Empty));
        assert!(matches!(
            Levels::new(vec!["Public".into()], None),
            Err(LevelsError::BadName(_))
        ));
        assert!(matches!(
            Levels::new(vec!["a".into(), "a".into()], None),
            Err(LevelsError::Duplicate(_))
        ));
        assert!(matches!(
            Levels::new(vec!["a".into()], Some("b")),
            Err(LevelsError::Unknown(_))
        ));
    }
}
