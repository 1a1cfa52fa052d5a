//! Sessions: 256-bit random ids handed out once (the cookie), kept only as their SHA-256, with
//! a per-session CSRF token and the user's opened signing key, in memory.

use crate::{Error, User, constant_time_eq};
use jitrace_types::SecretKey;
use sha2::{Digest, Sha256};
use std::{collections::BTreeMap, sync::Arc};

/// A session ends after this long without a request.
pub const IDLE_MS: u64 = 30 * 60 * 1000;
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_MS: u64 = 12 * 60 * 60 * 1000;

/// What a successful sign-in hands out.
pub struct SignedIn {
    /// The session id for the cookie: 64 hex digits. Not stored anywhere on the node.
    pub token: String,
    /// The session.
    pub session: ActiveSession,
}

/// A signed-in user's session.
#[derive(Clone)]
pub struct ActiveSession {
    /// The user, as of sign-in.
    pub user: User,
    /// The token every state-changing request must echo (header `X-CSRF-Token`).
    pub csrf: String,
    /// The user's signing key, opened at sign-in.
    pub key: Arc<SecretKey>,
    /// The brand's code-signing key sealed for this user, if any, opened at sign-in: it signs
    /// the codes of label files (`Console::seal_code_key`).
    pub code_key: Option<Arc<SecretKey>>,
    pub(crate) created_ms: u64,
    pub(crate) last_ms: u64,
}

impl ActiveSession {
    /// Checks a request's CSRF header against the session's token, in constant time.
    pub fn check_csrf(&self, header: Option<&str>) -> Result<(), Error> {
        match header {
            Some(value) if constant_time_eq(value.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(Error::Csrf),
        }
    }

    fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_ms) >= IDLE_MS
            || now_ms.saturating_sub(self.created_ms) >= ABSOLUTE_MS
    }
}

/// The sessions of a node, by the hash of their id.
#[derive(Default)]
pub(crate) struct Sessions(BTreeMap<[u8; 32], ActiveSession>);

fn id_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub(crate) fn start(
        &mut self,
        user: User,
        key: SecretKey,
        code_key: Option<SecretKey>,
        now_ms: u64,
    ) -> SignedIn {
        self.0.retain(|_, s| !s.expired(now_ms));
        let token = hex::encode(crate::random::<32>());
        let session = ActiveSession {
            user,
            csrf: hex::encode(crate::random::<32>()),
            key: Arc::new(key),
            code_key: code_key.map(Arc::new),
            created_ms: now_ms,
            last_ms: now_ms,
        };
        self.0.insert(id_hash(&token), session.clone());
        SignedIn { token, session }
    }

    /// The live session of `token`, its idle time restarted.
    pub(crate) fn touch(&mut self, token: &str, now_ms: u64) -> Result<ActiveSession, Error> {
        let hash = id_hash(token);
        let session = self.0.get_mut(&hash).ok_or(Error::NoSession)?;
        if session.expired(now_ms) {
            self.0.remove(&hash);
            return Err(Error::NoSession);
        }
        session.last_ms = now_ms;
        Ok(session.clone())
    }

    pub(crate) fn end(&mut self, token: &str) {
        self.0.remove(&id_hash(token));
    }

    /// Gives every live session of user `name` the code-signing key just sealed for them.
    pub(crate) fn set_code_key(&mut self, name: &str, key: &Arc<SecretKey>) {
        for session in self.0.values_mut().filter(|s| s.user.name == name) {
            session.code_key = Some(key.clone());
        }
    }

    pub(crate) fn end_user(&mut self, name: &str) {
        self.0.retain(|_, s| s.user.name != name);
    }
}
