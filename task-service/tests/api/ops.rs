//! Operations: health and readiness, the OpenAPI document, CORS, a database outage and recovery,
//! and the query plans of the list query for a user with 100 000 tasks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use shared::testing::TestDb;
use task_service::db::tasks::{
    After, ListFilter, Sort, SortKey, StatusFilter, explain_list_query, walks_buckets,
};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::{Issuer, Options, fast_jwks, key_a, one_connection, problem, spawn, spawn_on};

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_all_is_well() {
    let app = spawn().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.client.get(app.url(path)).send().await.expect("req");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.json::<Value>().await.expect("json")["status"], "ok");
    }
}

#[tokio::test]
async fn openapi_document_describes_every_route_security_and_errors() {
    let app = spawn().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let expected = [
        ("/api/tasks", vec!["get", "post"]),
        ("/api/tasks/{id}", vec!["get", "patch", "put", "delete"]),
        ("/api/{user_id}/tasks", vec!["get", "post"]),
        ("/api/{user_id}/tasks/{id}", vec!["get", "put", "delete"]),
        ("/api/{user_id}/tasks/{id}/complete", vec!["patch"]),
    ];
    for (path, methods) in expected {
        for method in methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} documented");
            assert_eq!(
                op["security"][0]["bearer"],
                serde_json::json!([]),
                "{method} {path} secured"
            );
            let responses = op["responses"].as_object().expect("responses");
            for status in ["401", "503", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} documents {status}"
                );
            }
            let content = &responses["401"]["content"]["application/problem+json"];
            assert!(content.is_object(), "errors are problem+json");
        }
    }
    assert!(doc["paths"]["/api/tasks/{id}"]["patch"]["responses"]["422"].is_object());
    assert!(doc["paths"]["/api/tasks"]["get"]["responses"]["400"].is_object());
    assert!(doc["paths"]["/api/{user_id}/tasks/{id}"]["get"]["responses"]["403"].is_object());
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    assert!(doc["components"]["schemas"]["Task"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    // `/docs` leads to the page (directly or by redirect to `/docs/`).
    let bare = app.client.get(app.url("/docs")).send().await.expect("req");
    assert!(
        bare.status() == StatusCode::OK
            || (bare.status().is_redirection()
                && bare.headers()["location"]
                    .to_str()
                    .unwrap_or_default()
                    .ends_with("/docs/")),
        "GET /docs: {}",
        bare.status()
    );
    let docs = app.client.get(app.url("/docs/")).send().await.expect("req");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("swagger"));
}

#[tokio::test]
async fn cors_allows_the_configured_origin_only() {
    let app = spawn().await;
    shared::testing::assert_cors(
        &app.client,
        &app.url("/api/tasks"),
        "http://localhost:3000",
        "POST",
        "authorization, content-type",
    )
    .await;
}

/// A TCP proxy in front of Postgres that can be cut and restored, to simulate an outage.
struct Proxy {
    addr: std::net::SocketAddr,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let mut proxy = Self {
            addr: "127.0.0.1:0".parse().expect("addr"),
            upstream,
            tasks: Arc::default(),
        };
        proxy.resume();
        proxy
    }

    /// Listens (again, on the same port) and forwards each connection to Postgres.
    fn resume(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("bind proxy");
        let listener: TcpListener = socket.listen(64).expect("listen");
        self.addr = listener.local_addr().expect("addr");
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("lock").push(conn);
            }
        });
        self.tasks.lock().expect("lock").push(accept);
    }

    /// Stops accepting and cuts every open connection.
    fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

fn host_port(url: &str) -> String {
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("database url");
    format!("{}:{}", options.get_host(), options.get_port())
}

#[tokio::test]
async fn a_database_outage_is_a_quick_503_and_the_service_recovers_by_itself() {
    let db = TestDb::new().await;
    let upstream = host_port(&db.url);
    let mut proxy = Proxy::start(upstream.clone());
    let via_proxy = db.url.replacen(&upstream, &proxy.addr.to_string(), 1);
    assert_ne!(via_proxy, db.url, "the URL now points at the proxy");

    let issuer = Issuer::start(&[key_a()]).await;
    let mut config = task_service::Config::for_database(&via_proxy);
    config.auth_issuer = issuer.url.clone();
    config.db.db_acquire_timeout_ms = 500;
    let jwks = fast_jwks(task_service::auth::KeySource::Discovery {
        issuer: issuer.url.clone(),
    });
    let app = spawn_on(
        db,
        issuer,
        Options {
            jwks,
            config,
            wait_ready: true,
        },
    )
    .await;
    let user = app.new_user();
    app.create_task(&user, "survives").await;

    proxy.cut();
    let started = Instant::now();
    let res = app.list(&user, "").await;
    let elapsed = started.elapsed();
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert!(elapsed < Duration::from_secs(3), "answered in {elapsed:?}");
    let readyz = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("req");
    problem(readyz, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    // Writes fail the same way, never with a 500.
    let res = app
        .create(&user.token, serde_json::json!({"title": "lost"}))
        .await;
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;

    proxy.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.list(&user, "").await;
        if res.status() == StatusCode::OK {
            let page: Value = res.json().await.expect("page");
            assert_eq!(page["items"][0]["title"], "survives");
            break;
        }
        assert_eq!(
            res.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "only 503 while recovering"
        );
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("req")
            .status(),
        StatusCode::OK
    );
    proxy.cut();
}

/// The plans for a user with 100 000 tasks (among 200 000): every list variant is an index range
/// scan, never a sequential scan. `cargo test -p task-service --test api list_queries_use_the_indexes -- --nocapture` prints them.
#[tokio::test]
async fn list_queries_use_the_indexes_for_a_user_with_100_000_tasks() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let heavy = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO tasks.tasks (id, user_id, title, description, completed, completed_at, created_at, updated_at, seq) \
         SELECT gen_random_uuid(), $1, 'task ' || g, CASE WHEN g % 10 = 0 THEN 'note ' || g END, g % 3 = 0, \
                CASE WHEN g % 3 = 0 THEN now() END, now() - g * interval '1 second', now() - g * interval '1 second', \
                100000 - g \
         FROM generate_series(1, 100000) AS g",
    )
    .bind(heavy)
    .execute(pool)
    .await
    .expect("insert heavy user's tasks");
    sqlx::query(
        "INSERT INTO tasks.tasks (id, user_id, title, seq) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'other ' || g, 0 \
         FROM generate_series(1, 100000) AS g",
    )
    .execute(pool)
    .await
    .expect("insert other users' tasks");
    sqlx::query("ANALYZE tasks.tasks")
        .execute(pool)
        .await
        .expect("analyze");

    let some_id = Uuid::new_v4();
    let at = chrono::Utc::now() - chrono::Duration::seconds(50_000);
    let mut variants = Vec::new();
    for key in [SortKey::CreatedAt, SortKey::UpdatedAt, SortKey::Title] {
        for descending in [true, false] {
            let sort = Sort { key, descending };
            let after = match key {
                SortKey::Title => After::Title("task 5".to_owned(), some_id),
                _ => After::Time(at, some_id),
            };
            variants.push(ListFilter {
                sort,
                limit: Some(51),
                ..Default::default()
            });
            variants.push(ListFilter {
                sort,
                after: Some(after),
                limit: Some(51),
                ..Default::default()
            });
        }
    }
    for status in [StatusFilter::Pending, StatusFilter::Completed] {
        variants.push(ListFilter {
            status,
            limit: Some(51),
            ..Default::default()
        });
    }
    variants.push(ListFilter {
        search: Some("note 99".to_owned()),
        limit: Some(51),
        ..Default::default()
    });
    // Texts without a trigram walk the user's tasks in the page's order instead.
    for (search, key) in [("te", SortKey::CreatedAt), ("4 2", SortKey::Title)] {
        variants.push(ListFilter {
            search: Some(search.to_owned()),
            sort: Sort {
                key,
                descending: true,
            },
            limit: Some(51),
            ..Default::default()
        });
    }
    variants.push(ListFilter {
        search: Some("task 4242".to_owned()),
        status: StatusFilter::Pending,
        sort: Sort {
            key: SortKey::Title,
            descending: false,
        },
        limit: Some(51),
        ..Default::default()
    });

    for filter in variants {
        let (plan,): (Value,) = explain_list_query(heavy, &filter)
            .build_query_as()
            .fetch_one(pool)
            .await
            .expect("explain");
        let text = plan.to_string();
        println!(
            "{filter:?}\n{}\n",
            serde_json::to_string_pretty(&plan[0]["Plan"]).unwrap_or_default()
        );
        assert!(
            !text.contains("Seq Scan"),
            "sequential scan for {filter:?}: {text}"
        );
        let index = match filter.sort.key {
            // Search is served by the bucket-keyed trigram index (bitmap scans), whatever the order.
            _ if filter.search.is_some() && walks_buckets(&filter) => "tasks_bucket_search",
            SortKey::CreatedAt => "tasks_user_created",
            SortKey::UpdatedAt => "tasks_user_updated",
            SortKey::Title => "tasks_user_title",
        };
        assert!(
            text.contains(index),
            "{filter:?} should use {index}: {text}"
        );
    }

    // A search by bucket is a cached statement, which turns generic after five runs: that plan
    // probes each bucket through the search index too, never by walking the user's tasks (the
    // two walks on tasks_user_created find the first and last bucket, one row each).
    let filter = ListFilter {
        search: Some("note 99".to_owned()),
        limit: Some(51),
        ..Default::default()
    };
    let sql = task_service::db::tasks::list_query(heavy, &filter).into_sql();
    let mut conn = pool.acquire().await.expect("connection");
    sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE generic AS {sql}"
    ))
    .execute(&mut *conn)
    .await
    .expect("prepare");
    let (plan,): (Value,) = sqlx::query_as(&format!(
        "EXPLAIN (FORMAT JSON) EXECUTE generic('{heavy}', '{heavy}', '{heavy}', '%note 99%', 51, 51)"
    ))
    .fetch_one(&mut *conn)
    .await
    .expect("explain generic");
    sqlx::raw_sql("DEALLOCATE generic; RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .expect("reset");
    let mut scans = Vec::new();
    index_scans(&plan[0]["Plan"], &mut scans);
    let by_index = |name: &str| scans.iter().filter(|s| s["Index Name"] == name).count();
    assert_eq!(
        (
            by_index("tasks_bucket_search"),
            by_index("tasks_user_created"),
            scans.len()
        ),
        (1, 2, 3),
        "generic plan: {plan}"
    );

    // A light user's search for text in the heavy user's titles: every index the plan reads is
    // searched by owner, so none of the heavy user's matches is fetched and filtered out.
    let light = Uuid::new_v4();
    for search in ["task 4242", "task"] {
        let filter = ListFilter {
            search: Some(search.to_owned()),
            limit: Some(51),
            ..Default::default()
        };
        let (plan,): (Value,) = explain_list_query(light, &filter)
            .build_query_as()
            .fetch_one(pool)
            .await
            .expect("explain");
        let mut scans = Vec::new();
        index_scans(&plan[0]["Plan"], &mut scans);
        assert!(!scans.is_empty(), "no index scan: {plan}");
        for scan in scans {
            let cond = scan["Index Cond"].as_str().unwrap_or_default();
            assert!(cond.contains("user_id"), "{search:?}: not by owner: {scan}");
        }
    }
}

/// The plan's nodes that read an index, and any sequential scan (which has no condition).
fn index_scans<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    if node["Node Type"]
        .as_str()
        .is_some_and(|t| t.contains("Index") || t == "Seq Scan")
    {
        out.push(node);
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        index_scans(child, out);
    }
}

/// A search by bucket is a cached statement like any list (its generic plan is checked above);
/// a search without a trigram is planned for its own user and text every time, since walking the
/// user's tasks suits a common short text and only the custom plan knows how common it is.
#[tokio::test]
async fn only_a_search_without_a_trigram_is_planned_every_time() {
    let db = TestDb::new().await;
    // One connection, so every query below runs where the statements are cached.
    let pool = shared::db::connect(&one_connection(&db), &task_service::db::SCHEMA)
        .await
        .expect("connect");
    let user = Uuid::new_v4();
    let filter = |search: Option<&str>| ListFilter {
        search: search.map(str::to_owned),
        limit: Some(51),
        ..Default::default()
    };
    for search in [Some("needle"), Some("ne"), None] {
        for _ in 0..8 {
            task_service::db::tasks::list(&pool, user, &filter(search))
                .await
                .expect("list");
        }
    }
    let cached: Vec<String> = sqlx::query_scalar("SELECT statement FROM pg_prepared_statements")
        .fetch_all(&pool)
        .await
        .expect("prepared statements");
    let count = |pred: &dyn Fn(&String) -> bool| cached.iter().filter(|s| pred(s)).count();
    assert_eq!(
        count(&|s| s.contains("FROM tasks.tasks WHERE user_id") && !s.contains(" LIKE ")),
        1,
        "the plain list is a cached statement: {cached:?}"
    );
    assert_eq!(
        count(&|s| s.contains("generate_series") && s.contains(" LIKE ")),
        1,
        "the search by bucket is a cached statement: {cached:?}"
    );
    assert_eq!(
        count(&|s| s.contains(" LIKE ")),
        1,
        "the search without a trigram was cached: {cached:?}"
    );
}
