//! Sessions and users whose access tokens must be refused before they expire: a session ended
//! (sign-out, reuse detection, password change, ...) or an account deleted. The set is filled
//! from the issuer's revocation feed (see `crate::revocation_feed`) and checked in memory on every
//! request, after the signature — a remembered verification included — so no request waits on the
//! issuer.
//!
//! Entries carry the time after which no token they cover can still be valid (the revocation
//! time plus the issuer's access-token lifetime and leeway) and are dropped then, so the set holds
//! at most one access-token lifetime's worth of revocations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::verify::Claims;

#[derive(Debug, Clone, Default)]
pub struct Revocations(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Ended sessions (`sid`) → until when (unix seconds) their tokens could otherwise live.
    sessions: RwLock<HashMap<String, u64>>,
    /// Deleted users (`sub`) → likewise.
    users: RwLock<HashMap<Uuid, u64>>,
    /// Entries in both maps: the request path skips the locks while nothing is revoked.
    len: AtomicUsize,
}

impl Revocations {
    /// Whether a token with these (already verified) claims belongs to an ended session or a
    /// deleted user.
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        if self.0.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let session = claims.sid.as_deref().is_some_and(|sid| {
            self.0
                .sessions
                .read()
                .map_or(true, |sessions| sessions.contains_key(sid))
        });
        session
            || self
                .0
                .users
                .read()
                .map_or(true, |users| users.contains_key(&claims.sub))
    }

    pub fn end_session(&self, session_id: Uuid, until: u64) {
        if let Ok(mut sessions) = self.0.sessions.write()
            && sessions.insert(session_id.to_string(), until).is_none()
        {
            self.0.len.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn delete_user(&self, user_id: Uuid, until: u64) {
        if let Ok(mut users) = self.0.users.write()
            && users.insert(user_id, until).is_none()
        {
            self.0.len.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Drops entries whose tokens have all expired by `now` (unix seconds).
    pub fn prune(&self, now: u64) {
        let mut removed = 0;
        if let Ok(mut sessions) = self.0.sessions.write() {
            let before = sessions.len();
            sessions.retain(|_, until| *until >= now);
            removed += before - sessions.len();
        }
        if let Ok(mut users) = self.0.users.write() {
            let before = users.len();
            users.retain(|_, until| *until >= now);
            removed += before - users.len();
        }
        self.0.len.fetch_sub(removed, Ordering::AcqRel);
    }

    pub fn len(&self) -> usize {
        self.0.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: Uuid, sid: Uuid) -> Claims {
        Claims {
            iss: "i".into(),
            sub,
            exp: 0,
            iat: 0,
            nbf: None,
            jti: "j".into(),
            email: None,
            sid: Some(sid.to_string()),
        }
    }

    #[test]
    fn ended_sessions_and_deleted_users_are_refused_until_their_tokens_expire() {
        let r = Revocations::default();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let (s1, s2) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(!r.is_revoked(&claims(alice, s1)));
        r.end_session(s1, 100);
        r.delete_user(bob, 200);
        assert!(r.is_revoked(&claims(alice, s1)));
        assert!(!r.is_revoked(&claims(alice, s2)));
        assert!(r.is_revoked(&claims(bob, s2)));
        assert_eq!(r.len(), 2);
        r.prune(150);
        assert!(!r.is_revoked(&claims(alice, s1)));
        assert!(r.is_revoked(&claims(bob, s2)));
        r.prune(201);
        assert!(r.is_empty());
    }
}
