//! `Authorization` headers, as raw bytes, through the one bearer parser both services use.
//!
//! Input: the header values, separated by `\n` (a byte no header value can hold), so one input can
//! also be several `Authorization` headers. Besides never panicking, an accepted token must be the
//! tail of the only header, after a `Bearer` scheme, and an RFC 6750 `b64token`.

#![no_main]

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shared::bearer::{BearerError, parse_bearer};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut count = 0;
    if !data.is_empty() {
        for raw in data.split(|&b| b == b'\n') {
            // What hyper would have refused before any handler saw it.
            let Ok(value) = HeaderValue::from_bytes(raw) else {
                return;
            };
            headers.append(AUTHORIZATION, value);
            count += 1;
        }
    }
    let result = parse_bearer(&headers);
    match count {
        0 => assert_eq!(result, Err(BearerError::Missing)),
        1 => {}
        _ => assert_eq!(result, Err(BearerError::Invalid), "several headers"),
    }
    let Ok(token) = result else {
        return;
    };
    assert!(
        is_b64token(token),
        "accepted a token outside the grammar: {token:?}"
    );
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .expect("an accepted token comes from one visible-ASCII header");
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    assert!(value.ends_with(token), "token is not the header's tail");
    let scheme = &value[..value.len() - token.len()];
    assert!(
        scheme.trim_end_matches(' ').eq_ignore_ascii_case("bearer") && scheme.ends_with(' '),
        "accepted under scheme {scheme:?}"
    );
});

/// RFC 6750 §2.1, written out again here so the target does not trust the parser's own copy:
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let bytes = token.as_bytes();
    let body_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0
        && bytes[..body_len]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}
