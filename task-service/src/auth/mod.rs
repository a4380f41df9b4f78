//! Access-token verification, independent of tasks: a JWKS key cache ([`Jwks`]), the checks RFC 8725
//! and RFC 9068 ask for ([`Verifier`]), and an axum extractor yielding the caller ([`AuthUser`]).
//!
//! Another service reuses it by putting a [`Verifier`] in its state (with `FromRef`) and taking
//! [`AuthUser`] as a handler argument.

mod extractor;
mod jwks;
mod revocations;
mod verify;

pub use extractor::{AuthError, AuthUser};
pub use jwks::{Jwks, JwksSettings, KeySource};
pub use revocations::Revocations;
pub use verify::{Claims, TokenRules, Verifier, VerifyError};
