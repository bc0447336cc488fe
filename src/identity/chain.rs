//! Path building: from the caller's leaf to a root of its own trust domain.
//!
//! Runs after the leaf rules, with the bundle already chosen by the leaf's
//! trust domain. Candidate issuers are that bundle's roots (the only trust
//! anchors), the configured intermediate pool and, when the operator trusts
//! it, the chain forwarded in `x-forwarded-client-cert`. Candidates match by
//! issuer and subject name (and by key identifier when both sides carry
//! one) and must prove it with a signature; order and extras do not matter. The search is depth-limited, never revisits a
//! certificate and has a fixed budget of signature checks, so hostile input
//! cannot make it expensive.

use std::time::{Duration, SystemTime};

use x509_parser::certificate::X509Certificate;

use super::bundle::{StoredCert, authority_key_id};
use super::error::IdentityError;
use super::field::parse_certificate;
use super::spiffe_id::{SpiffeId, parse_trust_domain_id};
use super::svid::{
    check_extensions_parse, check_validity, describe, unknown_critical_extension, uri_sans,
    validity,
};

/// Most certificates in a path, leaf and root included.
pub(crate) const MAX_PATH_LEN: usize = 8;

/// Most signature checks one verification may spend.
const MAX_SIGNATURE_CHECKS: u32 = 64;

/// Where candidate issuers come from.
pub(crate) struct Candidates<'a> {
    /// Roots of the leaf's trust domain: the only anchors.
    pub(crate) anchors: &'a [StoredCert],
    /// The configured pool and, when trusted, the forwarded chain.
    pub(crate) intermediates: Vec<&'a StoredCert>,
}

/// The tightest validity window over a verified path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) valid_from: SystemTime,
    pub(crate) valid_until: SystemTime,
}

/// The worst obstacle met so far, kept to explain a failed search.
enum Obstacle {
    None,
    Signer(String),
    Validity(IdentityError),
}

struct Search<'a, 'c> {
    candidates: &'c Candidates<'a>,
    now: SystemTime,
    leeway: Duration,
    budget: u32,
    obstacle: Obstacle,
}

/// Builds and checks a path from `leaf` to one of the anchors and returns
/// the tightest validity window over it.
pub(crate) fn verify_path<'a>(
    leaf: X509Certificate<'a>,
    id: &SpiffeId,
    candidates: &Candidates<'a>,
    now: SystemTime,
    leeway: Duration,
) -> Result<Window, IdentityError> {
    let issuer = leaf.issuer().to_string();
    let mut search = Search {
        candidates,
        now,
        leeway,
        budget: MAX_SIGNATURE_CHECKS,
        obstacle: Obstacle::None,
    };

    let mut path = vec![leaf];
    let Some(window) = search.extend(&mut path) else {
        return Err(match search.obstacle {
            Obstacle::Validity(err) => err,
            Obstacle::Signer(reason) => IdentityError::UntrustedChain {
                id: id.to_string(),
                reason,
            },
            Obstacle::None => IdentityError::UntrustedChain {
                id: id.to_string(),
                reason: format!("no known certificate issued it (issuer `{issuer}`)"),
            },
        });
    };

    if let Some(leaf) = path.first() {
        check_validity(leaf, now, leeway)?;
    }
    Ok(window)
}

impl<'a> Search<'a, '_> {
    /// Tries to finish the path from its last certificate; on success the
    /// path holds every certificate but the anchor, and the window covers all.
    fn extend(&mut self, path: &mut Vec<X509Certificate<'a>>) -> Option<Window> {
        let candidates = self.candidates;
        let position = path.len();
        let child = path.last()?;
        let wanted: &'a [u8] = child.tbs_certificate.issuer.as_raw();
        let wanted_key = authority_key_id(child);
        let may_have_signed = |candidate: &StoredCert| {
            candidate.subject == wanted
                && match (wanted_key, candidate.key_id.as_deref()) {
                    (Some(wanted), Some(key_id)) => wanted == key_id,
                    _ => true,
                }
        };

        for anchor in candidates.anchors {
            if !may_have_signed(anchor) {
                continue;
            }
            let Some(root) = self.accept_signer(path.last()?, anchor, position) else {
                continue;
            };
            return Some(window(path.iter().chain(std::iter::once(&root))));
        }

        if position + 1 >= MAX_PATH_LEN {
            self.note_signer(format!("no path within {MAX_PATH_LEN} certificates"));
            return None;
        }

        for candidate in candidates.intermediates.iter().copied() {
            if !may_have_signed(candidate) || path.iter().any(|c| c.as_raw() == candidate.der) {
                continue;
            }
            let Some(cert) = self.accept_signer(path.last()?, candidate, position) else {
                continue;
            };

            path.push(cert);
            if let Some(window) = self.extend(path) {
                return Some(window);
            }
            path.pop();
        }
        None
    }

    /// Parses `candidate` and checks it may sign at `position`, signed
    /// `child`, and is within its validity window.
    fn accept_signer(
        &mut self,
        child: &X509Certificate<'_>,
        candidate: &'a StoredCert,
        position: usize,
    ) -> Option<X509Certificate<'a>> {
        let cert = match parse_certificate(&candidate.der) {
            Ok(cert) => cert,
            Err(err) => {
                self.note_signer(format!("issuer candidate is malformed: {err}"));
                return None;
            }
        };

        if let Err(reason) = check_signer(&cert, position) {
            self.note_signer(reason);
            return None;
        }

        if self.budget == 0 {
            self.note_signer("too many candidate issuers".to_owned());
            return None;
        }
        self.budget -= 1;
        if child.verify_signature(Some(cert.public_key())).is_err() {
            self.note_signer(format!(
                "signature does not verify with the key of `{}`",
                describe(&cert)
            ));
            return None;
        }

        if let Err(err) = check_validity(&cert, self.now, self.leeway) {
            self.obstacle = Obstacle::Validity(err);
            return None;
        }
        Some(cert)
    }

    fn note_signer(&mut self, reason: String) {
        if matches!(self.obstacle, Obstacle::None) {
            self.obstacle = Obstacle::Signer(reason);
        }
    }
}

/// The rules for a certificate that signs at `position` in the path (the
/// leaf is position 0): a CA with keyCertSign, within its path length
/// constraint, with no unknown critical extension and, if it carries a
/// SPIFFE ID, one without a path.
fn check_signer(cert: &X509Certificate<'_>, position: usize) -> Result<(), String> {
    let name = describe(cert);
    check_extensions_parse(cert).map_err(|err| format!("`{name}`: {err}"))?;

    let constraints = match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => bc.value,
        _ => return Err(format!("`{name}` is not a CA")),
    };
    let below = position.saturating_sub(1);
    if let Some(limit) = constraints.path_len_constraint
        && below > limit as usize
    {
        return Err(format!(
            "`{name}` allows {limit} intermediates below it, the path has {below}"
        ));
    }

    match cert.key_usage() {
        Ok(Some(usage)) if usage.value.key_cert_sign() => {}
        _ => return Err(format!("`{name}` is not allowed to sign certificates")),
    }

    if let Some(ext) = unknown_critical_extension(cert) {
        return Err(format!(
            "`{name}` has unknown critical extension `{}`",
            ext.oid.to_id_string()
        ));
    }

    for uri in uri_sans(cert).map_err(|err| format!("`{name}`: {err}"))? {
        let scheme_is_spiffe = uri
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("spiffe:"));
        if scheme_is_spiffe {
            parse_trust_domain_id(&uri).map_err(|err| format!("`{name}`: {err}"))?;
        }
    }
    Ok(())
}

/// The intersection of the validity windows of `certs`.
fn window<'c, 'a: 'c>(certs: impl Iterator<Item = &'c X509Certificate<'a>>) -> Window {
    let mut window = Window {
        valid_from: SystemTime::UNIX_EPOCH,
        valid_until: SystemTime::UNIX_EPOCH,
    };
    for (i, cert) in certs.enumerate() {
        let (not_before, not_after) = validity(cert);
        if i == 0 || not_before > window.valid_from {
            window.valid_from = not_before;
        }
        if i == 0 || not_after < window.valid_until {
            window.valid_until = not_after;
        }
    }
    window
}
