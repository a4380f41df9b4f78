//! `Authorization: Bearer <token>` (RFC 6750 §2.1), parsed one way for both services. Never from
//! the query string (§2.3), where tokens leak into logs.

use http::{HeaderMap, header};

use crate::problem::Problem;

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header, or another scheme: 401 with the bare `Bearer` challenge.
    Missing,
    /// A bearer credential that is malformed, or several `Authorization` headers: 401 with
    /// `error="invalid_token"`.
    Invalid,
}

impl From<BearerError> for Problem {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Missing => Problem::missing_token(),
            BearerError::Invalid => Problem::invalid_token(),
        }
    }
}

/// The bearer token of a request.
pub fn parse_bearer(headers: &HeaderMap) -> Result<&str, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::Invalid);
    }
    let value = value.to_str().map_err(|_| BearerError::Invalid)?.trim();
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches(' ')),
        None => (value, ""),
    };
    // The scheme is case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(BearerError::Invalid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
        assert_eq!(
            parse_bearer(&with(&["bEaReR abc.def.ghi"])),
            Ok("abc.def.ghi")
        );
        assert_eq!(parse_bearer(&with(&["BEARER  abc=="])), Ok("abc=="));
    }

    #[test]
    fn no_bearer_credential_is_missing() {
        assert_eq!(parse_bearer(&HeaderMap::new()), Err(BearerError::Missing));
        assert_eq!(
            parse_bearer(&with(&["Basic dXNlcjpwYXNz"])),
            Err(BearerError::Missing)
        );
    }

    #[test]
    fn malformed_bearer_credential_is_invalid() {
        for bad in ["Bearer", "Bearer a b", "Bearer ===", "Bearer a\u{7f}"] {
            let Ok(value) = HeaderValue::from_str(bad) else {
                continue;
            };
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value);
            assert_eq!(parse_bearer(&h), Err(BearerError::Invalid), "{bad:?}");
        }
        assert_eq!(
            parse_bearer(&with(&["Bearer a", "Bearer b"])),
            Err(BearerError::Invalid)
        );
    }
}
