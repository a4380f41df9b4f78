//! The HTTP surface every client meets: problem documents, CORS, health, OpenAPI.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_documents() {
    let app = spawn().await;
    problem(app.get("/nope").await, StatusCode::NOT_FOUND, "not_found").await;
    problem(
        app.get("/api/auth/signup").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_get_the_right_status() {
    let app = spawn().await;
    let post = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/auth/signup"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    problem(
        post("application/json", b"{\"email\":".to_vec())
            .await
            .expect("req"),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    problem(
        post("text/plain", b"{}".to_vec()).await.expect("req"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(70 * 1024)).into_bytes();
    problem(
        post("application/json", huge).await.expect("req"),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/auth/signup"))
        .send()
        .await
        .expect("req");
    problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz").await.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_goes_away() {
    let app = spawn_with(|c| c.db.db_acquire_timeout_ms = 500).await;
    app.state.pool.close().await;
    problem(
        app.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    let res = app.signin("a@example.com", PASSWORD).await;
    assert_eq!(res.headers()["retry-after"], "1");
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
}

#[tokio::test]
async fn cors_allows_only_configured_origins_with_credentials() {
    let app = spawn().await;
    shared::testing::assert_cors(
        &app.client,
        &app.url("/api/auth/refresh"),
        "http://localhost:3000",
        "POST",
        "content-type,x-refresh-token-transport",
    )
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn().await;
    let res = app.get("/healthz").await;
    assert!(uuid::Uuid::parse_str(res.headers()["x-request-id"].to_str().expect("ascii")).is_ok());
}

#[tokio::test]
async fn openapi_documents_every_route_and_docs_page_serves() {
    let app = spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for path in [
        "/api/auth/signup",
        "/api/auth/signin",
        "/api/auth/refresh",
        "/api/auth/signout",
        "/api/auth/me",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(
        doc["paths"]["/api/auth/signup"]["post"]["responses"]
            .get("409")
            .is_some()
    );
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("html").contains("swagger"));
}

#[tokio::test]
async fn connects_over_tls_when_the_url_says_sslmode_require() {
    let db = shared::testing::TestDb::new().await;
    let plain: sqlx::PgPool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&plain)
        .await
        .expect("show ssl");
    plain.close().await;
    if ssl != "on" {
        eprintln!(
            "skipped: this Postgres server has ssl=off, so sslmode=require cannot be exercised"
        );
        return;
    }
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}sslmode=require", db.url);
    let app = spawn_on(db, test_config(&url)).await;
    let (encrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&app.state.pool)
            .await
            .expect("query");
    assert!(encrypted, "the pool's connections must be TLS");
    assert_eq!(app.new_user().await.1["token_type"], "Bearer");
}
