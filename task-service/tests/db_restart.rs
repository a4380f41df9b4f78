//! Fault test: Postgres restarts under traffic on both services. A private cluster (initdb into a
//! temp dir, a free port) is stopped and started again with `pg_ctl`, in `fast` and in `immediate`
//! mode, while workers keep signing up, signing in, refreshing, creating, listing and completing
//! tasks. Twice the traffic goes on through the outage (requests meet the dead connections and
//! the refused ones while the server is down); twice it pauses while the server restarts, so
//! every pooled connection is dead when the traffic resumes — what users meet after Neon suspends
//! an idle compute. While the server is down the only failure allowed is a quick 503 `not_ready`
//! with `Retry-After`; once it accepts connections again no request may fail; and everything
//! answered 2xx is in the database afterwards.
//!
//! Its own test binary (not a module of `tests/api`): it restarts a server and the services note
//! connection failures process-wide, so it should not share a process with unrelated tests.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::ServerHandle;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use task_service::auth::{JwksSettings, KeySource};
use tokio::sync::RwLock;
use uuid::Uuid;

/// What the services wait for a pooled connection; an outage answer must come within `QUICK`.
const ACQUIRE_TIMEOUT_MS: u64 = 1000;
const QUICK: Duration = Duration::from_millis(3 * ACQUIRE_TIMEOUT_MS);
/// How long the server stays stopped under traffic, so requests really meet refused connections.
const DOWN_FOR: Duration = Duration::from_millis(800);
const TRAFFIC_BEFORE: Duration = Duration::from_millis(1500);
const TRAFFIC_AFTER: Duration = Duration::from_millis(2500);
const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------------
// A private cluster

/// A throwaway PostgreSQL cluster of our own, so it can be stopped without disturbing anyone.
/// initdb refuses to run as root, so as root (CI, containers) it runs as the `postgres` user.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn start() -> Self {
        let bin = pg_bin().expect(
            "initdb and pg_ctl not found (on PATH or /usr/lib/postgresql/*/bin): apt-get install postgresql",
        );
        let as_postgres = run(Command::new("id").arg("-u")).trim() == "0";
        let dir = std::env::temp_dir().join(format!("db-restart-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if as_postgres {
            run(Command::new("chown").arg("postgres").arg(&dir));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        cluster.ctl(&["start"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("pg").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl <action>` with this cluster's options, waiting for it to finish.
    fn ctl(&self, action: &[&str]) {
        let data = self.data();
        let log = self.dir.join("server.log").display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options];
        args.extend_from_slice(action);
        self.pg("pg_ctl", &args);
    }

    fn pg(&self, program: &str, args: &[&str]) -> String {
        run(self.command(program).args(args))
    }

    /// `program` from the cluster's bin folder, as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The folder with initdb and pg_ctl: PATH's, else the newest /usr/lib/postgresql/*/bin.
fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

// ---------------------------------------------------------------------------------------------
// Both services on the private cluster

struct Services {
    auth: String,
    task: String,
    _auth_server: ServerHandle,
    _task_server: ServerHandle,
}

async fn start_services(database_url: &str) -> Services {
    shared::telemetry::init_for_tests("error");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let auth = format!("http://{port}");
    let mut config = auth_service::Config::for_database(database_url);
    config.bind = port;
    config.issuer = auth.clone();
    // On, but too high to refuse: the shared limiter's statements (a write per attempt) must
    // ride out the restart like every other statement.
    config.rate_limit_per_ip = 1_000_000;
    config.rate_limit_per_email = 1_000_000;
    config.db.db_acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
    let application = auth_service::build(&config)
        .await
        .expect("auth-service builds");
    let auth_server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));

    let mut config = task_service::Config::for_database(database_url);
    config.auth_issuer = auth.clone();
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.db.db_acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
    let jwks = JwksSettings {
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..JwksSettings::new(KeySource::Discovery {
            issuer: auth.clone(),
        })
    };
    let state = task_service::build_state_with(&config, jwks)
        .await
        .expect("task-service state");
    let application = task_service::with_state(&config, state.clone())
        .await
        .expect("task-service binds");
    let task = format!("http://{}", application.local_addr().expect("addr"));
    let task_server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !state.verifier.is_ready() {
        assert!(
            Instant::now() < deadline,
            "task-service never fetched the JWKS"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Services {
        auth,
        task,
        _auth_server: auth_server,
        _task_server: task_server,
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic and its record

#[derive(Debug, Clone)]
struct Outcome {
    what: &'static str,
    sent: Instant,
    took: Duration,
    /// `None`: no HTTP answer at all.
    status: Option<StatusCode>,
    code: Option<String>,
    retry_after: bool,
}

#[derive(Default)]
struct Record {
    outcomes: Mutex<Vec<Outcome>>,
    /// (user id, task id) of every 201 to a create.
    created: Mutex<Vec<(Uuid, Uuid)>>,
    /// Task ids a PATCH `completed: true` answered 200 for.
    completed: Mutex<Vec<Uuid>>,
    /// Emails a sign-up answered 201 for.
    signed_up: Mutex<Vec<String>>,
    /// Every request holds it shared; a quiet restart holds it exclusively.
    gate: RwLock<()>,
}

impl Record {
    /// Sends and records one request; the body on a 2xx.
    async fn send(
        &self,
        client: &Client,
        what: &'static str,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut req = client.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let _open = self.gate.read().await;
        let sent = Instant::now();
        let res = req.send().await;
        let mut outcome = Outcome {
            what,
            sent,
            took: Duration::ZERO,
            status: None,
            code: None,
            retry_after: false,
        };
        let mut ok_body = None;
        if let Ok(res) = res {
            let status = res.status();
            outcome.status = Some(status);
            outcome.retry_after = res.headers().contains_key("retry-after");
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                ok_body = Some(body);
            } else {
                outcome.code = body["code"].as_str().map(str::to_owned);
            }
        }
        outcome.took = sent.elapsed();
        self.outcomes.lock().expect("lock").push(outcome);
        ok_body
    }
}

async fn sign_up(client: &Client, auth: &str, email: &str) -> Value {
    let res = client
        .post(format!("{auth}/api/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    let status = res.status();
    let body: Value = res.json().await.expect("session");
    assert_eq!(
        status,
        StatusCode::CREATED,
        "sign-up before any restart: {body}"
    );
    body
}

/// Creates, lists, reads and completes tasks as one user until `stop`.
async fn task_worker(services: Arc<Services>, record: Arc<Record>, stop: Arc<AtomicBool>) {
    let client = Client::new();
    let email = format!("tasks-{}@example.com", Uuid::new_v4().simple());
    let session = sign_up(&client, &services.auth, &email).await;
    let token = session["access_token"].as_str().expect("token").to_owned();
    let user: Uuid = session["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("user id");
    let base = &services.task;
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) && n < 5000 {
        n += 1;
        let created = record
            .send(
                &client,
                "create task",
                Method::POST,
                format!("{base}/api/tasks"),
                Some(&token),
                Some(json!({"title": format!("task {n}")})),
            )
            .await;
        let id = created
            .as_ref()
            .and_then(|t| t["id"].as_str())
            .and_then(|s| s.parse::<Uuid>().ok());
        if let Some(id) = id {
            record.created.lock().expect("lock").push((user, id));
        }
        record
            .send(
                &client,
                "list tasks",
                Method::GET,
                format!("{base}/api/tasks?limit=5"),
                Some(&token),
                None,
            )
            .await;
        if let Some(id) = id {
            record
                .send(
                    &client,
                    "get task",
                    Method::GET,
                    format!("{base}/api/tasks/{id}"),
                    Some(&token),
                    None,
                )
                .await;
            if record
                .send(
                    &client,
                    "complete task",
                    Method::PATCH,
                    format!("{base}/api/tasks/{id}"),
                    Some(&token),
                    Some(json!({"completed": true})),
                )
                .await
                .is_some()
            {
                record.completed.lock().expect("lock").push(id);
            }
        }
    }
}

/// Signs up, signs in, refreshes and reads `/me` until `stop`.
async fn auth_worker(services: Arc<Services>, record: Arc<Record>, stop: Arc<AtomicBool>) {
    let client = Client::new();
    let base = &services.auth;
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) && n < 2000 {
        n += 1;
        let email = format!("auth-{}@example.com", Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD});
        if record
            .send(
                &client,
                "sign up",
                Method::POST,
                format!("{base}/api/auth/signup"),
                None,
                Some(body.clone()),
            )
            .await
            .is_none()
        {
            continue;
        }
        record.signed_up.lock().expect("lock").push(email);
        let Some(session) = record
            .send(
                &client,
                "sign in",
                Method::POST,
                format!("{base}/api/auth/signin"),
                None,
                Some(body),
            )
            .await
        else {
            continue;
        };
        let refresh = session["refresh_token"].as_str().unwrap_or_default();
        let Some(rotated) = record
            .send(
                &client,
                "refresh",
                Method::POST,
                format!("{base}/api/auth/refresh"),
                None,
                Some(json!({"refresh_token": refresh})),
            )
            .await
        else {
            continue;
        };
        let access = rotated["access_token"].as_str().unwrap_or_default();
        record
            .send(
                &client,
                "me",
                Method::GET,
                format!("{base}/api/auth/me"),
                Some(access),
                None,
            )
            .await;
    }
}

/// The moments around one restart.
struct Restart {
    mode: &'static str,
    quiet: bool,
    /// Just before `pg_ctl stop`.
    down: Instant,
    /// The server accepted a connection again.
    up: Instant,
}

impl Restart {
    fn name(&self) -> String {
        let traffic = if self.quiet { "quiet" } else { "under traffic" };
        format!("{} restart {traffic}", self.mode)
    }
}

/// Stops the server in `mode` and starts it again; `quiet`: no request is sent meanwhile.
async fn restart(cluster: &Cluster, record: &Record, mode: &'static str, quiet: bool) -> Restart {
    let pause = if quiet {
        Some(record.gate.write().await)
    } else {
        None
    };
    let down = Instant::now();
    let stop = ["-m", mode, "stop"];
    tokio::task::block_in_place(|| cluster.ctl(&stop));
    if !quiet {
        tokio::time::sleep(DOWN_FOR).await;
    }
    tokio::task::block_in_place(|| cluster.ctl(&["start"]));
    let options = PgConnectOptions::from_str(&cluster.url()).expect("url");
    let up = loop {
        if let Ok(conn) = options.connect().await {
            let _ = conn.close().await;
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    drop(pause);
    Restart {
        mode,
        quiet,
        down,
        up,
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarts_under_traffic_fail_no_request_once_it_is_back() {
    let cluster = tokio::task::block_in_place(Cluster::start);
    let url = PgConnectOptions::from_str(&cluster.url())
        .expect("url")
        .database("todo");
    let mut admin = PgConnectOptions::from_str(&cluster.url())
        .expect("url")
        .connect()
        .await
        .expect("connect to the private cluster");
    sqlx::query("CREATE DATABASE todo")
        .execute(&mut admin)
        .await
        .expect("create database");
    let _ = admin.close().await;
    let database_url = url.to_url_lossy().to_string();

    let services = Arc::new(start_services(&database_url).await);
    let record = Arc::new(Record::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(tokio::spawn(task_worker(
            services.clone(),
            record.clone(),
            stop.clone(),
        )));
    }
    for _ in 0..2 {
        workers.push(tokio::spawn(auth_worker(
            services.clone(),
            record.clone(),
            stop.clone(),
        )));
    }

    let mut restarts = Vec::new();
    let started = Instant::now();
    tokio::time::sleep(TRAFFIC_BEFORE).await;
    for (mode, quiet) in [
        ("fast", false),
        ("immediate", false),
        ("fast", true),
        ("immediate", true),
    ] {
        restarts.push(restart(&cluster, &record, mode, quiet).await);
        tokio::time::sleep(TRAFFIC_AFTER).await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("workers stop")
            .expect("worker ran");
    }

    let outcomes = record.outcomes.lock().expect("lock").clone();
    let mut problems = Vec::new();
    for o in &outcomes {
        let ok = o.status.is_some_and(|s| s.is_success());
        if ok {
            continue;
        }
        let at = o.sent.duration_since(started);
        // Which outage, if any, this request overlapped: failing is allowed only for requests sent
        // before the server was back and answered after it went down.
        let during = restarts
            .iter()
            .find(|r| o.sent < r.up && o.sent + o.took >= r.down);
        let Some(r) = during else {
            problems.push(format!(
                "{} at {at:?}: {:?} {:?} with the database up",
                o.what, o.status, o.code
            ));
            continue;
        };
        let quick_503 = o.status == Some(StatusCode::SERVICE_UNAVAILABLE)
            && o.code.as_deref() == Some("not_ready")
            && o.retry_after
            && o.took <= QUICK;
        if !quick_503 {
            problems.push(format!(
                "{} at {at:?} during the {}: {:?} {:?}, Retry-After {}, in {:?}",
                o.what,
                r.name(),
                o.status,
                o.code,
                o.retry_after,
                o.took
            ));
        }
    }
    for r in &restarts {
        let after: Vec<&Outcome> = outcomes.iter().filter(|o| o.sent >= r.up).collect();
        for what in [
            "create task",
            "list tasks",
            "complete task",
            "sign up",
            "refresh",
        ] {
            assert!(
                after.iter().any(|o| o.what == what),
                "no `{what}` was sent after the {}: the test proved nothing",
                r.name()
            );
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| !o.status.is_some_and(|s| s.is_success()))
        .count();
    eprintln!(
        "{} requests, {failed} answered during an outage with a quick 503; outages: {}",
        outcomes.len(),
        restarts
            .iter()
            .map(|r| format!("{} {:?}", r.name(), r.up.duration_since(r.down)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        problems.is_empty(),
        "{} of {} requests failed where they must not:\n{}\n--- server log ---\n{}",
        problems.len(),
        outcomes.len(),
        problems.join("\n"),
        cluster.server_log()
    );

    // Nothing answered 2xx was lost.
    let mut conn = url.connect().await.expect("connect");
    let created = record.created.lock().expect("lock").clone();
    let ids: Vec<Uuid> = created.iter().map(|(_, id)| *id).collect();
    let stored: Vec<(Uuid, Uuid, bool)> =
        sqlx::query_as("SELECT user_id, id, completed FROM tasks.tasks WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut conn)
            .await
            .expect("tasks");
    assert_eq!(stored.len(), created.len(), "a created task is missing");
    for (user, id) in &created {
        assert!(
            stored.iter().any(|(u, i, _)| u == user && i == id),
            "task {id} of {user} lost"
        );
    }
    let completed = record.completed.lock().expect("lock").clone();
    for id in &completed {
        assert!(
            stored.iter().any(|(_, i, done)| i == id && *done),
            "task {id} was completed (200) but is not"
        );
    }
    let emails = record.signed_up.lock().expect("lock").clone();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users WHERE email = ANY($1)")
        .bind(&emails)
        .fetch_one(&mut conn)
        .await
        .expect("users");
    assert_eq!(users, emails.len() as i64, "a signed-up user is missing");
    assert!(!created.is_empty() && !emails.is_empty());
    let _ = conn.close().await;
}

// ---------------------------------------------------------------------------------------------
// The retry rules, one connection death at a time (on the shared server: a statement that ends
// its own backend kills only our connection, exactly as a restart would)

/// A pool built the way the services build theirs, over a fresh database.
async fn pool_on(db: &shared::testing::TestDb) -> sqlx::PgPool {
    let settings = shared::db::DbSettings {
        url: db.url.clone().into(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(2),
        pooled: false,
        migration_url: None,
    };
    let pool = shared::db::connect(&settings, &task_service::db::SCHEMA)
        .await
        .expect("pool");
    sqlx::query("CREATE TABLE tasks.retry_probe (n int)")
        .execute(&pool)
        .await
        .expect("table");
    pool
}

const DIE: &str = "SELECT pg_terminate_backend(pg_backend_pid())";

async fn probe_rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasks.retry_probe")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_read_whose_connection_dies_runs_again_on_a_fresh_one() {
    let db = shared::testing::TestDb::new().await;
    let pool = pool_on(&db).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let answer: i32 = shared::db::retry::read(&pool, |conn| {
        let attempts = &attempts;
        Box::pin(async move {
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                sqlx::query(DIE).execute(&mut **conn).await?;
            }
            sqlx::query_scalar("SELECT 42").fetch_one(&mut **conn).await
        })
    })
    .await
    .expect("the read succeeds on its second connection");
    assert_eq!(answer, 42);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_write_whose_connection_dies_is_not_run_again_and_the_next_one_succeeds() {
    let db = shared::testing::TestDb::new().await;
    let pool = pool_on(&db).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let result = shared::db::retry::write(&pool, |conn| {
        let attempts = &attempts;
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            // The statement is sent, then the connection dies: it may have been applied.
            sqlx::query("WITH w AS (INSERT INTO tasks.retry_probe VALUES (1)) SELECT pg_terminate_backend(pg_backend_pid())")
                .execute(&mut **conn)
                .await
        })
    })
    .await;
    let error = result.expect_err("the write reports the failure");
    assert!(shared::db::is_unavailable(&error), "{error}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "never sent twice");
    assert!(probe_rows(&pool).await <= 1);
    shared::db::retry::write(&pool, |conn| {
        Box::pin(async move {
            sqlx::query("INSERT INTO tasks.retry_probe VALUES (2)")
                .execute(&mut **conn)
                .await
        })
    })
    .await
    .expect("the next write finds a live connection");
}

#[tokio::test]
async fn a_transaction_whose_connection_dies_before_commit_runs_again_once_applied() {
    let db = shared::testing::TestDb::new().await;
    let pool = pool_on(&db).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    shared::db::retry::transaction(&pool, |tx| {
        let attempts = &attempts;
        Box::pin(async move {
            sqlx::query("INSERT INTO tasks.retry_probe VALUES (1)")
                .execute(&mut **tx)
                .await?;
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                // Dies after a write but before COMMIT: the server rolls the write back.
                sqlx::query(DIE).execute(&mut **tx).await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    })
    .await
    .expect("the transaction commits on its second connection");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(probe_rows(&pool).await, 1, "applied exactly once");
}

#[tokio::test]
async fn a_transaction_that_fails_on_a_live_connection_is_rolled_back_not_run_again() {
    let db = shared::testing::TestDb::new().await;
    let pool = pool_on(&db).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let result = shared::db::retry::transaction(&pool, |tx| {
        let attempts = &attempts;
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            sqlx::query("INSERT INTO tasks.retry_probe VALUES (1)")
                .execute(&mut **tx)
                .await?;
            sqlx::query("SELECT 1 / 0").execute(&mut **tx).await?;
            Ok::<_, sqlx::Error>(())
        })
    })
    .await;
    assert!(result.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(probe_rows(&pool).await, 0, "rolled back");
}
