//! In-memory rate limits (GCRA, via `governor`) on the endpoints that cost an argon2 hash or
//! invite credential stuffing: per client IP, and per email address for sign-in.
//!
//! In-memory means per replica: with N replicas an attacker gets N times the budget, which still
//! bounds them; a shared store would be the next step for a large deployment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::state::AppState;

/// The client's IP address, for rate limiting: the TCP peer, or the trusted proxy's
/// `X-Forwarded-For` hop when configured.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientIp(state.limits.client_ip(&parts.headers, peer)))
    }
}

#[derive(Clone)]
pub struct Limits {
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    per_email: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    trust_forwarded_for: bool,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_minute: u32,
) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
    // 0 disables the limit (load tests).
    NonZeroU32::new(per_minute)
        .map(|n| Arc::new(governor::RateLimiter::keyed(Quota::per_minute(n))))
}

impl Limits {
    pub fn new(
        per_ip_per_minute: u32,
        per_email_per_minute: u32,
        trust_forwarded_for: bool,
    ) -> Self {
        Self {
            per_ip: limiter(per_ip_per_minute),
            per_email: limiter(per_email_per_minute),
            trust_forwarded_for,
        }
    }

    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
        if self.trust_forwarded_for {
            // The last hop is the one our trusted proxy appended; earlier ones are client-supplied.
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        peer.map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        match &self.per_ip {
            Some(l) => l.check_key(&ip).map_err(retry),
            None => Ok(()),
        }
    }

    pub fn check_email(&self, email: &str) -> Result<(), ApiError> {
        match &self.per_email {
            Some(l) => l.check_key(&email.to_lowercase()).map_err(retry),
            None => Ok(()),
        }
    }

    /// Forgets keys whose budget is full again, so memory stays bounded.
    pub fn housekeeping(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
        if let Some(l) = &self.per_email {
            l.retain_recent();
        }
    }
}

fn retry(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::RateLimited {
        retry_after: wait.as_secs() + 1,
    }
}
