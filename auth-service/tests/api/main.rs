//! Integration tests for the auth-service: the real router over real HTTP, a fresh Postgres
//! database per test. One binary with modules, so it links once.

mod helpers;

mod abuse;
mod account;
mod accounts;
mod binary;
mod cookies;
mod email;
mod errors;
mod hardening;
mod keys;
mod mail_sink;
mod metrics;
mod mfa;
mod passkeys;
mod refresh_model;
mod sessions;
mod settings;
mod shutdown;
mod soft_passkey;
mod text;
mod tokens;
