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

#[tokio::test]
async fn keys_are_resealed_when_a_kek_is_added_or_rotated() {
    let app = spawn().await; // development mode: unencrypted
    let kid = app.state.keys.current().signing.kid.clone();
    let row = || async {
        sqlx::query_as::<_, (Option<String>,)>("SELECT kek_id FROM auth.signing_keys")
            .fetch_one(&app.state.pool)
            .await
            .expect("row")
            .0
    };
    assert_eq!(row().await, None);

    let mut with_kek = app.config.clone();
    with_kek.key_encryption_keys = Some(SecretString::from(kek(1)));
    let state = auth_service::build_state(&with_kek)
        .await
        .expect("starts and seals");
    assert_eq!(state.keys.current().signing.kid, kid);
    let first_kek = row().await.expect("sealed");

    let mut rotated = app.config.clone();
    rotated.key_encryption_keys = Some(SecretString::from(format!("{},{}", kek(2), kek(1))));
    let state = auth_service::build_state(&rotated)
        .await
        .expect("opens with the old KEK, reseals with the new");
    assert_eq!(state.keys.current().signing.kid, kid);
    let second_kek = row().await.expect("sealed");
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

    // One JWKS max-age later the successor signs; the old key is still published.
    let later = now + chrono::Duration::days(91) + chrono::Duration::seconds(301);
    app.state
        .keys
        .refresh_at(&app.state.pool, later)
        .await
        .expect("activate");
    let set = app.state.keys.current();
    assert_eq!(set.signing.kid, new);
    assert!(set.jwks.keys.iter().any(|k| k.kid == old));
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
