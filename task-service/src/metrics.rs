//! The task-service's own metrics, beside the HTTP and pool ones of [`shared::metrics`] (recorded
//! only with `METRICS_BIND`; counted where they happen):
//!
//! - `task_jwks_refreshes_total{trigger}` and `task_jwks_refresh_failures_total{trigger}`: key-set
//!   fetches from the issuer, by what asked for them (`schedule`: the refresher, on
//!   `Cache-Control` time or retrying after a failure; `unknown_kid`: a token signed by a key not
//!   yet held; `manual`).
//! - `task_token_cache_total{result="hit"|"miss"}`: verifications answered from the verified-token
//!   cache (no RSA check) or verified in full.
//! - `task_revocation_feed_polls_total{result="ok"|"failed"}`: requests to the auth-service's
//!   revocation feed.

use metrics::describe_counter;

pub fn describe() {
    describe_counter!(
        "task_jwks_refreshes_total",
        "Signing-key set fetches from the issuer, by trigger (schedule, unknown_kid, manual)."
    );
    describe_counter!(
        "task_jwks_refresh_failures_total",
        "Signing-key set fetches that failed (the keys held are kept), by trigger."
    );
    describe_counter!(
        "task_token_cache_total",
        "Access-token verifications: hit (remembered, no signature check) or miss (verified in full)."
    );
    describe_counter!(
        "task_revocation_feed_polls_total",
        "Requests to the auth-service's revocation feed, by result (ok, failed)."
    );
}
