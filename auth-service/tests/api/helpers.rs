//! `TestApp`: the real auth-service on 127.0.0.1:0 over a fresh database, with typed helpers so
//! tests read as a user's story.

#![allow(dead_code)]

use auth_service::{AppState, Config};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::testing::{ServerHandle, TestDb};
pub use shared::testing::{field_codes, field_refused, problem};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    pub db: TestDb,
    pub server: ServerHandle,
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
    config.bind = "127.0.0.1:0".parse().expect("addr");
    // Rate limits get their own test; elsewhere they would only make tests flaky.
    config.rate_limit_per_ip = 0;
    config.rate_limit_per_email = 0;
    config.rate_limit_per_device = 0;
    // No load balancer to wait for: a stopped test server stops at once (tests/api/shutdown.rs
    // sets a delay).
    config.http.shutdown_delay_ms = 0;
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
    let (base, state, server) = serve(&config).await;
    TestApp {
        base,
        client: shared::testing::client(),
        state,
        config,
        db,
        server,
    }
}

/// Serves `config` (its database already exists) exactly as `main` would: its base URL, state
/// and a handle that stops it.
pub async fn serve(config: &Config) -> (String, AppState, ServerHandle) {
    shared::telemetry::init_for_tests("warn,sqlx=error");
    let application = auth_service::build(config).await.expect("app builds");
    let addr = application.local_addr().expect("addr");
    let state = application.state().clone();
    let server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    (format!("http://{addr}"), state, server)
}

/// A second replica (or a restart) of `app`: the same database and configuration.
pub async fn replica(app: &TestApp) -> TestApp {
    let (base, state, server) = serve(&app.config).await;
    TestApp {
        base,
        client: shared::testing::client(),
        state,
        config: app.config.clone(),
        db: app.db.alias(),
        server,
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

    /// A request with a bearer token and, if given, a JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request")
    }
}
