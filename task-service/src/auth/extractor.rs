//! The axum extractor for the authenticated caller: `Authorization: Bearer <token>` (RFC 6750 §2.1;
//! never from the query string, §2.3, where tokens leak into logs), verified by the state's
//! [`Verifier`]. Failures are problem documents with the RFC 6750 §3 challenge.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use shared::Problem;
use uuid::Uuid;

use super::verify::{Claims, Verifier, VerifyError};

/// The caller, as the verified token says. Handlers take it as an argument; there is no other way
/// for a request to name a user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The token's `sub`.
    pub id: Uuid,
    pub email: Option<String>,
    /// The session the token was issued from (`sid`).
    pub session_id: Option<String>,
    /// The token's `jti`.
    pub token_id: String,
}

impl From<Claims> for AuthUser {
    fn from(claims: Claims) -> Self {
        Self {
            id: claims.sub,
            email: claims.email,
            session_id: claims.sid,
            token_id: claims.jti,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No bearer token was sent: 401 with the bare `Bearer` challenge.
    Missing,
    /// A token was sent and refused: 401 with `error="invalid_token"`.
    Invalid,
    /// Signing keys are not known yet: 503, so clients retry instead of signing the user out.
    NotReady,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            Self::Missing => Problem::missing_token(),
            Self::Invalid => Problem::invalid_token(),
            Self::NotReady => {
                Problem::not_ready("The service cannot verify tokens yet; try again shortly.")
            }
        }
        .into_response()
    }
}

/// The bearer token of a request. A request without an `Authorization` header, or with another
/// scheme, carries no bearer token ([`AuthError::Missing`]); a malformed bearer credential or
/// several `Authorization` headers are refused ([`AuthError::Invalid`]).
pub fn parse_bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Invalid);
    }
    let value = value.to_str().map_err(|_| AuthError::Invalid)?.trim();
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches(' ')),
        None => (value, ""),
    };
    // The scheme is case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(AuthError::Invalid)
    }
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

impl<S> FromRequestParts<S> for AuthUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Another extractor in the same request may have verified the token already.
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let token = parse_bearer(&parts.headers)?;
        let verifier = Verifier::from_ref(state);
        let claims = verifier.verify(token).await.map_err(|error| match error {
            VerifyError::NotReady => AuthError::NotReady,
            VerifyError::Invalid(reason) => {
                // The reason helps operators; the token itself is never logged.
                tracing::info!(reason, "bearer token refused");
                AuthError::Invalid
            }
        })?;
        let user = AuthUser::from(claims);
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("header"),
            );
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(
            parse_bearer(&with(&["Bearer abc.def-ghi"])),
            Ok("abc.def-ghi")
        );
        assert_eq!(parse_bearer(&with(&["bearer abc"])), Ok("abc"));
        assert_eq!(parse_bearer(&with(&["BEARER  abc=="])), Ok("abc=="));
    }

    #[test]
    fn no_bearer_credential_is_missing() {
        assert_eq!(parse_bearer(&HeaderMap::new()), Err(AuthError::Missing));
        assert_eq!(
            parse_bearer(&with(&["Basic dXNlcjpwYXNz"])),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn malformed_bearer_credential_is_invalid() {
        assert_eq!(parse_bearer(&with(&["Bearer"])), Err(AuthError::Invalid));
        assert_eq!(
            parse_bearer(&with(&["Bearer a b"])),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            parse_bearer(&with(&["Bearer ==="])),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            parse_bearer(&with(&["Bearer a", "Bearer b"])),
            Err(AuthError::Invalid)
        );
    }
}
