//! Bearer tokens through the task-service's access-token checks that run before any key is used.
//!
//! Input: the token (a bearer token reaches the verifier as a `str`); and, when the input has a
//! newline, also the token made of what precedes it (the header JSON) and what follows (the claims
//! JSON), each base64url-encoded, so that mutations of a JSON seed reach the JSON reading behind
//! the base64 layer (a mutated base64 string rarely decodes to anything).
//!
//! `Verifier::check_header` is the exact code the verifier runs on the untrusted header; whatever
//! it lets through is checked against the header's own JSON, read independently here: `alg` is
//! exactly RS256, `typ` is the access-token type, and no header that names a key (`jwk`, `jku`,
//! `x5u`, `x5c`) or `crit` is set. The claims are then decoded into the verifier's `Claims`, which
//! must not panic either; without the signature (a fuzzer cannot sign), so this covers what our own
//! issuer could send: in production claims are read only after the signature check.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use task_service::auth::{Claims, Verifier};

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        check(token);
    }
    if let Some(newline) = data.iter().position(|&b| b == b'\n') {
        let (header, claims) = (&data[..newline], &data[newline + 1..]);
        let (header, claims) = (
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
        );
        check(&format!("{header}.{claims}.c2lnbmF0dXJl"));
    }
});

fn check(token: &str) {
    if let Ok(kid) = Verifier::check_header(token) {
        assert_header_allowed(token, &kid);
        let _ = jsonwebtoken::dangerous::insecure_decode::<Claims>(token);
    }
}

fn assert_header_allowed(token: &str, kid: &str) {
    // The header is what precedes the last two dots (payload and signature follow).
    let segment = token
        .rsplitn(3, '.')
        .nth(2)
        .expect("an accepted token has three parts");
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .expect("accepted header is base64url");
    let header: Value = serde_json::from_slice(&json).expect("accepted header is JSON");
    assert_eq!(header["alg"], "RS256", "accepted alg: {header}");
    let typ = header["typ"].as_str().unwrap_or_default();
    assert!(
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt"),
        "accepted typ: {header}"
    );
    for name in ["jwk", "jku", "x5u", "x5c", "crit"] {
        assert!(header[name].is_null(), "accepted {name}: {header}");
    }
    assert_eq!(header["kid"], kid, "kid differs: {header}");
}
