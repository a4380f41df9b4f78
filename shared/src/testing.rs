//! Test helpers both services' integration tests use (feature `test-util`, never in a release
//! build): a fresh database per test, a served app that stops with the test, and assertions on
//! the contract's problem documents.

use std::future::Future;
use std::str::FromStr;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::oneshot;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, empty Postgres database, dropped when the test ends. The server is
/// `TEST_DATABASE_URL` (or `DATABASE_URL`), defaulting to the local trust-auth server every
/// development machine and CI has.
pub struct TestDb {
    /// Connection URL of the new database.
    pub url: String,
    name: String,
    admin: PgConnectOptions,
    /// Drops the database when dropped (false for an [`TestDb::alias`]).
    owner: bool,
}

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is not a postgres URL: {e}"))
        .log_statements(tracing::log::LevelFilter::Trace)
}

impl TestDb {
    pub async fn new() -> Self {
        let admin = admin_options();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin
            .connect()
            .await
            .unwrap_or_else(|e| panic!("tests need Postgres (TEST_DATABASE_URL): {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Self {
            url,
            name,
            admin,
            owner: true,
        }
    }

    /// Another handle on the same database that leaves it in place when dropped: for a second
    /// replica (or a restart) beside the test's first server.
    pub fn alias(&self) -> Self {
        Self {
            url: self.url.clone(),
            name: self.name.clone(),
            admin: self.admin.clone(),
            owner: false,
        }
    }

    /// Connect options for the test database itself.
    pub fn options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A server running in the test's runtime: [`ServerHandle::stop`] shuts it down gracefully (as
/// SIGTERM would), dropping the handle aborts it.
pub struct ServerHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl ServerHandle {
    /// Spawns `run(shutdown)`, where `shutdown` resolves when the handle is stopped.
    pub fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            let _ = rx.await;
        });
        Self {
            stop: Some(tx),
            task: Some(tokio::spawn(run(shutdown))),
        }
    }

    /// Graceful shutdown: stop accepting, finish in-flight requests, return the server's result.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `<service> migrate` as a deployment's migration job runs it: the real binary `bin` with only
/// `DATABASE_URL`, against a fresh database. Asserts that it exits 0 with every migration of
/// `schema` applied (and `table` there), that a second run exits 0 and changes nothing, and that
/// without `DATABASE_URL` it exits non-zero saying so.
pub async fn assert_migrate_subcommand(bin: &str, schema: &crate::db::Schema, table: &str) {
    let run = |url: Option<&str>| {
        let mut command = std::process::Command::new(bin);
        command.arg("migrate").env_clear();
        if let Some(url) = url {
            command.env("DATABASE_URL", url);
        }
        let out = command.output().expect("run the binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    };
    let db = TestDb::new().await;
    let bookkeeping = || async {
        let mut conn = db.options().connect().await.expect("connect");
        let rows: Vec<(i64, bool, String, String)> = sqlx::query_as(&format!(
            "SELECT version, success, encode(checksum, 'hex'), installed_on::text \
             FROM {}._sqlx_migrations ORDER BY version",
            schema.name
        ))
        .fetch_all(&mut conn)
        .await
        .expect("the schema's migration bookkeeping");
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .expect("to_regclass");
        let _ = conn.close().await;
        (rows, exists)
    };

    let (status, output) = run(Some(&db.url));
    assert!(status.success(), "migrate failed: {output}");
    assert!(output.contains("up to date"), "says what it did: {output}");
    let (applied, exists) = bookkeeping().await;
    let mut expected: Vec<i64> = schema.migrator.iter().map(|m| m.version).collect();
    expected.sort_unstable();
    assert!(!expected.is_empty());
    assert_eq!(
        applied.iter().map(|r| r.0).collect::<Vec<_>>(),
        expected,
        "every migration applied, in schema {}",
        schema.name
    );
    assert!(applied.iter().all(|r| r.1), "every migration succeeded");
    assert!(exists, "{table} exists after migrate");

    // Again, as the next deployment's job (or a replica starting) would: nothing to do.
    let (status, output) = run(Some(&db.url));
    assert!(status.success(), "second migrate failed: {output}");
    assert_eq!(
        bookkeeping().await,
        (applied, true),
        "a second run is a no-op"
    );

    let (status, output) = run(None);
    assert!(!status.success(), "migrate without DATABASE_URL must fail");
    assert!(output.contains("DATABASE_URL is required"), "{output}");
}

/// A client that never follows redirects (tests assert on them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Stops `server` as SIGTERM would — it was built with `SHUTDOWN_DELAY_MS` = `delay` — and
/// asserts the order a load balancer can follow: `/readyz` at `base` answers 503 `not_ready`
/// saying the service is shutting down, while `request` (a real API call) still succeeds, its
/// response saying `Connection: close`; the server stops only after the delay, and then nothing
/// listens at `base`.
pub async fn assert_stops_gracefully<F, Fut>(
    base: &str,
    server: ServerHandle,
    delay: std::time::Duration,
    request: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Response>,
{
    let client = client();
    let readyz = format!("{base}/readyz");
    let res = client.get(&readyz).send().await.expect("readyz");
    assert_eq!(res.status(), StatusCode::OK, "ready before the signal");
    let signalled = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let res = client.get(&readyz).send().await.expect("still answering");
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("shutting down")),
        "{body}"
    );
    for _ in 0..2 {
        let res = request().await;
        assert!(
            res.status().is_success(),
            "served while draining: {}",
            res.status()
        );
        assert_eq!(
            res.headers()
                .get("connection")
                .and_then(|v| v.to_str().ok()),
            Some("close"),
            "the client is told to take its next request elsewhere"
        );
    }
    assert!(!stopping.is_finished(), "still serving during the delay");

    stopping
        .await
        .expect("join")
        .expect("the server stops cleanly");
    assert!(
        signalled.elapsed() >= delay,
        "stopped only after the delay ({:?})",
        signalled.elapsed()
    );
    assert!(
        client.get(&readyz).send().await.is_err(),
        "nothing listens after the stop"
    );
}

/// Asserts a problem+json response with `status` and `code`, and returns its body.
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

/// Asserts a 422 `validation_failed` naming exactly one field error: `field` with `code`.
pub async fn field_refused(res: Response, field: &str, code: &str) {
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        [(field.to_owned(), code.to_owned())],
        "{body}"
    );
}

/// The `(field, code)` pairs of a validation problem.
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

/// Asserts the CORS contract at `url`: the allowed origin gets a credentialed preflight answer for
/// `method` with `request_headers`; another origin gets no allow-origin header.
pub async fn assert_cors(
    client: &reqwest::Client,
    url: &str,
    allowed: &str,
    method: &str,
    request_headers: &str,
) {
    let preflight = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", request_headers)
            .send()
    };
    let res = preflight(allowed).await.expect("preflight");
    assert!(res.status().is_success(), "preflight {}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], allowed);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed_headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for wanted in request_headers.split(',').map(str::trim) {
        assert!(
            allowed_headers.contains(&wanted.to_ascii_lowercase()),
            "{wanted} not in {allowed_headers}"
        );
    }
    let res = preflight("https://evil.example").await.expect("preflight");
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "a foreign origin must not be allowed"
    );
}

/// The variable tables kept true: every environment variable `command` reads has a row in the
/// README's configuration table (service `service` or `both`) whose default cell shows clap's
/// default, and a line in `.env.example` (set to that default, or commented out); and every row
/// the README gives this service names a variable the service really reads. `root` is the
/// repository's root.
pub fn assert_settings_documented(command: &clap::Command, service: &str, root: &std::path::Path) {
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(root.join(".env.example")).expect(".env.example");
    let rows = readme_rows(&readme);
    let mut read_by_service = std::collections::BTreeSet::new();
    for arg in command.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        read_by_service.insert(env.to_owned());
        let row = rows
            .iter()
            .find(|r| r.vars.iter().any(|v| v == env))
            .unwrap_or_else(|| panic!("{env} has no row in README.md's configuration table"));
        assert!(
            row.service == service || row.service == "both",
            "{env}: README says service `{}`, but `{service}` reads it",
            row.service
        );
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .filter_map(|d| d.to_str().map(str::to_owned))
            .collect();
        for default in &defaults {
            assert!(
                row.default.contains(&format!("`{default}`")),
                "{env}: README's default cell `{}` does not show clap's default `{default}`",
                row.default
            );
        }
        let line = example
            .lines()
            .map(|l| l.trim_start_matches('#').trim())
            .find(|l| l.split_once('=').is_some_and(|(k, _)| k == env))
            .unwrap_or_else(|| panic!("{env} is missing from .env.example"));
        if let (Some(default), Some(example_line)) = (
            defaults.first(),
            example.lines().find(|l| l.starts_with(&format!("{env}="))),
        ) {
            let value = example_line
                .split_once('=')
                .map(|(_, v)| v)
                .unwrap_or_default();
            assert_eq!(
                value, default,
                ".env.example sets {env}={value}, but the default is {default} ({line})"
            );
        }
    }
    for row in rows
        .iter()
        .filter(|r| r.service == service || r.service == "both")
    {
        for var in &row.vars {
            assert!(
                read_by_service.contains(var),
                "README documents {var} for `{}`, but the {service} service does not read it",
                row.service
            );
        }
    }
}

struct ReadmeRow {
    vars: Vec<String>,
    service: String,
    default: String,
}

/// Rows of the table under `## Configuration`: `| \`A\`, \`B\` | service | default | meaning |`.
fn readme_rows(readme: &str) -> Vec<ReadmeRow> {
    let Some(start) = readme.find("## Configuration") else {
        panic!("README.md has no ## Configuration section");
    };
    let section = &readme[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    section[..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let [vars, service, default, ..] = cells.as_slice() else {
                return None;
            };
            Some(ReadmeRow {
                vars: vars
                    .split(',')
                    .map(|v| v.trim().trim_matches('`').to_owned())
                    .collect(),
                service: (*service).to_owned(),
                default: (*default).to_owned(),
            })
        })
        .collect()
}

/// `GET /metrics` at `addr` (a service's `METRICS_BIND`): asserts a 200 in the Prometheus text
/// format and returns the text.
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    let res = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), StatusCode::OK, "GET /metrics");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format: {content_type}"
    );
    res.text().await.expect("text")
}

/// The value of the series `name` whose labels are exactly `labels` (in any order) in a scrape,
/// or `None` when there is no such series.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    series(text)
        .find_map(|s| (s.labels.len() == labels.len() && s.has(name, labels)).then_some(s.value))
}

/// The sum of every series `name` whose labels include `labels` (0 when there is none).
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    series(text)
        .filter(|s| s.has(name, labels))
        .map(|s| s.value)
        .sum()
}

/// One line of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.name == name
            && labels
                .iter()
                .all(|(k, v)| self.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }
}

/// Every sample of a scrape. Panics on a line that is not one, so a malformed exposition fails
/// the test.
pub fn series(text: &str) -> impl Iterator<Item = Sample> + '_ {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}")))
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.trim().split(' ').next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_database_url_keeps_the_servers_query() {
        let admin = PgConnectOptions::from_str("postgres://u@h:5432/postgres?sslmode=require")
            .expect("url");
        let url = admin.database("x").to_url_lossy().to_string();
        let back = PgConnectOptions::from_str(&url).expect("round trip");
        assert_eq!(back.get_database(), Some("x"));
        assert_eq!(back.get_host(), "h");
        assert!(url.contains("sslmode=require"), "{url}");
    }

    #[test]
    fn scrape_lines_are_read_with_their_labels() {
        let text = "# HELP x A thing.\n\
                    http_requests_total{route=\"/api/tasks/{id}\",method=\"GET\",status_class=\"2xx\"} 3\n\
                    h_bucket{route=\"a,b\\\"c\",le=\"+Inf\"} 7\n\
                    up 1\n";
        assert_eq!(
            metric(
                text,
                "http_requests_total",
                &[
                    ("status_class", "2xx"),
                    ("route", "/api/tasks/{id}"),
                    ("method", "GET")
                ]
            ),
            Some(3.0)
        );
        assert_eq!(
            metric(text, "http_requests_total", &[("method", "GET")]),
            None,
            "labels must match exactly"
        );
        assert_eq!(
            metric_sum(text, "http_requests_total", &[("method", "GET")]),
            3.0
        );
        assert_eq!(
            metric(text, "h_bucket", &[("route", "a,b\"c"), ("le", "+Inf")]),
            Some(7.0)
        );
        assert_eq!(metric(text, "up", &[]), Some(1.0));
    }
}
