//! Extractors that answer bad input with the house problem document instead of axum's plain-text
//! rejections: malformed JSON is 400 `invalid_json`, a well-formed body with a missing, unknown or
//! mistyped field is 422 `validation_failed` naming the field, a wrong content type is 415, an
//! oversized body 413, a bad query 400 `invalid_query`, a path id that does not parse 404.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// `axum::Json`, with problem+json rejections and the offending field named.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "The body could not be read.",
                )
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body, classifying the failure the way the contract asks.
// The problem document is the error type on purpose (it is the response); it is built once per
// failed request, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let (field, code) = field_and_code(&path, &message);
                Problem::validation(vec![FieldError::new(field, code, strip_position(&message))])
            }
            _ => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!(
                    "The body is not valid JSON: {}",
                    strip_position(&inner.to_string())
                ),
            ),
        }
    })
}

/// serde reports missing and unknown fields at the parent's path with the name in backticks.
fn field_and_code(path: &str, message: &str) -> (String, &'static str) {
    let named = || message.split('`').nth(1).unwrap_or_default().to_owned();
    // serde_path_to_error already appends an unknown field's own name to the path.
    let join = |name: String| {
        if path == "." || path.is_empty() {
            name
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if message.starts_with("missing field") {
        (join(named()), "required")
    } else if message.starts_with("unknown field") {
        (join(named()), "unknown_field")
    } else {
        let field = if path == "." {
            String::new()
        } else {
            path.to_owned()
        };
        (field, "invalid_type")
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// `application/json` or any `application/*+json`, parameters ignored.
pub fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn unsupported_media_type() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Send the body as application/json.",
    )
}

pub fn payload_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The body is larger than 64 KiB.",
    )
}

/// `axum::extract::Path`: a segment that does not parse (a malformed UUID) names no resource, so 404.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| Problem::not_found())
    }
}

/// `axum::extract::Query` with 400 `invalid_query` on failure.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded_deserializer(query);
        de.map(Query)
            .map_err(|e| Problem::invalid_query(format!("Invalid query: {e}")))
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| "malformed query string".to_owned())?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        e.body_text()
            .trim_start_matches("Failed to deserialize query string: ")
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<u8>,
    }

    #[test]
    fn syntax_error_is_invalid_json() {
        let p = parse_json::<Body>(b"{\"email\":").unwrap_err();
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(p.code, "invalid_json");
    }

    #[test]
    fn missing_field_is_named() {
        let p = parse_json::<Body>(b"{}").unwrap_err();
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.errors[0].field, "email");
        assert_eq!(p.errors[0].code, "required");
    }

    #[test]
    fn unknown_field_is_named() {
        let p = parse_json::<Body>(br#"{"email":"a","admin":true}"#).unwrap_err();
        assert_eq!(p.errors[0].field, "admin");
        assert_eq!(p.errors[0].code, "unknown_field");
    }

    #[test]
    fn wrong_type_names_its_path() {
        let p = parse_json::<Body>(br#"{"email":"a","age":"x"}"#).unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.errors[0].field, "age");
        assert_eq!(p.errors[0].code, "invalid_type");
    }
}
