//! `TestApp` (the real task-service on port 0 over a fresh database), `Issuer` (a tiny stand-in for
//! the auth-service's discovery and JWKS endpoints, counting fetches), test keys and token minting.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use shared::testing::{ServerHandle, TestDb};
pub use shared::testing::{field_codes, problem};
use task_service::auth::{JwksSettings, KeySource};
use task_service::{AppState, Config};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use uuid::Uuid;

pub const AUDIENCE: &str = "task-service";

/// Database settings for a pool of one connection over `db`, built the way the services build
/// theirs: every query runs on the same connection (its prepared statements, its session).
pub fn one_connection(db: &TestDb) -> shared::db::DbSettings {
    shared::db::DbSettings {
        url: db.url.clone().into(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        pooled: false,
        migration_url: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// An RSA key pair as the auth-service would hold it: a signing key and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM (SubjectPublicKeyInfo): what an attacker has.
    pub public_pem: String,
}

fn generate(kid: &str) -> TestKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("generate RSA key");
    let pkcs8 = pair.as_der().expect("pkcs8");
    let private_pem = pem("PRIVATE KEY", pkcs8.as_ref());
    let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key");
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    let spki = public.as_der().expect("spki");
    TestKey {
        kid: kid.to_owned(),
        encoding,
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e}),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Key generation takes a moment: once per test process.
pub fn key_a() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("key-a"))
}

pub fn key_b() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("key-b"))
}

/// A key the issuer never published (an attacker's).
pub fn foreign_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("key-foreign"))
}

// ---------------------------------------------------------------------------------------------
// Tokens

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

/// The claims the auth-service puts in an access token.
pub fn claims(issuer: &str, sub: Uuid) -> Value {
    let now = now();
    json!({
        "iss": issuer, "sub": sub.to_string(), "aud": AUDIENCE,
        "exp": now + 900, "iat": now, "nbf": now,
        "jti": Uuid::new_v4().to_string(), "email": "someone@example.com", "sid": Uuid::new_v4().to_string(),
    })
}

pub fn header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})
}

/// A compact JWS over exactly this header and these claims, signed with `key` under `alg`.
pub fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

pub fn token_with(key: &TestKey, claims: &Value) -> String {
    sign(&header(&key.kid), claims, &key.encoding, Algorithm::RS256)
}

// ---------------------------------------------------------------------------------------------
// The stand-in issuer

#[derive(Default)]
pub struct IssuerState {
    pub keys: Mutex<Vec<Value>>,
    pub jwks_fetches: AtomicUsize,
    pub discovery_fetches: AtomicUsize,
    pub max_age: AtomicU64,
    /// Answer 503 to everything (a broken auth-service that still accepts connections).
    pub failing: AtomicBool,
    pub issuer: Mutex<String>,
}

/// Serves `/.well-known/openid-configuration` and `/.well-known/jwks.json` like the auth-service.
pub struct Issuer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub state: Arc<IssuerState>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> axum::response::Response {
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = state.issuer.lock().expect("lock").clone();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> axum::response::Response {
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().expect("lock").clone();
    let max_age = state.max_age.load(Ordering::SeqCst);
    (
        [(header::CACHE_CONTROL, format!("public, max-age={max_age}"))],
        axum::Json(json!({ "keys": keys })),
    )
        .into_response()
}

fn reusable_listener(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

impl Issuer {
    /// An issuer publishing `keys`, up and serving.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let mut issuer = Self::reserve(keys).await;
        issuer.up().await;
        issuer
    }

    /// An issuer whose address is known but which is not listening yet (the auth-service not
    /// started). Call [`Issuer::up`] to start it.
    pub async fn reserve(keys: &[&TestKey]) -> Self {
        let probe = reusable_listener("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let url = format!("http://{addr}");
        let state = Arc::new(IssuerState {
            keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            max_age: AtomicU64::new(300),
            issuer: Mutex::new(url.clone()),
            ..Default::default()
        });
        Self {
            url,
            addr,
            state,
            stop: None,
            server: None,
        }
    }

    pub async fn up(&mut self) {
        let listener = reusable_listener(self.addr).expect("rebind issuer port");
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            // Nothing is ever revoked by the stand-in; the real feed has tests of its own.
            .route(
                "/api/internal/revocations",
                get(|| async { axum::Json(json!({"events": [], "cursor": 0, "more": false})) }),
            )
            .with_state(self.state.clone());
        let (tx, rx) = oneshot::channel();
        self.stop = Some(tx);
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        }));
    }

    /// Stops listening and answers 503 on connections still open: the auth-service is down.
    pub async fn down(&mut self) {
        self.state.failing.store(true, Ordering::SeqCst);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        }
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().expect("lock") = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn set_max_age(&self, secs: u64) {
        self.state.max_age.store(secs, Ordering::SeqCst);
    }

    /// A valid access token for `sub`, signed with `key`.
    pub fn token(&self, key: &TestKey, sub: Uuid) -> String {
        token_with(key, &claims(&self.url, sub))
    }
}

// ---------------------------------------------------------------------------------------------
// The real auth-service, for tests of the seam

pub struct AuthService {
    pub url: String,
    pub config: auth_service::Config,
    pub state: auth_service::AppState,
    pub server: ServerHandle,
}

/// The real auth-service on a free loopback port over `database_url`, rate limits off.
pub async fn start_auth_service(
    database_url: &str,
    tweak: impl FnOnce(&mut auth_service::Config),
) -> AuthService {
    // The issuer must be known before the state is built, so reserve the port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let url = format!("http://{port}");
    let mut config = auth_service::Config::for_database(database_url);
    config.bind = port;
    config.issuer = url.clone();
    config.rate_limit_per_ip = 0;
    config.rate_limit_per_email = 0;
    tweak(&mut config);
    let application = auth_service::build(&config)
        .await
        .expect("auth-service builds");
    let state = application.state().clone();
    let server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    AuthService {
        url,
        config,
        state,
        server,
    }
}

/// The task-service trusting the real `auth`, on `db` (shared with the auth-service, each in its
/// schema), its JWKS found by discovery; `jwks` adjusts the key-cache settings.
pub async fn task_service_for(
    auth: &AuthService,
    db: TestDb,
    jwks: impl FnOnce(JwksSettings) -> JwksSettings,
) -> TestApp {
    let mut config = Config::for_database(&db.url);
    config.auth_issuer = auth.url.clone();
    config.http.shutdown_delay_ms = 0;
    let settings = jwks(fast_jwks(KeySource::Discovery {
        issuer: auth.url.clone(),
    }));
    spawn_on(
        db,
        Issuer::reserve(&[]).await,
        Options {
            jwks: settings,
            config,
            wait_ready: true,
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The service under test

/// Settings that keep tests fast: short retries, and by default no background refresh during a test.
pub fn fast_jwks(source: KeySource) -> JwksSettings {
    JwksSettings {
        min_refresh: Duration::from_secs(3600),
        max_refresh: Duration::from_secs(3600),
        default_refresh: Duration::from_secs(3600),
        unknown_kid_cooldown: Duration::from_secs(30),
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        http_timeout: Duration::from_secs(2),
        ..JwksSettings::new(source)
    }
}

pub struct User {
    pub id: Uuid,
    pub token: String,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub issuer: Issuer,
    pub db: TestDb,
    pub server: ServerHandle,
}

pub struct Options {
    pub jwks: JwksSettings,
    pub config: Config,
    pub wait_ready: bool,
}

/// The service with an issuer publishing key A, ready to verify tokens.
pub async fn spawn() -> TestApp {
    spawn_with(Issuer::start(&[key_a()]).await, |_| {}).await
}

/// The service trusting `issuer`, with the options tweaked; waits until ready unless told not to.
pub async fn spawn_with(issuer: Issuer, tweak: impl FnOnce(&mut Options)) -> TestApp {
    let db = TestDb::new().await;
    let mut config = Config::for_database(&db.url);
    config.auth_issuer = issuer.url.clone();
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.db.db_acquire_timeout_ms = 500;
    // No load balancer to wait for: a stopped test server stops at once (tests/api/shutdown.rs
    // sets a delay).
    config.http.shutdown_delay_ms = 0;
    let mut options = Options {
        jwks: fast_jwks(KeySource::Discovery {
            issuer: issuer.url.clone(),
        }),
        config,
        wait_ready: true,
    };
    tweak(&mut options);
    spawn_on(db, issuer, options).await
}

pub async fn spawn_on(db: TestDb, issuer: Issuer, mut options: Options) -> TestApp {
    shared::telemetry::init_for_tests("warn");
    // Never a fixed port in tests: a developer's service may hold the default one.
    options.config.bind = "127.0.0.1:0".parse().expect("addr");
    let state = task_service::build_state_with(&options.config, options.jwks)
        .await
        .expect("state builds");
    let application = task_service::with_state(&options.config, state.clone())
        .await
        .expect("binds");
    let addr = application.local_addr().expect("addr");
    let server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    let app = TestApp {
        base: format!("http://{addr}"),
        client: shared::testing::client(),
        state,
        issuer,
        db,
        server,
    };
    if options.wait_ready {
        app.wait_until_ready(Duration::from_secs(10)).await;
    }
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn wait_until_ready(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !self.state.verifier.is_ready() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "signing keys never arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new user with a valid token signed by key A.
    pub fn new_user(&self) -> User {
        self.user_signed_by(key_a())
    }

    pub fn user_signed_by(&self, key: &TestKey) -> User {
        let id = Uuid::new_v4();
        User {
            id,
            token: self.issuer.token(key, id),
        }
    }

    /// Any request; `body` is sent as JSON.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn create(&self, token: &str, body: Value) -> Response {
        self.send(Method::POST, "/api/tasks", Some(token), Some(body))
            .await
    }

    /// Creates a task titled `title` and returns it.
    pub async fn create_task(&self, user: &User, title: &str) -> Value {
        let res = self.create(&user.token, json!({"title": title})).await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
        res.json().await.expect("task")
    }

    pub async fn list(&self, user: &User, query: &str) -> Response {
        self.get(&format!("/api/tasks{query}"), &user.token).await
    }

    /// The whole list as JSON (asserting 200).
    pub async fn list_ok(&self, user: &User, query: &str) -> Value {
        let res = self.list(user, query).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK, "list {query}");
        res.json().await.expect("page")
    }

    pub async fn get_task(&self, user: &User, id: &str) -> Response {
        self.get(&format!("/api/tasks/{id}"), &user.token).await
    }

    pub async fn patch_task(&self, user: &User, id: &str, body: Value) -> Response {
        self.send(
            Method::PATCH,
            &format!("/api/tasks/{id}"),
            Some(&user.token),
            Some(body),
        )
        .await
    }

    pub async fn put_task(&self, user: &User, id: &str, body: Value) -> Response {
        self.send(
            Method::PUT,
            &format!("/api/tasks/{id}"),
            Some(&user.token),
            Some(body),
        )
        .await
    }

    pub async fn delete_task(&self, user: &User, id: &str) -> Response {
        self.send(
            Method::DELETE,
            &format!("/api/tasks/{id}"),
            Some(&user.token),
            None,
        )
        .await
    }
}

/// Titles of a list page (or bare array).
pub fn titles(list: &Value) -> Vec<String> {
    let items = list.get("items").unwrap_or(list);
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["title"].as_str().expect("title").to_owned())
        .collect()
}

/// Asserts 401 `invalid_token` with the challenge for a refused token.
pub async fn refused(res: Response) {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    problem(res, reqwest::StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
}

/// Asserts 401 with the bare challenge for a request that carried no bearer token.
pub async fn unauthenticated(res: Response) {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    problem(res, reqwest::StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(challenge.as_deref(), Some("Bearer"));
}
