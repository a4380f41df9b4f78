//! `auth-service keys rotate` while both real services serve steady traffic: the successor is
//! published, every replica and verifier learns it, it takes over signing, and no request fails
//! anywhere along the way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::testing::TestDb;
use task_service::auth::JwksSettings;

use crate::helpers::{start_auth_service, task_service_for};

const WORKERS: usize = 4;

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failures: Vec<String>,
    /// `kid`s of the access tokens the task-service accepted.
    kids_accepted: std::collections::BTreeSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_rotate_under_continuous_traffic_fails_no_request() {
    let db = TestDb::new().await;
    // Short cache lifetime and key checks so the hand-over comes within seconds; the rules are
    // the production ones (published JWKS_MAX_AGE + KEY_CHECK_INTERVAL before it signs).
    let auth = start_auth_service(&db.url, |c| {
        c.jwks_max_age = 1;
        c.key_check_interval = 1;
        c.rsa_key_bits = 2048;
    })
    .await;
    // The verifier honours the JWKS max-age as deployed (only the floor is lowered to match it).
    let app = task_service_for(&auth, db, |jwks| JwksSettings {
        min_refresh: Duration::from_secs(1),
        max_refresh: Duration::from_secs(5),
        default_refresh: Duration::from_secs(1),
        ..jwks
    })
    .await;
    let old = auth.state.keys.current().signing.kid.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (stop, tally) = (stop.clone(), tally.clone());
        let (auth_url, tasks_url) = (auth.url.clone(), app.base.clone());
        workers.push(tokio::spawn(async move {
            traffic(w, &auth_url, &tasks_url, &stop, &tally).await;
        }));
    }

    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut out = Vec::new();
    auth_service::keys_command::run(
        &auth.config,
        auth_service::config::KeysCommand::Rotate,
        &mut out,
    )
    .await
    .expect("keys rotate");
    let out = String::from_utf8_lossy(&out).into_owned();
    let new = out
        .strip_prefix("published ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("unexpected output: {out}"))
        .to_owned();

    // The running auth-service takes over at its own key check; keep the traffic going until
    // the task-service has accepted the new key's tokens for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let switched = tally.lock().expect("tally").kids_accepted.contains(&new);
        if switched || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }

    let tally = tally.lock().expect("tally");
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed during the rotation: {:?}",
        tally.failures.len(),
        tally.ok + tally.failures.len() as u64,
        &tally.failures[..tally.failures.len().min(10)]
    );
    assert!(
        tally.kids_accepted.contains(&old) && tally.kids_accepted.contains(&new),
        "traffic ran on both keys: {:?} (old {old}, new {new})",
        tally.kids_accepted
    );
    assert!(
        tally.ok >= 50,
        "too little traffic to mean anything: {}",
        tally.ok
    );
    assert_eq!(auth.state.keys.current().signing.kid, new);
}

/// Sign up, then refresh, create, list and read the profile in a loop; every answer must be a
/// success.
async fn traffic(
    w: usize,
    auth_url: &str,
    tasks_url: &str,
    stop: &AtomicBool,
    tally: &Mutex<Tally>,
) {
    let client = reqwest::Client::new();
    let email = format!("rotate-{w}-{}@example.com", uuid::Uuid::new_v4().simple());
    let session: Value = client
        .post(format!("{auth_url}/api/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("session");
    let mut access = session["access_token"].as_str().expect("access").to_owned();
    let mut refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let res = client
            .post(format!("{auth_url}/api/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .expect("refresh");
        let status = res.status();
        if status.is_success() {
            let body: Value = res.json().await.expect("session");
            access = body["access_token"].as_str().expect("access").to_owned();
            refresh = body["refresh_token"].as_str().expect("refresh").to_owned();
        }
        record(tally, "refresh", status, None);
        let kid = kid_of(&access);
        let create = client
            .post(format!("{tasks_url}/api/tasks"))
            .bearer_auth(&access)
            .json(&json!({"title": format!("task {n}")}))
            .send()
            .await
            .expect("create")
            .status();
        record(tally, "create", create, Some(kid.clone()));
        let list = client
            .get(format!("{tasks_url}/api/tasks?limit=5"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("list")
            .status();
        record(tally, "list", list, Some(kid.clone()));
        let me = client
            .get(format!("{auth_url}/api/auth/me"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("me")
            .status();
        record(tally, "me", me, None);
    }
}

fn record(tally: &Mutex<Tally>, what: &str, status: reqwest::StatusCode, kid: Option<String>) {
    let mut t = tally.lock().expect("tally");
    if status.is_success() {
        t.ok += 1;
        t.kids_accepted.extend(kid);
    } else {
        t.failures.push(format!("{what}: {status}"));
    }
}
