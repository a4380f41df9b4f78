//! Access tokens, verified the way the task-service will: with the published JWKS only.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn jwks(app: &TestApp) -> Value {
    app.get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("jwks")
}

#[tokio::test]
async fn access_tokens_verify_against_the_published_jwks_with_every_claim() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let token = session["access_token"].as_str().expect("token");

    let header = decode_header(token).expect("header");
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid");

    let keys = jwks(&app).await;
    let jwk = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid is published");
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )
    .expect("key");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&["http://localhost:8081"]);
    v.set_audience(&["task-service"]);
    v.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
    let claims = decode::<Value>(token, &key, &v)
        .expect("verifies with the public key")
        .claims;

    assert_eq!(claims["sub"], session["user"]["id"]);
    assert_eq!(claims["email"], email.as_str());
    assert!(uuid::Uuid::parse_str(claims["sid"].as_str().expect("sid")).is_ok());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let (iat, exp, nbf) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
        claims["nbf"].as_i64().expect("nbf"),
    );
    assert_eq!(exp - iat, 900);
    assert_eq!(nbf, iat);
    // RSA-3072 by default: a 384-byte modulus.
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        jwk["n"].as_str().expect("n"),
    )
    .expect("b64");
    assert_eq!(n.len(), 384);
}

#[tokio::test]
async fn every_token_has_a_unique_jti() {
    let app = spawn().await;
    let (_, a) = app.new_user().await;
    let b: Value = app
        .refresh(a["refresh_token"].as_str().expect("rt"))
        .await
        .json()
        .await
        .expect("json");
    let jti = |s: &Value| claims_of(s["access_token"].as_str().expect("t"))["jti"].clone();
    assert_ne!(jti(&a), jti(&b));
}

#[tokio::test]
async fn issuer_audience_and_lifetime_come_from_configuration() {
    let app = spawn_with(|c| {
        c.issuer = "https://auth.example.com/".into();
        // A public issuer must seal its signing keys.
        c.key_encryption_keys = Some(secrecy::SecretString::from(
            "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=".to_owned(),
        ));
        c.audience = "tasks-prod".into();
        c.access_token_ttl = 60;
    })
    .await;
    let (_, session) = app.new_user().await;
    assert_eq!(session["expires_in"], 60);
    let claims = claims_of(session["access_token"].as_str().expect("t"));
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert_eq!(claims["aud"], "tasks-prod");
    let disco: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(disco["issuer"], "https://auth.example.com");
    assert_eq!(
        disco["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn me_returns_the_user_for_a_valid_token() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .header(
            "authorization",
            format!("bearer {}", session["access_token"].as_str().expect("t")),
        )
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let user: Value = res.json().await.expect("json");
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["id"], session["user"]["id"]);
    assert!(user.get("password_hash").is_none());
}

#[tokio::test]
async fn me_without_a_token_challenges_with_bare_bearer() {
    let app = spawn().await;
    let res = app.get("/api/auth/me").await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn me_refuses_forged_and_tampered_tokens() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let good = session["access_token"].as_str().expect("t").to_owned();
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: &Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .expect("b64"),
    )
    .expect("json");
    claims["sub"] = Value::String(uuid::Uuid::new_v4().to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
        parts[1]
    );
    for bad in [tampered.as_str(), alg_none.as_str(), "garbage", "a.b.c"] {
        let res = app.me(bad).await;
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}
