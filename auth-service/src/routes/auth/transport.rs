//! How refresh tokens travel: in the JSON body for API clients, or — when a browser asks with
//! `X-Refresh-Token-Transport: cookie` — only in an `HttpOnly` cookie scoped to `/api/auth`, so
//! page scripts never hold one.
//!
//! A `Secure` cookie is named `__Secure-refresh_token` (RFC 6265bis §4.1.3.1): browsers accept
//! that name only with `Secure` from an https origin, so a cookie planted over plain http or by a
//! sibling subdomain cannot pose as ours. (`__Host-` would also pin the domain, but it requires
//! `Path=/`, and the cookie is scoped to `/api/auth`.) The plain name is read only when the
//! service is configured not to be Secure.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use secrecy::SecretString;

use super::types::{RefreshRequest, Session, User};
use crate::config::SameSite as SameSiteSetting;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Name of the HttpOnly cookie that carries the refresh token, when it is not `Secure` (plain
/// http on loopback).
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Its name when `Secure`.
pub const SECURE_REFRESH_COOKIE: &str = "__Secure-refresh_token";
/// Path the cookie is scoped to: only refresh and sign-out need it, and both live here.
pub const COOKIE_PATH: &str = "/api/auth";
/// Request header by which a browser asks for the refresh token in the cookie only.
pub const TRANSPORT_HEADER: &str = "x-refresh-token-transport";

/// A newly issued pair, and the session it belongs to.
pub struct Issued {
    pub session_id: uuid::Uuid,
    pub access: String,
    pub refresh: String,
}

/// The refresh token from the JSON body, else from the cookie. A cookie only counts when the
/// request's `Origin` (if any) is one we trust: SameSite already blocks cross-site sends, this
/// also stops same-site but untrusted origins.
pub fn presented_refresh_token(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    body: &Bytes,
) -> ApiResult<Option<SecretString>> {
    let req: Option<RefreshRequest> = shared::extract::optional_json(headers, body)?;
    if let Some(token) = req.and_then(|r| r.refresh_token) {
        return Ok(Some(token));
    }
    let Some(cookie) = jar.get(cookie_name(state)) else {
        return Ok(None);
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !state.http.cors_origins.iter().any(|o| o == origin)
    {
        return Err(ApiError::Forbidden(
            "This origin may not use the refresh cookie.",
        ));
    }
    Ok(Some(SecretString::from(cookie.value().to_owned())))
}

/// The session body, with the refresh token in the cookie and (unless the browser asked for
/// cookie-only delivery) in the body.
pub fn respond(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    issued: Issued,
    user: Option<User>,
) -> impl IntoResponse + use<> {
    let cookie_only = headers
        .get(TRANSPORT_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"));
    let jar = drop_plain_cookie(state, jar).add(refresh_cookie(state, issued.refresh.clone()));
    let body = Session {
        user,
        access_token: issued.access,
        token_type: "Bearer",
        expires_in: state.settings.issuer.ttl.num_seconds().unsigned_abs(),
        refresh_token: (!cookie_only).then_some(issued.refresh),
    };
    (jar, axum::Json(body))
}

/// The jar with the refresh cookie cleared (sign-out).
pub fn clear_cookie(state: &AppState, jar: CookieJar) -> CookieJar {
    drop_plain_cookie(state, jar).remove(base_cookie(state, String::new()))
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.cookie_secure {
        SECURE_REFRESH_COOKIE
    } else {
        REFRESH_COOKIE
    }
}

/// A plain-named cookie a Secure service no longer reads (one set before the switch) is deleted
/// when the browser shows it, rather than left to linger until it expires.
fn drop_plain_cookie(state: &AppState, jar: CookieJar) -> CookieJar {
    if state.settings.cookie_secure && jar.get(REFRESH_COOKIE).is_some() {
        jar.remove(
            Cookie::build((REFRESH_COOKIE, ""))
                .path(COOKIE_PATH)
                .build(),
        )
    } else {
        jar
    }
}

fn same_site(s: SameSiteSetting) -> SameSite {
    match s {
        SameSiteSetting::Strict => SameSite::Strict,
        SameSiteSetting::Lax => SameSite::Lax,
        SameSiteSetting::None => SameSite::None,
    }
}

fn base_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((cookie_name(state), value))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(same_site(state.settings.cookie_samesite))
        .path(COOKIE_PATH)
        .build()
}

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let max_age = time::Duration::seconds(
        i64::try_from(state.settings.refresh_ttl.as_secs()).unwrap_or(i64::MAX),
    );
    let mut cookie = base_cookie(state, value);
    cookie.set_max_age(max_age);
    cookie
}

/// The device cookie (see `rate_limit`): set after a successful sign-in, sent back to sign-in
/// only. Its value is a random 256-bit token; the service keeps only its hash.
pub const DEVICE_COOKIE: &str = "device";
/// Its name when `Secure`.
pub const SECURE_DEVICE_COOKIE: &str = "__Secure-device";
/// A device is remembered for about a year after its last sign-in.
const DEVICE_MAX_AGE_DAYS: i64 = 365;

fn device_cookie_name(state: &AppState) -> &'static str {
    if state.settings.cookie_secure {
        SECURE_DEVICE_COOKIE
    } else {
        DEVICE_COOKIE
    }
}

/// The hash of the device token the browser presented, if it looks like one of ours.
pub fn presented_device(state: &AppState, jar: &CookieJar) -> Option<[u8; 32]> {
    let value = jar.get(device_cookie_name(state))?.value();
    crate::refresh_token::looks_valid(value).then(|| crate::refresh_token::hash(value))
}

/// The device cookie carrying `token`.
pub fn device_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((device_cookie_name(state), token))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Strict)
        .path("/api/auth/signin")
        .max_age(time::Duration::days(DEVICE_MAX_AGE_DAYS))
        .build()
}
