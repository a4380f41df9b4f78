//! Hardening on every response (issue 13): every task route's answer is private (never stored,
//! never sniffed, no referrer, the API's CSP), the docs are cacheable with a CSP that lets Swagger
//! UI run from this origin only, and past the bound on requests in flight a request is refused at
//! once with 503 `not_ready` and `Retry-After`.

use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use shared::http::headers::{API_CSP, DOCS_CSP};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{Issuer, TestApp, key_a, problem, spawn, spawn_with};

fn assert_private(res: &Response, what: &str) {
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store", "{what}: Cache-Control");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["content-security-policy"], API_CSP, "{what}");
}

#[tokio::test]
async fn every_task_route_answers_privately() {
    let app = spawn().await;
    let user = app.new_user();
    let token = Some(user.token.as_str());
    let created = app
        .send(
            Method::POST,
            "/api/tasks",
            token,
            Some(json!({"title": "a"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_private(&created, "create");
    let id = created.json::<serde_json::Value>().await.expect("task")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let uid = user.id;
    let calls = [
        (Method::GET, "/api/tasks".to_owned(), None, StatusCode::OK),
        (
            Method::GET,
            format!("/api/tasks/{id}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{id}"),
            Some(json!({"completed": true})),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            format!("/api/tasks/{id}"),
            Some(json!({"title": "b", "description": null, "completed": false})),
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/{uid}/tasks"),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/{uid}/tasks/{id}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            format!("/api/tasks/{id}"),
            None,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, path, body, status) in calls {
        let what = format!("{method} {path}");
        let res = app.send(method, &path, token, body).await;
        assert_eq!(res.status(), status, "{what}");
        assert_private(&res, &what);
    }
    // Refusals, the fallbacks and the probes too.
    let res = app.send(Method::GET, "/api/tasks", None, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_private(&res, "401");
    let res = app.send(Method::GET, "/nowhere", token, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_private(&res, "404");
    let res = app.send(Method::DELETE, "/api/tasks", token, None).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_private(&res, "405");
    let res = app.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_private(&res, "readyz");
}

#[tokio::test]
async fn the_docs_page_gets_a_csp_that_lets_it_run_from_this_origin_only() {
    let app = spawn().await;
    for path in ["/docs/", "/docs/swagger-initializer.js", "/openapi.json"] {
        let res = app.send(Method::GET, path, None, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert_eq!(h["content-security-policy"], DOCS_CSP, "{path}");
        assert_eq!(h["cache-control"], "public, max-age=300", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

/// Creates a task with a body that never finishes: a request in flight (its token already
/// verified, its handler waiting for the body) for as long as the connection stays open.
async fn start_slow_request(app: &TestApp, token: &str) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\": "
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

#[tokio::test]
async fn past_the_in_flight_bound_a_request_is_refused_at_once_with_503_and_retry_after() {
    let issuer = Issuer::start(&[key_a()]).await;
    let app = spawn_with(issuer, |options| {
        options.config.http.max_concurrent_requests = 1;
    })
    .await;
    let user = app.new_user();
    let slow = start_slow_request(&app, &user.token).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let started = Instant::now();
        let res = app.get("/api/tasks", &user.token).await;
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
    assert_private(&refused, "503");
    problem(refused, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;

    let live = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "liveness answered at the bound"
    );

    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/api/tasks", &user.token).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the permit never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Any route can meet the in-flight bound, so every one but liveness documents the 503.
#[tokio::test]
async fn every_route_but_liveness_documents_the_503() {
    let app = spawn().await;
    let res = app.send(Method::GET, "/openapi.json", None, None).await;
    let doc: serde_json::Value = res.json().await.expect("json");
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let documented = op["responses"].get("503").is_some();
            assert_eq!(documented, path != "/healthz", "{method} {path}");
        }
    }
}
