//! seam's own token signing keys: read at start (or a development key made
//! under the state folder), and read again on SIGHUP without dropping the
//! keys in force when the new ones do not load.

use std::sync::Arc;

use super::StartError;
use crate::authz::Authorizer;
use crate::clock::Clock;
use crate::config::Config;
use crate::policy::watch::{PolicyReloader, Trigger};
use crate::token::{Algorithm, KeyRing, TokenSettings, Tokens};

/// The Txn-Token issuer: configured keys, or a development key under the
/// state folder when none is configured.
pub fn token_issuer(config: &Config, clock: Arc<dyn Clock>) -> Result<Tokens, StartError> {
    let t = &config.tokens;
    let algorithm: Algorithm =
        t.algorithm
            .parse()
            .map_err(|e: crate::token::UnknownAlgorithm| {
                StartError::Keys(format!("unknown algorithm `{}`", e.0))
            })?;

    let own = own_keys(config, algorithm)?;
    let mut trusted = Vec::new();
    for path in &t.trusted_issuers {
        trusted.push(
            KeyRing::from_jwks_file(path, algorithm)
                .map_err(|e| StartError::Keys(format!("`{}`: {e}", path.display())))?,
        );
    }

    let settings = TokenSettings {
        algorithm,
        issuer: t.issuer.clone(),
        lifetime: t.lifetime,
        leeway: t.leeway,
        max_chain_depth: t.max_chain_depth,
        ..TokenSettings::default()
    };
    settings
        .validate()
        .map_err(|e| StartError::Keys(e.to_string()))?;
    Ok(Tokens::new(settings, own, trusted, clock))
}

/// seam's own signing keys: the configured files, where a folder stands for
/// its `*.pem` files in name order (so a rotation is a new file with a later
/// name, and a retirement is a deleted file), oldest first, the last
/// signing. Without configured keys, a development key under the state
/// folder.
fn own_keys(config: &Config, algorithm: Algorithm) -> Result<KeyRing, StartError> {
    let keys = &config.tokens.keys;
    if keys.is_empty() {
        let ring = KeyRing::load_or_generate(&config.state_dir, algorithm)
            .map_err(|e| StartError::Keys(e.to_string()))?;
        tracing::warn!(
            dir = %config.state_dir.join("keys").display(),
            "DEVELOPMENT MODE: signing Txn-Tokens with a generated key; configure tokens.keys \
             for any real deployment"
        );
        return Ok(ring);
    }

    let mut files = Vec::new();
    for path in keys {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| StartError::Keys(format!("`{}`: {e}", path.display())))?;
            let mut found: Vec<std::path::PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pem"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    KeyRing::load(&files, algorithm).map_err(|e| StartError::Keys(e.to_string()))
}

/// Reloads what can change while serving, the policy set and the signing
/// keys, into `authorizer`'s store. Whatever fails to load leaves the live
/// one in place. A running server reloads through its own
/// [`PolicyReloader`] ([`Bound::reload`], SIGHUP), which also records the
/// outcome for the admin port; this one records nothing.
pub fn reload(config: &Config, authorizer: &Authorizer) {
    PolicyReloader::new(config.policy.dir.clone(), authorizer.policies().clone())
        .reload(Trigger::Signal);
    authorizer.reload_shadow();
    reload_keys(config, authorizer);
}

pub(super) fn reload_keys(config: &Config, authorizer: &Authorizer) {
    let algorithm = authorizer.tokens().settings().algorithm;
    match own_keys(config, algorithm) {
        Ok(ring) => {
            tracing::info!(kids = ?ring.kids(), "signing keys reloaded");
            authorizer.tokens().replace_keys(ring);
        }
        Err(error) => tracing::error!(%error, "key reload refused; the live keys stay"),
    }
}
