//! Signing keys: persisted, sealed at rest, rotated, and published as a JWKS.

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::*;

fn kek(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

#[tokio::test]
async fn jwks_lists_public_parts_only_with_cache_control() {
    let app = spawn().await;
    let res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let body: Value = res.json().await.expect("json");
    let keys = body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let k = keys[0].as_object().expect("object");
    let mut names: Vec<&str> = k.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["alg", "e", "kid", "kty", "n", "use"],
        "no private members (d, p, q, ...)"
    );
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["use"], "sig");
    assert_eq!(
        k["kid"],
        auth_service::signing::thumbprint(k["n"].as_str().expect("n"), k["e"].as_str().expect("e"))
            .as_str()
    );
}

#[tokio::test]
async fn keys_survive_a_restart_and_earlier_tokens_stay_valid() {
    let first = spawn().await;
    let (_, session) = first.new_user().await;
    let kid = first.state.keys.current().signing.kid.clone();
    let config = first.config.clone();
    let TestApp { db, .. } = first;
    let second = spawn_on(db, config).await;
    assert_eq!(second.state.keys.current().signing.kid, kid);
    assert_eq!(
        second
            .me(session["access_token"].as_str().expect("t"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn private_keys_are_sealed_under_the_configured_kek() {
    let app = spawn_with(|c| c.key_encryption_keys = Some(SecretString::from(kek(1)))).await;
    let (kek_id, nonce): (Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT kek_id, nonce FROM auth.signing_keys")
            .fetch_one(&app.state.pool)
            .await
            .expect("row");
    assert_eq!(kek_id.map(|k| k.len()), Some(16));
    assert_eq!(nonce.map(|n| n.len()), Some(12));

    // Without the KEK the service refuses to start, saying why.
    let mut no_kek = app.config.clone();
    no_kek.key_encryption_keys = None;
    let err = auth_service::build_state(&no_kek)
        .await
        .expect_err("must not start");
    assert!(
        format!("{err:#}").contains("KEY_ENCRYPTION_KEYS"),
        "{err:#}"
    );
    // With a different KEK it refuses too.
    let mut wrong = app.config.clone();
    wrong.key_encryption_keys = Some(SecretString::from(kek(2)));
    assert!(auth_service::build_state(&wrong).await.is_err());
}

/// `(kid, kek_id, private key present, activates_at, retires_at)` of every stored key, oldest first.
type KeyRowView = (
    String,
    Option<String>,
    bool,
    chrono::DateTime<Utc>,
    Option<chrono::DateTime<Utc>>,
);

async fn stored_keys(pool: &sqlx::PgPool) -> Vec<KeyRowView> {
    sqlx::query_as(
        "SELECT kid, kek_id, private_key IS NOT NULL, activates_at, retires_at
           FROM auth.signing_keys ORDER BY activates_at, kid",
    )
    .fetch_all(pool)
    .await
    .expect("rows")
}

#[tokio::test]
async fn without_a_kek_only_a_loopback_issuer_or_an_explicit_opt_out_may_start() {
    let db = shared::testing::TestDb::new().await;
    let mut config = test_config(&db.url);
    config.rsa_key_bits = 2048;
    for issuer in [
        "https://auth.example.com",
        "http://auth-service:8081",
        "http://10.0.0.5:8081",
    ] {
        config.issuer = issuer.to_owned();
        let err = auth_service::build_state(&config)
            .await
            .expect_err("must not start with plaintext keys");
        let message = format!("{err:#}");
        assert!(
            message.contains("KEY_ENCRYPTION_KEYS") && message.contains("ALLOW_PLAINTEXT_KEYS"),
            "{message}"
        );
    }
    let mut local = config.clone();
    local.issuer = "http://localhost:8081".to_owned();
    let pool = auth_service::build_state(&local)
        .await
        .expect("the default loopback issuer starts")
        .pool
        .clone();
    for issuer in [
        "http://127.0.0.1:8081",
        "http://[::1]:8081",
        "https://localhost",
    ] {
        config.issuer = issuer.to_owned();
        auth_service::build_state(&config)
            .await
            .unwrap_or_else(|e| panic!("{issuer}: {e:#}"));
    }
    config.issuer = "https://auth.example.com".to_owned();
    config.allow_plaintext_keys = true;
    auth_service::build_state(&config)
        .await
        .expect("ALLOW_PLAINTEXT_KEYS=true accepts the risk");
    assert!(stored_keys(&pool).await.iter().all(|k| k.1.is_none()));

    config.allow_plaintext_keys = false;
    config.key_encryption_keys = Some(SecretString::from(kek(1)));
    auth_service::build_state(&config)
        .await
        .expect("with a KEK any issuer starts");
}

#[tokio::test]
async fn adding_a_kek_hands_over_to_a_fresh_sealed_key_instead_of_sealing_the_exposed_one() {
    let app = spawn().await; // no KEK: the key is stored unencrypted
    let exposed = app.state.keys.current().signing.kid.clone();
    let (_, session) = app.new_user().await;
    assert_eq!(stored_keys(&app.state.pool).await[0].1, None);

    let mut with_kek = app.config.clone();
    with_kek.key_encryption_keys = Some(SecretString::from(kek(1)));
    let started = Utc::now();
    let state = auth_service::build_state(&with_kek).await.expect("starts");
    let rows = stored_keys(&state.pool).await;
    assert_eq!(rows.len(), 2, "a successor was created");
    let (successor, successor_kek, _, activates, _) = rows[1].clone();
    assert_ne!(successor, exposed);
    assert!(successor_kek.is_some(), "the successor is sealed");
    // The usual hand-over: published now, signing one JWKS max-age later; the exposed key
    // retires at that moment and meanwhile still signs (verifiers do not know the successor yet).
    assert!(
        activates >= started + chrono::Duration::seconds(299),
        "{activates}"
    );
    assert_eq!(rows[0].4, Some(activates));
    let set = state.keys.current();
    assert_eq!(set.signing.kid, exposed);
    assert_eq!(set.jwks.keys.len(), 2);

    // A restart with the same KEK does not replace the key again.
    let again = auth_service::build_state(&with_kek).await.expect("starts");
    assert_eq!(stored_keys(&again.pool).await.len(), 2);

    // After the hand-over the sealed key signs; tokens of the exposed one verify while it is
    // published, then it leaves the JWKS and its private key is erased.
    let handover = activates + chrono::Duration::seconds(1);
    state
        .keys
        .refresh_at(&state.pool, handover)
        .await
        .expect("hand over");
    assert_eq!(state.keys.current().signing.kid, successor);
    assert!(
        state
            .settings
            .issuer
            .verify(
                &state.keys.current(),
                session["access_token"].as_str().expect("token")
            )
            .is_some()
    );
    state
        .keys
        .refresh_at(&state.pool, handover + chrono::Duration::seconds(900 + 121))
        .await
        .expect("retire");
    let set = state.keys.current();
    assert_eq!(
        set.jwks
            .keys
            .iter()
            .map(|k| k.kid.as_str())
            .collect::<Vec<_>>(),
        [successor.as_str()]
    );
    let rows = stored_keys(&state.pool).await;
    assert_eq!((rows[0].0.as_str(), rows[0].2), (exposed.as_str(), false));
    assert_eq!((rows[1].0.as_str(), rows[1].2), (successor.as_str(), true));
}

#[tokio::test]
async fn keys_are_resealed_when_the_kek_is_rotated() {
    let app = spawn_with(|c| c.key_encryption_keys = Some(SecretString::from(kek(1)))).await;
    let kid = app.state.keys.current().signing.kid.clone();
    let kek_of = || async { stored_keys(&app.state.pool).await[0].1.clone() };
    let first_kek = kek_of().await.expect("sealed");

    let mut rotated = app.config.clone();
    rotated.key_encryption_keys = Some(SecretString::from(format!("{},{}", kek(2), kek(1))));
    let state = auth_service::build_state(&rotated)
        .await
        .expect("opens with the old KEK, reseals with the new");
    // A key that never left a KEK is not exposed: the same key goes on signing.
    assert_eq!(state.keys.current().signing.kid, kid);
    assert_eq!(stored_keys(&app.state.pool).await.len(), 1);
    let second_kek = kek_of().await.expect("sealed");
    assert_ne!(first_kek, second_kek);

    let mut only_new = app.config.clone();
    only_new.key_encryption_keys = Some(SecretString::from(kek(2)));
    assert!(
        auth_service::build_state(&only_new).await.is_ok(),
        "the old KEK is no longer needed"
    );
}

#[tokio::test]
async fn rotation_publishes_the_successor_before_it_signs_and_keeps_the_old_key_published() {
    let app = spawn().await;
    let old = app.state.keys.current().signing.kid.clone();
    let (_, session) = app.new_user().await;
    let now = Utc::now();

    // Due for rotation (default 90 days): the successor is published but does not sign yet.
    app.state
        .keys
        .refresh_at(&app.state.pool, now + chrono::Duration::days(91))
        .await
        .expect("rotate");
    let set = app.state.keys.current();
    assert_eq!(set.signing.kid, old);
    assert_eq!(set.jwks.keys.len(), 2);
    let new = set
        .jwks
        .keys
        .iter()
        .map(|k| k.kid.clone())
        .find(|k| *k != old)
        .expect("successor");

    // One JWKS max-age plus one key-check interval later (every replica has served it for a
    // whole cache lifetime) the successor signs; the old key is still published.
    let later = now + chrono::Duration::days(91) + chrono::Duration::seconds(300 + 30 + 1);
    app.state
        .keys
        .refresh_at(&app.state.pool, later)
        .await
        .expect("activate");
    let set = app.state.keys.current();
    assert_eq!(set.signing.kid, new);
    assert!(set.jwks.keys.iter().any(|k| k.kid == old));
    assert!(
        stored_keys(&app.state.pool).await.iter().all(|k| k.2),
        "a published key keeps its private key"
    );
    assert_eq!(
        app.me(session["access_token"].as_str().expect("t"))
            .await
            .status(),
        StatusCode::OK,
        "old tokens still verify"
    );

    // Once every token it signed has expired, the old key leaves the JWKS.
    app.state
        .keys
        .refresh_at(
            &app.state.pool,
            later + chrono::Duration::seconds(900 + 121),
        )
        .await
        .expect("retire");
    let set = app.state.keys.current();
    assert_eq!(
        set.jwks
            .keys
            .iter()
            .map(|k| k.kid.as_str())
            .collect::<Vec<_>>(),
        [new.as_str()]
    );
    // Nothing will sign with it again and no token may carry it: its private key is erased.
    let private_key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT private_key FROM auth.signing_keys WHERE kid = $1")
            .bind(&old)
            .fetch_one(&app.state.pool)
            .await
            .expect("row kept, public parts only");
    assert_eq!(private_key, None);
    assert_eq!(
        stored_keys(&app.state.pool)
            .await
            .iter()
            .map(|k| (k.0.as_str(), k.2))
            .collect::<Vec<_>>(),
        [(old.as_str(), false), (new.as_str(), true)]
    );
}

#[tokio::test]
async fn two_replicas_starting_together_create_one_key() {
    let db = shared::testing::TestDb::new().await;
    let config = test_config(&db.url);
    let (a, b) = tokio::join!(
        auth_service::build_state(&config),
        auth_service::build_state(&config)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.keys.current().signing.kid, b.keys.current().signing.kid);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// `auth-service keys ...` as an operator runs it: the real binary, against the service's
/// database through `DATABASE_URL` only.
fn keys_cli(database_url: &str, command: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .args(["keys", command])
        .env_clear()
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run auth-service keys");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "keys {command} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `(kid, state, activates, retires)` of each line of `keys list`.
fn listed(stdout: &str) -> Vec<(String, String, String, String)> {
    stdout
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f[0].into(), f[1].into(), f[3].into(), f[4].into())
        })
        .collect()
}

#[tokio::test]
async fn keys_list_and_rotate_from_the_command_line_and_the_replicas_follow() {
    let app = spawn().await;
    let old = app.state.keys.current().signing.kid.clone();

    let before = listed(&keys_cli(&app.db.url, "list"));
    assert_eq!(before.len(), 1);
    assert_eq!(
        (
            before[0].0.as_str(),
            before[0].1.as_str(),
            before[0].3.as_str()
        ),
        (old.as_str(), "signing", "-")
    );

    let started = Utc::now();
    let rotated = keys_cli(&app.db.url, "rotate");
    let new = rotated
        .strip_prefix("published ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("unexpected output: {rotated}"))
        .to_owned();
    assert_ne!(new, old);

    // The old key signs until the hand-over, when the new one takes over; both are listed.
    let after = listed(&keys_cli(&app.db.url, "list"));
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        (after[0].0.as_str(), after[0].1.as_str()),
        (old.as_str(), "signing")
    );
    assert_eq!(
        (after[1].0.as_str(), after[1].1.as_str()),
        (new.as_str(), "next")
    );
    assert_eq!(
        after[0].3, after[1].2,
        "the old key retires when the new one activates"
    );
    let handover = chrono::DateTime::parse_from_rfc3339(&after[1].2).expect("activates");
    assert!(
        handover >= started + chrono::Duration::seconds(300 + 30 - 1),
        "published a JWKS max-age plus a key-check interval ahead: {handover}"
    );

    // A second rotation while a successor waits would cut its time in verifiers' caches short.
    assert!(keys_cli(&app.db.url, "rotate").starts_with("a successor is already published"));
    assert_eq!(listed(&keys_cli(&app.db.url, "list")).len(), 2);

    // The running service picks it up at its next key check and publishes it at once ...
    app.state
        .keys
        .refresh_at(&app.state.pool, Utc::now())
        .await
        .expect("key check");
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("jwks");
    let mut kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    kids.sort_unstable();
    let mut expected = [old.as_str(), new.as_str()];
    expected.sort_unstable();
    assert_eq!(kids, expected);
    assert_eq!(app.state.keys.current().signing.kid, old);

    // ... and signs with it from the hand-over.
    app.state
        .keys
        .refresh_at(
            &app.state.pool,
            handover.to_utc() + chrono::Duration::seconds(1),
        )
        .await
        .expect("hand over");
    assert_eq!(app.state.keys.current().signing.kid, new);
}
