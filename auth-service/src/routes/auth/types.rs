//! The bodies `/api/auth/*` reads and writes, as the OpenAPI document shows them. Passwords are
//! `SecretString`s: a `Debug` of a request never prints one.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db;

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The address was proven by a verification link (`POST /api/auth/email/verify`).
    pub email_verified: bool,
    /// An authenticator app is set up: sign-in with a password also needs its code.
    pub totp_enabled: bool,
}

impl From<db::users::UserRow> for User {
    fn from(r: db::users::UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            created_at: r.created_at,
            email_verified: r.email_verified,
            totp_enabled: r.totp_enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Absent on refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token; `null` when the request asked for cookie-only delivery
    /// (`X-Refresh-Token-Transport: cookie`).
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8–128 characters, not a common password.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Optional when the refresh cookie is sent.
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretString>,
}
