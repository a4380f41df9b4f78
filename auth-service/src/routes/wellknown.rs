//! `/.well-known/jwks.json` and `/.well-known/openid-configuration`: what verifiers need to check
//! our tokens without calling us per request.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use shared::openapi::ServerErrors;
use utoipa::ToSchema;

use crate::signing::Jwks;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, description = "Every key a valid token may be signed with (RFC 7517), with `Cache-Control: public, max-age`", body = Jwks), ServerErrors))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state.keys.current();
    let cache = HeaderValue::from_str(&format!("public, max-age={}", state.settings.jwks_max_age))
        .unwrap_or(HeaderValue::from_static("public, max-age=300"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        keys.jwks_body.clone(),
    )
}

/// The subset of OpenID Provider Metadata (and RFC 8414) that describes this service.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub response_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "keys",
    responses((status = 200, description = "Discovery document: issuer and JWKS location", body = Discovery), ServerErrors))]
pub async fn discovery(State(state): State<AppState>) -> impl IntoResponse {
    let iss = &state.settings.issuer.iss;
    let doc = Discovery {
        issuer: iss.clone(),
        jwks_uri: format!("{iss}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: vec!["RS256"],
        token_endpoint: format!("{iss}/api/auth/refresh"),
        userinfo_endpoint: format!("{iss}/api/auth/me"),
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
        grant_types_supported: vec!["password", "refresh_token"],
    };
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        )],
        axum::Json(doc),
    )
}
