//! The auth-service's own metrics, beside the HTTP and pool ones of [`shared::metrics`] (recorded
//! only with `METRICS_BIND`):
//!
//! - `auth_signin_total{factor,outcome}`: every sign-in attempt's end. `factor` is `password`
//!   (`POST /api/auth/signin`), `totp` (the second step, `POST /api/auth/signin/mfa`, recovery
//!   codes included) or `passkey` (`POST /api/auth/passkeys/signin/finish`); `outcome` is
//!   `success` or the refusal's problem code (`invalid_credentials`, `mfa_required`,
//!   `rate_limited`, `email_not_verified`, `not_ready`, `validation_failed`, ...), a set the code
//!   defines, so bounded.
//! - `auth_refresh_total{outcome}`: refreshes, `success` or the problem code (`invalid_token`
//!   for every refused token); `auth_refresh_reuse_detected_total`: retired refresh tokens shown
//!   again after the grace window, each of which ended its session.
//! - `auth_argon2_permits`, `auth_argon2_permits_in_use`, `auth_argon2_waiting`: the password
//!   hasher's bound (`MAX_CONCURRENT_HASHES`), the hashes running, the checks queued for a permit;
//!   sampled at scrape time.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, describe_counter, describe_gauge, gauge};
use shared::metrics::Collector;
use shared::problem::ProblemCode;

use crate::password::Hasher;

/// What each sign-in route's attempts are counted as.
const SIGN_IN_ROUTES: [(&str, &str); 3] = [
    ("/api/auth/signin", "password"),
    ("/api/auth/signin/mfa", "totp"),
    ("/api/auth/passkeys/signin/finish", "passkey"),
];
const REFRESH_ROUTE: &str = "/api/auth/refresh";

pub fn describe() {
    describe_counter!(
        "auth_signin_total",
        "Sign-in attempts by factor (password, totp, passkey) and outcome (success or the problem code)."
    );
    describe_counter!(
        "auth_refresh_total",
        "Refresh-token rotations by outcome (success or the problem code)."
    );
    describe_counter!(
        "auth_refresh_reuse_detected_total",
        "Retired refresh tokens presented after the grace window; each ended its session."
    );
    describe_gauge!(
        "auth_argon2_permits",
        "Password hashes allowed to run at once (MAX_CONCURRENT_HASHES)."
    );
    describe_gauge!("auth_argon2_permits_in_use", "Password hashes running now.");
    describe_gauge!(
        "auth_argon2_waiting",
        "Password checks queued for a hashing permit."
    );
}

/// The hasher's gauges, read at scrape time.
pub fn hasher_gauges(hasher: Hasher) -> Collector {
    Box::new(move || {
        let load = hasher.load();
        gauge!("auth_argon2_permits").set(load.permits as f64);
        gauge!("auth_argon2_permits_in_use").set(load.running as f64);
        gauge!("auth_argon2_waiting").set(load.waiting as f64);
    })
}

/// The middleware (on the API's routes, with metrics on) counting sign-in and refresh outcomes.
/// The outcome is read from the response (its status and [`ProblemCode`]), so the handlers need
/// no counting of their own and every way out of them is counted.
pub async fn count_outcomes(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let factor = route.and_then(|route| {
        SIGN_IN_ROUTES
            .iter()
            .find(|(path, _)| *path == route)
            .map(|(_, factor)| *factor)
    });
    let refresh = route == Some(REFRESH_ROUTE);
    if factor.is_none() && !refresh {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let outcome = outcome(&response);
    match factor {
        Some(factor) => {
            counter!("auth_signin_total", "factor" => factor, "outcome" => outcome).increment(1)
        }
        None => counter!("auth_refresh_total", "outcome" => outcome).increment(1),
    }
    response
}

fn outcome(response: &Response) -> String {
    if response.status().is_success() {
        return "success".to_owned();
    }
    response
        .extensions()
        .get::<ProblemCode>()
        .map_or_else(|| "other".to_owned(), |code| code.0.clone())
}

/// A retired refresh token came back after the grace window (its session is now ended).
pub fn reuse_detected() {
    counter!("auth_refresh_reuse_detected_total").increment(1);
}
