//! Access tokens: RS256 JWS in the RFC 9068 profile (`typ: at+jwt`), minted for a session and
//! verified (for `/api/auth/me`) against the service's own published keys.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::signing::KeySet;

pub const TYP: &str = "at+jwt";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub email: String,
    pub sid: Uuid,
}

pub struct Issuer {
    pub iss: String,
    pub aud: String,
    pub ttl: chrono::Duration,
}

impl Issuer {
    pub fn mint(
        &self,
        keys: &KeySet,
        user_id: Uuid,
        email: &str,
        sid: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            iss: self.iss.clone(),
            sub: user_id,
            aud: self.aud.clone(),
            exp: (now + self.ttl).timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: Uuid::new_v4().simple().to_string(),
            email: email.to_owned(),
            sid,
        };
        keys.signing.sign(&claims)
    }

    /// Verifies a token this service issued: RS256 only, known `kid`, `typ`, `iss`, `aud`, time.
    pub fn verify(&self, keys: &KeySet, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(TYP))
        {
            return None;
        }
        let key = keys.decoding.get(header.kid.as_deref()?)?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.iss]);
        v.set_audience(&[&self.aud]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, key, &v)
            .ok()
            .map(|d| d.claims)
    }
}
