//! `TestApp`: the real auth-service on 127.0.0.1:0 over a fresh database, with typed helpers so
//! tests read as a user's story.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use auth_service::{AppState, Config};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::testdb::TestDb;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    pub db: TestDb,
    pub server: Server,
}

/// Stops the server when the test ends.
pub struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The claims of a token, read without verifying it (for asserting on what was issued).
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

pub fn test_config(url: &str) -> Config {
    let mut config = Config::for_database(url);
    // Rate limits get their own test; elsewhere they would only make tests flaky.
    config.rate_limit_per_ip = 0;
    config.rate_limit_per_email = 0;
    config
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new().await;
    let mut config = test_config(&db.url);
    tweak(&mut config);
    spawn_on(db, config).await
}

/// Starts a server for an existing database (a restart, or a second replica).
pub async fn spawn_on(db: TestDb, config: Config) -> TestApp {
    shared::telemetry::init("warn,sqlx=error");
    let state = auth_service::build_state(&config)
        .await
        .expect("state builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = auth_service::app(state.clone(), Duration::from_secs(15));
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        base: format!("http://{addr}"),
        client,
        state,
        config,
        db,
        server: Server(server),
    }
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/signup",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn signin(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/signin",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Signs a new user up and returns the session body.
    pub async fn new_user(&self) -> (String, Value) {
        let email = unique_email();
        let res = self.signup(&email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        (email, res.json().await.expect("json"))
    }

    pub async fn refresh(&self, token: &str) -> Response {
        self.post_json("/api/auth/refresh", &json!({"refresh_token": token}))
            .await
    }

    pub async fn signout(&self, token: &str) -> Response {
        self.post_json("/api/auth/signout", &json!({"refresh_token": token}))
            .await
    }

    pub async fn me(&self, access_token: &str) -> Response {
        self.client
            .get(self.url("/api/auth/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

pub fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
