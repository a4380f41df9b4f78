//! What every handler can reach: the pool, the token verifier, the HTTP settings. Cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;
use shared::http::HttpSettings;
use sqlx::PgPool;

use crate::auth::Verifier;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: Verifier,
    pub http: Arc<HttpSettings>,
}

impl AppState {
    pub fn new(pool: PgPool, verifier: Verifier, http: HttpSettings) -> Self {
        Self {
            pool,
            verifier,
            http: Arc::new(http),
        }
    }
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
