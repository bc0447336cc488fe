//! The workloads allowed to call seam over mTLS, by exact SPIFFE ID.
//!
//! Consulted at the handshake, after the client's SVID verified: a valid
//! SVID is necessary, being on this list is what lets it in.

use std::collections::BTreeSet;

use super::TlsError;
use crate::identity::SpiffeId;

/// Exact SPIFFE IDs allowed to connect; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    ids: BTreeSet<String>,
}

impl AllowList {
    /// A list of `ids`. Refuses an empty list: it would refuse everyone,
    /// which is a configuration mistake, not a policy.
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a SpiffeId>) -> Result<AllowList, TlsError> {
        let ids: BTreeSet<String> = ids.into_iter().map(|id| id.as_str().to_owned()).collect();
        if ids.is_empty() {
            return Err(TlsError::EmptyAllowList);
        }
        Ok(AllowList { ids })
    }

    /// Whether `id` may connect. The comparison is exact and
    /// case-sensitive, as SPIFFE ID paths are.
    pub fn allows(&self, id: &SpiffeId) -> bool {
        self.ids.contains(id.as_str())
    }

    /// The allowed IDs, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::parse(s).unwrap()
    }

    #[test]
    fn an_empty_list_is_refused() {
        let err = AllowList::new(&[]).unwrap_err();
        assert!(matches!(err, TlsError::EmptyAllowList));
    }

    #[test]
    fn only_the_exact_listed_ids_are_allowed() {
        let envoy = id("spiffe://example.org/ns/mesh/sa/envoy");
        let list = AllowList::new([&envoy]).unwrap();

        assert!(list.allows(&envoy));
        for other in [
            "spiffe://example.org/ns/mesh/sa/envoy2",
            "spiffe://example.org/ns/mesh/sa/Envoy",
            "spiffe://example.org/ns/mesh/sa",
            "spiffe://example.org/ns/mesh/sa/envoy/x",
            "spiffe://other.org/ns/mesh/sa/envoy",
        ] {
            assert!(!list.allows(&id(other)), "{other}");
        }
    }

    #[test]
    fn the_list_reads_back_sorted_without_repeats() {
        let a = id("spiffe://example.org/b");
        let b = id("spiffe://example.org/a");
        let list = AllowList::new([&a, &b, &a]).unwrap();
        let ids: Vec<&str> = list.ids().collect();
        assert_eq!(
            ids,
            vec!["spiffe://example.org/a", "spiffe://example.org/b"]
        );
    }
}
