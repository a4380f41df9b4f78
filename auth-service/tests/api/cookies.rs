//! The refresh cookie's security: `Secure` and the `__Secure-` name unless the issuer is plain
//! http on loopback, the plain name refused once Secure, and settings that cannot work refused
//! at start-up.

use auth_service::config::{CookieSecure, SameSite};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::*;

/// A service whose issuer is a public https URL (so it needs a KEK), as deployed.
async fn public_issuer_app() -> TestApp {
    spawn_with(|c| {
        c.issuer = "https://auth.example.com".to_owned();
        c.key_encryption_keys = Some(SecretString::from(
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".to_owned(),
        ));
    })
    .await
}

/// The Set-Cookie headers about the refresh token (the device cookie is `device_cookies`').
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    all_cookies(res)
        .into_iter()
        .filter(|c| !is_device(c))
        .collect()
}

fn device_cookies(res: &reqwest::Response) -> Vec<String> {
    all_cookies(res)
        .into_iter()
        .filter(|c| is_device(c))
        .collect()
}

fn is_device(set_cookie: &str) -> bool {
    set_cookie.starts_with("device=") || set_cookie.starts_with("__Secure-device=")
}

fn all_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

fn attrs(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

async fn signup_for_cookie(app: &TestApp, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-refresh-token-transport", "cookie")
        .json(&json!({"email": unique_email(), "password": PASSWORD}));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.expect("request")
}

async fn post_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("x-refresh-token-transport", "cookie")
        .send()
        .await
        .expect("request")
}

#[test]
fn cookie_secure_auto_follows_the_issuer_and_true_or_false_override_it() {
    let mut config = test_config("postgres://unused");
    assert_eq!(config.cookie_secure, CookieSecure::Auto, "the default");
    for (issuer, secure) in [
        ("http://localhost:8081", false),
        ("http://127.0.0.1:8081", false),
        ("http://[::1]:8081", false),
        ("https://localhost:8443", true),
        ("https://auth.example.com", true),
        // Plain http anywhere else: the cookie is still Secure (and so will not work) rather
        // than sent in the clear; fix the issuer, or say COOKIE_SECURE=false deliberately.
        ("http://auth.example.com", true),
    ] {
        config.issuer = issuer.to_owned();
        assert_eq!(config.cookie_is_secure(), secure, "{issuer}");
    }
    config.cookie_secure = CookieSecure::False;
    assert!(!config.cookie_is_secure());
    config.issuer = "http://localhost:8081".to_owned();
    config.cookie_secure = CookieSecure::True;
    assert!(config.cookie_is_secure());
}

#[tokio::test]
async fn a_public_issuer_gets_a_secure_prefixed_cookie_by_default() {
    let app = public_issuer_app().await;
    let res = signup_for_cookie(&app, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let devices = device_cookies(&res);
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(devices[0].starts_with("__Secure-device="), "{devices:?}");
    for expected in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/auth/signin",
    ] {
        assert!(
            attrs(&devices[0]).iter().any(|a| a == expected),
            "{devices:?}"
        );
    }
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Secure-refresh_token="), "{cookie}");
    let cookie_attrs = attrs(cookie);
    for expected in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"] {
        assert!(
            cookie_attrs.iter().any(|a| a == expected),
            "{cookie} lacks {expected}"
        );
    }

    // The prefixed cookie refreshes...
    let res = post_with_cookie(&app, "/api/auth/refresh", &pair(cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = set_cookies(&res);
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert!(rotated[0].starts_with("__Secure-refresh_token="));

    // ...the same token under the plain name does not: that name can be planted over http.
    let token = pair(&rotated[0])
        .split_once('=')
        .expect("pair")
        .1
        .to_owned();
    problem(
        post_with_cookie(&app, "/api/auth/refresh", &format!("refresh_token={token}")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Sign-out clears the prefixed cookie and ends the session.
    let res = post_with_cookie(&app, "/api/auth/signout", &pair(&rotated[0])).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&res);
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(
        cleared[0].starts_with("__Secure-refresh_token=;"),
        "{cleared:?}"
    );
    assert!(attrs(&cleared[0]).iter().any(|a| a == "Max-Age=0"));
    problem(
        post_with_cookie(&app, "/api/auth/refresh", &pair(&rotated[0])).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_loopback_http_issuer_keeps_the_plain_cookie_name_without_secure() {
    let app = spawn().await; // issuer http://localhost:8081, COOKIE_SECURE=auto
    let res = signup_for_cookie(&app, None).await;
    let devices = device_cookies(&res);
    assert!(
        devices.len() == 1 && devices[0].starts_with("device="),
        "{devices:?}"
    );
    assert!(!attrs(&devices[0]).iter().any(|a| a == "Secure"));
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("refresh_token="), "{cookies:?}");
    assert!(!attrs(&cookies[0]).iter().any(|a| a == "Secure"));
    // ...and reads only that name.
    let token = pair(&cookies[0])
        .split_once('=')
        .expect("pair")
        .1
        .to_owned();
    problem(
        post_with_cookie(
            &app,
            "/api/auth/refresh",
            &format!("__Secure-refresh_token={token}"),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        post_with_cookie(&app, "/api/auth/refresh", &pair(&cookies[0]))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_secure_service_deletes_a_leftover_plain_cookie() {
    let app = public_issuer_app().await;
    // A browser still holding the cookie from before the switch to Secure signs in again.
    let res = signup_for_cookie(&app, Some("refresh_token=left-over")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookies = set_cookies(&res);
    let removal = cookies
        .iter()
        .find(|c| c.starts_with("refresh_token="))
        .unwrap_or_else(|| panic!("no removal in {cookies:?}"));
    assert!(removal.starts_with("refresh_token=;"), "{removal}");
    let removal_attrs = attrs(removal);
    assert!(removal_attrs.iter().any(|a| a == "Max-Age=0"), "{removal}");
    assert!(
        removal_attrs.iter().any(|a| a == "Path=/api/auth"),
        "{removal}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Secure-refresh_token=")
                && !c.starts_with("__Secure-refresh_token=;"))
    );
}

#[tokio::test]
async fn samesite_none_needs_a_secure_cookie_at_start_up() {
    let db = shared::testing::TestDb::new().await;
    let mut config = test_config(&db.url);
    config.rsa_key_bits = 2048;
    config.cookie_samesite = SameSite::None;
    let err = auth_service::build_state(&config)
        .await
        .expect_err("auto on a loopback http issuer is not Secure");
    assert!(
        format!("{err:#}").contains("COOKIE_SAMESITE=none"),
        "{err:#}"
    );
    config.cookie_secure = CookieSecure::True;
    auth_service::build_state(&config)
        .await
        .expect("starts when Secure");
}
