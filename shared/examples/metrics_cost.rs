//! What recording request metrics adds to one request, measured in-process where the shared
//! machine's noise cannot reach it the way it reaches a wrk run: the same router (a handler that
//! returns a few bytes behind every layer `shared::http::finish` adds) with metrics off and on,
//! driven one request at a time, in alternating rounds.
//!
//! `cargo run --release -p shared --example metrics_cost` (BENCHMARKS.md, Notes).

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use shared::http::{HttpSettings, finish};
use tower::ServiceExt;

const REQUESTS: u32 = 100_000;
const ROUNDS: usize = 7;

fn app(metrics: bool) -> Router {
    let settings = HttpSettings {
        cors_origins: vec!["http://localhost:3000".to_owned()],
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        request_timeout: Duration::from_secs(15),
        max_concurrent_requests: 512,
        metrics,
    };
    finish(
        Router::new().route("/api/tasks/{id}", get(|| async { "[]" })),
        &settings,
    )
}

/// Nanoseconds per request, over `REQUESTS` requests.
async fn per_request(router: &Router) -> f64 {
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let request = Request::get("/api/tasks/0192f0c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f")
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert!(response.status().is_success());
    }
    started.elapsed().as_nanos() as f64 / f64::from(REQUESTS)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let handle = shared::metrics::install()?;
    let (off, on) = (app(false), app(true));
    // Warm up both (allocator, the series map's first entry).
    per_request(&off).await;
    per_request(&on).await;
    let (mut offs, mut ons) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            offs.push(per_request(&off).await);
            ons.push(per_request(&on).await);
        } else {
            ons.push(per_request(&on).await);
            offs.push(per_request(&off).await);
        }
    }
    let (off, on) = (median(offs.clone()), median(ons.clone()));
    println!("metrics off: {off:.0} ns/request (rounds: {offs:.0?})");
    println!("metrics on:  {on:.0} ns/request (rounds: {ons:.0?})");
    println!(
        "recording adds {:.0} ns per request (median of {ROUNDS} rounds of {REQUESTS})",
        on - off
    );
    let counted = handle.render();
    assert!(
        counted.contains(
            r#"http_requests_total{route="/api/tasks/{id}",method="GET",status_class="2xx"}"#
        ),
        "the requests were counted"
    );
    Ok(())
}
