//! Integration tests: the real task-service over HTTP on 127.0.0.1:0, a fresh Postgres database per
//! test, and a stand-in issuer (JWKS + discovery) whose keys the tests control.

mod binary;
mod compat;
mod cross_service;
mod hardening;
mod helpers;
mod isolation;
mod jwks;
mod limits;
mod metrics;
mod migrations;
mod openapi_doc;
mod ops;
mod revocation;
mod rotation;
mod search;
mod shutdown;
mod tasks;
mod text;
mod tokens;
