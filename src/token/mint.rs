//! Issuing a token when a decision allows a call: a new transaction at the
//! origin, or a replacement that extends the chain of a verified inbound
//! token without outliving or widening it.

use uuid::Uuid;

use super::claims::{
    Actor, Confirmation, Grant, IssuedClaims, IssuedContext, Minted, RequestContext, bounded,
};
use super::error::{TokenError, shown};
use super::{NO_SCOPE, Tokens};
use crate::clock::unix_seconds;

/// What a token inherits: from its parent, or fresh at the origin.
struct Lineage {
    txn: String,
    sub: String,
    scope: String,
    exp: i64,
    act: Option<Actor>,
    depth: usize,
}

impl Tokens {
    /// Mints a token for a call the decision path allowed.
    ///
    /// Without a parent this starts a transaction: `sub` and `req_wl` are
    /// the caller, `scope` the declared intent (or `none`). With a parent,
    /// `txn`, `sub` and `scope` are kept, the caller becomes the outermost
    /// `act`, and `exp` never passes the parent's. The caller must be the
    /// parent's holder when it is bound, the audience the parent's, and an
    /// intent, if given, the parent's scope.
    pub fn mint(&self, grant: &Grant<'_>) -> Result<Minted, TokenError> {
        if grant.caller.is_empty() || grant.audience.is_empty() || grant.decision_id.is_empty() {
            return Err(TokenError::SigningFailed(
                "the grant's caller, audience and decision id must not be empty".to_owned(),
            ));
        }

        let now = unix_seconds(self.clock.now());
        let caller = bounded(grant.caller);
        let intent = grant.intent.filter(|i| !i.is_empty()).map(bounded);
        let lifetime = i64::try_from(self.settings.lifetime.as_secs()).unwrap_or(i64::MAX);

        let lineage = match grant.parent {
            None => Lineage {
                txn: Uuid::new_v4().to_string(),
                sub: caller.clone(),
                scope: intent.clone().unwrap_or_else(|| NO_SCOPE.to_owned()),
                exp: now.saturating_add(lifetime),
                act: None,
                depth: 1,
            },
            Some(parent) => self.extend(parent, grant, &caller, intent.as_deref(), now)?,
        };

        let holder = grant.holder.map(bounded);
        let jti = Uuid::new_v4().to_string();
        let claims = IssuedClaims {
            iss: &self.settings.issuer,
            aud: grant.audience,
            sub: &lineage.sub,
            iat: now,
            nbf: now,
            exp: lineage.exp,
            txn: &lineage.txn,
            jti: &jti,
            scope: &lineage.scope,
            req_wl: &caller,
            tctx: IssuedContext {
                service: bounded(grant.service),
                method: bounded(grant.method),
                path: bounded(grant.path),
                sensitivity: bounded(grant.sensitivity),
                intent,
                decision_id: bounded(grant.decision_id),
            },
            rctx: (!grant.source_address.is_empty()).then(|| RequestContext {
                source_address: bounded(grant.source_address),
            }),
            cnf: holder
                .as_deref()
                .map(|spiffe_id| Confirmation { spiffe_id }),
            act: lineage.act,
        };

        let (token, kid) = self.own_keys().sign(&claims)?;
        if token.len() > self.settings.max_token_bytes {
            return Err(TokenError::TooLarge {
                size: token.len(),
                limit: self.settings.max_token_bytes,
            });
        }

        Ok(Minted {
            token,
            txn: lineage.txn,
            jti,
            exp: lineage.exp,
            holder,
            kid,
            depth: lineage.depth,
        })
    }

    /// Checks that `grant` may extend `parent` and derives what the
    /// replacement inherits.
    fn extend(
        &self,
        parent: &super::Inbound,
        grant: &Grant<'_>,
        caller: &str,
        intent: Option<&str>,
        now: i64,
    ) -> Result<Lineage, TokenError> {
        if parent.audience != grant.audience {
            return Err(TokenError::WrongAudience {
                expected: grant.audience.to_owned(),
                found: shown(&parent.audience),
            });
        }
        if let Some(holder) = parent.holder.as_deref().filter(|h| *h != caller) {
            return Err(TokenError::WrongHolder {
                holder: shown(holder),
                presenter: shown(caller),
            });
        }
        if let Some(requested) = intent.filter(|i| *i != parent.scope) {
            return Err(TokenError::ScopeWidened {
                scope: shown(&parent.scope),
                requested: shown(requested),
            });
        }

        let depth = parent.chain.len() + 1;
        if depth > self.settings.max_chain_depth {
            return Err(TokenError::ChainTooDeep {
                depth,
                limit: self.settings.max_chain_depth,
            });
        }

        let lifetime = i64::try_from(self.settings.lifetime.as_secs()).unwrap_or(i64::MAX);
        let exp = now.saturating_add(lifetime).min(parent.exp);
        if exp <= now {
            return Err(TokenError::Expired {
                exp: parent.exp,
                now,
            });
        }

        // The origin is `sub`; every later workload is an actor, the
        // caller outermost.
        let mut actors: Vec<String> = parent.chain.iter().skip(1).cloned().collect();
        actors.push(caller.to_owned());

        Ok(Lineage {
            txn: parent.txn.clone(),
            sub: parent.sub.clone(),
            scope: parent.scope.clone(),
            exp,
            act: Actor::nest(&actors),
            depth,
        })
    }
}
