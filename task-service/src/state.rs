//! What every handler can reach: the pool, the token verifier, the HTTP settings. Cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;
use shared::http::HttpSettings;
use sqlx::PgPool;

use crate::auth::Verifier;
use crate::config::TaskLimits;
use crate::revocation_feed::FeedHealth;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: Verifier,
    pub http: Arc<HttpSettings>,
    pub limits: TaskLimits,
    /// Whether the revocation feed is being followed, for `/readyz`.
    pub feed: FeedHealth,
}

impl AppState {
    pub fn new(pool: PgPool, verifier: Verifier, http: HttpSettings, limits: TaskLimits) -> Self {
        Self {
            pool,
            verifier,
            http: Arc::new(http),
            feed: FeedHealth::default(),
            limits,
        }
    }
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
