//! Hardening on every response (issue 13): security headers on tokens, personal data and errors,
//! public caching only where it is meant (JWKS, discovery, the docs), a CSP on /docs, the bound on
//! requests in flight, and request bodies holding a password that never print it.

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::http::headers::{API_CSP, DOCS_CSP};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{PASSWORD, TestApp, problem, spawn, spawn_with};

/// nosniff, no referrer, the API's CSP, and no caching anywhere.
fn assert_private(res: &Response, what: &str) {
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store", "{what}: Cache-Control");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["content-security-policy"], API_CSP, "{what}");
}

async fn get_bearer(app: &TestApp, path: &str, token: &str) -> Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn tokens_personal_data_and_errors_are_never_stored_nor_sniffed() {
    let app = spawn().await;
    let email = crate::helpers::unique_email();
    let signup = app.signup(&email, PASSWORD).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_private(&signup, "sign-up");
    let signin = app.signin(&email, PASSWORD).await;
    assert_eq!(signin.status(), StatusCode::OK);
    assert_private(&signin, "sign-in");
    let session: Value = signin.json().await.expect("json");
    let refresh = app
        .refresh(session["refresh_token"].as_str().expect("refresh token"))
        .await;
    assert_eq!(refresh.status(), StatusCode::OK);
    assert_private(&refresh, "refresh");
    let session: Value = refresh.json().await.expect("json");
    let access = session["access_token"].as_str().expect("access token");

    let me = app.me(access).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_private(&me, "me");
    let sessions = get_bearer(&app, "/api/auth/sessions", access).await;
    assert_eq!(sessions.status(), StatusCode::OK);
    assert_private(&sessions, "sessions");

    // Refusals and the fallbacks carry them too.
    let unauthorized = app.me("not-a-token").await;
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_private(&unauthorized, "401");
    let wrong = app.signin(&email, "wrong password, clearly").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_private(&wrong, "wrong password");
    let missing = app.get("/no/such/route").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_private(&missing, "404");
    let readyz = app.get("/readyz").await;
    assert_eq!(readyz.status(), StatusCode::OK);
    assert_private(&readyz, "readyz");
}

#[tokio::test]
async fn the_key_set_and_discovery_keep_their_public_caching() {
    let app = spawn().await;
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        let cache = h["cache-control"].to_str().expect("ascii");
        assert!(
            cache.starts_with("public, max-age=") && !cache.contains("no-store"),
            "{path}: {cache}"
        );
        assert_eq!(h.get_all("cache-control").iter().count(), 1, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn the_docs_page_gets_a_csp_that_lets_it_run_from_this_origin_only() {
    let app = spawn().await;
    for path in [
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
        "/openapi.json",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert_eq!(h["content-security-policy"], DOCS_CSP, "{path}");
        assert_eq!(h["cache-control"], "public, max-age=300", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    // The page loads nothing from elsewhere: its scripts and styles are relative to /docs/.
    let page = app.get("/docs/").await.text().await.expect("html");
    assert!(
        !page.contains("//"),
        "no absolute or protocol-relative URL:\n{page}"
    );
}

/// Sends a sign-in whose body never finishes: a request in flight for as long as the connection
/// stays open.
async fn start_slow_request(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"POST /api/auth/signin HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\": ",
        )
        .await
        .expect("write");
    stream
}

#[tokio::test]
async fn past_the_in_flight_bound_a_request_is_refused_at_once_with_503_and_retry_after() {
    let app = spawn_with(|config| config.http.max_concurrent_requests = 1).await;
    let slow = start_slow_request(&app).await;
    // The slow request holds the one permit once its handler waits for the body.
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let started = Instant::now();
        let res = app.get("/.well-known/jwks.json").await;
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "refused at once, not queued: {:?}",
                started.elapsed()
            );
            break res;
        }
        assert!(Instant::now() < deadline, "never refused: {}", res.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["cache-control"], "no-store");
    problem(refused, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;

    // Liveness is answered even at the bound: a busy replica is not a dead one.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    // The permit comes back when the slow request ends.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/.well-known/jwks.json").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the permit never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn request_bodies_holding_a_password_never_print_it() {
    use auth_service::routes::account::{ChangePasswordRequest, DeleteAccountRequest};
    use auth_service::routes::auth::types::{RefreshRequest, SigninRequest, SignupRequest};
    let secret = "hunter2-very-secret";
    let printed = [
        format!(
            "{:?}",
            serde_json::from_value::<SignupRequest>(
                json!({"email": "a@example.com", "password": secret})
            )
            .expect("signup")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<SigninRequest>(
                json!({"email": "a@example.com", "password": secret})
            )
            .expect("signin")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<RefreshRequest>(json!({"refresh_token": secret}))
                .expect("refresh")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<ChangePasswordRequest>(
                json!({"current_password": secret, "new_password": secret})
            )
            .expect("change password")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<DeleteAccountRequest>(json!({"password": secret}))
                .expect("delete account")
        ),
    ];
    for line in printed {
        assert!(!line.contains(secret), "{line}");
        assert!(line.contains("REDACTED"), "{line}");
    }
}

/// Any route can meet the in-flight bound, so every one but liveness documents the 503.
#[tokio::test]
async fn every_route_but_liveness_documents_the_503() {
    let app = spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("json");
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let documented = op["responses"].get("503").is_some();
            assert_eq!(documented, path != "/healthz", "{method} {path}");
        }
    }
}
